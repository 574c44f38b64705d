/**
 * The rooms of a cluster of relays: a {@link RoomStore} and a {@link Bus} in one, on one Redis
 * stream a room (compacted into PostgreSQL by `compactor.ts`).
 *
 * The stream's order is THE order of a room. Every update is numbered as it is appended (1, 2,
 * …, by a Lua script), and every relay reads the room's stream with one blocking XREAD for all
 * its rooms and hands the room the updates of others in stream order. A relay's own batch is
 * applied to its doc first (that is how a bad update is caught before it is stored), appended,
 * and `append` resolves only once the reader has read it back: by then every update stored before
 * it was handed to the room, which applies it into the batch in hand, so the batch's broadcast
 * and replies follow them. So every relay sends a room's updates in stream order, and a reply
 * (FLUSHED, DONE, GRANT) always follows every update stored before it.
 *
 * Subscribe before load: the room subscribes first; `load` reads the room (its PostgreSQL
 * snapshot if the stream was trimmed, then the stream) and starts the reader right after the
 * last update it read, so that nothing falls in between and nothing comes twice. The reader
 * checks that the numbers follow each other: a gap (a stream trimmed past a relay that lagged,
 * or a Redis that lost data) fails the room, which reloads.
 *
 * @example
 *   const rooms = new SharedRooms({ redis, reader, keys, snapshots, relayId: () => id, log, metrics })
 *   const off = rooms.subscribe('default', (u) => apply(u), (err) => fail(err))
 *   const { updates, position } = await rooms.load('default')
 *   const n = await rooms.append('default', update)   // stored and read back
 *   await rooms.barrier('default')                      // every update stored so far is handed over
 */
import type { Redis } from 'ioredis'
import type { Awareness } from 'y-protocols/awareness'
import type { Bus } from '../room/bus.js'
import type { LoadedRoom, RoomStore, StorePosition } from '../store/room-store.js'
import type { Logger } from '../log.js'
import { UnavailableError } from '../store/unavailable.js'
import { APPEND, HEAD, LOAD } from './scripts.js'
import { redisFailure } from './redis-client.js'
import type { ClusterKeys } from './keys.js'
import type { Snapshots } from './snapshots.js'
import type { ClusterMetrics } from './cluster-metrics.js'
import { asBuffer } from '../as-buffer.js'

export interface StreamEntry {
  id: string
  n: number
  update: Uint8Array
  origin: string
}

interface Waiter {
  n: number
  resolve(): void
  reject(err: Error): void
}

interface Subscription {
  readonly room: string
  readonly stream: string
  /** The origin tag of this room instance's own appends: read back, they are not handed over again. */
  readonly tag: string
  readonly onUpdate: (update: Uint8Array) => void
  readonly onLost: ((err: Error) => void) | undefined
  /** Set by `load`: the reader reads the stream from here. */
  active: boolean
  lastId: string
  lastN: number
  waiters: Waiter[]
}

export interface SharedRoomsOptions {
  redis: Redis
  /** A connection of its own for the blocking reads. */
  reader: Redis
  keys: ClusterKeys
  snapshots: Snapshots
  relayId(): string
  log: Logger
  metrics: ClusterMetrics
  /** How long after its first update a room's compaction is due (ms). */
  compactDelayMs: number
  presence?(room: string, awareness: Awareness): () => void
}

/** The entries of an XRANGE or XREAD reply, binary. */
export const parseEntries = (raw: unknown): StreamEntry[] => {
  const out: StreamEntry[] = []
  for (const [id, fields] of raw as Array<[Buffer, Buffer[]]>) {
    const e: StreamEntry = { id: id.toString(), n: 0, update: new Uint8Array(0), origin: '' }
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const name = fields[i]!.toString()
      const value = fields[i + 1]!
      if (name === 'u') e.update = new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
      else if (name === 'n') e.n = Number(value.toString())
      else if (name === 'o') e.origin = value.toString()
    }
    out.push(e)
  }
  return out
}

/** A room read whole: the updates to apply, and the number and stream id of the last. */
export interface RoomHistory {
  updates: Uint8Array[]
  n: number
  id: string
}

let instances = 0

export class SharedRooms implements RoomStore, Bus {
  private readonly subs = new Map<string, Subscription>()
  private readerClientId: number | null = null
  private blocked = false
  private wake: (() => void) | null = null
  private closed = false
  private readonly loop: Promise<void>

  constructor(private readonly o: SharedRoomsOptions) {
    const learnId = () => { o.reader.client('ID').then((id) => { this.readerClientId = Number(id) }, () => {}) }
    o.reader.on('ready', learnId)
    if (o.reader.status === 'ready') learnId()
    this.loop = this.readLoop()
    if (o.presence) this.presence = o.presence
  }

  presence?: (room: string, awareness: Awareness) => () => void

  /** Rooms this relay reads. */
  get size(): number {
    return this.subs.size
  }

  subscribe(room: string, onUpdate: (update: Uint8Array) => void, onLost?: (err: Error) => void): () => void {
    const sub: Subscription = {
      room,
      stream: this.o.keys.stream(room),
      tag: `${this.o.relayId()}/${++instances}`,
      onUpdate,
      onLost,
      active: false,
      lastId: '0-0',
      lastN: 0,
      waiters: []
    }
    this.subs.set(room, sub)
    return () => {
      if (this.subs.get(room) === sub) this.subs.delete(room)
      sub.active = false
      this.rejectWaiters(sub, new UnavailableError('the room was closed'))
      this.rouse()
    }
  }

  async load(room: string): Promise<LoadedRoom> {
    const history = await this.read(room)
    const sub = this.subs.get(room)
    if (sub) {
      sub.lastId = history.id
      sub.lastN = history.n
      sub.active = true
      this.rouse()
    }
    return { updates: history.updates, position: history.n }
  }

  /**
   * Reads a room whole: from the stream alone while it still starts at update 1, else from its
   * PostgreSQL snapshot and the stream after it. Rejects if any update is missing.
   */
  async read(room: string): Promise<RoomHistory> {
    const P = this.o.keys.room(room)
    for (let attempt = 0; attempt < 5; attempt++) {
      const all = await this.loadScript(P, room, '-')
      if (all.entries.length > 0 && all.entries[0]!.n === 1) return this.history(room, [], all.entries, 0, '0-0')
      if (all.entries.length === 0 && all.last === 0 && all.pg === 0) {
        // New to Redis. If PostgreSQL holds it, Redis lost its data: refuse rather than serve it empty.
        // If PostgreSQL cannot be asked, it is served as new (relays keep serving without PostgreSQL).
        const row = await this.o.snapshots.get(room).catch((err) => { if (err instanceof UnavailableError) return null; throw err })
        if (row) throw new Error(`room "${room}": PostgreSQL holds its updates up to ${row.n}, but Redis has none: Redis lost data; not served`)
        return { updates: [], n: 0, id: '0-0' }
      }
      const snap = await this.o.snapshots.get(room)
      if (!snap || snap.n < all.pg) {
        throw new Error(`room "${room}": PostgreSQL holds its updates up to ${snap?.n ?? 0}, but Redis says up to ${all.pg}; not served`)
      }
      const rest = await this.loadScript(P, room, snap.id)
      if (rest.last < snap.n) throw new Error(`room "${room}": Redis numbers its updates up to ${rest.last}, but PostgreSQL holds up to ${snap.n}: Redis lost data; not served`)
      const follows = rest.entries.length === 0 ? rest.last === snap.n : rest.entries[0]!.n === snap.n + 1
      if (follows) return this.history(room, [snap.state], rest.entries, snap.n, snap.id)
      // A compaction trimmed the stream past the snapshot just read: read the newer one.
    }
    throw new UnavailableError(`room "${room}": compactions kept overtaking the load`)
  }

  async append(room: string, update: Uint8Array): Promise<StorePosition> {
    const sub = this.subs.get(room)
    if (!sub?.active) throw new UnavailableError(`room "${room}" is not loaded here`)
    let n: number
    try {
      n = Number(await APPEND.run(this.o.redis, [this.o.keys.room(room), this.o.keys.global, room, asBuffer(update), this.o.compactDelayMs, sub.tag]))
    } catch (err) {
      this.o.metrics.inc('redis_errors_total')
      throw redisFailure(err)
    }
    this.o.metrics.inc('appends_total')
    await this.reached(room, n)
    return n
  }

  /** Resolves once the reader has handed over (or skipped, as its own) every update up to `n`. */
  reached(room: string, n: number): Promise<void> {
    const sub = this.subs.get(room)
    if (!sub) return Promise.reject(new UnavailableError(`room "${room}" is not loaded here`))
    if (sub.lastN >= n) return Promise.resolve()
    return new Promise((resolve, reject) => sub.waiters.push({ n, resolve, reject }))
  }

  async barrier(room: string): Promise<void> {
    let n: number
    try {
      n = Number(await HEAD.run(this.o.redis, [this.o.keys.room(room), this.o.keys.global, room]))
    } catch (err) {
      throw redisFailure(err)
    }
    await this.reached(room, n)
  }

  /** Asks for the room's compaction now (a relay with the job free takes it). */
  async compact(room: string): Promise<void> {
    const now = Date.now() // only a hint of urgency: the queue's clock is Redis's, and LT keeps the earlier time
    await this.o.redis.zadd(this.o.keys.compactQueue, 'LT', now - 60_000, room).catch(() => {})
  }

  async publish(): Promise<void> {}

  /** Fails every loaded room (its sessions reconnect and reload it). */
  failAll(err: Error): void {
    for (const sub of [...this.subs.values()]) {
      sub.active = false
      this.rejectWaiters(sub, err)
      sub.onLost?.(err)
    }
  }

  async close(): Promise<void> {
    if (this.closed) return this.loop
    this.closed = true
    this.rouse()
    for (const sub of this.subs.values()) this.rejectWaiters(sub, new UnavailableError('the relay is closing'))
    await this.loop
  }

  private history(room: string, first: Uint8Array[], entries: StreamEntry[], n: number, id: string): RoomHistory {
    const updates = first
    for (const e of entries) {
      if (e.n !== n + 1) throw new Error(`room "${room}": its stored updates jump from ${n} to ${e.n}; not served`)
      updates.push(e.update)
      n = e.n
      id = e.id
    }
    return { updates, n, id }
  }

  private async loadScript(P: string, room: string, from: string): Promise<{ last: number; pg: number; entries: StreamEntry[] }> {
    let reply: unknown
    try {
      reply = await LOAD.runBuffer(this.o.redis, [P, this.o.keys.global, room, from])
    } catch (err) {
      this.o.metrics.inc('redis_errors_total')
      throw redisFailure(err)
    }
    const [last, pg, entries] = reply as [number, number, unknown]
    return { last: Number(last), pg: Number(pg), entries: parseEntries(entries) }
  }

  private rejectWaiters(sub: Subscription, err: Error): void {
    const waiters = sub.waiters
    sub.waiters = []
    for (const w of waiters) w.reject(err)
  }

  /** Interrupts the blocking read, so that it starts over with the rooms as they are now. */
  private rouse(): void {
    const wake = this.wake
    this.wake = null
    wake?.()
    if (this.blocked && this.readerClientId !== null && this.o.redis.status === 'ready') {
      this.o.redis.client('UNBLOCK', this.readerClientId).catch(() => {})
    }
  }

  private async readLoop(): Promise<void> {
    const reader = this.o.reader
    while (!this.closed) {
      const active = [...this.subs.values()].filter((s) => s.active)
      if (active.length === 0) {
        await new Promise<void>((resolve) => { this.wake = resolve })
        continue
      }
      if (reader.status !== 'ready') {
        for (const s of active) this.rejectWaiters(s, new UnavailableError('Redis is unreachable'))
        await new Promise<void>((resolve) => {
          const done = () => { clearTimeout(timer); reader.off('ready', done); resolve() }
          const timer = setTimeout(done, 500)
          reader.once('ready', done)
          this.wake = done
        })
        continue
      }
      let reply: unknown
      this.blocked = true
      try {
        reply = await reader.callBuffer('XREAD', 'COUNT', '1000', 'BLOCK', '1000', 'STREAMS', ...active.map((s) => s.stream), ...active.map((s) => s.lastId))
      } catch (err) {
        this.o.metrics.inc('redis_errors_total')
        for (const s of active) this.rejectWaiters(s, redisFailure(err))
        continue
      } finally {
        this.blocked = false
      }
      if (!reply) continue
      const byStream = new Map(active.map((s) => [s.stream, s]))
      for (const [key, raw] of reply as Array<[Buffer, unknown]>) {
        const sub = byStream.get(key.toString())
        if (!sub || this.subs.get(sub.room) !== sub || !sub.active) continue
        this.deliver(sub, parseEntries(raw))
      }
    }
  }

  private deliver(sub: Subscription, entries: StreamEntry[]): void {
    for (const e of entries) {
      if (e.n <= sub.lastN) continue
      if (e.n !== sub.lastN + 1) {
        sub.active = false
        const err = new Error(`the stream of room "${sub.room}" skips from update ${sub.lastN} to ${e.n} (trimmed before this relay read it, or Redis lost data)`)
        this.rejectWaiters(sub, err)
        sub.onLost?.(err)
        return
      }
      sub.lastId = e.id
      sub.lastN = e.n
      this.o.metrics.inc('entries_read_total')
      if (e.origin !== sub.tag) sub.onUpdate(e.update)
    }
    if (sub.waiters.length === 0) return
    const still: Waiter[] = []
    for (const w of sub.waiters) {
      if (w.n <= sub.lastN) w.resolve()
      else still.push(w)
    }
    sub.waiters = still
  }
}
