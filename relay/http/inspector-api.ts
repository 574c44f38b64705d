/**
 * The inspector's read-only HTTP API: the JSON of protocol/inspector.ts, made from what the relay
 * holds in memory (the room registry, the connections, each room's lease table, the metrics).
 * Only `GET` and `HEAD`; nothing here changes the relay, loads a room or keeps it loaded. Who may
 * ask is decided by inspector-access.ts.
 *
 * | route | status |
 * | --- | --- |
 * | `GET /api/rooms` | 200 {@link InspectorOverview} |
 * | `GET /api/rooms/<room>` | 200 {@link InspectedRoom}; 400 for a path that names no room |
 * | anything else under `/api/` | 404; 405 for a method other than GET and HEAD |
 * | refused | 401 (no or bad credentials, with `WWW-Authenticate: Bearer`), 403, 500 (the hook failed) |
 *
 * @example
 *   const api = inspectorApi({ rooms, connections, renderMetrics: () => metrics.render(gauges()), authenticate: null, log })
 *   http.createServer((req, res) => { if (req.url?.startsWith('/api/')) void api(req, res) })
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { roomFromPath } from '../../protocol/room-names.js'
import {
  ROOMS_API,
  type InspectedConnection,
  type InspectedRequest,
  type InspectedRoom,
  type InspectorError,
  type InspectorOverview,
  type RoomSummary
} from '../../protocol/inspector.js'
import type { Authenticate } from '../access/auth.js'
import type { Logger } from '../log.js'
import type { LeaseView } from '../locks/leases.js'
import type { Peer, PeerGrant } from '../peer.js'
import type { RoomRegistry } from '../room/registry.js'
import { ALL_ROOMS, inspectorAccess } from '../access/inspector-access.js'

/** What the inspector lists of a connection (the relay's connections have it). */
export interface ListedConnection {
  readonly id: number
  readonly roomName: string
  readonly grant?: PeerGrant | undefined
  /** When it opened (`Date.now()`). */
  readonly openedAt: number
}

export interface InspectorApiDeps {
  rooms: RoomRegistry
  /** The relay's open connections, in every room. */
  connections: ReadonlySet<ListedConnection>
  /** The metrics as `GET /metrics` renders them (Prometheus text). */
  renderMetrics(): string
  /** The relay's credential check, or null with no access control. */
  authenticate: Authenticate | null
  log: Logger
}

/** Prometheus text as `{ sample: value }`, without the `yss_` prefix: `{ connections: 2, 'refused_total{code="4401"}': 0 }`. */
export const metricSamples = (text: string): Record<string, number> => {
  const samples: Record<string, number> = {}
  for (const line of text.split('\n')) {
    const m = /^yss_(\S+) (\S+)$/.exec(line)
    if (m) samples[m[1]!] = Number(m[2])
  }
  return samples
}

const requestOf = (r: LeaseView<Peer>): InspectedRequest => ({
  connection: r.holder.id,
  user: r.holder.grant?.user ?? null,
  request: r.id,
  keys: [...r.keys],
  requestedAt: r.requestedAt,
  grantedAt: r.grantedAt ?? null
})

const connectionOf = (c: ListedConnection): InspectedConnection => ({
  id: c.id,
  user: c.grant?.user ?? null,
  access: c.grant?.access ?? 'write',
  since: c.openedAt
})

/** The request handler for the routes under `/api/`. */
export const inspectorApi = (deps: InspectorApiDeps) => {
  const allowed = inspectorAccess(deps.authenticate)

  const connectionsOf = (name: string): ListedConnection[] => [...deps.connections].filter((c) => c.roomName === name)
  const loadedRoom = (name: string) => deps.rooms.loaded().find((r) => r.name === name)

  const overview = (): InspectorOverview => {
    const counts = new Map<string, number>()
    for (const c of deps.connections) counts.set(c.roomName, (counts.get(c.roomName) ?? 0) + 1)
    const loaded = new Map(deps.rooms.loaded().map((r) => [r.name, r]))
    const rooms = deps.rooms
      .names()
      .sort()
      .map((name): RoomSummary => {
        const locks = loaded.get(name)?.leases.snapshot?.() ?? []
        return {
          name,
          loaded: loaded.has(name),
          connections: counts.get(name) ?? 0,
          locks: { held: locks.filter((l) => l.holder).length, waiting: locks.reduce((n, l) => n + l.waiting.length, 0) }
        }
      })
    return { at: Date.now(), rooms, metrics: metricSamples(deps.renderMetrics()) }
  }

  const room = (name: string): InspectedRoom => {
    const loaded = loadedRoom(name)
    return {
      at: Date.now(),
      name,
      loaded: loaded !== undefined,
      connections: connectionsOf(name).map(connectionOf),
      locks: (loaded?.leases.snapshot?.() ?? []).map((l) => ({
        key: l.key,
        holder: l.holder && requestOf(l.holder),
        waiting: l.waiting.map(requestOf)
      }))
    }
  }

  const send = (req: IncomingMessage, res: ServerResponse, status: number, body: object, headers: Record<string, string> = {}): void => {
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      ...headers
    })
    res.end(req.method === 'HEAD' ? undefined : JSON.stringify(body))
  }
  const fail = (req: IncomingMessage, res: ServerResponse, status: number, error: string, headers?: Record<string, string>): void =>
    send(req, res, status, { error } satisfies InspectorError, headers)

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0]!
    const whole = path === ROOMS_API
    if (!whole && !path.startsWith(`${ROOMS_API}/`))
      return fail(req, res, 404, 'no such route: the inspector API has /api/rooms and /api/rooms/<room>')
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return fail(req, res, 405, 'the inspector API is read-only: GET or HEAD', { allow: 'GET, HEAD' })
    const name = whole ? ALL_ROOMS : roomFromPath(path, ROOMS_API)
    if (name === null) return fail(req, res, 400, 'the path names no room: /api/rooms/<room>, the name as a WebSocket path carries it')
    const verdict = await allowed(req, name)
    if (!verdict.ok) {
      return fail(
        req,
        res,
        verdict.status,
        verdict.reason,
        verdict.status === 401 ? { 'www-authenticate': 'Bearer realm="y-server-state inspector"' } : {}
      )
    }
    send(req, res, 200, whole ? overview() : room(name))
  }

  /** Answers one request; never rejects. */
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      await handle(req, res)
    } catch (err) {
      deps.log.error('inspector API failed', { path: (req.url ?? '').split('?')[0]!.slice(0, 200), error: String(err) })
      if (!res.headersSent) fail(req, res, 500, 'the inspector failed; see the relay log')
      else res.end()
    }
  }
}
