/**
 * Child process: the memory of one client of a room, alone in its process. Started by the lock
 * scenario; answers:
 *
 * - `{ cmd: 'connect', system: 'ours' | 'plain', url, room }`: reads the process's memory after
 *   full collections (every module is already loaded), then connects. `ours` is a session of our
 *   client that then locks twice (initialises a counter, appends one chat message under the lock
 *   of `messages`): a session that has locked. `plain` is a stock y-websocket client (a Y.Doc
 *   and a WebsocketProvider) that pushes one message onto the same list.
 * - `{ cmd: 'measure', length }`: waits until the room's `messages` list holds `length` items
 *   (the scenario appends more after connecting, so that updates that come after a lock count
 *   too), then replies with the memory it took: after minus before, each after full collections.
 * - `{ cmd: 'close' }`: exits.
 */
import WebSocket from 'ws'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import type { ServerState } from '../../client/index.js'
import { memoryAfterGc, serveRequests, type MemorySample } from '../lib/children.js'
import { loadClient } from '../lib/compiled.js'

type Message = { nickname: string; text: string }

let before: MemorySample | null = null
let list: (() => number) | null = null
let keep: unknown[] = []

const whenLength = (doc: Y.Doc, length: number): Promise<void> =>
  new Promise((resolve) => {
    const look = () => {
      if (list!() < length) return
      doc.off('afterTransaction', look)
      resolve()
    }
    doc.on('afterTransaction', look)
    look()
  })

let doc: Y.Doc | null = null

serveRequests(async (msg) => {
  switch (msg.cmd) {
    case 'connect': {
      // Every module is loaded before the memory is read: only the client's state counts.
      const { connect } = await loadClient(msg.compiledDir as string | null | undefined)
      before = await memoryAfterGc()
      const url = msg.url as string
      const room = msg.room as string
      const message: Message = { nickname: 'memory', text: `one more message from ${msg.system as string}` }
      if (msg.system === 'ours') {
        const s: ServerState<{ count: number; messages: Message[] }> = connect({
          url,
          room,
          WebSocketPolyfill: WebSocket,
          broadcastChannel: false
        })
        await s.ready
        await s.lock('count', (st) => {
          st.count = (st.count ?? 0) + 1
        })
        await s.lock('messages', () => {
          void s.append('messages', message)
        })
        doc = s.doc
        list = () => (s.doc.getMap('state').get('messages') as Y.Array<unknown> | undefined)?.length ?? 0
        keep = [s]
      } else {
        const d = new Y.Doc()
        const provider = new WebsocketProvider(url, room, d, { WebSocketPolyfill: WebSocket as never, disableBc: true })
        await new Promise<void>((resolve) => provider.once('sync', () => resolve()))
        const messages = d.getMap('state').get('messages') as Y.Array<unknown>
        messages.push([message])
        doc = d
        list = () => (d.getMap('state').get('messages') as Y.Array<unknown> | undefined)?.length ?? 0
        keep = [d, provider]
      }
      return { length: list() }
    }
    case 'measure': {
      await whenLength(doc!, msg.length as number)
      const after = await memoryAfterGc()
      const b = before!
      return {
        heap: after.heapUsed - b.heapUsed,
        external: after.external - b.external,
        rss: after.rss - b.rss,
        held: keep.length
      }
    }
    case 'close':
      setImmediate(() => process.exit(0))
      return {}
    default:
      throw new Error(`unknown command ${String(msg.cmd)}`)
  }
})
process.send!({ ready: true })
