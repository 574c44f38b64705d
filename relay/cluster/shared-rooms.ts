/**
 * The rooms of a cluster of relays: a {@link RoomStore} and a {@link Bus} in one, on one Redis
 * stream a room (compacted into PostgreSQL by `compactor.ts`).
 *
 * The stream's order is THE order of a room. Every update is numbered as it is appended (1, 2,
 * …, by a Lua script), and every relay reads the room's stream and hands the room the updates of
 * others in stream order. Which rooms to read: the append script publishes each update's room
 * and number on one channel (`keys.news`) that every relay hears, and a relay reads, with one
 * XREAD, only the rooms it holds that have news: a relay holding tens of thousands of quiet
 * rooms costs Redis nothing while they stay quiet (a blocking XREAD naming every room cost
 * Redis time in proportion to the rooms, on every call). What pub/sub may lose (a subscriber
 * that reconnects) a sweep finds: every few seconds, and at once after a reconnection or a
 * stall, one script a few hundred rooms compares each room's last number with what this relay
 * read. A relay's own batch is
 * applied to its doc first (that is how a bad update is caught before it is stored), appended,
 * and `append` resolves only once the reader has handed the room every update stored before it
 * (applied into the batch in hand, so the batch's broadcast and replies follow them). The
 * append's reply names its entry: if the reader had read up to the one before, it is taken as
 * read at once (`offer`), with no XREAD; so is a commit's, and the committed update a grant
 * message carries to the next holder's relay. So every relay sends a room's updates in stream
 * order, and a reply (FLUSHED, DONE, GRANT) always follows every update stored before it.
 *
 * Subscribe before load: the room subscribes first; `load` reads the room (its PostgreSQL
 * snapshot if the stream was trimmed, then the stream) and starts the reader right after the
 * last update it read, so that nothing falls in between and nothing comes twice. The reader
 * checks that the numbers follow each other: a gap (a stream trimmed past a relay that lagged,
 * or a Redis that lost data) fails the room, which reloads. A trim that left nothing after what
 * this relay read shows no gap in what it reads, so it is also looked for in Redis: for a room
 * whose read found nothing though it had news, in every sweep (the sweep after a stall
 * included), with the barrier of every sync, and for a room whose wait for the stream lasts (a
 * lock grant, an append). A wait for the stream ends after `waitMs` with an {@link UnavailableError} (1013):
 * a hung Redis does not hold a session forever.
 *
 * @example
 *   const rooms = new SharedRooms({ redis, reader, subscriber, keys, snapshots, relayId: () => id, log, metrics })
 *   await rooms.start()                                 // hears the news channel
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
import { APPEND, CHECK_STREAMS, HEAD, LOAD } from './scripts.js'
import { redisFailure } from './redis-client.js'
import { commitTag, type ClusterKeys } from './keys.js'
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
  timer: ReturnType<typeof setTimeout>
}

interface Subscription {
  readonly room: string
  readonly stream: string
  /** The origin tag of this room instance's own appends: read back, they are not handed over again. */
  readonly tag: string
  readonly onUpdate: (update: Uint8Array, own: boolean) => void
  readonly onLost: ((err: Error) => void) | undefined
  /** Set by `load`: the reader reads the stream from here. */
  active: boolean
  lastId: string
  lastN: number
  /** The highest number this relay heard of (news, its own appends, grants): it reads up to there. */
  heard: number
  waiters: Waiter[]
  /** A check that the stream was not trimmed past `lastN` is due or running. */
  checking: boolean
  /** Failed (`onLost` called): never read again, and a load in progress rejects. */
  lost: boolean
}

export interface SharedRoomsOptions {
  redis: Redis
  /** A connection of its own for the reads. */
  reader: Redis
  /** The pub/sub connection, which hears the news channel. */
  subscriber: Redis
  keys: ClusterKeys
  snapshots: Snapshots
  relayId(): string
  log: Logger
  metrics: ClusterMetrics
  /** How long after its first update a room's compaction is due (ms). */
  compactDelayMs: number
  /** How long a wait for the reader to reach an update may last before it fails with 1013. Default 10 s. */
  waitMs?: number
  presence?(room: string, awareness: Awareness): () => void
}

/** How often every room is swept for news pub/sub did not bring, and for trims. */
const SWEEP_MS = 5_000
/** How long a wait for the stream lasts before the room's stream is checked for a trim. */
const CHECK_AFTER_MS = 250
/** Rooms checked by one script, and read by one XREAD. */
const CHECK_CHUNK = 500
const READ_CHUNK = 1_000
/** Entries one XREAD reads of a room; a room that gets as many is read again. */
const READ_COUNT = 1_000

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
  /** Rooms to read: they have news this relay has not read. */
  private readonly news = new Set<Subscription>()
  private sweepDue = true
  private wake: (() => void) | null = null
  private closed = false
  private readonly loop: Promise<void>

  constructor(private readonly o: SharedRoomsOptions) {
    o.subscriber.on('message', (channel: string, message: string) => {
      if (channel !== o.keys.news) return
      const nl = message.indexOf('\n')
      this.heard(message.slice(nl + 1), Number(message.slice(0, nl)))
    })
    // Resubscribed after a reconnection: what was published meanwhile is lost; sweep.
    o.subscriber.on('ready', () => this.sweepNow())
    this.loop = this.readLoop()
    if (o.presence) this.presence = o.presence
  }

  /** Hears the news channel. */
  async start(): Promise<void> {
    await this.o.subscriber.subscribe(this.o.keys.news)
  }

  presence?: (room: string, awareness: Awareness) => () => void

  /** Rooms this relay reads. */
  get size(): number {
    return this.subs.size
  }

  subscribe(room: string, onUpdate: (update: Uint8Array, own: boolean) => void, onLost?: (err: Error) => void): () => void {
    const sub: Subscription = {
      room,
      stream: this.o.keys.stream(room),
      tag: `${this.o.relayId()}/${++instances}`,
      onUpdate,
      onLost,
      active: false,
      lastId: '0-0',
      lastN: 0,
      heard: 0,
      waiters: [],
      checking: false,
      lost: false
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
    // Failed while it loaded (the relay reset, say): the room was dropped, and must not be
    // served, nor read again. Its connections get 1013 and load it afresh.
    if (sub?.lost) throw new UnavailableError(`room "${room}" failed while it loaded; reconnect`)
    if (sub) {
      sub.lastId = history.id
      sub.lastN = history.n
      sub.active = true
      // News heard while it loaded, of updates after what the load read.
      if (sub.heard > sub.lastN) this.news.add(sub)
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
        const row = await this.o.snapshots.get(room).catch((err) => {
          if (err instanceof UnavailableError) return null
          throw err
        })
        if (row)
          throw new Error(`room "${room}": PostgreSQL holds its updates up to ${row.n}, but Redis has none: Redis lost data; not served`)
        return { updates: [], n: 0, id: '0-0' }
      }
      const snap = await this.o.snapshots.get(room)
      if (!snap || snap.n < all.pg) {
        throw new Error(`room "${room}": PostgreSQL holds its updates up to ${snap?.n ?? 0}, but Redis says up to ${all.pg}; not served`)
      }
      const rest = await this.loadScript(P, room, snap.id)
      if (rest.last < snap.n)
        throw new Error(
          `room "${room}": Redis numbers its updates up to ${rest.last}, but PostgreSQL holds up to ${snap.n}: Redis lost data; not served`
        )
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
    let id: string
    try {
      const reply = (await APPEND.run(this.o.redis, [
        this.o.keys.room(room),
        this.o.keys.global,
        room,
        asBuffer(update),
        this.o.compactDelayMs,
        sub.tag
      ])) as [number, string]
      n = Number(reply[0])
      id = String(reply[1])
    } catch (err) {
      this.o.metrics.inc('redis_errors_total')
      throw redisFailure(err)
    }
    this.o.metrics.inc('appends_total')
    this.offer(room, { id, n, update, origin: sub.tag })
    await this.reached(room, n)
    return n
  }

  /**
   * An entry of the room's stream learnt without reading it: the reply to this relay's own
   * append or commit, or a lock grant that carries the update its commit stored. If it is the
   * next one the reader expects, it is handed over now, as a read would (one Redis round trip
   * less for an echo, a DONE, a GRANT); otherwise the reader reads up to it.
   */
  offer(room: string, entry: StreamEntry): void {
    const sub = this.subs.get(room)
    if (sub?.active && entry.n === sub.lastN + 1) this.deliver(sub, [entry])
    else this.heard(room, entry.n)
  }

  /**
   * Resolves once the reader has handed over (or skipped, as its own) every update up to `n`.
   * Rejects if the room fails meanwhile (its stream was trimmed past this relay, say), or with
   * an {@link UnavailableError} after `waitMs`.
   */
  reached(room: string, n: number): Promise<void> {
    const sub = this.subs.get(room)
    if (!sub?.active) return Promise.reject(new UnavailableError(`room "${room}" is not loaded here`))
    if (sub.lastN >= n) return Promise.resolve()
    const waitMs = this.o.waitMs ?? 10_000
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        n,
        resolve: () => {
          clearTimeout(w.timer)
          resolve()
        },
        reject: (err) => {
          clearTimeout(w.timer)
          reject(err)
        },
        timer: setTimeout(() => {
          sub.waiters = sub.waiters.filter((x) => x !== w)
          reject(new UnavailableError(`room "${room}": the stream was not read up to update ${n} within ${waitMs} ms`))
        }, waitMs)
      }
      w.timer.unref?.()
      sub.waiters.push(w)
      this.heard(room, n)
      this.checkLater(sub)
    })
  }

  /** Resolves once every update stored so far is handed over; rejects if the stream was trimmed past this relay. */
  async barrier(room: string): Promise<void> {
    const sub = this.subs.get(room)
    if (!sub?.active) throw new UnavailableError(`room "${room}" is not loaded here`)
    const [lastId, lastN] = [sub.lastId, sub.lastN]
    let reply: [number, number]
    try {
      reply = (await HEAD.run(this.o.redis, [this.o.keys.room(room), this.o.keys.global, room, lastId, lastN])) as [number, number]
    } catch (err) {
      throw redisFailure(err)
    }
    if (Number(reply[1]) === 0 && sub.lastN === lastN) this.trimmed(sub)
    await this.reached(room, Number(reply[0]))
  }

  /** Asks for the room's compaction now (a relay with the job free takes it). */
  async compact(room: string): Promise<void> {
    const now = Date.now() // only a hint of urgency: the queue's clock is Redis's, and LT keeps the earlier time
    await this.o.redis.zadd(this.o.keys.compactQueue, 'LT', now - 60_000, room).catch(() => {})
  }

  async publish(): Promise<void> {}

  /** Fails every loaded room (its sessions reconnect and reload it). */
  failAll(err: Error): void {
    for (const sub of [...this.subs.values()]) this.failRoom(sub, err)
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

  private failRoom(sub: Subscription, err: Error): void {
    if (sub.lost) return
    sub.active = false
    sub.lost = true
    this.rejectWaiters(sub, err)
    sub.onLost?.(err)
  }

  /** Update `n` of `room` was stored: a room held here that has not read it is read next. */
  private heard(room: string, n: number): void {
    const sub = this.subs.get(room)
    if (!sub || n <= sub.heard) return
    sub.heard = n
    if (sub.active && n > sub.lastN) {
      this.news.add(sub)
      this.rouse()
    }
  }

  private sweepNow(): void {
    this.sweepDue = true
    this.rouse()
  }

  private trimmed(sub: Subscription): void {
    if (!sub.active) return
    this.failRoom(
      sub,
      new Error(
        `the stream of room "${sub.room}" was trimmed past update ${sub.lastN}, which this relay read last (it stalled longer than the compaction grace)`
      )
    )
  }

  /** A wait for the stream: if it lasts, the stream is checked for a trim that left it nothing to read. */
  private checkLater(sub: Subscription): void {
    if (sub.checking) return
    sub.checking = true
    const timer = setTimeout(() => {
      if (sub.waiters.length === 0 || !sub.active) {
        sub.checking = false
        return
      }
      void this.checkStreams([sub]).finally(() => {
        sub.checking = false
        if (sub.waiters.length > 0 && sub.active) this.checkLater(sub)
      })
    }, CHECK_AFTER_MS)
    timer.unref?.()
  }

  /**
   * Compares each room's last number in Redis with what this relay read: a room with updates
   * it has not read is read next (news that pub/sub lost), one whose stream was trimmed past
   * what it read fails. Returns false if Redis did not answer.
   */
  private async checkStreams(subs: Subscription[]): Promise<boolean> {
    for (let i = 0; i < subs.length; i += CHECK_CHUNK) {
      const chunk = subs.slice(i, i + CHECK_CHUNK).map((sub) => ({ sub, lastN: sub.lastN, lastId: sub.lastId }))
      let found: number[]
      try {
        found = (
          (await CHECK_STREAMS.run(
            this.o.redis,
            chunk.flatMap((c) => [this.o.keys.room(c.sub.room), c.lastId, c.lastN])
          )) as number[]
        ).map(Number)
      } catch {
        this.o.metrics.inc('redis_errors_total')
        return false // the next sweep or wait checks again; a wait that outlasts Redis ends at waitMs
      }
      for (let k = 0; k + 1 < found.length; k += 2) {
        const c = chunk[found[k]! - 1]
        // A reader that read on meanwhile read what the check found.
        if (!c || c.sub.lastN !== c.lastN || this.subs.get(c.sub.room) !== c.sub) continue
        if (found[k + 1]! < 0) this.trimmed(c.sub)
        else this.heard(c.sub.room, found[k + 1]!)
      }
    }
    return true
  }

  private rejectWaiters(sub: Subscription, err: Error): void {
    const waiters = sub.waiters
    sub.waiters = []
    for (const w of waiters) w.reject(err)
  }

  /** Wakes the reader: there is news to read, a sweep is due, or it is closing. */
  private rouse(): void {
    const wake = this.wake
    this.wake = null
    wake?.()
  }

  /** Resolves on `rouse`, on the reader's (re)connection, or after `ms`. */
  private idle(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer)
        this.o.reader.off('ready', done)
        this.wake = null
        resolve()
      }
      const timer = setTimeout(done, ms)
      this.o.reader.once('ready', done)
      this.wake = done
    })
  }

  private async readLoop(): Promise<void> {
    const reader = this.o.reader
    let lastSweep = 0
    while (!this.closed) {
      const sinceSweep = Date.now() - lastSweep
      // Due every few seconds; after a stall (the relay paused) it is overdue, and runs at once.
      if (sinceSweep >= SWEEP_MS) this.sweepDue = true
      if (this.news.size === 0 && !this.sweepDue) {
        await this.idle(SWEEP_MS - sinceSweep)
        continue
      }
      if (reader.status !== 'ready') {
        for (const s of this.subs.values()) if (s.active) this.rejectWaiters(s, new UnavailableError('Redis is unreachable'))
        this.sweepDue = true
        await this.idle(500)
        continue
      }
      let ok = true
      if (this.sweepDue) {
        this.sweepDue = false
        lastSweep = Date.now()
        ok = await this.checkStreams([...this.subs.values()].filter((s) => s.active))
      }
      // A room whose news was delivered meanwhile without a read (`offer`) needs none.
      const due = [...this.news].filter((s) => s.active && this.subs.get(s.room) === s && s.heard > s.lastN)
      this.news.clear()
      for (let i = 0; i < due.length && !this.closed && ok; i += READ_CHUNK) ok = await this.readRooms(due.slice(i, i + READ_CHUNK))
      // Redis refused (a connection down, the other up): try again in a while. A call that fails
      // at once, retried at once, would starve the event loop, and with it the reconnection.
      if (!ok) {
        this.sweepDue = true
        await this.idle(500)
      }
    }
  }

  /** One XREAD of the rooms given, from where each was read up to. Returns false if Redis did not answer. */
  private async readRooms(rooms: Subscription[]): Promise<boolean> {
    let reply: unknown
    try {
      reply = await this.o.reader.callBuffer(
        'XREAD',
        'COUNT',
        String(READ_COUNT),
        'STREAMS',
        ...rooms.map((s) => s.stream),
        ...rooms.map((s) => s.lastId)
      )
    } catch (err) {
      this.o.metrics.inc('redis_errors_total')
      for (const s of rooms) {
        this.rejectWaiters(s, redisFailure(err))
        this.news.add(s)
      }
      this.sweepDue = true
      // A read that timed out on a hung Redis: the connection starts afresh, without what was queued behind it.
      if (/timed out/i.test(String((err as Error)?.message))) this.o.reader.disconnect(true)
      return false
    }
    const byStream = new Map(rooms.map((s) => [s.stream, s]))
    for (const [key, raw] of (reply ?? []) as Array<[Buffer, unknown]>) {
      const sub = byStream.get(key.toString())
      if (!sub || this.subs.get(sub.room) !== sub || !sub.active) continue
      const entries = parseEntries(raw)
      this.deliver(sub, entries)
      if (entries.length >= READ_COUNT) {
        sub.heard = Math.max(sub.heard, sub.lastN + 1) // there may be more: read on
        this.news.add(sub)
      }
    }
    // News this read did not find: trimmed before this relay read it (or Redis lost it).
    const missing = rooms.filter((s) => s.active && s.lastN < s.heard && !this.news.has(s))
    return missing.length === 0 || (await this.checkStreams(missing))
  }

  private deliver(sub: Subscription, entries: StreamEntry[]): void {
    for (const e of entries) {
      if (e.n <= sub.lastN) continue
      if (e.n !== sub.lastN + 1) {
        this.failRoom(
          sub,
          new Error(
            `the stream of room "${sub.room}" skips from update ${sub.lastN} to ${e.n} (trimmed before this relay read it, or Redis lost data)`
          )
        )
        return
      }
      sub.lastId = e.id
      sub.lastN = e.n
      this.o.metrics.inc('entries_read_total')
      if (e.origin !== sub.tag) sub.onUpdate(e.update, e.origin === commitTag(this.o.relayId()))
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
