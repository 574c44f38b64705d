/**
 * A room's lease table shared by every relay of a cluster: the table lives in Redis and changes
 * only through the Lua scripts of `scripts.ts` (FIFO a key, sorted multi-key requests, leases
 * timed by Redis's clock, requests of dead relays reaped). This class is one relay's view of one
 * room's table: the requests of its own connections, each with its fence (the request's number
 * in Redis, which no other request ever has).
 *
 * - `acquire` runs the acquire script; the grant comes in its reply, or later, published on the
 *   relay's grant channel by whichever script handed the keys over, or found by polling (every
 *   `pollMs` while something waits: a lost message only delays a grant). A grant carries the
 *   room's update number at that moment; `onGrant` is called only once this relay has read every
 *   update up to it, so the GRANT's state vector covers every update any relay stored before.
 * - `commit` checks the fence and appends the update in one script: a holder whose lease
 *   expired, or whose relay was presumed dead, can never write under it; nor can a connection
 *   whose session has since named a later socket (`fenceSession`, on any relay).
 * - `fenceSession` records a session's new socket in Redis, and resolves once this relay has read
 *   every update stored before: a commit of the session's earlier sockets is in the doc then, or
 *   never will be.
 * - `release` and `dropHolder` answer from the local view and run the release script.
 * - If Redis cannot be reached, `acquire` is denied (`onDeny`: the client's lock rejects, nothing
 *   applied), and `commit` rejects (the outcome is unknown: the room closes the connection, and
 *   the client learns the outcome from the room once it reconnects).
 *
 * @example
 *   const table = new SharedLeases('default', callbacks, deps)
 *   table.acquire(peer, 1, ['count'])                  // onGrant later
 *   const outcome = await table.commit(peer, 1, update) // { ok: true } once read back
 */
import type { Redis } from 'ioredis'
import type { CommitOutcome, LeaseCallbacks, LeaseHolderRequest, Leases, SessionSocket } from '../locks/leases.js'
import type { Logger } from '../log.js'
import { UnavailableError } from '../store/unavailable.js'
import { ACQUIRE, COMMIT, POLL, RELEASE, SESSION_FENCE } from './scripts.js'
import { redisFailure } from './redis-client.js'
import { commitTag, type ClusterKeys } from './keys.js'
import type { ClusterMetrics } from './cluster-metrics.js'
import { asBuffer } from '../as-buffer.js'
import type { StreamEntry } from './shared-rooms.js'

export interface SharedLeasesDeps {
  redis: Redis
  keys: ClusterKeys
  relayId(): string
  /** A lock script answered that relay `id`'s liveness key is gone: the others presumed it dead. */
  presumedDead(id: string): void
  /** Resolves once this relay has handed the room every update up to `n`. */
  reached(room: string, n: number): Promise<void>
  /** A commit of this relay stored `entry`: handed to the room without a read if it is next (`SharedRooms.offer`). */
  stored(room: string, entry: StreamEntry): void
  log: Logger
  metrics: ClusterMetrics
  /** How often waiting requests ask Redis whether they were granted. */
  pollMs: number
  compactDelayMs: number
  /** Registers the table for grants published to this relay; returns the unregister. */
  register(room: string, table: SharedLeases<unknown>): () => void
}

/** A grant as the lease scripts publish it on the holder relay's channel. */
export interface GrantMessage {
  fence: number
  /** The room's update number at the grant: the holder's relay reads up to it first. */
  n: number
  room: string
  /** The update numbered `n`, when a commit stored it and handed the keys over in one script. */
  entry?: StreamEntry
}

/**
 * Reads `<fence>\n<n>\n<stream id>\n<room's length in bytes>\n<room><update>` (id and update
 * empty unless a commit's update rides along). Returns null for anything else.
 */
export const parseGrant = (m: Buffer): GrantMessage | null => {
  const nl: number[] = []
  for (let at = -1; nl.length < 4; ) {
    at = m.indexOf(10, at + 1)
    if (at < 0) return null
    nl.push(at)
  }
  const [a, b, c, d] = nl as [number, number, number, number]
  const fence = Number(m.toString('latin1', 0, a))
  const n = Number(m.toString('latin1', a + 1, b))
  const id = m.toString('latin1', b + 1, c)
  const roomEnd = d + 1 + Number(m.toString('latin1', c + 1, d))
  if (!Number.isSafeInteger(fence) || !Number.isSafeInteger(n) || !(roomEnd <= m.length)) return null
  const room = m.toString('utf8', d + 1, roomEnd)
  return id === '' ? { fence, n, room } : { fence, n, room, entry: { id, n, update: m.subarray(roomEnd), origin: 'commit' } }
}

type State = 'asking' | 'waiting' | 'granted' | 'ended'

interface Request<H> extends LeaseHolderRequest<H> {
  fence: number | null
  state: State
}

export class SharedLeases<H> implements Leases<H> {
  private readonly byHolder = new Map<H, Map<number, Request<H>>>()
  private readonly byFence = new Map<number, Request<H>>()
  private poller: ReturnType<typeof setTimeout> | undefined
  /** Grants published before the acquire's reply told this relay the fence (a race of two sockets). */
  private readonly early = new Map<number, number>()
  private readonly unregister: () => void
  private closed = false

  constructor(
    readonly room: string,
    private readonly cb: LeaseCallbacks<H>,
    private readonly d: SharedLeasesDeps
  ) {
    this.unregister = d.register(room, this as SharedLeases<unknown>)
  }

  get size(): number {
    let n = 0
    for (const mine of this.byHolder.values()) n += mine.size
    return n
  }

  acquire(holder: H, id: number, keys: readonly string[]): void {
    let mine = this.byHolder.get(holder)
    if (!mine) {
      mine = new Map()
      this.byHolder.set(holder, mine)
    }
    if (mine.has(id)) throw new Error(`lock request ${id} is already open`)
    const r: Request<H> = { holder, id, keys, fence: null, state: 'asking' }
    mine.set(id, r)
    const me = this.d.relayId()
    this.script(ACQUIRE, [me, this.cb.leaseMs, JSON.stringify(keys)]).then(
      (reply) => {
        const [fence, ...grants] = (reply as number[]).map(Number)
        if (fence! < 0) {
          this.deny(r, 'this relay lost its liveness in Redis; reconnect')
          return this.d.presumedDead(me)
        }
        r.fence = fence!
        if (r.state === 'ended') return this.releaseFence(fence!)
        r.state = 'waiting'
        this.byFence.set(fence!, r)
        const early = this.early.get(fence!)
        this.early.delete(fence!)
        // Kept while another request still asks: its grant may be among them.
        if (!this.asking()) this.early.clear()
        this.granted(early === undefined ? grants : [...grants, fence!, early])
        if (r.state === 'waiting') this.schedulePoll()
      },
      (err) => this.deny(r, `the shared lock table is unreachable, try again: ${(err as Error).message}`)
    )
  }

  fenceOf(holder: H, id: number): number | undefined {
    const r = this.byHolder.get(holder)?.get(id)
    return r?.state === 'granted' ? (r.fence ?? undefined) : undefined
  }

  isGranted(holder: H, id: number): boolean {
    return this.byHolder.get(holder)?.get(id)?.state === 'granted'
  }

  release(holder: H, id: number): boolean {
    const r = this.take(holder, id)
    if (!r) return false
    const held = r.state === 'granted'
    this.end(r)
    return held
  }

  dropHolder(holder: H): void {
    const mine = this.byHolder.get(holder)
    if (!mine) return
    this.byHolder.delete(holder)
    for (const r of mine.values()) this.end(r)
  }

  async fenceSession(session: string, socket: number): Promise<void> {
    const n = Number(await this.script(SESSION_FENCE, [session, socket, Math.max(2 * this.cb.leaseMs, 60_000)]))
    await this.d.reached(this.room, n)
  }

  async commit(holder: H, id: number, update: Uint8Array, from?: SessionSocket): Promise<CommitOutcome> {
    const r = this.byHolder.get(holder)?.get(id)
    if (r?.state !== 'granted' || r.fence === null) return { ok: false, reason: 'the lease is not held: it expired or was never granted' }
    const fence = r.fence
    this.take(holder, id)
    r.state = 'ended'
    this.byFence.delete(fence)
    const me = this.d.relayId()
    const reply = (await this.script(COMMIT, [
      me,
      fence,
      asBuffer(update),
      this.d.compactDelayMs,
      commitTag(me),
      from?.session ?? '',
      from?.socket ?? 0
    ])) as Array<number | string>
    if (Number(reply[0]) !== 1) {
      this.d.metrics.inc('commits_denied_total')
      if (Number(reply[2]) === 1) this.d.presumedDead(me)
      return { ok: false, reason: String(reply[1]) }
    }
    this.d.metrics.inc('commits_stored_total')
    const n = Number(reply[1])
    this.d.stored(this.room, { n, id: String(reply[2]), update, origin: commitTag(me) })
    this.granted(reply.slice(3).map(Number))
    await this.d.reached(this.room, n)
    return { ok: true }
  }

  /** A grant published for one of this relay's requests, or found by polling. */
  remoteGrant(fence: number, n: number): void {
    if (!this.byFence.has(fence) && this.asking()) this.early.set(fence, n)
    this.granted([fence, n])
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    clearTimeout(this.poller)
    for (const holder of [...this.byHolder.keys()]) this.dropHolder(holder)
    this.unregister()
  }

  /** Handles (fence, number) pairs of grants: this relay's own are granted once it has read up to the number. */
  private granted(pairs: number[]): void {
    for (let i = 0; i + 1 < pairs.length; i += 2) {
      const r = this.byFence.get(pairs[i]!)
      if (r?.state !== 'waiting') continue
      r.state = 'granted'
      const n = pairs[i + 1]!
      this.d.reached(this.room, n).then(
        () => {
          if (r.state === 'granted') this.cb.onGrant(r)
        },
        (err) => {
          // The room failed (its connections close, which ends the request), or the stream was
          // not read up to the grant in time: the lease is given back, the lock call rejects.
          if (r.state === 'granted' && this.take(r.holder, r.id) === r) {
            this.end(r)
            this.cb.onDeny?.(r, `the room could not be read up to the grant: ${(err as Error).message}`)
          }
        }
      )
    }
  }

  /** Whether a request waits for its acquire's reply (and so for its fence). */
  private asking(): boolean {
    for (const mine of this.byHolder.values()) for (const r of mine.values()) if (r.state === 'asking') return true
    return false
  }

  private take(holder: H, id: number): Request<H> | undefined {
    const mine = this.byHolder.get(holder)
    const r = mine?.get(id)
    if (!mine || !r) return undefined
    mine.delete(id)
    if (mine.size === 0) this.byHolder.delete(holder)
    return r
  }

  private end(r: Request<H>): void {
    const was = r.state
    r.state = 'ended'
    if (r.fence === null) return // the acquire reply releases it
    this.byFence.delete(r.fence)
    if (was !== 'ended') this.releaseFence(r.fence)
  }

  /**
   * Ends the request in Redis. If Redis cannot be reached, tries again every `pollMs` for a while:
   * a request left queued there would be granted later and hold its keys until its lease time.
   */
  private releaseFence(fence: number, attempt = 0): void {
    this.script(RELEASE, [fence]).then(
      (reply) => this.granted((reply as number[]).slice(1).map(Number)),
      (err) => {
        if (attempt === 0)
          this.d.log.warn('lock release failed; retrying (else the lease ends at its time)', { room: this.room, fence, error: String(err) })
        if (attempt >= 60) return
        const retry = setTimeout(() => this.releaseFence(fence, attempt + 1), this.d.pollMs)
        retry.unref?.()
      }
    )
  }

  private deny(r: Request<H>, reason: string): void {
    const open = this.byHolder.get(r.holder)?.get(r.id) === r
    if (r.fence !== null) this.byFence.delete(r.fence)
    if (!open) return
    this.take(r.holder, r.id)
    r.state = 'ended'
    this.cb.onDeny?.(r, reason)
  }

  private schedulePoll(): void {
    if (this.poller || this.closed) return
    this.poller = setTimeout(() => {
      this.poller = undefined
      void this.poll()
    }, this.d.pollMs)
    this.poller.unref?.()
  }

  private async poll(): Promise<void> {
    const waiting = [...this.byFence.values()].filter((r) => r.state === 'waiting')
    if (waiting.length === 0 || this.closed) return
    try {
      const statuses = (await this.script(
        POLL,
        waiting.map((r) => r.fence!)
      )) as number[]
      waiting.forEach((r, i) => {
        const s = Number(statuses[i])
        if (s >= 0) this.granted([r.fence!, s])
        else if (s === -2) this.deny(r, 'the lease request was dropped by the shared table (its relay was presumed dead)')
      })
    } catch {
      // Redis is unreachable: poll again.
    }
    if ([...this.byFence.values()].some((r) => r.state === 'waiting')) this.schedulePoll()
  }

  private async script(script: typeof ACQUIRE, args: Array<string | number | Buffer>): Promise<unknown> {
    this.d.metrics.inc('lock_scripts_total')
    if (this.d.redis.status !== 'ready') throw new UnavailableError('Redis is unreachable')
    try {
      return await script.run(this.d.redis, [this.d.keys.room(this.room), this.d.keys.global, this.room, ...args])
    } catch (err) {
      this.d.metrics.inc('redis_errors_total')
      throw redisFailure(err)
    }
  }
}
