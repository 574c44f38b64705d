/**
 * One client's WebSocket, as the relay holds it: the {@link Peer} a room sends to, what it may do
 * there (its grant), the frames that arrive before its room is loaded, the close that detaches it
 * from the room, and the close with 4401 when its credentials expire.
 *
 * @example
 *   const conn = new RelayConnection(ws, 'default', deps, { access: 'read', presence: false }, expiresAt)
 *   rooms.open('default').then((room) => conn.attach(room))
 *   ws.on('message', (data) => conn.receive(data))
 */
import type { Duplex } from 'node:stream'
import { WebSocket } from 'ws'
import { CLOSE } from '../protocol/close-codes.js'
import { atTime } from './deadline.js'
import type { Metrics } from './metrics.js'
import type { Logger } from './log.js'
import type { Peer, PeerGrant } from './peer.js'
import type { Room } from './room.js'
import type { RoomRegistry } from './room-registry.js'

export interface ConnectionDeps {
  metrics: Metrics
  log: Logger
  rooms: RoomRegistry
  /** Called once when the connection is done, to forget it. */
  onDetached(conn: RelayConnection): void
}

let nextId = 1

/** The TCP socket under a ws WebSocket (ws keeps it as `_socket`; it corks it around each frame itself). */
const socketOf = (ws: WebSocket): Duplex | null => (ws as unknown as { _socket: Duplex | null })._socket

/** A close reason as WebSocket allows it: at most 123 bytes of UTF-8. */
export const closeReason = (reason: string): string => {
  let cut = reason.slice(0, 123)
  while (Buffer.byteLength(cut) > 123 || /[\ud800-\udbff]$/.test(cut)) cut = cut.slice(0, -1)
  return cut
}

export class RelayConnection implements Peer {
  readonly id = nextId++
  closed = false
  /** Whether a pong came since the last ping. */
  alive = true
  room: Room | null = null
  private readonly early: Uint8Array[] = []
  private readonly stopExpiry: (() => void) | undefined

  /** `expiresAt` (ms since the epoch): when its credentials end, the connection is closed with 4401. */
  constructor(readonly ws: WebSocket, readonly roomName: string, private readonly deps: ConnectionDeps, readonly grant?: PeerGrant, expiresAt?: number) {
    if (expiresAt !== undefined) this.stopExpiry = atTime(expiresAt, () => this.expire())
  }

  send(frame: Uint8Array): void {
    if (this.closed || this.ws.readyState !== WebSocket.OPEN) return
    this.ws.send(frame)
    this.deps.metrics.inc('messages_out_total')
    this.deps.metrics.inc('bytes_out_total', frame.length)
  }

  cork(): void {
    socketOf(this.ws)?.cork()
  }

  uncork(): void {
    socketOf(this.ws)?.uncork()
  }

  fail(code: number, reason: string): void {
    if (this.closed) return
    this.deps.metrics.inc('errors_total')
    this.deps.log.warn('connection closed', { room: this.roomName, conn: this.id, code, reason })
    this.close(code, reason)
  }

  close(code: number, reason: string): void {
    if (this.closed) return
    this.closed = true
    this.ws.close(code, closeReason(reason))
    const force = setTimeout(() => this.ws.terminate(), 2_000)
    force.unref()
    this.detach()
  }

  private expire(): void {
    if (this.closed) return
    this.deps.metrics.inc('sessions_expired_total')
    this.deps.log.info('connection closed: credentials expired', { room: this.roomName, conn: this.id, user: this.grant?.user })
    this.close(CLOSE.unauthorized, 'credentials expired')
  }

  /** A frame from the client: to the room, or kept until the room is loaded. */
  receive(data: Uint8Array): void {
    if (this.room) this.room.receive(this, data)
    else this.early.push(data)
  }

  /** Joins the loaded room and hands it the frames that came first. */
  attach(room: Room): void {
    if (this.closed) return this.deps.rooms.released(room)
    this.room = room
    room.join(this)
    for (const data of this.early.splice(0)) room.receive(this, data)
  }

  /** Leaves the room; the socket has closed or is closing. */
  detach(): void {
    this.stopExpiry?.()
    this.deps.onDetached(this)
    if (!this.room) return
    this.room.leave(this)
    this.deps.rooms.released(this.room)
  }
}
