/**
 * The lease table of one room: who holds which key's lock, and who waits for it, first come first
 * served. A request names its keys sorted; it takes them one at a time in that order, so two
 * requests can never each hold a key the other waits for.
 *
 * The table knows nothing of sockets or documents: the room tells it of requests, releases and
 * dropped holders, and it calls `onGrant` when a request holds all its keys. A table shared by
 * several relays (Redis, say) fits the same shape; the room orders each grant after the updates
 * it has broadcast, and the grant carries its state vector.
 *
 * Costs: a request waits in one key's queue at a time, linked in place, so queueing, granting and
 * ending a request, waiting or held, take O(its keys), whatever the queues' lengths; dropping a
 * holder takes O(its requests' keys).
 *
 * Retained leases: at a commit, `retain` keeps a granted lease with its holder when nobody waits
 * for any of its keys, so that the holder's next lock needs no ACQUIRE. A request that comes to
 * wait behind a retained lease revokes it (`onRevoke`, once): from then on it is an ordinary
 * granted lease, timed by `leaseMs`, and its next commit or cancel hands it over, first come first
 * served as ever. `load(holder)` tells what a holder has open, so that the
 * caller can cap it.
 *
 * @example
 *   const table = new LeaseTable({ leaseMs: 10_000, onGrant: (r) => send(r.holder, r.id) })
 *   table.acquire(conn, 1, ['a', 'b'])    // granted at once if both are free
 *   table.release(conn, 1)                // true: it was held; the next waiter is granted
 *   table.snapshot()                      // [{ key: 'a', holder: { holder: conn, id: 1, … }, waiting: [] }, …]
 */
import type { HolderLoad, KeyLeases, LeaseCallbacks, LeaseView } from './leases.js'

/** The in-process table's callbacks are those of every lease table. */
export type LeaseTableOptions<H> = LeaseCallbacks<H>

export interface LeaseRequest<H> extends LeaseView<H> {
  /** Index of the key the request waits for; `keys.length` once granted. */
  next: number
  timer: ReturnType<typeof setTimeout> | undefined
  /** `kept` while retained by its holder after a commit, `revoked` once a waiter asked for it back. */
  retained: 'no' | 'kept' | 'revoked'
}

/** A request as the table keeps it: linked into the queue of the key it waits for. */
interface Entry<H> extends LeaseRequest<H> {
  before: Entry<H> | null
  after: Entry<H> | null
  queue: Queue<H> | null
}

interface Queue<H> {
  head: Entry<H> | null
  tail: Entry<H> | null
}

interface Holding<H> extends HolderLoad {
  byId: Map<number, Entry<H>>
  /** Of its requests, those queued for a key, not yet granted. */
  waiting: number
}

export class LeaseTable<H> {
  private readonly owners = new Map<string, Entry<H>>()
  private readonly waiters = new Map<string, Queue<H>>()
  private readonly byHolder = new Map<H, Holding<H>>()
  private open = 0

  constructor(private readonly options: LeaseTableOptions<H>) {}

  /** Queues a request; `keys` must be sorted and unique, and `id` new for this holder. */
  acquire(holder: H, id: number, keys: readonly string[]): void {
    let mine = this.byHolder.get(holder)
    if (!mine) {
      mine = { byId: new Map(), requests: 0, keyChars: 0, waiting: 0 }
      this.byHolder.set(holder, mine)
    }
    if (mine.byId.has(id)) throw new Error(`lock request ${id} is already open`)
    const request: Entry<H> = {
      holder,
      id,
      keys,
      next: 0,
      timer: undefined,
      before: null,
      after: null,
      queue: null,
      requestedAt: Date.now(),
      grantedAt: undefined,
      retained: 'no'
    }
    mine.byId.set(id, request)
    mine.requests++
    mine.keyChars += chars(keys)
    mine.waiting++
    this.open++
    this.advance(request)
  }

  /** Whether `holder` has a request that is queued, not granted. O(1). */
  waits(holder: H): boolean {
    return (this.byHolder.get(holder)?.waiting ?? 0) > 0
  }

  /** Whether the request holds all its keys. */
  isGranted(holder: H, id: number): boolean {
    const r = this.byHolder.get(holder)?.byId.get(id)
    return r !== undefined && r.next === r.keys.length
  }

  /** The keys of an open request. */
  keysOf(holder: H, id: number): readonly string[] | undefined {
    return this.byHolder.get(holder)?.byId.get(id)?.keys
  }

  /**
   * At a commit: keeps the granted request's lease with its holder, untimed, if no request waits
   * for any of its keys and it was not revoked; returns whether it did. If not, nothing changes
   * and the caller releases it.
   */
  retain(holder: H, id: number): boolean {
    const request = this.byHolder.get(holder)?.byId.get(id)
    if (!request || request.next !== request.keys.length || request.retained === 'revoked') return false
    for (const key of request.keys) if (this.waiters.has(key)) return false
    clearTimeout(request.timer)
    request.timer = undefined
    request.retained = 'kept'
    return true
  }

  /**
   * Every key held or waited for, sorted: the request that holds it (`grantedAt` undefined while
   * it still waits for a later key of its own) and those that wait for it, first in line first.
   * A lease retained by its last holder that nobody waits for is left out: it is no lock in use,
   * and the first request for its keys gets them after one revocation. Copies, for the
   * inspector: reading it changes nothing.
   */
  snapshot(): KeyLeases<H>[] {
    const view = (r: LeaseRequest<H>): LeaseView<H> => ({
      holder: r.holder,
      id: r.id,
      keys: r.keys,
      requestedAt: r.requestedAt,
      grantedAt: r.grantedAt
    })
    const keys = new Set(this.waiters.keys())
    for (const [key, owner] of this.owners) if (owner.retained !== 'kept') keys.add(key)
    return [...keys].sort().map((key) => {
      const owner = this.owners.get(key)
      const waiting: LeaseView<H>[] = []
      for (let e = this.waiters.get(key)?.head ?? null; e; e = e.after) waiting.push(view(e))
      return { key, holder: owner ? view(owner) : null, waiting }
    })
  }

  /** Ends a request, held or waiting. Returns whether it held its lease. */
  release(holder: H, id: number): boolean {
    const mine = this.byHolder.get(holder)
    const request = mine?.byId.get(id)
    if (!mine || !request) return false
    mine.byId.delete(id)
    mine.requests--
    mine.keyChars -= chars(request.keys)
    if (request.next < request.keys.length) mine.waiting--
    if (mine.requests === 0) this.byHolder.delete(holder)
    this.open--
    return this.end(request)
  }

  /**
   * Ends every request of a holder that went away: first every one that waits, so that none of
   * them is granted on the way, then the held keys go to the next in line.
   */
  dropHolder(holder: H): void {
    const mine = this.byHolder.get(holder)
    if (!mine) return
    this.byHolder.delete(holder)
    this.open -= mine.requests
    for (const request of mine.byId.values()) this.unlink(request)
    for (const request of mine.byId.values()) this.end(request)
  }

  /** What `holder` has open. */
  load(holder: H): HolderLoad {
    const mine = this.byHolder.get(holder)
    return { requests: mine?.requests ?? 0, keyChars: mine?.keyChars ?? 0 }
  }

  /** Requests open (held or waiting), for tests and metrics. */
  get size(): number {
    return this.open
  }

  private end(request: Entry<H>): boolean {
    clearTimeout(request.timer)
    const held = request.next === request.keys.length
    this.unlink(request)
    for (let i = 0; i < request.next; i++) this.handOver(request.keys[i]!)
    request.next = -1
    return held
  }

  private handOver(key: string): void {
    this.owners.delete(key)
    const queue = this.waiters.get(key)
    const nextInLine = queue?.head
    if (nextInLine) {
      this.unlink(nextInLine)
      this.advance(nextInLine)
    }
  }

  private advance(request: Entry<H>): void {
    while (request.next < request.keys.length) {
      const key = request.keys[request.next]!
      const owner = this.owners.get(key)
      if (owner) {
        this.enqueue(key, request)
        if (owner.retained === 'kept') this.revoke(owner)
        return
      }
      this.owners.set(key, request)
      request.next++
    }
    const mine = this.byHolder.get(request.holder)
    if (mine) mine.waiting--
    this.startTimer(request)
    request.grantedAt = Date.now()
    this.options.onGrant(request)
  }

  /** A retained lease that someone waits for: timed again from now, and its holder asked for it. */
  private revoke(request: Entry<H>): void {
    request.retained = 'revoked'
    this.startTimer(request)
    this.options.onRevoke?.(request)
  }

  private startTimer(request: Entry<H>): void {
    request.timer = setTimeout(() => {
      if (this.release(request.holder, request.id)) this.options.onExpire?.(request)
    }, this.options.leaseMs)
    request.timer.unref?.()
  }

  private enqueue(key: string, request: Entry<H>): void {
    let queue = this.waiters.get(key)
    if (!queue) {
      queue = { head: null, tail: null }
      this.waiters.set(key, queue)
    }
    request.queue = queue
    request.before = queue.tail
    if (queue.tail) queue.tail.after = request
    else queue.head = request
    queue.tail = request
  }

  /** Takes a waiting request out of its queue, in O(1); a queue left empty is forgotten. */
  private unlink(request: Entry<H>): void {
    const queue = request.queue
    if (!queue) return
    if (request.before) request.before.after = request.after
    else queue.head = request.after
    if (request.after) request.after.before = request.before
    else queue.tail = request.before
    request.before = request.after = request.queue = null
    if (!queue.head) this.waiters.delete(request.keys[request.next]!)
  }
}

const chars = (keys: readonly string[]): number => {
  let n = 0
  for (const k of keys) n += k.length
  return n
}
