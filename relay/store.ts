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
 *   const { updates, position } = await store.load('default')
 *   const doc = new Y.Doc()
 *   for (const u of updates) Y.applyUpdate(doc, u)
 *   await store.compact('default', Y.encodeStateAsUpdate(doc), position)
 */
import { resolve } from 'node:path'
import * as Y from 'yjs'
import { LeveldbPersistence, getLevelUpdatesEntries } from 'y-leveldb'

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
  /** Finishes pending writes and releases the store. No call may follow. */
  close(): Promise<void>
}

export class MemoryStore implements RoomStore {
  private readonly rooms = new Map<string, { position: StorePosition; entries: Array<{ upTo: StorePosition; update: Uint8Array }> }>()

  async open(): Promise<void> {}

  async load(room: string): Promise<LoadedRoom> {
    const stored = this.rooms.get(room)
    return { updates: stored?.entries.map((e) => e.update) ?? [], position: stored?.position ?? 0 }
  }

  async append(room: string, update: Uint8Array): Promise<StorePosition> {
    let stored = this.rooms.get(room)
    if (!stored) this.rooms.set(room, (stored = { position: 0, entries: [] }))
    stored.entries.push({ upTo: ++stored.position, update })
    return stored.position
  }

  async compact(room: string, state: Uint8Array, upTo: StorePosition): Promise<void> {
    const stored = this.rooms.get(room)
    if (!stored || upTo > stored.position) throw new Error(`store: compaction of room "${room}" up to ${upTo}, past its history`)
    stored.entries = [{ upTo, update: state }, ...stored.entries.filter((e) => e.upTo > upTo)]
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

  async load(room: string): Promise<LoadedRoom> {
    // The stored updates as they are: the room applies them itself. getYDoc would apply them to a
    // throw-away doc first (twice the work), and y-leveldb's queue keeps the result of its last
    // operation, so that doc, as large as the room, stayed in memory until the next store call.
    // Parsing, a quarter of the cost of applying, still refuses a corrupt record here.
    // _transact is that queue: private in y-leveldb, whose version is pinned.
    // A position is y-leveldb's clock of the room's last update, plus one: 0 for no update.
    const loaded = await this.db._transact(async (db) => {
      const stored = await getLevelUpdatesEntries(db, room)
      for (const { value } of stored) Y.parseUpdateMeta(value)
      return { updates: stored.map((e) => e.value), position: stored.length === 0 ? 0 : stored[stored.length - 1]!.key[3] + 1 }
    })
    return LevelStore.ok('load', room, loaded)
  }

  async append(room: string, update: Uint8Array): Promise<StorePosition> {
    return LevelStore.ok('append', room, await this.db.storeUpdate(room, update)) + 1
  }

  async compact(room: string, _state: Uint8Array, _upTo: StorePosition): Promise<void> {
    // flushDocument merges the stored updates itself, so it covers `upTo` and everything
    // appended since, and it writes the merge before it deletes them: a crash in between leaves
    // duplicates, never a loss.
    await this.db.flushDocument(room)
  }

  async close(): Promise<void> {
    await this.db.destroy()
  }
}
