/**
 * The relay: an HTTP server whose WebSocket upgrades at `/<room>` speak the y-websocket protocol,
 * plus `GET /healthz`, `GET /metrics`, the backends' HTTP API under `/rooms/` (http/rooms-api.ts),
 * the inspector's API under `/api/` (inspector-api.ts), the inspector page at `/inspect` and the
 * demo page's static files. Each upgrade is admitted
 * (origin, credentials: see `access-control.ts`) before its room is loaded; a refusal is held
 * open for `refusalDelayMs`, then closed with its 44xx code.
 *
 * @example
 *   import { startRelay } from 'y-server-state-relay'
 *   const relay = await startRelay({ port: 0, memory: true })
 *   console.log(relay.url) // ws://127.0.0.1:40123
 *   await relay.close()
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { WebSocketServer, type WebSocket } from 'ws'
import { CLOSE } from '../protocol/close-codes.js'
import { MAX_ROOM_BYTES, roomFromPath } from '../protocol/room-names.js'
import type { RoomStore } from './store/room-store.js'
import { LevelStore, type Fsync } from './store/level-store.js'
import { MemoryStore } from './store/memory-store.js'
import { localBus, type Bus } from './room/bus.js'
import { Metrics } from './metrics.js'
import { createLogger, type LogFields, type Logger, type LogLevel } from './log.js'
import { LogLimiter } from './log-limiter.js'
import { RoomRegistry } from './room/registry.js'
import { RelayConnection, RelaySocket, closeReason } from './connection.js'
import { accessControl, type AccessOptions } from './access/access-control.js'
import type { PeerGrant } from './peer.js'
import { serveStatic, defaultStaticDirs } from './http/static.js'
import { inspectorApi } from './http/inspector-api.js'
import { INSPECT_PAGE } from '../protocol/inspector.js'
import { isUnavailable } from './store/unavailable.js'
import { RoomBackends, type RoomAccess } from './backend/backends.js'
import { roomsApi } from './http/rooms-api.js'
import { keyRoutes } from './http/key-routes.js'
import { leaseRoutes } from './http/lease-routes.js'
import type { Cluster, ClusterRelayOptions } from './cluster/index.js'

import { resolveLimits, type LimitName, type LimitOptions } from './limits.js'
import { OutboundBudget, type Drainable } from './outbound-budget.js'
import { PerAddress } from './access/per-address.js'
import { DEFAULT_FEED_OPTIONS, Feeds } from './feed/feeds.js'
import type { FeedOptions } from './feed/room-feed.js'
import { eventsApi } from './http/events-api.js'
import { Webhooks } from './webhooks/webhooks.js'
import { resolveWebhook, type WebhookOptions } from './webhooks/webhook-options.js'
import { checkMutations, type Mutations } from './mutations/mutation.js'
import { MutationRunner } from './mutations/runner.js'
import { mutationRoutes, refuseMutationOnly } from './http/mutations-api.js'
import { MutationOnlyKeys } from './room/mutation-only.js'
import { socketCalls } from './mutations/socket-calls.js'
import { BACKEND_GRANT } from './backend/backend-peer.js'
import type { Call, Room } from './room/room.js'
import type { Peer } from './peer.js'

/** Options of {@link startRelay}; the abuse limits (`maxQueuedBytes`, …) are in {@link LimitOptions}. */
export interface RelayOptions extends AccessOptions, LimitOptions, ClusterRelayOptions {
  /** Interface to listen on. Default `127.0.0.1`; with no access control, only a loopback one unless `anonymous`. */
  host?: string
  /** Port; 0 picks a free one. Default 1234. */
  port?: number
  /** LevelDB directory of the default store. Default `./data`. */
  dataDir?: string
  /** Keep rooms in memory only (nothing survives a restart). */
  memory?: boolean
  /**
   * When the default store's writes reach the disk itself: `always` (the default), before any of a
   * batch is echoed or a lock on it resolves, surviving a power cut; `never`, surviving a relay
   * crash only. See {@link Fsync}.
   */
  fsync?: Fsync
  /** A store of your own; overrides `dataDir` and `memory`. */
  store?: RoomStore
  /** Fan-out to other relays; the default serves one relay alone. */
  bus?: Bus
  /** Largest frame accepted; a larger one closes its connection with 1009. Default 100 MiB, as the reference relay. */
  maxMessageBytes?: number
  /** The path the relay is served under behind a reverse proxy (`/collab`): rooms are `/collab/<room>`. Default none. */
  pathPrefix?: string
  /** How long a refused connection is held open before its 44xx close, so that old clients cannot retry in a loop. Default 1 s. */
  refusalDelayMs?: number
  /** How long a room with no connections stays in memory. Default 30 s. */
  idleUnloadMs?: number
  /** How long a granted lock lease lasts. Default 10 s. */
  leaseMs?: number
  /**
   * How long others' doc updates may be held back from a connection that waits for a lock, to
   * reach it merged, at the latest with its GRANT; 0 sends each at once. Default 10 ms. One relay
   * only: with `redis`, nothing is held.
   */
  waiterHoldMs?: number
  /** Count loopback addresses against `maxConnectionsPerAddress` too (by default they are not: a reverse proxy on the same host is one). */
  capLoopback?: boolean
  /** Interval of the ws ping; a connection that sent nothing by the next ping, not even a pong, is dropped. Default 30 s. */
  pingMs?: number
  /** Compact a room's store after this many appends. Default 500. */
  compactEvery?: number
  /** Folders (or files, served at `/<name>`) served over HTTP for paths other than the endpoints. Default: the built demo page. */
  staticDirs?: string[]
  /** Serve the `.map` files of those folders too (they carry the sources). Default false. */
  sourceMaps?: boolean
  /** POST each room's changes to these URLs (docs/http-api.md, "Webhooks"). */
  webhooks?: WebhookOptions[]
  /** Interval of the `: ping` comment on event streams (`GET /rooms/<room>/events`). Default 15 s. */
  eventPingMs?: number
  /** The change feeds' resume buffer (`maxEvents`, `maxBytes` per room) and `lingerMs` (kept with no watcher). */
  feed?: Partial<Omit<FeedOptions, 'log'>>
  logLevel?: LogLevel
  logger?: Logger
  /**
   * Server mutations by name (docs/mutations.md): called with `server.call(name, args)` or
   * `POST /rooms/<room>/mutations/<name>`, run under the leases of the keys they declare.
   */
  mutations?: Mutations
  /**
   * Patterns of the keys only mutations may write (`balance:*`: `*` matches any run of
   * characters). A raw write of one is refused: our client throws MutationOnlyError, another
   * client is closed with 4423, a lock commit is DENIED, an HTTP write answers 403.
   */
  mutationOnlyKeys?: readonly string[]
}

export interface Relay {
  /** `ws://host:port`, the URL clients connect to (add `/<room>`). */
  readonly url: string
  /** `http://host:port/`, where the demo page is served. */
  readonly httpUrl: string
  readonly port: number
  readonly metrics: Metrics
  /** Names of the rooms held in memory. */
  loadedRooms(): string[]
  /**
   * Reads and writes a room from the relay's own process, as a backend over HTTP does
   * (docs/http-api.md): writes answered once stored, leases FIFO with the sockets' locks.
   */
  backend(room: string): RoomAccess
  /** Stops accepting, finishes and stores what is queued, closes every socket with 1001, closes the store. */
  close(): Promise<void>
}

const MiB = 1024 * 1024
/** How long a server mutation waits for its keys' leases, as a client's lock does by default. */
const MUTATION_LOCK_TIMEOUT_MS = 10_000

export const startRelay = async (options: RelayOptions = {}): Promise<Relay> => {
  const host = options.host ?? '127.0.0.1'
  // First: a relay that would serve anyone on a network must not open a store or a port.
  const access = accessControl(options)
  checkMutations(options.mutations, options.mutationOnlyKeys)
  const log = options.logger ?? createLogger(options.logLevel ?? 'info')
  const hooks = (options.webhooks ?? []).map(resolveWebhook)
  const metrics = new Metrics()
  if ((options.redis === undefined) !== (options.postgres === undefined))
    throw new Error('several relays need both Redis and PostgreSQL: pass redis and postgres together')
  const cluster: Cluster | null =
    options.redis !== undefined
      ? await (await import('./cluster/index.js')).startCluster({
          ...options.cluster,
          redis: options.redis,
          postgres: options.postgres!,
          log
        })
      : null
  const store: RoomStore =
    cluster?.store ??
    options.store ??
    (options.memory ? new MemoryStore() : new LevelStore(options.dataDir ?? './data', log, { fsync: options.fsync ?? 'always' }))
  const bus = cluster?.bus ?? options.bus ?? localBus
  // Before listening: a store that cannot open (a data directory another relay holds) stops the start.
  await store.open?.()
  const idleUnloadMs = options.idleUnloadMs ?? 30_000
  const staticDirs = options.staticDirs ?? defaultStaticDirs()
  const connections = new Set<RelayConnection>()
  const pathPrefix = (options.pathPrefix ?? '').replace(/\/+$/, '')
  const maxMessageBytes = options.maxMessageBytes ?? 100 * MiB
  const refusalDelayMs = options.refusalDelayMs ?? 1_000
  const limited = new LogLimiter(log, 60_000)
  const limits = resolveLimits(options)
  const leaseMs = options.leaseMs ?? 10_000
  let ready = false
  let closing: Promise<void> | null = null
  const rooms = new RoomRegistry(
    {
      store,
      bus,
      ...(cluster ? { leaseTables: cluster.leaseTables } : {}),
      metrics,
      log,
      leaseMs,
      ...(options.waiterHoldMs !== undefined ? { waiterHoldMs: options.waiterHoldMs } : {}),
      compactEvery: options.compactEvery ?? 500,
      limits,
      limited,
      ...(options.mutationOnlyKeys ? { mutationOnlyKeys: [...options.mutationOnlyKeys] } : {}),
      ...(options.mutations ? { onCall: (room: Room, peer: Peer, call: Call) => onCall(room, peer, call) } : {})
    },
    idleUnloadMs
  )
  const backends = new RoomBackends({ rooms, leaseMs, limits, metrics })
  // Server mutations run on backends of their own: the only peers that may write mutation-only keys.
  const mutationBackends = options.mutations
    ? new RoomBackends({ rooms, leaseMs, limits, metrics, grant: { ...BACKEND_GRANT, user: 'mutations', runsMutations: true } })
    : null
  const mutations = mutationBackends
    ? new MutationRunner(options.mutations!, (room) => mutationBackends.room(room), { timeoutMs: MUTATION_LOCK_TIMEOUT_MS, metrics })
    : null
  const onCall = mutations ? socketCalls(mutations, limits) : () => {}
  const budget = new OutboundBudget<Drainable>(limits.maxQueuedBytesTotal)
  const perAddress = new PerAddress(limits.maxConnectionsPerAddress, options.capLoopback ?? false)
  const feeds = new Feeds({ ...DEFAULT_FEED_OPTIONS, ...options.feed, log })
  const webhooks = hooks.length > 0 ? new Webhooks(hooks, { feeds, limits, metrics, limited, log }) : null
  if (webhooks) rooms.onLoad((room) => webhooks.attach(room))
  const events = eventsApi({
    access,
    rooms,
    feeds,
    perAddress,
    pathPrefix,
    stream: { limits, metrics, limited, budget, pingMs: options.eventPingMs ?? 15_000 }
  })
  const deps = {
    metrics,
    log,
    rooms,
    limits,
    limited,
    maxMessageBytes,
    budget,
    onDetached: (conn: RelayConnection) => connections.delete(conn)
  }
  /** The sockets held open to be refused (see `refuse`); the admitted ones are in `connections`. */
  const refusing = new Set<WebSocket>()
  const gauges = () => {
    let locksOpen = 0
    for (const room of rooms.loaded()) locksOpen += room.leases.size
    return {
      connections: connections.size,
      rooms_loaded: rooms.size,
      locks_open: locksOpen,
      event_streams: events.open,
      webhook_batches_waiting: webhooks?.size ?? 0
    }
  }
  const mutationOnly = new MutationOnlyKeys(options.mutationOnlyKeys ?? [])
  const routeDeps = {
    access,
    backends,
    limits,
    rawWrites: refuseMutationOnly((key) => mutationOnly.covers(key)),
    answers: { budget, maxQueuedBytes: limits.maxQueuedBytes, limitHit: (limit: LimitName) => metrics.limitHit(limit) }
  }
  const roomsHttp = roomsApi({
    prefix: pathPrefix,
    limits,
    metrics,
    log,
    routes: {
      state: keyRoutes(routeDeps),
      leases: leaseRoutes(routeDeps),
      mutations: mutationRoutes({ access, runner: mutations, limits })
    }
  })
  const api = inspectorApi({ rooms, connections, renderMetrics: () => metrics.render(gauges()), authenticate: access.authenticate, log })

  /**
   * Refuses a connection with a close code: for good with a 44xx one, or 1011 when the
   * `authenticate` hook failed. Y-websocket clients before 3.x take any open for a success and
   * reconnect at once after the close: holding the socket first bounds them to about one attempt
   * a refusal delay. Nothing the socket sends meanwhile is read. The log line names the cause,
   * never the request's query (its token).
   */
  const refuse = (ws: WebSocket, code: number, reason: string, cause: string, fields: LogFields): void => {
    metrics.inc('errors_total')
    metrics.refused(code)
    limited.warn(cause, `connection refused: ${reason}`, fields)
    refusing.add(ws)
    // Nothing it sends is read: a refused socket's frames (90 MB each, sent during the hold) would be held.
    ws.pause()
    ws.on('error', () => {})
    const timer = setTimeout(() => {
      ws.close(code, closeReason(reason))
      // It cannot be read answering the close: dropped soon after.
      setTimeout(() => ws.terminate(), 250).unref()
    }, refusalDelayMs)
    timer.unref()
    ws.on('close', () => {
      clearTimeout(timer)
      refusing.delete(ws)
    })
  }

  const onConnection = (ws: RelaySocket, name: string, grant: PeerGrant, expiresAt: number | undefined): void => {
    const conn = new RelayConnection(ws, name, deps, grant, expiresAt)
    connections.add(conn)
    metrics.inc('connections_total')
    rooms.open(name).then(
      (room) => conn.attach(room),
      (err) =>
        isUnavailable(err)
          ? conn.close(CLOSE.tryAgainLater, 'store unreachable; try again later')
          : conn.close(CLOSE.internalError, 'room failed to load')
    )
  }

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0]!
    if (!access.hostAllowed(req)) {
      metrics.inc('errors_total')
      limited.warn('host', 'request refused: host not allowed', { host: (req.headers.host ?? '').slice(0, 200), path: path.slice(0, 200) })
      res
        .writeHead(403, { 'content-type': 'text/plain' })
        .end('host not allowed: a relay with no access control answers loopback names only\n')
    } else if (path === '/healthz') {
      // With several relays, a relay whose Redis or PostgreSQL does not answer is not ready.
      void (cluster ? cluster.health() : Promise.resolve({ ok: true, problems: [] as string[] })).then(({ ok, problems }) => {
        const up = ready && !closing && ok
        res.writeHead(up ? 200 : 503, { 'content-type': 'text/plain' })
        res.end(up ? 'ok\n' : `not ready${problems.length > 0 ? `: ${problems.join(', ')}` : ''}\n`)
      })
    } else if (path === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' })
      res.end(metrics.render(gauges()) + (cluster?.renderMetrics() ?? ''))
    } else if (events.matches(path)) {
      void events.serve(req, res)
    } else if (path.startsWith('/api/')) {
      void api(req, res)
    } else if (!roomsHttp(req, res)) {
      if (path === INSPECT_PAGE) req.url = `${INSPECT_PAGE}.html`
      serveStatic(staticDirs, req, res, options.sourceMaps ?? false)
    }
  }

  /** Admits the request before the upgrade, so that no frame arrives while it is decided. */
  const onUpgrade = async (req: IncomingMessage, socket: Socket, head: Buffer): Promise<void> => {
    const name = roomFromPath(req.url ?? '/', pathPrefix)
    if (name === null) {
      const path = (req.url ?? '').split('?')[0]!.slice(0, 200)
      return wss.handleUpgrade(req, socket, head, (ws) =>
        refuse(ws, CLOSE.badRoom, `invalid room name: 1 to ${MAX_ROOM_BYTES} bytes after ${pathPrefix}/`, 'room', { path })
      )
    }
    const ignore = () => {} // a socket that fails while the hook runs is dropped by handleUpgrade
    socket.on('error', ignore)
    const admission = await access.admit(req, name)
    socket.off('error', ignore)
    if (closing) return void socket.destroy()
    wss.handleUpgrade(req, socket, head, (ws) => {
      if (!admission.ok) refuse(ws, admission.code, admission.reason, admission.cause, admission.fields)
      else onConnection(ws, name, admission.grant, admission.expiresAt)
    })
  }

  // No client tracking: `connections` and `refusing` hold every socket, and a Set more costs each one.
  const wss = new WebSocketServer({ noServer: true, maxPayload: maxMessageBytes, clientTracking: false, WebSocket: RelaySocket })
  const http = createServer(onRequest)
  http.on('upgrade', (req, socket, head) => {
    if (closing) return socket.destroy()
    const address = (socket as Socket).remoteAddress
    if (!perAddress.admit(address)) {
      metrics.limitHit('maxConnectionsPerAddress')
      limited.warn('limit:maxConnectionsPerAddress', 'connection refused: over a limit', {
        address,
        limit: 'maxConnectionsPerAddress',
        max: limits.maxConnectionsPerAddress
      })
      socket.end('HTTP/1.1 429 Too Many Requests\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
      return
    }
    socket.once('close', () => perAddress.release(address))
    void onUpgrade(req, socket as Socket, head)
  })

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject)
    http.listen(options.port ?? 1234, host, () => {
      http.off('error', reject)
      resolve()
    })
  }).catch(async (err) => {
    await store.close()
    await cluster?.close()
    throw err
  }) // release the data directory
  const port = (http.address() as AddressInfo).port
  const urlHost = host.includes(':') ? `[${host}]` : host
  const url = `ws://${urlHost}:${port}`
  const httpUrl = `http://${urlHost}:${port}/`

  const heartbeat = setInterval(() => {
    for (const conn of connections) {
      if (!conn.heard()) {
        log.info('connection dropped: nothing heard since the last ping, not even a pong', { room: conn.roomName, conn: conn.id })
        conn.ws.terminate()
        continue
      }
      conn.ws.ping()
    }
  }, options.pingMs ?? 30_000)
  heartbeat.unref()
  // A socket that has not drained what was queued for it in time is closed, whatever it sends.
  const drains = setInterval(
    () => {
      for (const conn of budget.sweep(Date.now(), limits.maxDrainMs)) {
        conn.overLimit('maxDrainMs', CLOSE.policyViolation, `the client did not read what was queued for it within ${limits.maxDrainMs} ms`)
      }
    },
    Math.max(20, Math.min(1_000, limits.maxDrainMs / 4))
  )
  drains.unref()
  ready = true
  log.debug('listening', {
    url,
    http: httpUrl,
    store: cluster ? 'redis+postgres' : options.store ? 'custom' : options.memory ? 'memory' : `leveldb:${options.dataDir ?? './data'}`
  })

  const close = (): Promise<void> => {
    closing ??= (async () => {
      clearInterval(heartbeat)
      clearInterval(drains)
      const httpClosed = new Promise<void>((resolve) => http.close(() => resolve()))
      await rooms.idle()
      await backends.close()
      await mutationBackends?.close()
      for (const conn of [...connections]) conn.close(CLOSE.goingAway, 'relay shutting down')
      events.close()
      webhooks?.close()
      feeds.close()
      for (const ws of refusing) ws.terminate()
      await rooms.close()
      await store.close()
      await bus.close()
      await cluster?.close()
      http.closeAllConnections()
      await httpClosed
      log.info('closed', { url })
    })()
    return closing
  }

  return {
    url,
    httpUrl,
    port,
    metrics,
    loadedRooms: () => rooms.names(),
    backend: (room) => backends.room(room),
    close
  }
}
