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
import { resolve } from 'node:path'
import * as Y from 'yjs'
import { LeveldbPersistence, getLevelUpdates, type LevelDb } from 'y-leveldb'

export interface RoomStore {
  /**
   * Makes the store ready, before any other call. Rejects, with a message an operator can act
   * on, if the store cannot be used (for LevelStore: another relay holds the data directory).
   * Optional: a store without it is ready when constructed.
   */
  open?(): Promise<void>
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

  async open(): Promise<void> {}

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

  async open(): Promise<void> {
    // level opens by itself in the background and keeps the error to itself: every later call
    // would then fail, and every room would fail to load. Open here and say why it failed.
    const error = await this.db._transact(async (db) => {
      try {
        await db.open()
        return false
      } catch (err) {
        return err
      }
    })
    if (error === false) return
    const cause = (error as { cause?: { code?: string; message?: string } } | null)?.cause
    const where = resolve(this.dir)
    if (cause?.code === 'LEVEL_LOCKED') {
      throw new Error(`the data directory ${where} is in use by another relay (its LevelDB lock ${where}/LOCK is held); stop that relay or use another data directory`)
    }
    throw new Error(`cannot open the store in ${where}: ${cause?.message ?? (error as Error | null)?.message ?? 'unknown error'}`)
  }

  // y-leveldb logs a failed operation and resolves with null instead of rejecting; turn that
  // back into a rejection, or a room that failed to load would be served empty.
  private static ok<T>(what: string, room: string, value: T | null): T {
    if (value === null || value === undefined) throw new Error(`store: ${what} failed for room "${room}"`)
    return value
  }

  async load(room: string): Promise<Uint8Array[]> {
    // The stored updates as they are: the room applies them itself. getYDoc would apply them to a
    // throw-away doc first (twice the work), and y-leveldb's queue keeps the result of its last
    // operation, so that doc, as large as the room, stayed in memory until the next store call.
    // Parsing, a quarter of the cost of applying, still refuses a corrupt record here.
    // _transact is that queue: private in y-leveldb, whose version is pinned.
    const updates = await this.db._transact(async (db) => {
      const stored = await getLevelUpdates(db, room)
      for (const u of stored) Y.parseUpdateMeta(u)
      return stored
    })
    return LevelStore.ok('load', room, updates)
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
