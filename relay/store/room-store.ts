/**
 * Where rooms are kept: the relay appends every batch of updates before it echoes or broadcasts
 * them, and loads a room's updates when the room is first asked for.
 *
 * This module holds only the contract every store meets ({@link RoomStore}). Its implementations:
 * `MemoryStore` (memory-store.ts), which keeps nothing across restarts; `LevelStore`
 * (level-store.ts), the embedded default; the cluster's shared store (relay/cluster/shared-rooms.ts).
 *
 * @example
 *   const store = new LevelStore('./data')
 *   await store.append('default', update)
 *   const { updates, position } = await store.load('default')
 *   const doc = new Y.Doc()
 *   for (const u of updates) Y.applyUpdate(doc, u)
 *   await store.compact('default', Y.encodeStateAsUpdate(doc), position)
 */
/**
 * How far a room's stored history goes: returned by `load` and `append`, handed back to
 * `compact`. Opaque, except that it compares: of two positions of one room, the greater is the
 * later. Positions of different rooms are unrelated. A room never written is at 0.
 */
export type StorePosition = number

/** What `load` read: a room's stored history and the position it reaches. */
export interface LoadedRoom {
  /** The stored updates, oldest first; applied together, they are the room. */
  updates: Uint8Array[]
  /** The position of the last append these updates hold. */
  position: StorePosition
}

/**
 * Where a relay keeps rooms. Calls for one room come one at a time, from the relay that holds
 * the room; calls for different rooms may overlap.
 */
export interface RoomStore {
  /**
   * Makes the store ready, before any other call. Rejects, with a message an operator can act
   * on, if the store cannot be used (for LevelStore: another relay holds the data directory).
   * Optional: a store without it is ready when constructed.
   */
  open?(): Promise<void>
  /**
   * Reads a room's whole stored history: `{ updates: [], position: 0 }` for a room never
   * written. Rejects if any of it cannot be read, or is known to be missing or damaged: a room
   * is served whole or not at all.
   */
  load(room: string): Promise<LoadedRoom>
  /**
   * Stores one update durably, after every update appended before it, and resolves with the
   * position after it (greater than every earlier one). Rejects if it was not stored.
   */
  append(room: string, update: Uint8Array): Promise<StorePosition>
  /**
   * Replaces the history up to `upTo` by `state`, which holds every update up to there (it may
   * hold more). Updates appended after `upTo` are kept. `upTo` is a position `load` or `append`
   * returned for this room. Never loses an update, even if it fails or the process dies midway.
   */
  compact(room: string, state: Uint8Array, upTo: StorePosition): Promise<void>
  /**
   * Tells the store that the relay no longer holds `room` in memory (it unloaded it), so the
   * store may drop what it keeps of the room to answer its calls faster. Optional.
   */
  forget?(room: string): void
  /** Finishes pending writes and releases the store. No call may follow. */
  close(): Promise<void>
}
