/**
 * A session in a child process for the chaos test (cluster-chaos.test.ts):
 * `node --import tsx cluster-chaos-worker.ts URLS ROOM`. It prints `ready` once synced, waits for
 * `go` on stdin, then runs locked increments until `stop`: call i increments "count" and sets
 * its own marker `m:<pid>:<i>` in the same lock, and every fifth call is followed by a plain
 * write `w:<pid>:<i>` and a flush. It prints one JSON line per outcome, so the test can check
 * call by call: `{"call":i,"ok":true}` (resolved: must be applied once), `{"call":i,"ok":false}`
 * (rejected: must never be applied), `{"write":i,"acked":true}` (acknowledged: must never be
 * lost), and `{"done":true}` at the end.
 *
 * URLS is comma-separated: the session moves to the next relay each time a socket fails.
 *
 * @example
 *   spawn(process.execPath, ['--import', 'tsx', 'test/cluster-chaos-worker.ts', 'ws://a,ws://b', 'chaos'])
 */
import WebSocket from 'ws'
import { connect } from '../client/index.js'

const [urls, room] = process.argv.slice(2) as [string, string]
const server = connect<Record<string, number>>({ url: urls.split(','), room, WebSocketPolyfill: WebSocket, broadcastChannel: false, lockTimeout: 30_000 })
const out = (line: object) => process.stdout.write(JSON.stringify(line) + '\n')
const stdin: string[] = []
const seen = new Set<() => void>()
process.stdin.setEncoding('utf8').on('data', (d: string) => {
  stdin.push(...d.split('\n').filter(Boolean))
  for (const f of [...seen]) f()
})
const line = (what: string) => new Promise<void>((resolve) => {
  const look = () => { if (stdin.includes(what)) { seen.delete(look); resolve() } }
  seen.add(look)
  look()
})
const stopping = () => stdin.includes('stop')

await server.ready
process.stdout.write('ready\n')
await line('go')
const me = process.pid
for (let i = 0; !stopping(); i++) {
  try {
    await server.lock('count', (s) => {
      s.count = (s.count ?? 0) + 1
      s[`m:${me}:${i}`] = 1
    }, { timeout: 20_000 })
    out({ call: i, ok: true })
  } catch (err) {
    out({ call: i, ok: false, error: (err as Error).name })
    // Offline, a lock rejects at once: wait for a relay (or the end) before the next call.
    if (server.status !== 'connected') {
      await Promise.race([line('stop'), new Promise<void>((resolve) => {
        const off = server.onStatus((st) => { if (st === 'connected') { off(); resolve() } })
      })])
    }
  }
  if (i % 5 === 0) {
    server.set(`w:${me}:${i}`, i)
    try {
      await server.flush()
      out({ write: i, acked: true })
    } catch {
      out({ write: i, acked: false }) // not acknowledged: nothing promised
    }
  }
}
out({ done: true })
server.close()
process.exit(0)
