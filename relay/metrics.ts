/**
 * The relay's counters and gauges, rendered as Prometheus text for `GET /metrics`.
 *
 * @example
 *   const m = new Metrics()
 *   m.inc('messages_in_total')
 *   m.render({ connections: 3 }) // "# TYPE yss_messages_in_total counter\nyss_messages_in_total 1\n…"
 */
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
  locks_expired_total: 'Lock leases that outlived the lease time.'
} as const

export type Counter = keyof typeof COUNTERS

const GAUGES = {
  connections: 'Open client connections.',
  rooms_loaded: 'Rooms held in memory.',
  locks_open: 'Lock requests held or waiting, in the rooms held in memory.'
} as const

export type Gauges = Record<keyof typeof GAUGES, number>

export class Metrics {
  private readonly values = new Map<Counter, number>()

  inc(name: Counter, by = 1): void {
    this.values.set(name, (this.values.get(name) ?? 0) + by)
  }

  get(name: Counter): number {
    return this.values.get(name) ?? 0
  }

  render(gauges: Gauges): string {
    let out = ''
    const line = (name: string, help: string, type: string, value: number) => {
      out += `# HELP yss_${name} ${help}\n# TYPE yss_${name} ${type}\nyss_${name} ${value}\n`
    }
    for (const [name, help] of Object.entries(GAUGES)) line(name, help, 'gauge', gauges[name as keyof Gauges])
    for (const [name, help] of Object.entries(COUNTERS)) line(name, help, 'counter', this.get(name as Counter))
    return out
  }
}
