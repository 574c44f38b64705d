/**
 * The embedded store, the relay's default; relay/store/room-store.ts holds the contract it meets.
 *
 * `LevelStore` keeps rooms in an embedded LevelDB through y-leveldb: the writes of all rooms go
 * in groups (one fsync a group with `fsync: 'always'`), a room is served whole or not at all, and
 * after a failed write it writes nothing until LevelDB has been reopened. Why: docs/architecture.md,
 * "The embedded store".
 *
 * @example
 *   const store = new LevelStore('./data')
 *   await store.append('default', update)
 *   const { updates, position } = await store.load('default')
 */
import { existsSync } from 'node:fs'
import { rename, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import { LeveldbPersistence, getLevelUpdatesEntries, type LevelDb, type LevelOp } from 'y-leveldb'
import type { Logger } from '../log.js'
import type { LoadedRoom, RoomStore, StorePosition } from './room-store.js'
import { UnavailableError } from './unavailable.js'
import { asBuffer } from '../as-buffer.js'
import {
  FORMAT_KEY,
  HEAD_KEY,
  NO_DIGEST,
  adopt,
  chain,
  decodeRecord,
  encodeRecord,
  getOrNull,
  recordKey,
  stateVectorKey,
  stateVectorValue,
  updateKey,
  verify,
  type IntegrityRecord
} from './level-layout.js'
import { DAMAGED, WITNESS, dropLogs, keepLogs, markDamaged, recoveryDamage, witnessDamage } from './level-recovery.js'

/** The witness follows the stored count of writes this long after a write (see level-recovery.ts). */
const WITNESS_DELAY_MS = 50
/** The backoff between attempts to reopen LevelDB after a failed write. */
const MIN_REOPEN_DELAY_MS = 100
const MAX_REOPEN_DELAY_MS = 5_000

/** What a LevelStore keeps of a room between calls, so that an append reads nothing. */
interface RoomState {
  /**
   * The room's integrity record after every write submitted so far, written or not yet: what
   * the next append chains to. null: the room holds nothing; undefined: not read yet.
   */
  record: IntegrityRecord | null | undefined
  /** Writes of this room submitted and not yet settled. */
  pending: number
  /** Settles once the room's last submitted write has settled. */
  written: Promise<void>
  /** Set while a call of this room reads the disk first: the room's later calls wait for it. */
  blocked: Promise<void> | null
}

/** One caller's write in a group: its operations, and its answer once the group is stored. */
interface Member {
  room: string
  state: RoomState
  what: 'append' | 'compact'
  ops: LevelOp[]
  position: StorePosition
  resolve(position: StorePosition): void
  reject(err: Error): void
}

/** The writes stored together as one LevelDB batch. */
interface Group {
  members: Member[]
  /** Resolves (never rejects) once the batch has been written or has failed. */
  settled: Promise<void>
  settle(): void
}

/**
 * When a batch is flushed to the disk itself: `always`, before any write in it is answered (one
 * fsync per batch, so a power cut or a kernel crash loses nothing that was answered); `never`,
 * when the operating system gets to it (a relay crash loses nothing answered, a machine crash may
 * lose the last seconds).
 */
export type Fsync = 'always' | 'never'

export const FSYNC_MODES: readonly Fsync[] = ['always', 'never']

export interface LevelStoreOptions {
  /** When a batch reaches the disk itself; see {@link Fsync}. Default `always`. */
  fsync?: Fsync
  /**
   * How many rooms' integrity records are kept in memory at most. A room past it (the least
   * recently written first) is read again at its next call. The relay also tells the store
   * when it unloads a room ({@link RoomStore.forget}), so this is a backstop.
   */
  maxRooms?: number
}

const DEFAULT_MAX_ROOMS = 20_000

export class LevelStore implements RoomStore {
  private opening: Promise<LeveldbPersistence> | null = null
  /** LevelDB while it can be written: null before it opened, and from a failed write to its reopen. */
  private ready: LeveldbPersistence | null = null
  /** The store's count of writes (batches), as stored in HEAD_KEY. */
  private head = 0
  /** The count the witness file holds, or is being written with. */
  private witnessed = 0
  private witnessTimer: ReturnType<typeof setTimeout> | undefined
  private witnessing: Promise<void> = Promise.resolve()
  /** Set by a failed write, until LevelDB is reopened: nothing is written meanwhile. */
  private broken: { error: Error; delayMs: number; retryAt: number; reopening: Promise<LeveldbPersistence> | null } | null = null
  /** What is known of each room, least recently written first. */
  private readonly rooms = new Map<string, RoomState>()
  private readonly maxRooms: number
  readonly fsync: Fsync
  /** The writes that wait for the batch in flight, to go together in the next one. */
  private gathering: Group | null = null
  /** The batch in flight: at most one. */
  private writing: Promise<void> | null = null
  private flushTimer: ReturnType<typeof setImmediate> | undefined
  /** Calls that read the disk before they write (see {@link exclusive}): close waits for them. */
  private readonly reading = new Set<Promise<unknown>>()

  constructor(
    readonly dir: string,
    private readonly log?: Pick<Logger, 'warn' | 'info'>,
    options: LevelStoreOptions = {}
  ) {
    this.maxRooms = options.maxRooms ?? DEFAULT_MAX_ROOMS
    this.fsync = options.fsync ?? 'always'
  }

  /** Opens LevelDB if not yet done; every other member opens it too, if needed. */
  async open(): Promise<void> {
    await this.persistence()
  }

  private persistence(): Promise<LeveldbPersistence> {
    if (this.broken) return this.reopen(this.broken)
    this.opening ??= this.openStore(null).then((persistence) => {
      this.ready = persistence
      return persistence
    })
    return this.opening
  }

  /**
   * Closes and reopens LevelDB after a failed write, at most once per backoff delay; rejects
   * with an UnavailableError until it succeeds.
   */
  private reopen(broken: NonNullable<LevelStore['broken']>): Promise<LeveldbPersistence> {
    if (broken.reopening) return broken.reopening
    if (Date.now() < broken.retryAt)
      return Promise.reject(new UnavailableError(`the store cannot write (${broken.error.message}); retrying`))
    const acknowledged = this.head
    const old = this.opening
    broken.reopening = (async () => {
      await (await old?.catch(() => null))?.destroy()
      return this.openStore(acknowledged)
    })().then(
      (persistence) => {
        this.opening = Promise.resolve(persistence)
        this.broken = null
        this.ready = persistence
        this.log?.info('store writes again: reopened after a failed write', { dir: resolve(this.dir) })
        return persistence
      },
      (err: Error) => {
        broken.reopening = null
        broken.delayMs = Math.min(broken.delayMs * 2, MAX_REOPEN_DELAY_MS)
        broken.retryAt = Date.now() + broken.delayMs
        throw new UnavailableError(`the store cannot write (${broken.error.message}); reopening it failed: ${err.message}`, { cause: err })
      }
    )
    return broken.reopening
  }

  /**
   * Opens LevelDB and checks it. `acknowledged`, when reopening after a failed write, is the
   * count of writes the store acknowledged: a dropped torn record is the failed write if the
   * store still holds that many.
   */
  private async openStore(acknowledged: number | null): Promise<LeveldbPersistence> {
    const where = resolve(this.dir)
    if (existsSync(join(this.dir, DAMAGED))) {
      throw new Error(`the store in ${where} is damaged and stays closed: see ${join(where, DAMAGED)}`)
    }
    // LevelDB replays its logs when it opens, skips what it cannot read, and deletes them. Keep
    // them (a hard link each) until we know that it skipped nothing.
    const kept = keepLogs(this.dir)
    const persistence = new LeveldbPersistence(this.dir)
    // level opens by itself in the background and keeps the error to itself: every later call
    // would then fail, and every room would fail to load. Open here and say why it failed.
    const failed = await persistence._transact((db) =>
      db.open().then(
        () => null,
        (err: Error) => err
      )
    )
    if (failed) {
      dropLogs(this.dir)
      const cause = (failed as { cause?: { code?: string; message?: string } }).cause
      if (cause?.code === 'LEVEL_LOCKED') {
        throw new Error(
          `the data directory ${where} is in use by another relay (its LevelDB lock ${where}/LOCK is held); stop that relay or use another data directory`
        )
      }
      throw new Error(`cannot open the store in ${where}: ${cause?.message ?? failed.message}`)
    }
    try {
      const damage = await this.run(persistence, 'open', null, async (db) => {
        const head = await getOrNull(db, HEAD_KEY)
        this.head = this.witnessed = head === null ? 0 : decoding.readVarUint(decoding.createDecoder(head))
        const torn = acknowledged !== null && this.head >= acknowledged
        const damage = [...(torn ? [] : recoveryDamage(this.dir)), ...witnessDamage(this.dir, this.head)]
        if (damage.length === 0) {
          dropLogs(this.dir)
          if ((await getOrNull(db, FORMAT_KEY)) === null) await adopt(db)
        }
        return damage
      })
      if (damage.length > 0) {
        markDamaged(this.dir, kept, damage)
        throw new Error(
          `the store in ${where} is damaged: ${damage[0]}${damage.length > 1 ? ` (and ${damage.length - 1} more)` : ''}. ` +
            `It stays closed, and nothing of it is served, until an operator acts: see ${join(where, DAMAGED)}`
        )
      }
    } catch (err) {
      await persistence.destroy()
      if (existsSync(join(this.dir, DAMAGED))) throw err
      throw new Error(`cannot open the store in ${where}: ${(err as Error).message.replace(/^store: open failed: /, '')}`)
    }
    return persistence
  }

  /** Stores `ops` as one batch with the store's count of writes, which the witness follows. */
  private async write(db: LevelDb, ops: LevelOp[]): Promise<void> {
    if (this.broken) throw this.notWritten()
    const head = this.head + 1
    const e = encoding.createEncoder()
    encoding.writeVarUint(e, head)
    try {
      await this.writeBatch(
        db,
        [...ops, { type: 'put', key: HEAD_KEY, value: asBuffer(encoding.toUint8Array(e)) }],
        this.fsync === 'always'
      )
    } catch (err) {
      // Nothing more is written to this log: reopen first (see the top of this file).
      const error = err as Error & { code?: string }
      this.broken = { error, delayMs: MIN_REOPEN_DELAY_MS, retryAt: 0, reopening: null }
      this.ready = null
      this.log?.warn('store write failed: writes stop until the store is reopened', { dir: resolve(this.dir), error: error.message })
      if (error.code === 'LEVEL_IO_ERROR' || /IO error|No space left/i.test(error.message))
        throw new UnavailableError(error.message, { cause: err })
      throw err
    }
    this.head = head
    this.witnessTimer ??= setTimeout(() => {
      this.witnessTimer = undefined
      void this.witness()
    }, WITNESS_DELAY_MS)
    this.witnessTimer.unref?.()
  }

  /**
   * Writes one batch to LevelDB; with `sync`, LevelDB fsyncs its log before it resolves. Every
   * answer the batch carries waits for this, so a store whose sync is slow delays the echo.
   */
  protected writeBatch(db: LevelDb, ops: LevelOp[], sync: boolean): Promise<void> {
    return db.batch(ops, { sync })
  }

  /**
   * Writes the count of writes stored so far to the witness file: never more than LevelDB has,
   * since it follows the batch. Replaced by a rename, so it is never seen half written.
   */
  private witness(): Promise<void> {
    this.witnessing = this.witnessing
      .then(async () => {
        const head = this.head
        if (head === this.witnessed) return
        const file = join(this.dir, WITNESS)
        await writeFile(`${file}.tmp`, `${head}\n`)
        await rename(`${file}.tmp`, file)
        this.witnessed = head
      })
      .catch(() => {}) // a witness left behind only makes the next check weaker
    return this.witnessing
  }

  /**
   * Runs `f` in y-leveldb's queue, which orders it after every earlier operation. y-leveldb logs
   * a failure and resolves with null instead of rejecting: keep the error, and reject with it.
   * _transact is private in y-leveldb, whose version is pinned.
   */
  private async run<T>(persistence: LeveldbPersistence, what: string, room: string | null, f: (db: LevelDb) => Promise<T>): Promise<T> {
    const result = await persistence._transact<{ value: T } | { error: unknown }>(async (db) => {
      try {
        return { value: await f(db) }
      } catch (error) {
        return { error }
      }
    })
    if (result && 'value' in result) return result.value
    throw failure(what, room, result?.error)
  }

  async load(room: string): Promise<LoadedRoom> {
    // The stored updates as they are: the room applies them itself (applying them here too
    // would double the work of a load). The integrity record stands in for a trial run.
    return this.exclusive(room, async (state) => {
      const { record, updates } = await this.run(await this.persistence(), 'load', room, async (db) => {
        const bytes = await getOrNull(db, recordKey(room))
        const entries = await getLevelUpdatesEntries(db, room)
        if (bytes === null) {
          if (entries.length === 0) return { record: null, updates: [] }
          throw new Error(
            `${entries.length} stored updates without an integrity record: written by another program, or the record was lost`
          )
        }
        const record = decodeRecord(room, bytes)
        return { record, updates: verify(record, entries) }
      })
      state.record = record
      return { updates, position: record?.appends ?? 0 }
    })
  }

  async append(room: string, update: Uint8Array): Promise<StorePosition> {
    const state = this.rooms.get(room)
    // Known and not waiting for a read: straight into the next batch, in the caller's tick.
    if (this.ready && state?.record !== undefined && !state.blocked) return this.submitAppend(room, state, update)
    const { written } = await this.exclusive(room, async (state) => {
      await this.know(room, state, 'append')
      return { written: this.submitAppend(room, state, update) }
    })
    return written
  }

  async compact(room: string, state: Uint8Array, upTo: StorePosition): Promise<void> {
    if (upTo === 0) return // nothing to replace
    const known = this.rooms.get(room)
    if (this.ready && known?.record !== undefined && !known.blocked) {
      const at = compactionPoint(room, known.record, upTo)
      if (at === null) return
      // Compacted up to the latest append: nothing after it to read.
      if (at === known.record!.last) {
        await this.submitCompaction(room, known, state, at, [])
        return
      }
    }
    // The updates after `upTo` go into the record's digest: read them once they are written.
    const { written } = await this.exclusive(room, async (known) => {
      await this.know(room, known, 'compact')
      const at = compactionPoint(room, known.record!, upTo)
      if (at === null) return { written: Promise.resolve() }
      const later =
        at === known.record!.last
          ? []
          : await this.run(await this.persistence(), 'compact', room, async (db) =>
              (await getLevelUpdatesEntries(db, room, { gte: updateKey(room, at + 1) })).map((e) => e.value)
            )
      return { written: this.submitCompaction(room, known, state, at, later) }
    })
    await written
  }

  /**
   * Lets the store drop what it keeps in memory of `room`, whose relay unloaded it; a later
   * call reads it again.
   */
  forget(room: string): void {
    const state = this.rooms.get(room)
    if (state && idle(state)) this.rooms.delete(room)
  }

  async close(): Promise<void> {
    await this.broken?.reopening?.catch(() => null)
    const opening = this.opening
    if (!opening) return
    const persistence = await opening.catch(() => null)
    if (!persistence) return
    // Every write asked for so far: those that read first, then the batches they join.
    while (this.reading.size > 0 || this.gathering || this.writing) {
      if (this.reading.size > 0) await Promise.allSettled([...this.reading])
      else if (this.writing) await this.writing
      else this.flush()
    }
    this.ready = null
    await (await this.opening!.catch(() => null))?.destroy() // after every queued read
    clearTimeout(this.witnessTimer)
    this.witnessTimer = undefined
    await this.witness()
  }

  /**
   * Runs `f` for `room` once the room's earlier calls have read what they read and its
   * submitted writes are stored: for a call that must read the room's keys before it writes.
   * The room's later calls wait until `f` resolves (not for the write it submitted: that keeps
   * its place in the order of batches).
   */
  private exclusive<T>(room: string, f: (state: RoomState) => Promise<T>): Promise<T> {
    // The place in the room's order is taken now, in the caller's tick.
    let release!: () => void
    const blocked = new Promise<void>((r) => {
      release = r
    })
    let state = this.rooms.get(room)
    const before = state?.blocked
    if (state) {
      state.blocked = blocked
    } else {
      state = { record: undefined, pending: 0, written: Promise.resolve(), blocked }
      this.remember(room, state)
    }
    const known = state
    const done = (async () => {
      try {
        await before
        await this.persistence()
        await known.written
        // A failed write made the store forget every room: this state is no longer the room's.
        if (this.rooms.get(room) !== known)
          throw new UnavailableError(`store: the store was reopened after a failed write; room "${room}" was not read`)
        return await f(known)
      } finally {
        if (known.blocked === blocked) known.blocked = null
        release()
      }
    })()
    this.reading.add(done)
    const untrack = (): void => {
      this.reading.delete(done)
    }
    done.then(untrack, untrack)
    return done
  }

  /** Reads the room's integrity record, unless it is known. */
  private async know(room: string, state: RoomState, what: Member['what']): Promise<void> {
    if (state.record !== undefined) return
    state.record = await this.run(await this.persistence(), what, room, async (db) => {
      const bytes = await getOrNull(db, recordKey(room))
      if (bytes !== null) return decodeRecord(room, bytes)
      if ((await getLevelUpdatesEntries(db, room, { reverse: true, limit: 1 })).length > 0) {
        throw new Error('the room has stored updates without an integrity record; it is not written to')
      }
      return null
    })
  }

  private submitAppend(room: string, state: RoomState, update: Uint8Array): Promise<StorePosition> {
    const record = state.record!
    const clock = record === null ? 0 : record.last + 1
    const next: IntegrityRecord = {
      first: record?.first ?? 0,
      last: clock,
      appends: (record?.appends ?? 0) + 1,
      digest: chain(record?.digest ?? NO_DIGEST, update)
    }
    // In one batch: the update, and the record that counts it, are stored together or not at all.
    const ops: LevelOp[] = [
      { type: 'put', key: updateKey(room, clock), value: asBuffer(update) },
      { type: 'put', key: recordKey(room), value: encodeRecord(next) }
    ]
    if (record === null) ops.push({ type: 'put', key: stateVectorKey(room), value: stateVectorValue(update, 0) })
    return this.submit(room, state, 'append', ops, next)
  }

  /**
   * The update at clock `last` holds append `appends`, the one before it the append before,
   * and so on: `upTo` is at clock `at`. `state` takes its place, those before it go, and the
   * updates after it (`later`) stay.
   */
  private async submitCompaction(room: string, known: RoomState, state: Uint8Array, at: number, later: Uint8Array[]): Promise<void> {
    const record = known.record!
    let digest: Uint8Array = chain(NO_DIGEST, state)
    for (const update of later) digest = chain(digest, update)
    const next: IntegrityRecord = { ...record, first: at, digest }
    const ops: LevelOp[] = []
    for (let clock = record.first; clock < at; clock++) ops.push({ type: 'del', key: updateKey(room, clock) })
    ops.push(
      { type: 'put', key: updateKey(room, at), value: asBuffer(state) },
      { type: 'put', key: stateVectorKey(room), value: stateVectorValue(state, at) },
      { type: 'put', key: recordKey(room), value: encodeRecord(next) }
    )
    // One batch: a crash leaves the history as it was before or as it is after, never between.
    await this.submit(room, known, 'compact', ops, next)
  }

  /**
   * Adds a room's write to the batch that gathers: it is stored after every write submitted
   * before it, and the room's next write chains to `next` at once.
   */
  private submit(room: string, state: RoomState, what: Member['what'], ops: LevelOp[], next: IntegrityRecord): Promise<StorePosition> {
    if (!this.ready) return Promise.reject(failure(what, room, this.notWritten()))
    if (this.rooms.get(room) !== state)
      return Promise.reject(failure(what, room, new UnavailableError('the store was reopened after a failed write')))
    const group = this.gathering ?? this.gather()
    state.record = next
    state.pending++
    state.written = group.settled
    this.remember(room, state)
    return new Promise((resolve, reject) => {
      group.members.push({ room, state, what, ops, position: next.appends, resolve, reject })
    })
  }

  /**
   * Starts a group. With no batch in flight it is written once this turn of the event loop is
   * over, with every room that wrote in it; otherwise once the batch in flight is stored.
   */
  private gather(): Group {
    let settle!: () => void
    const settled = new Promise<void>((r) => {
      settle = r
    })
    const group: Group = { members: [], settled, settle }
    this.gathering = group
    if (!this.writing) this.flushTimer = setImmediate(() => this.flush())
    return group
  }

  /** Writes the gathered group, unless a batch is in flight (which writes it when it is done). */
  private flush(): void {
    clearImmediate(this.flushTimer)
    this.flushTimer = undefined
    const group = this.gathering
    if (!group || this.writing) return
    this.gathering = null
    this.writing = this.writeGroup(group).finally(() => {
      this.writing = null
      this.flush()
    })
  }

  private async writeGroup(group: Group): Promise<void> {
    const persistence = this.ready
    const result =
      persistence === null
        ? { error: this.notWritten() }
        : await persistence._transact<{ error: unknown } | null>(async (db) => {
            try {
              await this.write(db, group.members.length === 1 ? group.members[0]!.ops : group.members.flatMap((m) => m.ops))
              return null
            } catch (error) {
              return { error }
            }
          })
    for (const m of group.members) m.state.pending--
    if (result === null) {
      for (const m of group.members) m.resolve(m.position)
    } else {
      for (const m of group.members) m.reject(failure(m.what, m.room, result.error))
      // What gathered meanwhile is not written either (see the top of this file). The records
      // known may count the failed batch, which may or may not be stored: read them again.
      const next = this.gathering
      this.gathering = null
      clearImmediate(this.flushTimer)
      for (const m of next?.members ?? []) {
        m.state.pending--
        m.reject(failure(m.what, m.room, this.notWritten()))
      }
      next?.settle()
      this.rooms.clear()
    }
    group.settle()
  }

  private notWritten(): UnavailableError {
    return new UnavailableError(
      `not written: the store is reopening after a failed write (${this.broken?.error.message ?? 'it is closed'})`
    )
  }

  /** Marks `room` as the most recently used, and forgets the least recently used past the bound. */
  private remember(room: string, state: RoomState): void {
    this.rooms.delete(room)
    this.rooms.set(room, state)
    if (this.rooms.size <= this.maxRooms) return
    for (const [name, s] of this.rooms) {
      if (this.rooms.size <= this.maxRooms) break
      if (idle(s)) this.rooms.delete(name)
    }
  }
}

/** Whether the store may forget a room: nothing of it is being read or written. */
const idle = (state: RoomState): boolean => state.pending === 0 && !state.blocked

/**
 * The clock of the update that holds position `upTo` once compacted; null if the room's first
 * update covers it already. Throws if `upTo` is past the room's history.
 */
const compactionPoint = (room: string, record: IntegrityRecord | null, upTo: StorePosition): number | null => {
  if (record === null || upTo > record.appends) {
    throw failure('compact', room, new Error(`compaction up to position ${upTo}, past the stored history (${record?.appends ?? 0})`))
  }
  const at = record.last - (record.appends - upTo)
  return at <= record.first && at < record.last ? null : at
}

/** The error a call rejects with: an UnavailableError stays one, so the relay says "try again later". */
const failure = (what: string, room: string | null, error: unknown): Error => {
  const cause = error as Error | undefined
  return new (cause instanceof UnavailableError ? UnavailableError : Error)(
    `store: ${what} failed${room === null ? '' : ` for room "${room}"`}: ${cause?.message ?? 'unknown error'}`,
    { cause }
  )
}
