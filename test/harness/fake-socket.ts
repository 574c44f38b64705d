/**
 * The client's end of an in-process connection: a class with the WebSocket surface that
 * y-websocket uses (`new WS(url)`, `binaryType`, `readyState` and the `OPEN` constant,
 * `onopen`/`onmessage`/`onclose`/`onerror`, `send`, `close`), passed to `connect()` as
 * `WebSocketPolyfill`. It never touches a network: what it sends goes to its {@link SocketHost},
 * and it opens, receives and closes only when the host tells it to, so a test decides when.
 *
 * A real socket, handed a frame it cannot send while connecting, throws; one that is closing or
 * closed drops it. This one does the same. Event handlers get minimal event objects:
 * `{ data: ArrayBuffer }` for a message (y-websocket sets `binaryType = 'arraybuffer'`) and
 * `{ code, reason, wasClean }` for a close.
 *
 * @example
 *   const WS = fakeWebSocket(host)          // host: what the socket tells the harness
 *   const ws = new WS('ws://harness.test/room?harness=A')
 *   ws.onmessage = (e) => console.log(new Uint8Array(e.data))
 *   ws.open()                               // the harness, when the test lets it open
 *   ws.send(new Uint8Array([0, 0, 1, 0]))   // host.sent(ws, frame)
 */

/** What a socket tells the harness about itself. */
export interface SocketHost {
  /** A socket was constructed: the client is connecting. */
  created(socket: FakeSocket): void
  /** The client sent a frame (a copy). */
  sent(socket: FakeSocket, frame: Uint8Array): void
  /** The client closed the socket itself. */
  closedByClient(socket: FakeSocket, code: number, reason: string): void
}

export interface CloseInfo {
  code: number
  reason: string
  wasClean: boolean
}

type Handler<E> = ((event: E) => void) | null

const copy = (data: ArrayBufferLike | ArrayBufferView): Uint8Array =>
  ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice() : new Uint8Array(data).slice()

export class FakeSocket {
  static readonly CONNECTING = 0
  static readonly OPEN = 1
  static readonly CLOSING = 2
  static readonly CLOSED = 3
  readonly CONNECTING = 0
  readonly OPEN = 1
  readonly CLOSING = 2
  readonly CLOSED = 3
  readyState = 0
  binaryType = 'blob'
  onopen: Handler<{ type: 'open' }> = null
  onmessage: Handler<{ type: 'message'; data: ArrayBuffer }> = null
  onclose: Handler<CloseInfo & { type: 'close' }> = null
  onerror: Handler<{ type: 'error' }> = null
  /** How the socket closed, once it has. */
  closedWith: CloseInfo | null = null

  constructor(
    readonly url: string,
    private readonly host: SocketHost
  ) {
    host.created(this)
  }

  send(data: ArrayBufferLike | ArrayBufferView): void {
    if (this.readyState === FakeSocket.CONNECTING) throw new Error('InvalidStateError: send() while the socket is connecting')
    if (this.readyState !== FakeSocket.OPEN) return
    this.host.sent(this, copy(data))
  }

  close(code = 1000, reason = ''): void {
    if (this.readyState >= FakeSocket.CLOSING) return
    this.readyState = FakeSocket.CLOSED
    this.closedWith = { code, reason, wasClean: true }
    this.host.closedByClient(this, code, reason)
  }

  /** The harness: the connection is established. */
  open(): void {
    if (this.readyState !== FakeSocket.CONNECTING) return
    this.readyState = FakeSocket.OPEN
    this.onopen?.({ type: 'open' })
  }

  /** The harness: a frame arrives. Whatever the handler throws reaches the caller. */
  receive(frame: Uint8Array): void {
    if (this.readyState !== FakeSocket.OPEN) return
    // A fresh ArrayBuffer of exactly the frame, as a browser hands over.
    this.onmessage?.({ type: 'message', data: frame.slice().buffer })
  }

  /** The harness: the connection ended (lost, refused, or closed by the relay). */
  lose(code: number, reason = '', wasClean = false): void {
    if (this.readyState === FakeSocket.CLOSED) return
    this.readyState = FakeSocket.CLOSED
    this.closedWith = { code, reason, wasClean }
    this.onclose?.({ type: 'close', code, reason, wasClean })
  }
}

/** A WebSocket class whose sockets report to `host`: pass it as `WebSocketPolyfill`. */
export const fakeWebSocket = (host: SocketHost): (new (url: string) => FakeSocket) =>
  class HarnessWebSocket extends FakeSocket {
    constructor(url: string) {
      super(url, host)
    }
  }
