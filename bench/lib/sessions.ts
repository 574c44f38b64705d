/**
 * Sessions of our client in Node, and a bounded wait, for the scenarios that drive the client
 * itself (locks, chat, the browser page's writer).
 *
 * @example
 *   const s = await openSession(relay.url, 'room')
 *   s.set('k', 1)
 */
import WebSocket from 'ws'
import { connect, type ServerState } from '../../client/index.js'
import { until } from './wait.js'

// Each y-websocket provider adds a process 'exit' listener; a scenario opens more than ten.
process.setMaxListeners(0)

/** A connected, synced session; `WebSocketClass` lets a scenario count the bytes it sends. */
export const openSession = async (url: string, room: string, WebSocketClass: unknown = WebSocket): Promise<ServerState> => {
  const s = connect({ url, room, WebSocketPolyfill: WebSocketClass, broadcastChannel: false })
  try {
    await until(() => s.status === 'connected', `session of ${room} to sync`, 30_000)
    await s.ready
  } catch (err) {
    s.close()
    throw err
  }
  return s
}
