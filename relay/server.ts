/**
 * The relay: an HTTP server whose WebSocket upgrades at `/<room>` speak the y-websocket protocol,
 * plus `GET /healthz`, `GET /metrics` and the demo page's static files.
 *
 * @example
 *   import { startRelay } from 'y-server-state/relay'
 *   const relay = await startRelay({ port: 0, memory: true })
 *   console.log(relay.url) // ws://127.0.0.1:40123
 *   await relay.close()
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebSocketServer, WebSocket, type RawData } from 'ws'
import { CLOSE } from '../client/protocol.js'
import { LevelStore, MemoryStore, type RoomStore } from './store.js'
import { localBus, type Bus } from './bus.js'
import { Metrics } from './metrics.js'
import { createLogger, type Logger, type LogLevel } from './log.js'
import { Room, type Peer, type RoomContext } from './room.js'
import { roomFromPath } from './room-name.js'
import { serveStatic, defaultStaticDirs } from './static.js'

export interface RelayOptions {
  /** Interface to listen on. Default `127.0.0.1`. */
  host?: string
  /** Port; 0 picks a free one. Default 1234. */
  port?: number
  /** LevelDB directory of the default store. Default `./data`. */
  dataDir?: string
  /** Keep rooms in memory only (nothing survives a restart). */
  memory?: boolean
  /** A store of your own; overrides `dataDir` and `memory`. */
  store?: RoomStore
  /** Fan-out to other relays; the default serves one relay alone. */
  bus?: Bus
  /** Largest frame accepted; a larger one closes its connection with 1009. Default 16 MiB. */
  maxMessageBytes?: number
  /** How long a room with no connections stays in memory. Default 30 s. */
  idleUnloadMs?: number
  /** How long a granted lock lease lasts. Default 10 s. */
  leaseMs?: number
  /** Interval of the ws ping; a connection that missed a pong by the next ping is dropped. Default 30 s. */
  pingMs?: number
  /** Compact a room's store after this many appends. Default 500. */
  compactEvery?: number
  /** Folders served over HTTP for paths other than the endpoints. Default: the demo page. */
  staticDirs?: string[]
  logLevel?: LogLevel
  logger?: Logger
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
  /** Stops accepting, finishes and stores what is queued, closes every socket with 1001, closes the store. */
  close(): Promise<void>
}

interface RoomEntry {
  room: Promise<Room>
  loaded?: Room
  timer?: ReturnType<typeof setTimeout>
  unloading?: Promise<void>
}

const MiB = 1024 * 1024

export const startRelay = async (options: RelayOptions = {}): Promise<Relay> => {
  const host = options.host ?? '127.0.0.1'
  const log = options.logger ?? createLogger(options.logLevel ?? 'info')
  const metrics = new Metrics()
  const store = options.store ?? (options.memory ? new MemoryStore() : new LevelStore(options.dataDir ?? './data'))
  // Before listening: a store that cannot open (a data directory another relay holds) stops the start.
  await store.open?.()
  const idleUnloadMs = options.idleUnloadMs ?? 30_000
  const staticDirs = options.staticDirs ?? defaultStaticDirs()
  const rooms = new Map<string, RoomEntry>()
  const connections = new Set<Connection>()
  let ready = false
  let closing: Promise<void> | null = null

  const ctx: RoomContext = {
    store,
    bus: options.bus ?? localBus,
    metrics,
    log,
    leaseMs: options.leaseMs ?? 10_000,
    compactEvery: options.compactEvery ?? 500,
    onFailed: (room) => {
      if (rooms.get(room.name)?.room !== undefined) drop(room.name)
    }
  }

  const drop = (name: string): void => {
    const entry = rooms.get(name)
    if (!entry) return
    rooms.delete(name)
    clearTimeout(entry.timer)
    void entry.room.then((r) => r.destroy(), () => {})
  }

  const openRoom = async (name: string): Promise<Room> => {
    let entry = rooms.get(name)
    while (entry?.unloading) {
      await entry.unloading
      entry = rooms.get(name)
    }
    if (entry) {
      clearTimeout(entry.timer)
      entry.timer = undefined
      return entry.room
    }
    const room = Room.load(name, ctx)
    const created: RoomEntry = { room }
    rooms.set(name, created)
    room.then(
      (r) => {
        created.loaded = r
        metrics.inc('rooms_loaded_total')
      },
      (err) => {
        if (rooms.get(name) === created) rooms.delete(name)
        metrics.inc('errors_total')
        log.error('room failed to load; not served', { room: name, error: String(err) })
      }
    )
    return room
  }

  const scheduleUnload = (room: Room): void => {
    const entry = rooms.get(room.name)
    if (!entry || room.peers.size > 0 || entry.timer || entry.unloading) return
    entry.timer = setTimeout(() => {
      entry.timer = undefined
      if (room.peers.size > 0 || rooms.get(room.name) !== entry) return
      entry.unloading = (async () => {
        try {
          await room.compact()
        } catch (err) {
          log.error('compaction on unload failed', { room: room.name, error: String(err) })
        }
        rooms.delete(room.name)
        room.destroy()
        metrics.inc('rooms_unloaded_total')
        log.debug('room unloaded', { room: room.name })
      })()
    }, idleUnloadMs)
    entry.timer.unref()
  }

  let nextId = 1
  class Connection implements Peer {
    readonly id = nextId++
    closed = false
    alive = true
    room: Room | null = null
    private readonly early: Uint8Array[] = []

    constructor(readonly ws: WebSocket, readonly roomName: string) {}

    send(frame: Uint8Array): void {
      if (this.closed || this.ws.readyState !== WebSocket.OPEN) return
      this.ws.send(frame)
      metrics.inc('messages_out_total')
      metrics.inc('bytes_out_total', frame.length)
    }

    fail(code: number, reason: string): void {
      if (this.closed) return
      metrics.inc('errors_total')
      log.warn('connection closed', { room: this.roomName, conn: this.id, code, reason })
      this.close(code, reason)
    }

    close(code: number, reason: string): void {
      if (this.closed) return
      this.closed = true
      // A close reason is limited to 123 bytes.
      this.ws.close(code, Buffer.from(reason).subarray(0, 123).toString())
      const force = setTimeout(() => this.ws.terminate(), 2_000)
      force.unref()
      this.detach()
    }

    receive(data: Uint8Array): void {
      if (this.room) this.room.receive(this, data)
      else this.early.push(data)
    }

    attach(room: Room): void {
      if (this.closed) return scheduleUnload(room)
      this.room = room
      room.join(this)
      for (const data of this.early.splice(0)) room.receive(this, data)
    }

    detach(): void {
      connections.delete(this)
      if (!this.room) return
      this.room.leave(this)
      scheduleUnload(this.room)
    }
  }

  const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxMessageBytes ?? 16 * MiB })

  const onConnection = (ws: WebSocket, req: IncomingMessage): void => {
    const name = roomFromPath(req.url ?? '/')
    if (name === null) {
      metrics.inc('errors_total')
      log.warn('connection refused: invalid room name', { path: (req.url ?? '').slice(0, 200) })
      ws.close(CLOSE.badRoom, 'invalid room name: use 1-128 of A-Z a-z 0-9 _ . -')
      return
    }
    const conn = new Connection(ws, name)
    connections.add(conn)
    metrics.inc('connections_total')
    ws.on('message', (data: RawData, isBinary: boolean) => {
      const buf = data as Buffer
      metrics.inc('messages_in_total')
      metrics.inc('bytes_in_total', buf.length)
      if (!isBinary) return conn.fail(CLOSE.unsupportedData, 'text frames are not y-websocket messages')
      conn.receive(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength))
    })
    ws.on('pong', () => {
      conn.alive = true
    })
    ws.on('error', (err: Error & { code?: string }) => {
      // ws closes the socket itself (1009 for an oversized frame, 1002 for a broken one).
      metrics.inc('errors_total')
      log.warn('socket error', { room: name, conn: conn.id, error: err.message, code: err.code })
    })
    ws.on('close', (code: number) => {
      log.debug('connection closed', { room: name, conn: conn.id, code })
      conn.closed = true
      conn.detach()
    })
    openRoom(name).then(
      (room) => conn.attach(room),
      () => conn.close(CLOSE.internalError, 'room failed to load')
    )
  }

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0]!
    if (path === '/healthz') {
      res.writeHead(ready && !closing ? 200 : 503, { 'content-type': 'text/plain' })
      res.end(ready && !closing ? 'ok\n' : 'not ready\n')
    } else if (path === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' })
      let locksOpen = 0
      for (const entry of rooms.values()) locksOpen += entry.loaded?.leases.size ?? 0
      res.end(metrics.render({ connections: connections.size, rooms_loaded: rooms.size, locks_open: locksOpen }))
    } else {
      serveStatic(staticDirs, req, res)
    }
  }

  const http = createServer(onRequest)
  http.on('upgrade', (req, socket, head) => {
    if (closing) return socket.destroy()
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, req))
  })

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject)
    http.listen(options.port ?? 1234, host, () => {
      http.off('error', reject)
      resolve()
    })
  }).catch(async (err) => { await store.close(); throw err }) // release the data directory
  const port = (http.address() as AddressInfo).port
  const urlHost = host.includes(':') ? `[${host}]` : host
  const url = `ws://${urlHost}:${port}`
  const httpUrl = `http://${urlHost}:${port}/`

  const heartbeat = setInterval(() => {
    for (const conn of connections) {
      if (!conn.alive) {
        log.info('connection dropped: no pong', { room: conn.roomName, conn: conn.id })
        conn.ws.terminate()
        continue
      }
      conn.alive = false
      conn.ws.ping()
    }
  }, options.pingMs ?? 30_000)
  heartbeat.unref()
  ready = true
  log.debug('listening', { url, http: httpUrl, store: options.store ? 'custom' : options.memory ? 'memory' : `leveldb:${options.dataDir ?? './data'}` })

  const close = (): Promise<void> => {
    closing ??= (async () => {
      clearInterval(heartbeat)
      const httpClosed = new Promise<void>((resolve) => http.close(() => resolve()))
      const loaded = await Promise.allSettled([...rooms.values()].map((e) => e.room))
      for (const r of loaded) if (r.status === 'fulfilled') await r.value.idle()
      for (const conn of [...connections]) conn.close(CLOSE.goingAway, 'relay shutting down')
      for (const r of loaded) {
        if (r.status !== 'fulfilled') continue
        await r.value.compact().catch(() => {})
        r.value.destroy()
      }
      for (const entry of rooms.values()) clearTimeout(entry.timer)
      rooms.clear()
      await store.close()
      await ctx.bus.close()
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
    loadedRooms: () => [...rooms.keys()],
    close
  }
}
