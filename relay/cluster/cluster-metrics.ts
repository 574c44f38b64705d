/**
 * The counters of a relay's cluster parts, rendered after the relay's own on `GET /metrics`
 * (prefix `yss_cluster_`), with gauges for what the relay sees of Redis and PostgreSQL.
 *
 * @example
 *   const m = new ClusterMetrics()
 *   m.inc('appends_total')
 *   m.render({ redis_up: 1, postgres_up: 1, rooms_streamed: 3 })
 */
import { MetricTable } from '../metric-table.js'

const COUNTERS = {
  appends_total: 'Batches of updates appended to room streams.',
  entries_read_total: "Stream entries read (this relay's and other relays').",
  lock_scripts_total: 'Lease scripts run in Redis (acquire, release, commit, poll).',
  commits_stored_total: 'Lock commits checked and stored in one step.',
  commits_denied_total: 'Lock commits refused by the shared lease table.',
  compactions_total: 'Rooms compacted into PostgreSQL by this relay.',
  compaction_trims_total: 'Compaction jobs that only trimmed a stream past its grace (PostgreSQL had every update).',
  compaction_failures_total: 'Compactions that failed (retried later).',
  redis_errors_total: 'Redis calls that failed.',
  presence_messages_total: 'Presence messages received from other relays.',
  liveness_lost_total: 'Times this relay found its liveness key expired and reset its sessions.'
} as const

export type ClusterCounter = keyof typeof COUNTERS

const GAUGES = {
  redis_up: 'Whether Redis answers (1) or not (0).',
  postgres_up: 'Whether PostgreSQL answers (1) or not (0).',
  rooms_streamed: 'Rooms whose stream this relay reads.'
} as const

export class ClusterMetrics extends MetricTable<ClusterCounter, keyof typeof GAUGES> {
  constructor() {
    super('yss_cluster_', COUNTERS, GAUGES)
  }
}
