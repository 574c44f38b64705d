/**
 * What the relay holds for all its sockets together: the bytes queued for clients that have not
 * read them yet. A per-socket bound (`maxQueuedBytes`) does not bound the sum: 16 sockets that
 * each ask for an 8 MB room and never read held 875 MB. The budget keeps the sum within
 * `maxBytes`, and names the sockets that did not drain, within `maxDrainMs`, what was queued for
 * them at some point: a client that keeps up passes however busy its room, one that reads a
 * trickle (or only sends, to look alive) does not.
 *
 * A send that would pass the budget evicts the sockets that hold the most, until it fits: the
 * hogs go, not whoever happens to be sent a frame next (the socket sent to goes only if it is
 * among them, or its frame alone is over the budget).
 *
 * Cheap on the hot path: each send updates one socket's share of a running total; only a send
 * that would pass the budget counts the backed-up sockets again, exactly, before evicting.
 * A periodic {@link sweep} forgets the sockets that drained and names the ones that did not.
 *
 * @example
 *   const budget = new OutboundBudget(256 * MiB)
 *   if (budget.reserve(conn, bytes, limits.maxQueuedBytes)) { ws.send(frame); budget.sent(conn) }
 *   for (const stuck of budget.sweep(Date.now(), 60_000)) stuck.overLimit('maxDrainMs', 1008, '…')
 */
import { CLOSE } from '../protocol/close-codes.js'
import type { LimitName } from './limits.js'

/** A socket as the budget sees it. */
export interface Queue {
  /** Bytes queued for it now, not yet taken by the kernel. */
  queued(): number
  /** Bytes ever handed to it to send. */
  sentBytes(): number
}

/** A queue the relay closes when it holds too much: a WebSocket, or an event stream. */
export interface Drainable extends Queue {
  /** Closes it for `limit` (a WebSocket with close `code`), counted and logged. */
  overLimit(limit: LimitName, code: number, reason: string): void
}

interface Share {
  /** Its queued bytes when last seen. */
  bytes: number
  /** Since when (ms) it has owed `target`. */
  since: number
  /** Its `sentBytes()` at `since`: once the kernel has taken that much, it drained what it had then. */
  target: number
}

export class OutboundBudget<Q extends Drainable> {
  private total = 0
  private readonly backedUp = new Map<Q, Share>()

  constructor(readonly maxBytes: number) {}

  /** Bytes queued for all sockets, as last seen. */
  get bytes(): number {
    return this.total
  }

  /**
   * What to close so that `bytes` more may be queued for `q`: nothing while within the budget,
   * else the sockets holding the most (forgotten here already), `q` among them if it is one of
   * those or if `bytes` alone pass the budget.
   */
  evict(q: Q, bytes: number): Q[] {
    if (this.total + bytes <= this.maxBytes) return []
    this.recount()
    if (this.total + bytes <= this.maxBytes) return []
    if (bytes > this.maxBytes) return [q]
    const evicted: Q[] = []
    const hogs = [...this.backedUp].sort(([, a], [, b]) => b.bytes - a.bytes)
    for (const [hog] of hogs) {
      if (this.total + bytes <= this.maxBytes) break
      this.forget(hog)
      evicted.push(hog)
    }
    return evicted
  }

  /**
   * Whether `bytes` more may be queued for `q` (a frame to send or an answer to encode). Not if
   * `q` holds some already and would hold over `maxQueued`: it does not read, and is closed
   * (`maxQueuedBytes`, 1008). The sockets the budget evicts for it are closed
   * (`maxQueuedBytesTotal`, 1013); not if `q` is one of them.
   */
  reserve(q: Q, bytes: number, maxQueued: number): boolean {
    const queued = q.queued()
    if (queued !== 0 && queued + bytes > maxQueued) {
      q.overLimit('maxQueuedBytes', CLOSE.policyViolation, `the client does not read: over ${maxQueued} bytes queued for it`)
      return false
    }
    const evicted = this.evict(q, bytes)
    for (const hog of evicted)
      hog.overLimit(
        'maxQueuedBytesTotal',
        CLOSE.tryAgainLater,
        'the relay holds all it may queue for its clients, the most for this one; try again later'
      )
    return !evicted.includes(q)
  }

  /** After a send to `q`: its share is what is queued for it now. */
  sent(q: Q, now = Date.now()): void {
    const bytes = q.queued()
    const share = this.backedUp.get(q)
    if (share) {
      this.total += bytes - share.bytes
      share.bytes = bytes
      if (bytes === 0) this.backedUp.delete(q)
    } else if (bytes > 0) {
      this.total += bytes
      this.backedUp.set(q, { bytes, since: now, target: q.sentBytes() })
    }
  }

  /** `q` is closed: what it held is the kernel's or gone. */
  forget(q: Q): void {
    const share = this.backedUp.get(q)
    if (!share) return
    this.total -= share.bytes
    this.backedUp.delete(q)
  }

  /**
   * Forgets the sockets that drained; returns those that did not drain, within `maxDrainMs`, what
   * was queued for them when they were last checked.
   */
  sweep(now: number, maxDrainMs: number): Q[] {
    this.recount()
    const stuck: Q[] = []
    for (const [q, share] of this.backedUp) {
      const taken = q.sentBytes() - share.bytes
      if (taken >= share.target) {
        share.since = now
        share.target = q.sentBytes()
      } else if (now - share.since > maxDrainMs) stuck.push(q)
    }
    return stuck
  }

  private recount(): void {
    let total = 0
    for (const [q, share] of this.backedUp) {
      share.bytes = q.queued()
      if (share.bytes === 0) this.backedUp.delete(q)
      total += share.bytes
    }
    this.total = total
  }
}
