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
 * @example
 *   const table = new LeaseTable({ leaseMs: 10_000, onGrant: (r) => send(r.holder, r.id) })
 *   table.acquire(conn, 1, ['a', 'b'])    // granted at once if both are free
 *   table.release(conn, 1)                // true: it was held; the next waiter is granted
 *   table.snapshot()                      // [{ key: 'a', holder: { holder: conn, id: 1, … }, waiting: [] }, …]
 */
export interface LeaseRequest<H> {
  readonly holder: H
  readonly id: number
  readonly keys: readonly string[]
  /** Index of the key the request waits for; `keys.length` once granted. */
  next: number
  timer: ReturnType<typeof setTimeout> | undefined
  /** When it was asked for (`Date.now()`). */
  readonly requestedAt: number
  /** When it came to hold all its keys, or undefined while it waits. */
  grantedAt: number | undefined
}

/** A request as {@link LeaseTable.snapshot} shows it. */
export type LeaseView<H> = Pick<LeaseRequest<H>, 'holder' | 'id' | 'keys' | 'requestedAt' | 'grantedAt'>

/** One key in {@link LeaseTable.snapshot}: who holds it, and who waits for it, in order. */
export interface KeyLeases<H> {
  key: string
  holder: LeaseView<H> | null
  waiting: LeaseView<H>[]
}

export interface LeaseTableOptions<H> {
  /** How long a granted lease lasts before it is taken back. */
  leaseMs: number
  onGrant(request: LeaseRequest<H>): void
  /** A granted lease outlived `leaseMs` and was taken back. */
  onExpire?(request: LeaseRequest<H>): void
}

export class LeaseTable<H> {
  private readonly owners = new Map<string, LeaseRequest<H>>()
  private readonly waiters = new Map<string, LeaseRequest<H>[]>()
  private readonly byHolder = new Map<H, Map<number, LeaseRequest<H>>>()

  constructor(private readonly options: LeaseTableOptions<H>) {}

  /** Queues a request; `keys` must be sorted and unique, and `id` new for this holder. */
  acquire(holder: H, id: number, keys: readonly string[]): void {
    let mine = this.byHolder.get(holder)
    if (!mine) this.byHolder.set(holder, (mine = new Map()))
    if (mine.has(id)) throw new Error(`lock request ${id} is already open`)
    const request: LeaseRequest<H> = { holder, id, keys, next: 0, timer: undefined, requestedAt: Date.now(), grantedAt: undefined }
    mine.set(id, request)
    this.advance(request)
  }

  /** Whether the request holds all its keys. */
  isGranted(holder: H, id: number): boolean {
    const r = this.byHolder.get(holder)?.get(id)
    return r !== undefined && r.next === r.keys.length
  }

  /**
   * Every key held or waited for, sorted: the request that holds it (`grantedAt` undefined while
   * it still waits for a later key of its own) and those that wait for it, first in line first.
   * Copies, for the inspector: reading it changes nothing.
   */
  snapshot(): KeyLeases<H>[] {
    const view = (r: LeaseRequest<H>): LeaseView<H> =>
      ({ holder: r.holder, id: r.id, keys: r.keys, requestedAt: r.requestedAt, grantedAt: r.grantedAt })
    const keys = new Set([...this.owners.keys(), ...this.waiters.keys()])
    return [...keys].sort().map((key) => {
      const owner = this.owners.get(key)
      return { key, holder: owner ? view(owner) : null, waiting: (this.waiters.get(key) ?? []).map(view) }
    })
  }

  /** Ends a request, held or waiting. Returns whether it held its lease. */
  release(holder: H, id: number): boolean {
    const mine = this.byHolder.get(holder)
    const request = mine?.get(id)
    if (!mine || !request) return false
    mine.delete(id)
    if (mine.size === 0) this.byHolder.delete(holder)
    return this.end(request)
  }

  /** Ends every request of a holder that went away. */
  dropHolder(holder: H): void {
    const mine = this.byHolder.get(holder)
    if (!mine) return
    this.byHolder.delete(holder)
    for (const request of mine.values()) this.end(request)
  }

  /** Requests open (held or waiting), for tests and metrics. */
  get size(): number {
    let n = 0
    for (const mine of this.byHolder.values()) n += mine.size
    return n
  }

  private end(request: LeaseRequest<H>): boolean {
    clearTimeout(request.timer)
    const held = request.next === request.keys.length
    const waitingFor = request.keys[request.next]
    if (waitingFor !== undefined) {
      const queue = this.waiters.get(waitingFor)
      const at = queue?.indexOf(request) ?? -1
      if (queue && at >= 0) queue.splice(at, 1)
    }
    for (let i = 0; i < request.next; i++) this.handOver(request.keys[i]!)
    request.next = -1
    return held
  }

  private handOver(key: string): void {
    this.owners.delete(key)
    const queue = this.waiters.get(key)
    const nextInLine = queue?.shift()
    if (queue && queue.length === 0) this.waiters.delete(key)
    if (nextInLine) this.advance(nextInLine)
  }

  private advance(request: LeaseRequest<H>): void {
    while (request.next < request.keys.length) {
      const key = request.keys[request.next]!
      if (this.owners.has(key)) {
        const queue = this.waiters.get(key)
        if (queue) queue.push(request)
        else this.waiters.set(key, [request])
        return
      }
      this.owners.set(key, request)
      request.next++
    }
    request.timer = setTimeout(() => {
      if (this.release(request.holder, request.id)) this.options.onExpire?.(request)
    }, this.options.leaseMs)
    request.timer.unref?.()
    request.grantedAt = Date.now()
    this.options.onGrant(request)
  }
}
