/**
 * The JavaScript a passive session runs per received commit, without the socket: records the
 * frames a stock y-websocket client receives while one session does N locked increments against
 * our relay, then feeds them, repeatedly and alternating, to fresh sessions with a stub socket
 * (a stock provider, and our client from each build given) and prints the CPU time per frame.
 * Not part of `npm run bench`; see "Where a lock's time goes" in bench/README.md for what this
 * leaves out (the wake-up, and running the same code cold after it).
 *
 * @example
 *   node --import tsx bench/probes/receive-replay.ts 5000 11                       # the sources
 *   REPLAY_BUILDS=/tmp/a,/tmp/b node --import tsx bench/probes/receive-replay.ts 5000 11  # two builds (tsc outDir)
 */
import WebSocket from 'ws'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { launchRelay } from '../lib/relay.js'
import { loadClient } from '../lib/compiled.js'
import { median } from '../lib/stats.js'

const n = Number(process.argv[2] ?? 5000)
const reps = Number(process.argv[3] ?? 11)
const builds = (process.env.REPLAY_BUILDS ?? '').split(',').filter(Boolean)

/** The frames a stock client receives from its sync step 2 on, while `n` locked increments run. */
const record = async (): Promise<Uint8Array[]> => {
  const { connect } = await loadClient(builds[0] ?? null)
  const relay = await launchRelay({ system: 'ours' })
  const locker = connect<{ count: number }>({ url: relay.url, room: 'replay', WebSocketPolyfill: WebSocket, broadcastChannel: false })
  const provider = new WebsocketProvider(relay.url, 'replay', new Y.Doc(), { WebSocketPolyfill: WebSocket as never, disableBc: true })
  const frames: Uint8Array[] = []
  const ws = provider.ws!
  const handle = ws.onmessage!
  ws.onmessage = (e) => {
    frames.push(new Uint8Array(e.data as ArrayBuffer).slice())
    handle.call(ws, e)
  }
  await locker.ready
  if (!provider.synced) await new Promise<void>((resolve) => provider.once('sync', () => resolve()))
  for (let i = 0; i < n; i++)
    await locker.lock('count', (s) => {
      s.count = (s.count ?? 0) + 1
    })
  await locker.flush()
  while (frames.length < n + 1) await new Promise((r) => setTimeout(r, 10))
  locker.close()
  provider.destroy()
  await relay.stop()
  return frames
}

/** A socket that never opens: the frames are fed to the provider's handlers directly. */
class StubSocket {
  static readonly OPEN = 1
  readonly OPEN = 1
  binaryType = 'blob'
  readyState = 0
  onmessage = null
  onopen = null
  onclose = null
  onerror = null
  send(): void {}
  close(): void {}
}

/** Feeds `frames` as y-websocket reads a socket's messages; returns the CPU µs per frame. */
const feed = (provider: WebsocketProvider, frames: readonly Uint8Array[]): number => {
  const t0 = process.cpuUsage()
  for (const frame of frames) {
    const decoder = decoding.createDecoder(frame)
    const type = decoding.readVarUint(decoder)
    provider.messageHandlers[type]!(encoding.createEncoder(), decoder, provider, true, type)
  }
  const cpu = process.cpuUsage(t0)
  return (cpu.user + cpu.system) / frames.length
}

const frames = await record()
const clients = await Promise.all(
  (builds.length ? builds : [null]).map(async (dir) => ({ name: dir ?? 'sources', client: await loadClient(dir) }))
)
const systems: Array<{ name: string; run(): number }> = [
  {
    name: 'stock y-websocket',
    run: () => {
      const provider = new WebsocketProvider('ws://127.0.0.1:9', 'replay', new Y.Doc(), {
        WebSocketPolyfill: StubSocket as never,
        disableBc: true,
        connect: false
      })
      try {
        return feed(provider, frames)
      } finally {
        provider.destroy()
      }
    }
  },
  ...clients.map(({ name, client }) => ({
    name: `ours (${name})`,
    run: () => {
      const s = client.connect<{ count: number }>({
        url: 'ws://127.0.0.1:9',
        room: 'replay',
        WebSocketPolyfill: StubSocket,
        broadcastChannel: false
      })
      try {
        const us = feed(s.provider, frames)
        if (s.get('count') !== n) throw new Error(`replayed ${String(s.get('count'))} increments, not ${n}`)
        return us
      } finally {
        s.close()
      }
    }
  }))
]
const times = systems.map(() => [] as number[])
for (let r = 0; r < reps; r++) {
  systems.forEach((sys, i) => {
    times[i]!.push(sys.run())
  })
}
systems.forEach((sys, i) => {
  // The first repeat warms the JIT up and is left out of the median.
  console.log(
    `${sys.name}: ${median(times[i]!.slice(1)).toFixed(1)} µs of CPU per frame (median of ${reps - 1}; ${times[i]!.map((t) => t.toFixed(1)).join(' ')})`
  )
})
process.exit(0)
