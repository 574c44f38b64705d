/**
 * The relay's counters and gauges, rendered as Prometheus text for `GET /metrics`, and one
 * labelled counter, `yss_limit_hits_total{limit="…"}`: how often each abuse limit was hit
 * (relay/limits.ts), every limit listed from the start at 0; and the HTTP API's requests,
 * `yss_http_requests_total{route="…",status="…"}`.
 *
 * @example
 *   const m = new Metrics()
 *   m.inc('messages_in_total')
 *   m.refused(4401)
 *   m.render({ connections: 3 }) // "# TYPE yss_messages_in_total counter\nyss_messages_in_total 1\n…"
 *                                //  … yss_refused_total{code="4401"} 1
 *   m.limitHit('maxRoomBytes')
 *   m.httpRequest('PUT /state/:key', 200) // yss_http_requests_total{route="PUT /state/:key",status="200"} 1
 */
import { LIMIT_NAMES, limitLabel, type LimitName } from './limits.js'
import { MetricTable } from './metric-table.js'

const COUNTERS = {
  messages_in_total: 'Frames received from clients.',
  messages_out_total: 'Frames sent to clients.',
  bytes_in_total: 'Bytes received from clients.',
  bytes_out_total: 'Bytes sent to clients.',
  store_writes_total: 'Batches of updates written to the store.',
  store_bytes_total: 'Bytes of updates written to the store.',
  errors_total: 'Connections closed for bad input, and internal failures.',
  connections_total: 'Connections accepted since start.',
  rooms_loaded_total: 'Rooms loaded from the store since start.',
  rooms_unloaded_total: 'Idle rooms unloaded since start.',
  locks_granted_total: 'Lock leases granted.',
  locks_expired_total: 'Lock leases that outlived the lease time.',
  locks_retained_total: 'Lock commits after which the lease stayed with its holder, for its next lock.',
  locks_revoked_total: 'Retained lock leases asked back for another request.',
  sessions_expired_total: 'Connections closed with 4401 because their credentials expired.',
  read_only_updates_dropped_total: 'Non-empty updates from read-only connections, dropped.',
  event_streams_total: 'Server-Sent Events streams opened since start.',
  webhook_deliveries_total: 'Webhook batches delivered (answered 2xx).',
  webhook_attempts_failed_total: 'Webhook delivery attempts that failed (an error, a timeout or a status other than 2xx).',
  webhook_changes_dropped_total: 'Changes dropped before their webhook delivery: a full queue, or a batch that failed every attempt.'
} as const

export type Counter = keyof typeof COUNTERS

const GAUGES = {
  connections: 'Open client connections.',
  rooms_loaded: 'Rooms held in memory.',
  locks_open: 'Lock requests held or waiting, in the rooms held in memory.',
  event_streams: 'Open Server-Sent Events streams.',
  webhook_batches_waiting: 'Webhook batches waiting for their delivery (not those being delivered).'
} as const

export type Gauges = Record<keyof typeof GAUGES, number>

/** Refusal codes always rendered, at 0 until one happens, so that a rate over them is defined. */
const REFUSAL_CODES = [4400, 4401, 4403]

export class Metrics extends MetricTable<Counter, keyof typeof GAUGES> {
  private readonly refusals = new Map<number, number>(REFUSAL_CODES.map((code) => [code, 0]))
  private readonly limitHits = new Map<LimitName, number>()
  /** HTTP API requests by `<route> <status>`. */
  private readonly httpRequests = new Map<string, number>()

  constructor() {
    super('yss_', COUNTERS, GAUGES)
  }

  /** Counts a connection refused (closed before it joined a room) with close `code`. */
  refused(code: number): void {
    this.refusals.set(code, (this.refusals.get(code) ?? 0) + 1)
  }

  refusedCount(code: number): number {
    return this.refusals.get(code) ?? 0
  }

  /** Counts one refusal (a close, a denial, a dropped state) by the limit `name`. */
  limitHit(name: LimitName): void {
    this.limitHits.set(name, this.hits(name) + 1)
  }

  hits(name: LimitName): number {
    return this.limitHits.get(name) ?? 0
  }

  /** Counts one request of the HTTP API: `route` as `PUT /state/:key`, a fixed set (never a path a client picks). */
  httpRequest(route: string, status: number): void {
    const key = `${route}\u0000${status}`
    this.httpRequests.set(key, (this.httpRequests.get(key) ?? 0) + 1)
  }

  httpRequestCount(route: string, status: number): number {
    return this.httpRequests.get(`${route}\u0000${status}`) ?? 0
  }

  override render(gauges: Gauges): string {
    let out = super.render(gauges)
    out += '# HELP yss_refused_total Connections refused before joining a room, by close code.\n# TYPE yss_refused_total counter\n'
    for (const [code, n] of [...this.refusals].sort(([a], [b]) => a - b)) out += `yss_refused_total{code="${code}"} ${n}\n`
    out +=
      '# HELP yss_limit_hits_total Refusals by an abuse limit (closes, denials, dropped states).\n# TYPE yss_limit_hits_total counter\n'
    for (const name of LIMIT_NAMES) out += `yss_limit_hits_total{limit="${limitLabel(name)}"} ${this.hits(name)}\n`
    out += '# HELP yss_http_requests_total Requests of the HTTP API, by route and status.\n# TYPE yss_http_requests_total counter\n'
    for (const [key, n] of [...this.httpRequests].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const [route, status] = key.split('\u0000')
      out += `yss_http_requests_total{route="${route}",status="${status}"} ${n}\n`
    }
    return out
  }
}
