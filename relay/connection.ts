/**
 * One client's WebSocket, as the relay holds it: the {@link Peer} a room sends to, what it may do
 * there (its grant), the frames that arrive before its room is loaded, the close that detaches it
 * from the room, and the close with 4401 when its credentials expire.
 *
 * Its socket is a {@link RelaySocket}, which knows its connection: every socket shares one set of
 * listeners, and what an idle connection holds is only what it needs (the frames that come
 * before its room is loaded, an expiry timer, exist only when there are some).
 *
 * It bounds what the relay holds for the client: what is queued on its socket (a socket that
 * holds `maxQueuedBytes` and is sent more does not read, and is closed with 1008; when all sockets
 * together would pass `maxQueuedBytesTotal`, those holding the most are closed with 1013), and the frames
 * it sends before its room is loaded (`maxEarlyFrames`, `maxEarlyBytes`; more close it with 1008).
 *
 * @example
 *   const wss = new WebSocketServer({ noServer: true, clientTracking: false, WebSocket: RelaySocket })
 *   // in the upgrade's callback: it listens to ws from now on, and detaches itself when ws closes
 *   const conn = new RelayConnection(ws, 'default', deps, { access: 'read', presence: false }, expiresAt)
 *   rooms.open('default').then((room) => conn.attach(room))
 */
import type { Duplex } from 'node:stream'
import type { Socket } from 'node:net'
import { WebSocket, type RawData } from 'ws'
import { CLOSE } from '../protocol/close-codes.js'
import { atTime } from './deadline.js'
import type { Metrics } from './metrics.js'
import type { Logger } from './log.js'
import type { Peer, PeerGrant } from './peer.js'
import type { Room } from './room/room.js'
import type { RoomRegistry } from './room/registry.js'
import type { LogLimiter } from './log-limiter.js'
import type { LimitName, Limits } from './limits.js'
import type { Drainable, OutboundBudget } from './outbound-budget.js'

export interface ConnectionDeps {
  metrics: Metrics
  log: Logger
  rooms: RoomRegistry
  limits: Limits
  /** For lines a client can cause over and over: once a minute per kind (never per room or path: a client picks those). */
  limited: LogLimiter
  /** Called once when the connection is done, to forget it. */
  onDetached(conn: RelayConnection): void
  /** The largest frame ws accepts (`maxPayload`), for the log line of a larger one. */
  maxMessageBytes: number
  /** What all connections together may have queued. */
  budget: OutboundBudget<Drainable>
}

/**
 * The WebSocket class of the relay's server (ws's `WebSocket` option): it points to its
 * connection, so that the listeners below serve every socket instead of four closures a socket.
 */
export class RelaySocket extends WebSocket {
  conn: RelayConnection | null = null
}

// ws calls its listeners with the socket as `this`: only RelayConnection adds them, to a RelaySocket.
const connOf = (ws: WebSocket): RelayConnection | null => (ws as RelaySocket).conn

function onMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
  connOf(this)?.message(data as Buffer, isBinary)
}

function onError(this: WebSocket, err: Error & { code?: string }): void {
  connOf(this)?.socketError(err)
}

function onClose(this: WebSocket, code: number): void {
  connOf(this)?.socketClosed(code)
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

export class RelayConnection implements Peer, Drainable {
  readonly id = nextId++
  /** When the socket was accepted (`Date.now()`). */
  readonly openedAt = Date.now()
  closed = false
  /** The socket's `bytesRead` at the last {@link heard}. */
  private readAt = 0
  room: Room | null = null
  /** The frames that came before the room was loaded; null while there are none. */
  private early: Uint8Array[] | null = null
  private earlyBytes = 0
  /** Bytes handed to the socket so far. */
  private sent = 0
  private readonly stopExpiry: (() => void) | undefined

  /**
   * Listens to `ws` from now on, and detaches itself when it closes. `expiresAt` (ms since the
   * epoch): when its credentials end, the connection is closed with 4401.
   */
  constructor(
    readonly ws: RelaySocket,
    readonly roomName: string,
    private readonly deps: ConnectionDeps,
    readonly grant?: PeerGrant,
    expiresAt?: number
  ) {
    if (expiresAt !== undefined) this.stopExpiry = atTime(expiresAt, () => this.expire())
    ws.conn = this
    ws.on('message', onMessage)
    ws.on('error', onError)
    ws.on('close', onClose)
  }

  /**
   * Whether the client sent anything since the last call (a pong, or any frame): the heartbeat
   * drops a connection that did not by its next ping. Read from the socket's byte count rather
   * than a 'pong' listener: a listener less on every socket.
   */
  heard(): boolean {
    const read = (socketOf(this.ws) as Socket | null)?.bytesRead ?? this.readAt
    const heard = read !== this.readAt
    this.readAt = read
    return heard
  }

  /** A frame from ws: binary ones go to {@link receive}, a text frame closes the connection. */
  message(buf: Buffer, isBinary: boolean): void {
    const { metrics } = this.deps
    metrics.inc('messages_in_total')
    metrics.inc('bytes_in_total', buf.length)
    if (!isBinary) {
      this.fail(CLOSE.unsupportedData, 'text frames are not y-websocket messages')
      return
    }
    this.receive(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength))
  }

  /** ws closes the socket itself after an error (1009 for an oversized frame, 1002 for a broken one). */
  socketError(err: Error & { code?: string }): void {
    const { metrics, limited, maxMessageBytes } = this.deps
    const room = this.roomName
    metrics.inc('errors_total')
    if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
      limited.warn('too-big', 'frame over the size limit: connection closed with 1009; raise --max-message-bytes to accept it', {
        room,
        conn: this.id,
        limit: maxMessageBytes
      })
    } else {
      limited.warn(`socket:${err.code}`, 'socket error', { room, conn: this.id, error: err.message, code: err.code })
    }
  }

  socketClosed(code: number): void {
    this.deps.log.debug('connection closed', { room: this.roomName, conn: this.id, code, user: this.grant?.user })
    this.closed = true
    this.deps.budget.forget(this)
    this.detach()
  }

  send(frame: Uint8Array): void {
    if (this.closed || this.ws.readyState !== WebSocket.OPEN || !this.reserve(frame.length)) return
    this.ws.send(frame)
    this.sent += frame.length
    this.deps.budget.sent(this)
    this.deps.metrics.inc('messages_out_total')
    this.deps.metrics.inc('bytes_out_total', frame.length)
  }

  reserve(bytes: number): boolean {
    if (this.closed) return false
    return this.deps.budget.reserve(this, bytes, this.deps.limits.maxQueuedBytes)
  }

  queued(): number {
    return this.ws.bufferedAmount
  }

  sentBytes(): number {
    return this.sent
  }

  overLimit(limit: LimitName, code: number, reason: string): void {
    if (this.closed) return
    this.deps.metrics.limitHit(limit)
    this.deps.limited.warn(`limit:${limit}`, 'connection closed: over a limit', { room: this.roomName, conn: this.id, limit, code, reason })
    // Nothing more it sends is read, and it is dropped soon after the close frame went out.
    this.close(code, reason, 250)
    this.ws.pause()
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

  /** Closes the socket with `code`; it is dropped `graceMs` later if the client has not closed it by then. */
  close(code: number, reason: string, graceMs = 2_000): void {
    if (this.closed) return
    this.closed = true
    this.early = null
    this.deps.budget.forget(this)
    this.ws.close(code, closeReason(reason))
    const force = setTimeout(() => this.ws.terminate(), graceMs)
    force.unref()
    this.detach()
  }

  private expire(): void {
    if (this.closed) return
    this.deps.metrics.inc('sessions_expired_total')
    this.deps.log.info('connection closed: credentials expired', { room: this.roomName, conn: this.id, user: this.grant?.user })
    this.close(CLOSE.unauthorized, 'credentials expired')
  }

  /** A frame from the client: to the room, or kept until the room is loaded, within the limits. */
  receive(data: Uint8Array): void {
    if (this.closed) return
    if (this.room) {
      this.room.receive(this, data)
      return
    }
    const { maxEarlyFrames, maxEarlyBytes } = this.deps.limits
    this.earlyBytes += data.length
    this.early ??= []
    const early = this.early
    if (early.length >= maxEarlyFrames) {
      this.overLimit('maxEarlyFrames', CLOSE.policyViolation, `over ${maxEarlyFrames} frames before the room was loaded`)
    } else if (this.earlyBytes > maxEarlyBytes) {
      this.overLimit('maxEarlyBytes', CLOSE.policyViolation, `over ${maxEarlyBytes} bytes before the room was loaded`)
    } else {
      early.push(data)
    }
  }

  /** Joins the loaded room and hands it the frames that came first. */
  attach(room: Room): void {
    if (this.closed) {
      this.deps.rooms.released(room)
      return
    }
    this.room = room
    room.join(this)
    const early = this.early
    this.early = null
    if (early) for (const data of early) room.receive(this, data)
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
