/**
 * A connection as a room sees it, and the bad input that closes one. A room never touches a
 * socket: it sends frames to peers and fails them, so its logic runs the same over real sockets
 * and over the test harness's in-process ones.
 *
 * @example
 *   try { parsePeerUpdate(update) } catch (err) { peer.fail((err as PeerError).code, (err as Error).message) }
 */
import * as Y from 'yjs'
import { CLOSE } from '../protocol/close-codes.js'

export interface Peer {
  readonly id: number
  readonly closed: boolean
  send(frame: Uint8Array): void
  /** Closes the connection for bad input, with a log line. */
  fail(code: number, reason: string): void
}

/** Bad input from a peer: the peer is closed with `code`, the room goes on. */
export class PeerError extends Error {
  constructor(readonly code: number, message: string) {
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
