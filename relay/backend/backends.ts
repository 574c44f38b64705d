/**
 * The relay's room backends: the way the HTTP API and server mutations read and write rooms.
 * One {@link RoomBackend} a room, opened through the room registry when a call comes and kept in
 * its room (so the room stays loaded) while anything is queued, under way or leased, and for
 * `idleMs` after; then it leaves, and the room unloads as after its last connection.
 *
 * Leases are found by their id alone (random, 128 bits), checked against the room named with it:
 * a lease of another room is not found. An ended lease is remembered a while, so that a late
 * commit or release learns it ended (a 409) rather than that it never was (a 404).
 *
 * Fences: with a cluster, the shared lease table's number of the request (per room, growing with
 * each request, so with each grant of a key); on one relay, a number that grows with each grant
 * on this relay, `max(last + 1, now in µs)`, so it keeps growing across restarts as long as the
 * clock does not go back.
 *
 * @example
 *   const backends = new RoomBackends({ rooms, leaseMs: 10_000, limits, metrics })
 *   const room = backends.room('default')
 *   await room.write({ set: { count: 1 } })                       // { count: 0 }, once stored
 *   const lease = await room.acquire(['count'], { timeoutMs: 5_000 })
 *   await room.commit(lease.id, { set: { count: 2 } })            // LeaseEndedError if it expired
 */
import { randomBytes } from 'node:crypto'
import type { Limits } from '../limits.js'
import type { Metrics } from '../metrics.js'
import type { RoomRegistry } from '../room/registry.js'
import type { PeerGrant } from '../peer.js'
import { RoomBackend, type GrantedLease, type LeaseRecord } from './room-backend.js'
import { toWrites, type BackendWrites } from './backend-writes.js'
import type { KeyValue } from './shadow.js'
import { BackendClosedError, LeaseEndedError, LeaseNotFoundError, OverLimitError } from './errors.js'

export interface RoomBackendsOptions {
  rooms: RoomRegistry
  leaseMs: number
  limits: Pick<Limits, 'maxLockRequests' | 'maxLockKeyChars' | 'maxHttpLeases'>
  metrics: Metrics
  /** How long a room's backend stays with nothing to do. Default 10 s. */
  idleMs?: number
  /**
   * Its peers' grant (default `BACKEND_GRANT`): server mutations run on backends of their own,
   * whose grant `runsMutations` lets them write the mutation-only keys.
   */
  grant?: PeerGrant
}

/** What a backend may do in one room: the API the HTTP routes and server mutations use. */
export interface RoomAccess {
  readonly room: string
  /** `keys`' values and versions (every set key when undefined), including every write stored before the call. */
  read(keys?: readonly string[]): Promise<Record<string, KeyValue>>
  /** One transaction; resolves with the written keys' versions once stored. A write that changes nothing sends nothing. */
  write(writes: BackendWrites): Promise<Record<string, number>>
  /** Queues for the keys' leases, FIFO with the sockets' locks; `LockTimeoutError` after `timeoutMs`. */
  acquire(keys: readonly string[], opts: { timeoutMs: number; signal?: AbortSignal }): Promise<GrantedLease>
  /** Writes under the lease (its keys only) and ends it; `LeaseEndedError`: it had ended, nothing applied. */
  commit(leaseId: string, writes: BackendWrites): Promise<Record<string, number>>
  /** Ends the lease, nothing applied; throws `LeaseEndedError` if it had ended, `LeaseNotFoundError` if unknown. */
  release(leaseId: string): void
}

interface Live {
  backend: Promise<RoomBackend>
  loaded?: RoomBackend
}

export class RoomBackends {
  private readonly live = new Map<string, Live>()
  /** Leases by id: the open ones, and the ended ones for a while (`ended`, oldest first). */
  private readonly leases = new Map<string, LeaseRecord>()
  private readonly ended = new Map<string, number>()
  private open = 0
  /** Lease requests between their check against `maxHttpLeases` and their ACQUIRE (their room loading). */
  private reserved = 0
  private lastFence = 0
  private closing = false
  private readonly keepEndedMs: number

  constructor(private readonly options: RoomBackendsOptions) {
    this.keepEndedMs = Math.max(60_000, 2 * options.leaseMs)
  }

  /** Leases open (waiting or held) on this relay. */
  get openLeases(): number {
    return this.open
  }

  /** Rooms with a backend in them. */
  get size(): number {
    return this.live.size
  }

  /** The calls of a room: each opens the room's backend (loading the room) if it is not open. */
  room(name: string): RoomAccess {
    return {
      room: name,
      read: async (keys) => (await this.backend(name)).read(keys),
      write: async (writes) => {
        const list = toWrites(writes)
        return (await this.backend(name)).write(list)
      },
      acquire: async (keys, opts) => {
        if (this.open + this.reserved >= this.options.limits.maxHttpLeases) {
          this.options.metrics.limitHit('maxHttpLeases')
          throw new OverLimitError('maxHttpLeases', `the relay holds its limit of ${this.options.limits.maxHttpLeases} HTTP leases`)
        }
        // Counted while its room loads: requests arriving meanwhile see it (the lease counts in `open` once asked).
        this.reserved++
        let backend: RoomBackend
        try {
          backend = await this.backend(name)
        } finally {
          this.reserved--
        }
        return backend.acquire(keys, opts)
      },
      commit: async (leaseId, writes) => {
        const lease = this.lease(name, leaseId)
        return lease.backend.commit(lease, toWrites(writes))
      },
      release: (leaseId) => {
        const lease = this.lease(name, leaseId)
        if (lease.state === 'ended') throw new LeaseEndedError(`the lease ended (${lease.ended})`)
        lease.backend.release(lease)
      }
    }
  }

  /** The room's backend, in its room; a new one if the last left. */
  async backend(name: string): Promise<RoomBackend> {
    for (;;) {
      if (this.closing) throw new BackendClosedError('the relay is closing', true)
      let live = this.live.get(name)
      if (!live) live = this.start(name)
      const backend = await live.backend
      if (!backend.isClosed) return backend
      if (this.live.get(name) === live) this.live.delete(name)
    }
  }

  /** Every backend leaves its room: what is under way fails with {@link BackendClosedError}. */
  async close(): Promise<void> {
    this.closing = true
    const all = await Promise.allSettled([...this.live.values()].map((l) => l.backend))
    for (const r of all) if (r.status === 'fulfilled') r.value.close()
    this.live.clear()
  }

  private start(name: string): Live {
    const live: Live = {
      backend: this.options.rooms.open(name).then((room) => {
        const backend = new RoomBackend(room, {
          leaseMs: this.options.leaseMs,
          limits: this.options.limits,
          metrics: this.options.metrics,
          idleMs: this.options.idleMs ?? 10_000,
          ...(this.options.grant ? { grant: this.options.grant } : {}),
          nextFence: () => {
            this.lastFence = Math.max(this.lastFence + 1, Date.now() * 1000)
            return this.lastFence
          },
          newLeaseId: () => randomBytes(16).toString('base64url'),
          leaseOpened: (lease) => {
            this.open++
            this.leases.set(lease.id, lease)
          },
          leaseEnded: (lease) => this.leaseEnded(lease),
          closed: (b) => {
            if (this.live.get(name)?.loaded === b) this.live.delete(name)
            this.options.rooms.released(room)
          }
        })
        live.loaded = backend
        return backend
      })
    }
    this.live.set(name, live)
    live.backend.catch(() => {
      if (this.live.get(name) === live) this.live.delete(name)
    })
    return live
  }

  private lease(room: string, id: string): LeaseRecord {
    const lease = this.leases.get(id)
    if (!lease || lease.backend.room.name !== room)
      throw new LeaseNotFoundError(`no lease ${JSON.stringify(id)} in room ${JSON.stringify(room)}`)
    return lease
  }

  private leaseEnded(lease: LeaseRecord): void {
    this.open--
    const now = Date.now()
    this.ended.set(lease.id, now)
    // Forgotten after a while, and at most as many as may be open: a stream of leases holds no more.
    for (const [id, at] of this.ended) {
      if (at > now - this.keepEndedMs && this.ended.size <= this.options.limits.maxHttpLeases) break
      this.ended.delete(id)
      this.leases.delete(id)
    }
  }
}
