/**
 * A backend in a room, as the room sees it: a {@link Peer} without a socket. The room sends it
 * frames like any connection's (the doc's updates after they are stored, then the replies to its
 * lock messages, in the room's order), and it sends the room the frames our client would: sync
 * updates, ACQUIRE, COMMIT, CANCEL and FLUSH, through `room.receive`. So everything a socket
 * session is promised holds for it unchanged: a write answered once stored, FIFO leases shared
 * with the sockets' locks, commits refused once their lease ended, the cluster's shared lease
 * table and atomic commits.
 *
 * It sends no HELLO: it never retains a lease (so every commit is answered DONE and hands the
 * keys on), it has no earlier socket to fence (its frames cannot be in flight on a dead
 * connection), and its access is the HTTP request's, checked before it acts.
 *
 * Its updates are never held back while it waits for a lease (`Peer.immediate`): its shadow doc
 * answers reads for others and must hold every write answered so far.
 *
 * @example
 *   const peer = new BackendPeer(room, { update: (u) => shadow.apply(u), synced: …, reply: (m) => …, closed: … })
 *   room.join(peer)
 *   peer.acquire(1, ['count'])   // the room answers GRANT 1 (or DENIED), through `reply`
 */
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import * as syncProtocol from 'y-protocols/sync'
import {
  MESSAGE_SYNC,
  MESSAGE_YSS,
  YSS_ACQUIRE,
  YSS_CANCEL,
  YSS_COMMIT,
  YSS_FLUSH,
  decodeYss,
  encodeYss,
  type YssMessage
} from '../../protocol/messages.js'
import type { Peer, PeerGrant } from '../peer.js'
import type { LimitName } from '../limits.js'
import type { Room } from '../room/room.js'

/** What the peer hands on of the frames the room sends it. */
export interface BackendPeerEvents {
  /** A doc update of the room (a broadcast), in the room's order. */
  update(update: Uint8Array): void
  /** The room's answer to the peer's sync step 1: the doc as it was then, since the given state. */
  synced(update: Uint8Array): void
  /** A reply to a lock message or a FLUSH (GRANT, DONE, DENIED, FLUSHED). */
  reply(m: YssMessage): void
  /** The room dropped the peer: `code` is the close code a socket would get. */
  closed(code: number, reason: string, limit?: LimitName): void
}

const EMPTY_STATE_VECTOR = new Uint8Array([0])

/** Backend peers have negative ids, so that the inspector and logs tell them from connections. */
let nextId = -1

/** A backend's grant: write access; `runsMutations` only for the backend server mutations run on. */
export const BACKEND_GRANT: PeerGrant = { access: 'write', presence: false, user: 'backend' }

export class BackendPeer implements Peer {
  readonly id = nextId--
  readonly immediate = true
  closed = false
  /** Frames posted, not yet handed to the room (see {@link post}). */
  private readonly outgoing: Uint8Array[] = []

  constructor(
    readonly room: Room,
    private readonly events: BackendPeerEvents,
    readonly grant: PeerGrant = BACKEND_GRANT
  ) {}

  /** A frame from the room: applied or answered at once, so the shadow is current when the room's batch ends. */
  send(frame: Uint8Array): void {
    if (this.closed) return
    const d = decoding.createDecoder(frame)
    const type = decoding.readVarUint(d)
    if (type === MESSAGE_YSS) {
      this.events.reply(decodeYss(d))
      return
    }
    if (type !== MESSAGE_SYNC) return // awareness: a backend shows no presence
    const sub = decoding.readVarUint(d)
    if (sub === syncProtocol.messageYjsUpdate) this.events.update(decoding.readVarUint8Array(d))
    else if (sub === syncProtocol.messageYjsSyncStep2) this.events.synced(decoding.readVarUint8Array(d))
    // A sync step 1 of the room asks for what the peer has that the room lacks: never anything,
    // as the peer sends every write at once and the room applies it or refuses the whole peer.
  }

  /** Nothing is queued: every frame is handled as it is sent. */
  reserve(): boolean {
    return !this.closed
  }

  fail(code: number, reason: string): void {
    this.close(code, reason)
  }

  overLimit(limit: LimitName, code: number, reason: string): void {
    this.close(code, reason, limit)
  }

  /** Leaves the room; what it had open there (its leases) ends. */
  close(code: number, reason: string, limit?: LimitName): void {
    if (this.closed) return
    this.closed = true
    this.room.leave(this)
    this.events.closed(code, reason, limit)
  }

  /**
   * Asks the room for what it holds beyond `stateVector` (a sync step 1): the whole doc for a new
   * shadow (the default, an empty state vector). With several relays the room answers only once it
   * has read every update stored before: a read barrier.
   */
  requestSync(stateVector: Uint8Array = EMPTY_STATE_VECTOR): void {
    const e = encoding.createEncoder()
    encoding.writeVarUint(e, MESSAGE_SYNC)
    encoding.writeVarUint(e, syncProtocol.messageYjsSyncStep1)
    encoding.writeVarUint8Array(e, stateVector)
    this.post(encoding.toUint8Array(e))
  }

  /** Sends a doc update, as a client's sync update. */
  update(update: Uint8Array): void {
    const e = encoding.createEncoder()
    encoding.writeVarUint(e, MESSAGE_SYNC)
    syncProtocol.writeUpdate(e, update)
    this.post(encoding.toUint8Array(e))
  }

  acquire(id: number, keys: string[]): void {
    this.post(encodeYss({ type: YSS_ACQUIRE, id, keys }))
  }

  commit(id: number, update: Uint8Array): void {
    this.post(encodeYss({ type: YSS_COMMIT, id, update }))
  }

  cancel(id: number): void {
    this.post(encodeYss({ type: YSS_CANCEL, id }))
  }

  flush(id: number): void {
    this.post(encodeYss({ type: YSS_FLUSH, id }))
  }

  /**
   * Hands `frame` to the room a microtask later, with the frames posted before it, in order. The
   * peer posts while the room sends to it (a round sent from the FLUSHED of the last, a write
   * after the sync), and a room batch that stores nothing runs to its end without a pause: a frame
   * received inside it would start a second batch of the room beside the first (a FLUSH answered
   * before the update ahead of it is stored). A socket's frames never arrive inside a batch.
   */
  private post(frame: Uint8Array): void {
    if (this.closed) return
    this.outgoing.push(frame)
    if (this.outgoing.length === 1) queueMicrotask(() => this.deliver())
  }

  private deliver(): void {
    const frames = this.outgoing.splice(0)
    // Left the room meanwhile: what it sent since is dropped, as a closed socket's frames would be.
    if (!this.closed) for (const frame of frames) this.room.receive(this, frame)
  }
}
