/**
 * A {@link RoomStore} that keeps rooms in this process's memory: nothing survives a restart.
 * The relay's `--memory`, and the store of the in-process test harness.
 *
 * @example
 *   const store = new MemoryStore()
 *   const position = await store.append('default', update)
 *   const { updates } = await store.load('default')
 */
import type { LoadedRoom, RoomStore, StorePosition } from './room-store.js'

export class MemoryStore implements RoomStore {
  private readonly rooms = new Map<string, { position: StorePosition; entries: Array<{ upTo: StorePosition; update: Uint8Array }> }>()

  async open(): Promise<void> {}

  async load(room: string): Promise<LoadedRoom> {
    const stored = this.rooms.get(room)
    return { updates: stored?.entries.map((e) => e.update) ?? [], position: stored?.position ?? 0 }
  }

  async append(room: string, update: Uint8Array): Promise<StorePosition> {
    let stored = this.rooms.get(room)
    if (!stored) {
      stored = { position: 0, entries: [] }
      this.rooms.set(room, stored)
    }
    stored.entries.push({ upTo: ++stored.position, update })
    return stored.position
  }

  async compact(room: string, state: Uint8Array, upTo: StorePosition): Promise<void> {
    const stored = this.rooms.get(room)
    if (!stored || upTo > stored.position) throw new Error(`store: compaction of room "${room}" up to ${upTo}, past its history`)
    if (upTo < stored.entries[0]!.upTo) return // a later compaction covered it already
    stored.entries = [{ upTo, update: state }, ...stored.entries.filter((e) => e.upTo > upTo)]
  }

  async close(): Promise<void> {}
}
