/**
 * The leases that the relay left with this session after its commits (RETAINED): while nobody
 * else asks for their keys, this session's next lock on them runs at once and sends just its
 * COMMIT, one round trip instead of two.
 *
 * A lease here is idle, or busy (a lock of this session took it and will commit or give it back).
 * When the relay asks for one back (REVOKE), an idle lease is given back at once (CANCEL); a busy
 * one is marked, and the lock that holds it ends it: its COMMIT, which the relay answers with
 * DONE and hands the keys on, or a CANCEL if it commits nothing. A revoked lease is never taken
 * again: the next lock queues with ACQUIRE behind the session that asked, first come first
 * served. Every lease ends with the socket, as it does at the relay.
 *
 * @example
 *   const lease = retained.take(['count'])      // idle lease covering the keys, now busy; or null
 *   if (lease) { ...commit under lease.id... } else retained.giveBackOverlapping(['count'])  // then ACQUIRE
 *   retained.kept(id, keys, stateVector)        // the relay answered RETAINED
 *   retained.ended(id)                          // DONE, DENIED or lost
 */
import { YSS_CANCEL } from '../protocol/messages.js'
import type { Connection } from './connection.js'

/** A lease the relay kept with this session. */
export interface RetainedLease {
  /** The request id it was granted under; its commits use it. */
  readonly id: number
  readonly keys: readonly string[]
  /** The relay's state vector when it kept the lease, in place of a GRANT's. */
  readonly grant: Map<number, number>
  busy: boolean
  revoked: boolean
}

/**
 * More idle leases than this, and the oldest is given back: each one is an open request at the
 * relay, which caps them per connection (`--max-lock-requests`).
 */
const MAX_IDLE = 8

export class RetainedLeases {
  /** By request id, least recently kept first. */
  private readonly leases = new Map<number, RetainedLease>()

  constructor(private readonly conn: Connection) {
    conn.lost.add(() => this.leases.clear())
    conn.revoked.add((id) => this.revoke(id))
  }

  /** An idle, unrevoked lease holding every one of `keys`, now busy; or null. */
  take(keys: readonly string[]): RetainedLease | null {
    for (const lease of this.leases.values()) {
      if (lease.busy || lease.revoked || !keys.every((k) => lease.keys.includes(k))) continue
      lease.busy = true
      return lease
    }
    return null
  }

  /**
   * Gives back every idle lease that shares a key with `keys`, before this session ACQUIREs them:
   * on the same socket, the CANCEL reaches the relay first, so the ACQUIRE does not wait for a
   * revocation of this session's own lease.
   */
  giveBackOverlapping(keys: readonly string[]): void {
    for (const lease of [...this.leases.values()]) {
      if (!lease.busy && lease.keys.some((k) => keys.includes(k))) this.giveBack(lease)
    }
  }

  /** A busy lease whose lock commits nothing: idle again, or given back if it was revoked meanwhile. */
  putBack(lease: RetainedLease): void {
    if (this.leases.get(lease.id) !== lease) return
    lease.busy = false
    if (lease.revoked) this.giveBack(lease)
  }

  /** The relay answered a commit of request `id` with RETAINED: the lease is this session's, idle. */
  kept(id: number, keys: readonly string[], grant: Map<number, number>): void {
    this.leases.delete(id) // re-inserted last: the oldest idle lease is given back first
    const lease: RetainedLease = { id, keys, grant, busy: false, revoked: false }
    this.leases.set(id, lease)
    if (this.leases.size > MAX_IDLE) {
      for (const oldest of this.leases.values()) {
        if (!oldest.busy) {
          this.giveBack(oldest)
          return
        }
      }
    }
  }

  /** The lease of request `id` ended at the relay (DONE, DENIED), or was never kept. */
  ended(id: number): void {
    this.leases.delete(id)
  }

  private revoke(id: number): void {
    const lease = this.leases.get(id)
    if (!lease) return // given back already: its CANCEL crossed the REVOKE
    lease.revoked = true
    if (!lease.busy) this.giveBack(lease)
  }

  private giveBack(lease: RetainedLease): void {
    this.leases.delete(lease.id)
    this.conn.send({ type: YSS_CANCEL, id: lease.id })
  }
}
