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
import type { Awareness } from 'y-protocols/awareness'

export interface Bus {
  /** Sends a stored update to the other relays that hold the room. */
  publish(room: string, update: Uint8Array): Promise<void>
  /**
   * Calls `onUpdate` with the room's updates from other relays until the returned function is
   * called; `onLost` if updates were lost on the way (the room can no longer be trusted). `own`:
   * an update this relay wrote but did not apply first (a lock commit under a shared lease).
   */
  subscribe(room: string, onUpdate: (update: Uint8Array, own?: boolean) => void, onLost?: (err: Error) => void): () => void
  /**
   * Optional: resolves once every update stored before the call (by any relay) was passed to
   * `onUpdate`. The room awaits it before it answers a sync step 1, so that a session moving
   * between relays sees what it wrote through the last one.
   */
  barrier?(room: string): Promise<void>
  /** Optional: shares the room's presence with the other relays until the returned function is called. */
  presence?(room: string, awareness: Awareness): () => void
  close(): Promise<void>
}

/** The bus of a relay that runs alone. */
export const localBus: Bus = {
  publish: async () => {},
  subscribe: () => () => {},
  close: async () => {}
}
