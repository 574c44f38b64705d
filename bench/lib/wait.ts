/**
 * Bounded waits: nothing in the bench waits for ever, and nothing sleeps to synchronise where
 * it can check instead.
 */

/** Rejects with "timed out … waiting for `what`" if `promise` takes longer than `ms`. */
export const withTimeout = <T>(promise: Promise<T>, ms: number, what: string): Promise<T> =>
  new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)
    promise.then((v) => { clearTimeout(t); resolve(v) }, (e) => { clearTimeout(t); reject(e) })
  })

/** Resolves once `check()` holds, polled every few ms; rejects after `timeoutMs`. */
export const until = async (check: () => boolean, what: string, timeoutMs = 30_000): Promise<void> => {
  const end = performance.now() + timeoutMs
  while (!check()) {
    if (performance.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 2))
  }
}

/** Lets the event loop run (sockets write, replies arrive) in the middle of a tight loop. */
export const yieldToLoop = (): Promise<void> => new Promise((r) => setImmediate(r))
