/**
 * A {@link Bus} that the test drives: it records what rooms publish, and `deliver` hands a room
 * an update as if another relay had published it, at once, in the caller's tick.
 *
 * @example
 *   const bus = new HarnessBus()
 *   const rooms = new RoomRegistry({ ...ctx, bus }, 60_000)
 *   bus.deliver('default', new Uint8Array([1, 2, 3]))   // a broken update from "another relay"
 *   bus.published                                       // [{ room, update }, …] in order
 */
import type { Bus } from '../../relay/room/bus.js'

export class HarnessBus implements Bus {
  readonly published: Array<{ room: string; update: Uint8Array }> = []
  private readonly subscribers = new Map<string, Set<(update: Uint8Array) => void>>()

  async publish(room: string, update: Uint8Array): Promise<void> {
    this.published.push({ room, update })
  }

  subscribe(room: string, onUpdate: (update: Uint8Array) => void): () => void {
    let set = this.subscribers.get(room)
    if (!set) {
      set = new Set()
      this.subscribers.set(room, set)
    }
    set.add(onUpdate)
    return () => {
      set.delete(onUpdate)
    }
  }

  /** Hands `update` to every subscriber of `room` now; returns how many there were. */
  deliver(room: string, update: Uint8Array): number {
    const set = [...(this.subscribers.get(room) ?? [])]
    for (const onUpdate of set) onUpdate(update)
    return set.length
  }

  async close(): Promise<void> {
    this.subscribers.clear()
  }
}
