/**
 * The render fan-out page: N elements, each bound to its own key through a tracker of our client
 * (`ServerState.watch`, which re-runs a render in a microtask when a key it read changes).
 * Each render after the first is counted and timed from the arrival of the WebSocket message
 * that carried the change. The bench reads the results from `window.__bench`.
 *
 * Query: `?n=1000&room=render`. The page connects to the relay that serves it.
 */
import { connect } from '../../client/index.js'

interface Render {
  key: string
  /** When the frame that carried the change arrived (before the client handled it). */
  arrival: number
  /** When the element's text was updated. */
  rendered: number
  /** The start of the next animation frame after the render. */
  painted: number
}

const params = new URLSearchParams(location.search)
const count = Number(params.get('n') ?? 1000)
const room = params.get('room') ?? 'render'

let lastArrival = 0
/** The browser's WebSocket, stamping each message before the provider's own handler sees it. */
class TimedWebSocket extends WebSocket {
  constructor(url: string | URL, protocols?: string | string[]) {
    super(url, protocols)
    this.addEventListener('message', () => {
      lastArrival = performance.now()
    })
  }
}

const bench = { ready: false, renders: 0, log: [] as Render[] }
;(window as unknown as { __bench: typeof bench }).__bench = bench

const server = connect({ room, WebSocketPolyfill: TimedWebSocket, broadcastChannel: false })
await server.ready
const root = document.getElementById('root')!
for (let i = 0; i < count; i++) {
  const el = document.createElement('span')
  root.append(el, ' ')
  const key = `k${i}`
  let first = true
  server.watch(() => {
    el.textContent = String(server.get(key) ?? '·')
    if (first) {
      first = false
      return
    }
    bench.renders++
    const entry: Render = { key, arrival: lastArrival, rendered: performance.now(), painted: 0 }
    bench.log.push(entry)
    requestAnimationFrame(() => {
      entry.painted = performance.now()
    })
  })
}
bench.ready = true
