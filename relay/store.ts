/**
 * Where rooms are kept: the relay appends every batch of updates before it echoes or broadcasts
 * them, and loads a room's updates when the room is first asked for.
 *
 * `LevelStore` (the default) keeps rooms in an embedded LevelDB through y-leveldb, the
 * ecosystem's usual store: no server to run, and a data directory that the reference relay's
 * persistence can read too. LevelDB appends to its write-ahead log before `put` resolves, so a
 * stored update survives a SIGKILL of the relay (not a power cut: writes are not fsynced).
 * `MemoryStore` keeps nothing across restarts.
 *
 * @example
 *   const store = new LevelStore('./data')
 *   await store.append('default', update)
 *   const doc = new Y.Doc()
 *   for (const u of await store.load('default')) Y.applyUpdate(doc, u)
 */
import * as Y from 'yjs'
import { LeveldbPersistence } from 'y-leveldb'

export interface RoomStore {
  /** Every stored update of the room, oldest first; `[]` for a new room. Rejects if unreadable. */
  load(room: string): Promise<Uint8Array[]>
  /** Stores one update durably. Rejects if it was not stored. */
  append(room: string, update: Uint8Array): Promise<void>
  /** Replaces the room's updates by `state`, which holds all of them. */
  compact(room: string, state: Uint8Array): Promise<void>
  /** Finishes pending writes and releases the store. */
  close(): Promise<void>
}

export class MemoryStore implements RoomStore {
  private readonly rooms = new Map<string, Uint8Array[]>()

  async load(room: string): Promise<Uint8Array[]> {
    return [...(this.rooms.get(room) ?? [])]
  }

  async append(room: string, update: Uint8Array): Promise<void> {
    const list = this.rooms.get(room)
    if (list) list.push(update)
    else this.rooms.set(room, [update])
  }

  async compact(room: string, state: Uint8Array): Promise<void> {
    this.rooms.set(room, [state])
  }

  async close(): Promise<void> {}
}

export class LevelStore implements RoomStore {
  private readonly db: LeveldbPersistence

  constructor(readonly dir: string) {
    this.db = new LeveldbPersistence(dir)
  }

  // y-leveldb logs a failed operation and resolves with null instead of rejecting; turn that
  // back into a rejection, or a room that failed to load would be served empty.
  private static ok<T>(what: string, room: string, value: T | null): T {
    if (value === null || value === undefined) throw new Error(`store: ${what} failed for room "${room}"`)
    return value
  }

  async load(room: string): Promise<Uint8Array[]> {
    const doc = LevelStore.ok('load', room, await this.db.getYDoc(room))
    const state = Y.encodeStateAsUpdate(doc)
    doc.destroy()
    return state.length > 2 ? [state] : []
  }

  async append(room: string, update: Uint8Array): Promise<void> {
    LevelStore.ok('append', room, await this.db.storeUpdate(room, update))
  }

  async compact(room: string, _state: Uint8Array): Promise<void> {
    // flushDocument merges the stored updates itself and writes the merge before it deletes
    // them, so a crash in between leaves duplicates, never a loss.
    await this.db.flushDocument(room)
  }

  async close(): Promise<void> {
    await this.db.destroy()
  }
}
