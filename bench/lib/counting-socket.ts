/**
 * A `ws` WebSocket that counts the payload bytes it sends and receives (not the 2–14 bytes of
 * WebSocket framing), given to a session as its WebSocketPolyfill to measure its traffic.
 *
 * @example
 *   const s = await session(url, 'room', { WebSocketPolyfill: CountingWebSocket }) // test/helpers
 *   const before = bytesOf(s).sent
 */
import WebSocket from 'ws'
import type { ServerState } from '../../client/index.js'

export class CountingWebSocket extends WebSocket {
  sent = 0
  received = 0

  constructor(address: string, protocols?: string | string[]) {
    super(address, protocols)
    this.on('message', (data: Buffer | ArrayBuffer) => {
      this.received += data.byteLength
    })
  }

  override send(data: Parameters<WebSocket['send']>[0], ...rest: unknown[]): void {
    this.sent += (data as ArrayBufferView).byteLength ?? 0
    ;(super.send as (...args: unknown[]) => void)(data, ...rest)
  }
}

/** The bytes a session's current socket has sent and received so far. */
export const bytesOf = (s: ServerState): { sent: number; received: number } => {
  const ws = s.provider.ws as unknown as CountingWebSocket | null
  if (!(ws instanceof CountingWebSocket)) throw new Error('the session does not use a CountingWebSocket')
  return { sent: ws.sent, received: ws.received }
}
