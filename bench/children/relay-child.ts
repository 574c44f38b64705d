/**
 * Child process: one relay under test, alone in its process. Started by {@link launchRelay} with a
 * JSON spec; answers `memory` (after a full GC), `metrics` (ours only), `cpu` (`process.cpuUsage()`) and `close`.
 *
 * The reference relay is @y/websocket-server's own `setupWSConnection`, served exactly as its
 * `server.js` does, with the `ws` it ships with (6.x, not ours). Its LevelDB persistence is
 * switched on by `YPERSISTENCE` in the environment, which it reads when it is first imported.
 */
import { createServer } from 'node:http'
import { createRequire } from 'node:module'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { AddressInfo } from 'node:net'
import * as Y from 'yjs'
import { serveRequests, memoryAfterGc } from '../lib/children.js'
import type { System } from '../lib/systems.js'

export interface RelaySpec {
  system: System
  /** Stored rooms: ours and the reference in LevelDB, Hocuspocus as snapshot files `<room>.bin`. */
  dataDir?: string
  /** Ours only, with `dataDir`: the relay's `--fsync` (its default when absent). */
  fsync?: 'always' | 'never'
  /** Ours only: folders served over HTTP. */
  staticDirs?: string[]
  /** Ours only: share rooms through this Redis and PostgreSQL (the cluster scenario). */
  redis?: string
  postgres?: string
  /** Ours only: how long a room with no connection stays loaded (the cluster scenario holds rooms without a socket each). */
  idleUnloadMs?: number
  /** Ours only: run the relay compiled by tsc in this directory (see lib/compiled.ts), as the package ships it, instead of the sources under tsx. */
  compiledDir?: string
}

interface Running {
  port: number
  close(): Promise<void>
  metrics?(): Record<string, number>
}

const startOurs = async (spec: RelaySpec): Promise<Running> => {
  const { startRelay } = (
    spec.compiledDir ? await import(pathToFileURL(join(spec.compiledDir, 'relay/server.js')).href) : await import('../../relay/server.js')
  ) as typeof import('../../relay/server.js')
  const relay = await startRelay({
    host: '127.0.0.1',
    port: 0,
    logLevel: 'silent',
    ...(spec.redis
      ? { redis: spec.redis, postgres: spec.postgres!, cluster: { redisUnsafe: true } }
      : spec.dataDir
        ? { dataDir: spec.dataDir, ...(spec.fsync ? { fsync: spec.fsync } : {}) }
        : { memory: true }),
    ...(spec.staticDirs ? { staticDirs: spec.staticDirs } : {}),
    ...(spec.idleUnloadMs !== undefined ? { idleUnloadMs: spec.idleUnloadMs } : {})
  })
  const names = ['messages_in_total', 'messages_out_total', 'bytes_in_total', 'bytes_out_total', 'store_writes_total'] as const
  return {
    port: relay.port,
    close: () => relay.close(),
    metrics: () => Object.fromEntries(names.map((n) => [n, relay.metrics.get(n)]))
  }
}

const startReference = async (): Promise<Running> => {
  const utils = await import('@y/websocket-server/utils')
  // The ws that @y/websocket-server itself depends on, as its server.js uses it.
  const requireThere = createRequire(createRequire(import.meta.url).resolve('@y/websocket-server/utils'))
  const WebSocket = requireThere('ws') as { Server: new (o: object) => any }
  const wss = new WebSocket.Server({ noServer: true })
  wss.on('connection', utils.setupWSConnection)
  const http = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain' })
    res.end('okay')
  })
  http.on('upgrade', (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (ws: unknown) => wss.emit('connection', ws, req))
  })
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r))
  return {
    port: (http.address() as AddressInfo).port,
    close: async () => {
      // Let LevelDB finish its queued writes: y-leveldb runs them one after another.
      const persistence = utils.getPersistence() as { provider?: { destroy(): Promise<void> } } | null
      await persistence?.provider?.destroy()
      http.closeAllConnections()
    }
  }
}

const startHocuspocus = async (spec: RelaySpec): Promise<Running> => {
  const { Server } = await import('@hocuspocus/server')
  const dir = spec.dataDir
  // Hocuspocus stores nothing by itself; a stored room is loaded from a snapshot file, the
  // cheapest store there is, so its cold load is a lower bound.
  const extensions = dir
    ? [
        {
          async onLoadDocument({ documentName, document }: { documentName: string; document: Y.Doc }) {
            const bytes = await readFile(join(dir, `${documentName}.bin`)).catch(() => null)
            if (bytes) Y.applyUpdate(document, bytes)
          }
        }
      ]
    : []
  const server = new Server({ port: 0, address: '127.0.0.1', quiet: true, stopOnSignals: false, extensions })
  await server.listen()
  return { port: server.address.port, close: () => server.destroy() }
}

const spec = JSON.parse(process.argv[2] ?? '{}') as RelaySpec
const running = await (spec.system === 'ours' ? startOurs(spec) : spec.system === 'reference' ? startReference() : startHocuspocus(spec))

serveRequests(async (msg) => {
  switch (msg.cmd) {
    case 'memory':
      return { memory: await memoryAfterGc() }
    case 'metrics':
      return { metrics: running.metrics?.() ?? {} }
    case 'cpu':
      return { cpu: process.cpuUsage() }
    case 'close':
      await running.close().catch(() => {})
      // A normal exit, so that --cpu-prof writes its profile.
      setImmediate(() => process.exit(0))
      return {}
    default:
      throw new Error(`unknown command ${String(msg.cmd)}`)
  }
})
process.send!({ ready: true, port: running.port })
