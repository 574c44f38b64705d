/**
 * The fan-out between relays that serve the same rooms. A relay publishes each stored batch of
 * updates; the others apply it and pass it to their own connections. One relay alone needs no
 * fan-out beyond its own sockets, so the default bus does nothing.
 *
 * @example
 *   const off = bus.subscribe('default', (update) => room.applyRemote(update))
 *   await bus.publish('default', update)
 *   off()
 */
export interface Bus {
  /** Sends a stored update to the other relays that hold the room. */
  publish(room: string, update: Uint8Array): Promise<void>
  /** Calls `onUpdate` with the room's updates from other relays until the returned function is called. */
  subscribe(room: string, onUpdate: (update: Uint8Array) => void): () => void
  close(): Promise<void>
}

/** The bus of a relay that runs alone. */
export const localBus: Bus = {
  publish: async () => {},
  subscribe: () => () => {},
  close: async () => {}
}
