/**
 * One room's backend on this relay: the reads, writes and leases of every HTTP request (and
 * server mutation) in the room, made through one {@link BackendPeer} and its {@link Shadow}
 * (docs/architecture.md, "Backends").
 *
 * Its work goes in rounds, one at a time:
 * - a round of plain work: the writes queued so far, built on the shadow in turn and sent as one
 *   sync update, then (if a read waits) a sync step 1, then a FLUSH. FLUSHED means every write of
 *   the round is stored (its versions are answered), and the reads are answered from the shadow
 *   then: it holds every update stored before the FLUSH, other relays' too (the step 1 makes a
 *   cluster's room read them first).
 * - a round of one commit: built on the shadow and sent as a COMMIT, answered DONE or DENIED.
 *
 * Nothing is built while a commit waits for its answer: if the relay denies it (its lease ended),
 * the shadow holds writes the room never applied, and anything built on them would not
 * integrate. The shadow is then replaced by a new one (a new client id), synced afresh before the
 * next round. A plain write is never denied: the room applies it or drops the whole peer.
 *
 * A write refused before it is sent (over `maxUpdateItems`, `maxRoomBytes`: the room's own check,
 * run here first) fails alone; the shadow that holds it is replaced.
 *
 * Leases: an ACQUIRE per lease, the peer as holder (so a room's HTTP leases count as one holder's
 * requests in `maxLockRequests`). At the GRANT the values are read from the shadow, which then
 * holds every update the relay had at the grant (the room sends the GRANT after them, and never
 * holds them back: `BackendPeer.immediate`), unless a commit waits for its answer: then once it
 * has its answer. A commit may write only its lease's keys.
 *
 * @example
 *   const backend = new RoomBackend(room, deps)
 *   await backend.write(toWrites({ set: { count: 1 } }))       // { count: 0 }: versions, once stored
 *   const lease = await backend.acquire(['count'], { timeoutMs: 5_000 })   // deps.leaseOpened(record) named its record
 *   await backend.commit(record, toWrites({ set: { count: (lease.values.count!.value as number) + 1 } }))
 */
import * as Y from 'yjs'
import { YSS_DENIED, YSS_DONE, YSS_FLUSHED, YSS_GRANT, type YssMessage } from '../../protocol/messages.js'
import { CLOSE } from '../../protocol/close-codes.js'
import type { Write } from '../../protocol/doc-writes.js'
import { PeerError, type PeerGrant } from '../peer.js'
import type { LimitName, Limits } from '../limits.js'
import type { Metrics } from '../metrics.js'
import type { Room } from '../room/room.js'
import { BACKEND_GRANT, BackendPeer } from './backend-peer.js'
import { Shadow, type KeyValue } from './shadow.js'
import { writtenKeys } from './backend-writes.js'
import { BackendClosedError, BadWritesError, LeaseEndedError, LockTimeoutError, OverLimitError } from './errors.js'

/** A granted lease, as `acquire` answers it. */
export interface GrantedLease {
  /** The lease's id: random, unguessable, and good in its room only. */
  readonly id: string
  /** Grows with each grant of a key: a store outside the relay may refuse a smaller one than it has seen. */
  readonly fence: number
  readonly keys: readonly string[]
  /** The keys as the relay held them at the grant. */
  readonly values: Readonly<Record<string, KeyValue>>
  /** When the lease ends (ms since the epoch), as this relay reckons it: commit well before. */
  readonly expiresAt: number
  readonly leaseMs: number
}

/** A lease as the backend keeps it, from its request to a while after its end. */
export interface LeaseRecord {
  readonly id: string
  readonly backend: RoomBackend
  /** The lock request's id on the peer. */
  readonly request: number
  readonly keys: readonly string[]
  state: 'waiting' | 'granted' | 'committing' | 'ended'
  /** Why it ended, for the 409 of a later commit or release. */
  ended: string
  fence: number
  expiresAt: number
  timer: ReturnType<typeof setTimeout> | undefined
  /** The acquire's answer, until it is given. */
  answer: Deferred<GrantedLease> | null
}

export interface RoomBackendDeps {
  leaseMs: number
  limits: Pick<Limits, 'maxLockRequests' | 'maxLockKeyChars'>
  metrics: Metrics
  /** How long the backend stays in its room with nothing to do. */
  idleMs: number
  /** The fence of a grant when the room's lease table has none of its own (one relay). */
  nextFence(): number
  /** A new lease id. */
  newLeaseId(): string
  /** A lease was asked for: it can be found by its id from now on. */
  leaseOpened(lease: LeaseRecord): void
  /** The lease ended (its record stays a while, for a 409). */
  leaseEnded(lease: LeaseRecord): void
  /** The backend left its room (idle, or dropped by it): forget it. */
  closed(backend: RoomBackend): void
  /** Its peer's grant; default {@link BACKEND_GRANT}. */
  grant?: PeerGrant
}

interface Deferred<T> {
  resolve(value: T): void
  reject(err: unknown): void
}

type Op =
  | { kind: 'read'; keys: readonly string[] | undefined; answer: Deferred<Record<string, KeyValue>> }
  | { kind: 'write'; writes: readonly Write[]; versions: Record<string, number>; answer: Deferred<Record<string, number>> }
  | { kind: 'grant'; lease: LeaseRecord }
  | { kind: 'commit'; lease: LeaseRecord; writes: readonly Write[]; answer: Deferred<Record<string, number>> }

type Flight =
  | { kind: 'round'; id: number; ops: Op[] }
  | { kind: 'commit'; op: Extract<Op, { kind: 'commit' }>; built: boolean; versions: Record<string, number> }

const EMPTY = new Uint8Array(0)

export class RoomBackend {
  readonly peer: BackendPeer
  private shadow: Shadow | null = null
  private readonly queue: Op[] = []
  private flight: Flight | null = null
  /** Open leases (waiting, granted, committing) by request id. */
  private readonly leases = new Map<number, LeaseRecord>()
  private nextRequest = 1
  private idleTimer: ReturnType<typeof setTimeout> | undefined
  private closedBy: Error | null = null

  constructor(
    readonly room: Room,
    private readonly deps: RoomBackendDeps
  ) {
    this.peer = new BackendPeer(
      room,
      {
        update: (update) => this.shadow?.apply(update),
        synced: (update) => this.synced(update),
        reply: (m) => this.reply(m),
        closed: (code, reason, limit) => this.closed(code, reason, limit)
      },
      deps.grant ?? BACKEND_GRANT
    )
    room.join(this.peer)
    this.checkIdle()
  }

  get isClosed(): boolean {
    return this.closedBy !== null
  }

  /** Open leases, waiting or held. */
  get openLeases(): number {
    return this.leases.size
  }

  /** `keys`' values and versions (every set key when undefined), as stored when the read was asked, or later. */
  read(keys?: readonly string[]): Promise<Record<string, KeyValue>> {
    return this.enqueue<Record<string, KeyValue>>((answer) => ({ kind: 'read', keys, answer }))
  }

  /** Makes `writes` in one transaction; resolves with the written keys' versions once stored. */
  write(writes: readonly Write[]): Promise<Record<string, number>> {
    return this.enqueue<Record<string, number>>((answer) => ({ kind: 'write', writes, versions: {}, answer }))
  }

  /**
   * Queues for the leases of `keys`, FIFO with every other holder's locks on them. Rejects with
   * {@link LockTimeoutError} after `timeoutMs`, with `signal`'s reason when it aborts first (the
   * request is withdrawn either way), with {@link OverLimitError} past the holder's limits.
   */
  acquire(keys: readonly string[], opts: { timeoutMs: number; signal?: AbortSignal }): Promise<GrantedLease> {
    if (this.closedBy) return Promise.reject(this.closedBy)
    const sorted = [...new Set(keys)].sort()
    const over = this.overLimits(sorted)
    if (over) return Promise.reject(over)
    const request = this.nextRequest++
    return new Promise<GrantedLease>((resolve, reject) => {
      const lease: LeaseRecord = {
        id: this.deps.newLeaseId(),
        backend: this,
        request,
        keys: sorted,
        state: 'waiting',
        ended: '',
        fence: 0,
        expiresAt: 0,
        timer: undefined,
        answer: { resolve, reject }
      }
      this.leases.set(request, lease)
      this.deps.leaseOpened(lease)
      this.checkIdle()
      const withdraw = (err: Error) => {
        if (!lease.answer) return
        lease.answer.reject(err)
        lease.answer = null
        if (lease.state === 'waiting' || lease.state === 'granted') this.end(lease, err.message, true)
      }
      lease.timer = setTimeout(() => {
        if (lease.state === 'waiting') withdraw(new LockTimeoutError(`no lease of ${sorted.join(', ')} within ${opts.timeoutMs} ms`))
      }, opts.timeoutMs)
      lease.timer.unref?.()
      const { signal } = opts
      if (signal?.aborted) {
        withdraw(abortError(signal))
        return
      }
      signal?.addEventListener('abort', () => withdraw(abortError(signal)), { once: true })
      this.peer.acquire(request, sorted)
    })
  }

  /**
   * Makes `writes` under `lease` and ends it: resolves with the versions once stored; rejects with
   * {@link LeaseEndedError} if the lease ended first (nothing applied), with
   * {@link BadWritesError} for a key the lease does not hold.
   */
  commit(lease: LeaseRecord, writes: readonly Write[]): Promise<Record<string, number>> {
    if (this.closedBy) return Promise.reject(this.closedBy)
    if (lease.state !== 'granted') return Promise.reject(new LeaseEndedError(ended(lease)))
    for (const key of writtenKeys(writes))
      if (!lease.keys.includes(key))
        return Promise.reject(
          new BadWritesError(`key "${key}" is not one of the lease's keys (${lease.keys.join(', ')}): nothing was applied`)
        )
    lease.state = 'committing'
    clearTimeout(lease.timer)
    return this.enqueue<Record<string, number>>((answer) => ({ kind: 'commit', lease, writes, answer }))
  }

  /** Ends `lease`, nothing applied; throws {@link LeaseEndedError} if it had ended (or a commit under it is under way). */
  release(lease: LeaseRecord): void {
    if (lease.state === 'committing') throw new LeaseEndedError('a commit under this lease is under way')
    if (lease.state === 'ended') throw new LeaseEndedError(ended(lease))
    lease.answer?.reject(new LeaseEndedError('released'))
    lease.answer = null
    this.end(lease, 'released', true)
  }

  /** Leaves the room: everything open fails with {@link BackendClosedError}, its leases end. */
  close(reason = 'the relay is closing'): void {
    this.peer.close(CLOSE.goingAway, reason)
  }

  private enqueue<T>(op: (answer: Deferred<T>) => Op): Promise<T> {
    if (this.closedBy) return Promise.reject(this.closedBy)
    return new Promise<T>((resolve, reject) => {
      this.queue.push(op({ resolve, reject } as Deferred<T>))
      this.checkIdle()
      this.pump()
    })
  }

  /** Starts the next round, unless one is under way or the shadow is not ready. */
  private pump(): void {
    if (this.closedBy || this.flight || this.queue.length === 0) return
    if (!this.shadow || this.shadow.diverged) {
      this.shadow?.destroy()
      this.shadow = new Shadow()
      this.peer.requestSync()
      return // `synced` pumps again
    }
    if (!this.shadow.synced) return
    if (this.queue[0]!.kind === 'commit') this.startCommit(this.queue.shift() as Extract<Op, { kind: 'commit' }>)
    else this.startRound()
  }

  private startRound(): void {
    const shadow = this.shadow!
    const ops: Op[] = []
    while (this.queue.length > 0 && this.queue[0]!.kind !== 'commit') ops.push(this.queue.shift()!)
    const updates: Uint8Array[] = []
    const round: Op[] = []
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!
      if (op.kind !== 'write') {
        round.push(op)
        continue
      }
      const built = this.build(shadow, op.writes)
      if (built instanceof Error) {
        op.answer.reject(built)
        // The shadow holds a write that is not sent: what reads it waits for the next shadow.
        const later = [...round.filter((o) => o.kind !== 'write'), ...ops.slice(i + 1)]
        this.queue.unshift(...later)
        for (let j = round.length - 1; j >= 0; j--) if (round[j]!.kind !== 'write') round.splice(j, 1)
        break
      }
      if (built) updates.push(built)
      op.versions = shadow.versions(writtenKeys(op.writes))
      round.push(op)
    }
    const id = this.nextRequest++
    this.flight = { kind: 'round', id, ops: round }
    if (updates.length > 0) this.peer.update(updates.length === 1 ? updates[0]! : Y.mergeUpdates(updates))
    // A read is answered from the shadow once it holds what the room stored before: on a cluster,
    // a sync step 1 makes the room read every relay's updates first.
    if (round.some((o) => o.kind === 'read')) this.peer.requestSync(Y.encodeStateVector(shadow.doc))
    this.peer.flush(id)
  }

  private startCommit(op: Extract<Op, { kind: 'commit' }>): void {
    const { lease } = op
    if (Date.now() >= lease.expiresAt) {
      this.end(lease, 'expired', true)
      op.answer.reject(new LeaseEndedError(ended(lease)))
      this.pump()
      return
    }
    const shadow = this.shadow!
    const built = this.build(shadow, op.writes)
    if (built instanceof Error) {
      this.end(lease, `its commit was refused: ${built.message}`, true)
      op.answer.reject(built)
      this.pump()
      return
    }
    this.flight = { kind: 'commit', op, built: built !== null, versions: shadow.versions(writtenKeys(op.writes)) }
    this.peer.commit(lease.request, built ?? EMPTY)
  }

  /**
   * Builds `writes` on the shadow and checks the update as the room will: an Error (nothing to
   * send, the shadow marked diverged) if the room would refuse it.
   */
  private build(shadow: Shadow, writes: readonly Write[]): Uint8Array | null | Error {
    const update = shadow.build(writes)
    if (!update) return null
    try {
      this.room.lockContext.check(update)
      return update
    } catch (err) {
      shadow.diverged = true
      const e = err as PeerError
      if (e instanceof PeerError && e.limit) {
        this.deps.metrics.limitHit(e.limit)
        return new OverLimitError(e.limit, `${e.message}: nothing was applied`)
      }
      return new BadWritesError(`${e.message}: nothing was applied`)
    }
  }

  private synced(update: Uint8Array): void {
    const shadow = this.shadow
    if (!shadow) return
    shadow.apply(update)
    if (shadow.synced) return
    shadow.synced = true
    this.pump()
  }

  private reply(m: YssMessage): void {
    const flight = this.flight
    switch (m.type) {
      case YSS_FLUSHED:
        if (flight?.kind === 'round' && flight.id === m.id) this.endRound(flight.ops)
        break
      case YSS_DONE:
        if (flight?.kind === 'commit' && flight.op.lease.request === m.id) {
          this.flight = null
          this.end(flight.op.lease, 'committed', false)
          flight.op.answer.resolve(flight.versions)
          this.pump()
        }
        break
      case YSS_DENIED:
        if (flight?.kind === 'commit' && flight.op.lease.request === m.id) {
          this.flight = null
          if (flight.built) this.shadow!.diverged = true
          this.end(flight.op.lease, `the relay refused its commit: ${m.reason}`, false)
          flight.op.answer.reject(new LeaseEndedError(`${ended(flight.op.lease)}; nothing was applied`))
          this.pump()
        } else {
          const lease = this.leases.get(m.id)
          if (lease?.state !== 'waiting') break
          // Not a limit (checked before asking) nor read-only access: a shared lease table that cannot be reached.
          const err = new BackendClosedError(`the lease was refused: ${m.reason}`, true)
          this.end(lease, m.reason, false)
          lease.answer?.reject(err)
          lease.answer = null
        }
        break
      case YSS_GRANT: {
        const lease = this.leases.get(m.id)
        if (lease?.state === 'waiting') this.granted(lease)
        break
      }
    }
  }

  private endRound(ops: Op[]): void {
    this.flight = null
    for (const op of ops) {
      if (op.kind === 'write') op.answer.resolve(op.versions)
      else if (op.kind === 'read') op.answer.resolve(this.shadow!.values(op.keys))
      else if (op.kind === 'grant') this.answerGrant(op.lease)
    }
    this.pump()
    this.checkIdle()
  }

  private granted(lease: LeaseRecord): void {
    clearTimeout(lease.timer)
    lease.state = 'granted'
    lease.fence = this.room.leases.fenceOf?.(this.peer, lease.request) ?? this.deps.nextFence()
    lease.expiresAt = Date.now() + this.deps.leaseMs
    // The relay's own timer ends the lease; this one forgets it here, and tells the relay in case.
    lease.timer = setTimeout(() => lease.state === 'granted' && this.end(lease, 'expired', true), this.deps.leaseMs)
    lease.timer.unref?.()
    const shadow = this.shadow
    if (shadow?.synced && !shadow.diverged && this.flight?.kind !== 'commit') this.answerGrant(lease)
    else {
      this.queue.push({ kind: 'grant', lease })
      this.pump()
    }
  }

  private answerGrant(lease: LeaseRecord): void {
    const answer = lease.answer
    if (!answer) return
    lease.answer = null
    answer.resolve({
      id: lease.id,
      fence: lease.fence,
      keys: lease.keys,
      values: this.shadow!.values(lease.keys),
      expiresAt: lease.expiresAt,
      leaseMs: this.deps.leaseMs
    })
  }

  /** Ends an open lease; `cancel`: tell the relay (a CANCEL), which releases it if it still holds it. */
  private end(lease: LeaseRecord, why: string, cancel: boolean): void {
    if (lease.state === 'ended') return
    clearTimeout(lease.timer)
    lease.timer = undefined
    lease.state = 'ended'
    lease.ended = why
    this.leases.delete(lease.request)
    if (cancel) this.peer.cancel(lease.request)
    this.deps.leaseEnded(lease)
    this.checkIdle()
  }

  /** Past `maxLockRequests` or `maxLockKeyChars` for this holder: an {@link OverLimitError}, as the room would deny it. */
  private overLimits(keys: readonly string[]): OverLimitError | null {
    const { maxLockRequests, maxLockKeyChars } = this.deps.limits
    let chars = 0
    for (const lease of this.leases.values()) for (const k of lease.keys) chars += k.length
    for (const k of keys) chars += k.length
    const limit: LimitName | null =
      this.leases.size >= maxLockRequests ? 'maxLockRequests' : chars > maxLockKeyChars ? 'maxLockKeyChars' : null
    if (!limit) return null
    this.deps.metrics.limitHit(limit)
    return new OverLimitError(limit, `over the room's limit of open leases (${limit}): try again later`)
  }

  private closed(code: number, reason: string, limit?: LimitName): void {
    if (limit) this.deps.metrics.limitHit(limit)
    const err = limit
      ? new OverLimitError(limit, `the room dropped this backend: ${reason}`)
      : new BackendClosedError(`the room dropped this backend: ${reason}`, retryable(code))
    this.closedBy = err
    clearTimeout(this.idleTimer)
    const flight = this.flight
    this.flight = null
    if (flight?.kind === 'round') for (const op of flight.ops) this.fail(op, err)
    if (flight?.kind === 'commit') {
      flight.op.answer.reject(new BackendClosedError(`${err.message}; the commit may or may not be stored: read the keys`, retryable(code)))
    }
    for (const op of this.queue.splice(0)) this.fail(op, err)
    for (const lease of [...this.leases.values()]) {
      lease.answer?.reject(err)
      lease.answer = null
      this.end(lease, `the room dropped this backend: ${reason}`, false)
    }
    this.shadow?.destroy()
    this.shadow = null
    this.deps.closed(this)
  }

  private fail(op: Op, err: Error): void {
    if (op.kind === 'grant') return // its lease fails with the others
    op.answer.reject(err)
  }

  /** With nothing queued, under way or open, the backend leaves its room after `idleMs`. */
  private checkIdle(): void {
    if (this.closedBy) return
    const busy = this.queue.length > 0 || this.flight !== null || this.leases.size > 0
    if (busy) {
      clearTimeout(this.idleTimer)
      this.idleTimer = undefined
    } else if (!this.idleTimer) {
      this.idleTimer = setTimeout(() => this.peer.close(CLOSE.goingAway, 'idle'), this.deps.idleMs)
      this.idleTimer.unref?.()
    }
  }
}

/** A store out of reach, or the relay shutting down (a 1001, as its sockets get): try again later, elsewhere or after the restart. */
const retryable = (code: number): boolean => code === CLOSE.tryAgainLater || code === CLOSE.goingAway

const ended = (lease: LeaseRecord): string => `the lease ended (${lease.ended || 'ended'})`

const abortError = (signal: AbortSignal): Error => (signal.reason instanceof Error ? signal.reason : new Error('the request was aborted'))
