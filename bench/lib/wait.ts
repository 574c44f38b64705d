/** Lets the event loop run (sockets write, replies arrive) in the middle of a tight loop. */
export const yieldToLoop = (): Promise<void> => new Promise((r) => setImmediate(r))
