/**
 * What a room sends to its peers, with the doc updates of the peers that wait for a lock held
 * back and merged. A peer whose lock request is queued (not granted) cannot act on the room until
 * its GRANT, which carries a state vector and follows every update before it; waking it for each
 * commit of the holders before it costs its process a wake-up per commit for nothing. So its
 * updates are held, and sent as one merged sync update when the first of these comes:
 * - any other frame to it (its GRANT, a DENIED, a sync answer, awareness…): the held update goes
 *   first, so the order of the frames on its socket is what it would have been, updates merged;
 * - it stops waiting (granted, cancelled, its request dropped): the room calls {@link settle};
 * - `holdMs` passes since the first update was held: a waiting peer sees others' writes at most
 *   that late (SEMANTICS §2.2).
 * A peer that does not wait gets every update at once, as before. `holdMs` 0 holds nothing.
 *
 * Bytes held for a peer count as queued for it: holding more than its socket may queue closes
 * it as sending would (`Peer.reserve`).
 *
 * @example
 *   const out = new WaiterHold(10, (peer) => leases.waits?.(peer) ?? false)
 *   out.update(peers, update, frameOf(update))   // held for waiters, sent to the rest
 *   out.send(peer, grant)                        // held updates first, in one write
 *   out.settle()                                 // after lease changes: flushes who stopped waiting
 */
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as syncProtocol from 'y-protocols/sync'
import { MESSAGE_SYNC } from '../../protocol/messages.js'
import type { Peer } from '../peer.js'
import { asBuffer } from '../as-buffer.js'

/** Calls `fn` after `ms`; returns a cancel. Injectable so that tests move time themselves. */
export type Schedule = (fn: () => void, ms: number) => () => void

const realSchedule: Schedule = (fn, ms) => {
  const timer = setTimeout(fn, ms)
  timer.unref()
  return () => clearTimeout(timer)
}

/** Default of the relay option `waiterHoldMs`. */
export const DEFAULT_WAITER_HOLD_MS = 10

interface Held {
  updates: Uint8Array[]
  bytes: number
}

/** The updates as one update (the one itself, when alone). */
export const merged = (updates: Uint8Array[]): Uint8Array => (updates.length === 1 ? updates[0]! : Y.mergeUpdates(updates))

/** A sync update frame (message 0, sub-message 2) carrying `update`. */
export const updateFrame = (update: Uint8Array): Uint8Array => {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, MESSAGE_SYNC)
  syncProtocol.writeUpdate(e, update)
  return encoding.toUint8Array(e)
}

export class WaiterHold<P extends Peer = Peer> {
  private readonly held = new Map<P, Held>()
  private cancelTimer: (() => void) | null = null

  /** `waits(peer)`: whether it has a lock request queued, not granted. */
  constructor(
    private readonly holdMs: number,
    private readonly waits: (peer: P) => boolean,
    private readonly schedule: Schedule = realSchedule
  ) {}

  /** Sends `frame` (the sync update frame of `update`) to each peer, or holds `update` for those that wait. */
  update(peers: Iterable<P>, update: Uint8Array, frame: Uint8Array): void {
    for (const peer of peers) {
      const held = this.held.get(peer)
      if (this.holdMs > 0 && !peer.closed && !peer.immediate && this.waits(peer)) this.hold(peer, held, update)
      else if (held) {
        // Stopped waiting since: one frame with what was held and this.
        held.updates.push(update)
        this.flush(peer)
      } else peer.send(frame)
    }
  }

  /** Sends `frame` to `peer` after what is held for it, in one write. */
  send(peer: P, frame: Uint8Array): void {
    if (!this.held.has(peer)) {
      peer.send(frame)
      return
    }
    peer.cork?.()
    try {
      this.flush(peer)
      peer.send(frame)
    } finally {
      peer.uncork?.()
    }
  }

  /** `Peer.reserve`, counting what is held for `peer` as queued. */
  reserve(peer: P, bytes: number): boolean {
    return peer.reserve(bytes + (this.held.get(peer)?.bytes ?? 0))
  }

  /** Sends what is held for each peer that no longer waits; to call after its lease requests changed. */
  settle(): void {
    for (const peer of this.held.keys()) if (peer.closed || !this.waits(peer)) this.flush(peer)
  }

  /** Forgets what is held for a peer that left. */
  drop(peer: P): void {
    if (this.held.delete(peer)) this.stopTimerIfIdle()
  }

  /** Sends everything held. */
  private flushAll(): void {
    // Waiters that began to hold at the same broadcast hold the same updates: merge them once.
    const frames = new Map<Uint8Array, { count: number; frame: Uint8Array }>()
    for (const peer of [...this.held.keys()]) this.flush(peer, frames)
  }

  /** Forgets everything and stops the timer: the room is gone. */
  close(): void {
    this.held.clear()
    this.stopTimerIfIdle()
  }

  private hold(peer: P, held: Held | undefined, update: Uint8Array): void {
    // Counted as queued: a peer that would pass maxQueuedBytes is closed, as a send would.
    if (!peer.reserve((held?.bytes ?? 0) + update.length)) {
      this.drop(peer)
      return
    }
    if (held) {
      held.updates.push(update)
      held.bytes += update.length
      return
    }
    this.held.set(peer, { updates: [update], bytes: update.length })
    this.cancelTimer ??= this.schedule(() => {
      this.cancelTimer = null
      this.flushAll()
    }, this.holdMs)
  }

  /** `shared`: frames already merged in this round, by first update held (a peer holds a suffix of the broadcasts). */
  private flush(peer: P, shared?: Map<Uint8Array, { count: number; frame: Uint8Array }>): void {
    const held = this.held.get(peer)
    if (!held) return
    this.held.delete(peer)
    this.stopTimerIfIdle()
    if (peer.closed) return
    const { updates } = held
    const known = shared?.get(updates[0]!)
    if (known && known.count === updates.length) {
      peer.send(known.frame)
      return
    }
    // Shared by the peers held since the same update: wrapped once, not by ws for each.
    const frame = asBuffer(updateFrame(merged(updates)))
    shared?.set(updates[0]!, { count: updates.length, frame })
    peer.send(frame)
  }

  private stopTimerIfIdle(): void {
    if (this.held.size > 0 || !this.cancelTimer) return
    this.cancelTimer()
    this.cancelTimer = null
  }
}
