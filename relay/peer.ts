/**
 * A connection as a room sees it, and the bad input that closes one. A room never touches a
 * socket: it sends frames to peers and fails them, so its logic runs the same over real sockets
 * and over the test harness's in-process ones.
 *
 * @example
 *   if (mayWrite(peer)) applyUpdate(update)
 *   try { parsePeerUpdate(update) } catch (err) { peer.fail((err as PeerError).code, (err as Error).message) }
 */
import * as Y from 'yjs'
import { CLOSE } from '../protocol/close-codes.js'
import type { Access } from '../protocol/messages.js'

/** What a connection may do in its room, decided before it joined. */
export interface PeerGrant {
  /** `read`: the room drops its updates and denies its lock requests. */
  readonly access: Access
  /** Who it is, when the relay knows (a token's `sub`). */
  readonly user?: string
  /** Whether the room applies its awareness updates (presence). */
  readonly presence: boolean
}
import type { LimitName } from './limits.js'

export interface Peer {
  readonly id: number
  readonly closed: boolean
  /** What it may do; absent, everything (a relay with no access control). */
  readonly grant?: PeerGrant
  /**
   * Never hold its doc updates back while it waits for a lease (relay/room/outbox.ts): a backend
   * peer, whose copy of the doc answers other requests' reads, must hold every write answered.
   */
  readonly immediate?: boolean
  /** Queues a frame; a peer whose socket does not drain is closed instead (see `reserve`). */
  send(frame: Uint8Array): void
  /**
   * Whether `bytes` more may be queued for this peer, before a large answer is encoded. If its
   * socket already holds so much that they would pass `maxQueuedBytes`, the peer is closed for
   * not reading (1008) and the answer is never encoded.
   */
  reserve(bytes: number): boolean
  /** Closes the connection for bad input, with a log line. */
  fail(code: number, reason: string): void
  /** Closes the connection for passing `limit`: counted in /metrics, logged once a minute a room and limit. */
  overLimit(limit: LimitName, code: number, reason: string): void
  /**
   * Holds what is sent until {@link uncork}, so that the frames of one batch leave in one write
   * (and wake the client once). Optional: a peer without it sends each frame at once.
   */
  cork?(): void
  uncork?(): void
}

/** Whether the room applies `peer`'s updates and grants it locks. */
export const mayWrite = (peer: Peer): boolean => peer.grant?.access !== 'read'

/** Whether the room applies `peer`'s awareness updates. */
export const mayPublishPresence = (peer: Peer): boolean => peer.grant?.presence !== false

/** Bad input from a peer, or input over a limit: the peer is closed with `code`, the room goes on. */
export class PeerError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly limit?: LimitName
  ) {
    super(message)
  }
}

/** Parses a peer's whole update: most bad updates fail here, before a doc is touched. */
export const parsePeerUpdate = (update: Uint8Array): ReturnType<typeof Y.parseUpdateMeta> => {
  try {
    return Y.parseUpdateMeta(update)
  } catch (err) {
    throw new PeerError(CLOSE.invalidPayload, `update does not parse: ${(err as Error).message}`)
  }
}
