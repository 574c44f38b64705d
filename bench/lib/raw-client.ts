/**
 * A raw protocol client: a bare WebSocket that does the sync handshake and hands over the updates
 * it receives, with no Y.Doc behind it. Readers and idle connections are raw clients, so that
 * the load generator costs far less than the relay it loads.
 *
 * @example
 *   const c = await RawClient.open('y-websocket', relay.url, 'room')
 *   c.onUpdate = (update) => count++
 *   c.send(syncFrame('y-websocket', 'room', SYNC_UPDATE, update))
 *   c.close()
 */
import WebSocket from 'ws'
import {
  authFrame,
  EMPTY_STATE_VECTOR,
  EMPTY_UPDATE,
  readSync,
  syncFrame,
  SYNC_STEP1,
  SYNC_STEP2,
  SYNC_UPDATE,
  type Dialect
} from './wire.js'

export class RawClient {
  /** Called with each update received after the handshake (sync step 2s and updates). */
  onUpdate: ((update: Uint8Array, frame: Uint8Array) => void) | null = null
  /** Payload bytes received, all frames counted. */
  bytesIn = 0

  private constructor(
    readonly dialect: Dialect,
    readonly room: string,
    readonly ws: WebSocket
  ) {}

  /**
   * Connects and syncs: sends step 1 (asking for everything), answers the relay's step 1, and
   * resolves once the relay's step 2 has arrived. `onUpdate` sees the updates from the first.
   */
  static open(dialect: Dialect, url: string, room: string, timeoutMs = 30_000, onUpdate: RawClient['onUpdate'] = null): Promise<RawClient> {
    return new Promise<RawClient>((resolve, reject) => {
      const ws = new WebSocket(`${url}/${room}`, { perMessageDeflate: false })
      ws.binaryType = 'nodebuffer'
      const client = new RawClient(dialect, room, ws)
      client.onUpdate = onUpdate
      let synced = false
      const timer = setTimeout(() => {
        ws.terminate()
        reject(new Error(`${dialect} client for ${room}: not synced within ${timeoutMs} ms`))
      }, timeoutMs)
      ws.on('error', (err) => {
        clearTimeout(timer)
        reject(err)
      })
      ws.on('open', () => {
        if (dialect === 'hocuspocus') ws.send(authFrame(room))
        ws.send(syncFrame(dialect, room, SYNC_STEP1, EMPTY_STATE_VECTOR))
      })
      ws.on('message', (data: Buffer) => {
        client.bytesIn += data.length
        const m = readSync(dialect, data)
        if (!m) return
        if (m.sub === SYNC_STEP1) ws.send(syncFrame(dialect, room, SYNC_STEP2, EMPTY_UPDATE))
        else if (m.sub === SYNC_STEP2 || m.sub === SYNC_UPDATE) {
          if (!synced && m.sub === SYNC_STEP2) {
            synced = true
            clearTimeout(timer)
            resolve(client)
          }
          client.onUpdate?.(m.payload, data)
        }
      })
    })
  }

  send(frame: Uint8Array): void {
    this.ws.send(frame)
  }

  /** A sync update frame of this client's dialect and room. */
  updateFrame(update: Uint8Array): Uint8Array {
    return syncFrame(this.dialect, this.room, SYNC_UPDATE, update)
  }

  close(): void {
    this.ws.terminate()
  }
}

/** The dialect a system speaks. */
export const dialectOf = (system: string): Dialect => (system === 'hocuspocus' ? 'hocuspocus' : 'y-websocket')

/**
 * Opens `count` raw clients, at most `parallel` handshakes at a time (a relay refusing a burst of
 * thousands of simultaneous upgrades would measure the kernel's accept queue, not the relay).
 */
export const openMany = async (
  dialect: Dialect,
  url: string,
  count: number,
  roomOf: (i: number) => string,
  parallel = 100
): Promise<RawClient[]> => {
  const clients: RawClient[] = []
  let next = 0
  const worker = async () => {
    while (next < count) {
      const i = next++
      clients[i] = await RawClient.open(dialect, url, roomOf(i))
    }
  }
  try {
    await Promise.all(Array.from({ length: Math.min(parallel, count) }, worker))
  } catch (err) {
    for (const c of clients) c?.close()
    throw err
  }
  return clients
}
