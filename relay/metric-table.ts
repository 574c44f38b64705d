/**
 * A table of named counters and gauges, each with its help text, rendered as Prometheus text
 * under one prefix. The relay's metrics and its cluster parts' metrics are two such tables.
 *
 * @example
 *   const t = new MetricTable('yss_', { hits_total: 'Hits.' }, { open: 'Open things.' })
 *   t.inc('hits_total')
 *   t.render({ open: 2 }) // "# HELP yss_open Open things.\n# TYPE yss_open gauge\nyss_open 2\n…yss_hits_total 1\n"
 */
export class MetricTable<C extends string, G extends string> {
  private readonly values = new Map<C, number>()

  constructor(
    private readonly prefix: string,
    private readonly counters: Readonly<Record<C, string>>,
    private readonly gauges: Readonly<Record<G, string>>
  ) {}

  inc(name: C, by = 1): void {
    this.values.set(name, this.get(name) + by)
  }

  get(name: C): number {
    return this.values.get(name) ?? 0
  }

  /** Every gauge with its value in `gauges`, then every counter, at 0 until counted. */
  render(gauges: Readonly<Record<G, number>>): string {
    let out = ''
    const family = (name: string, help: string, type: string, value: number) => {
      out += `# HELP ${this.prefix}${name} ${help}\n# TYPE ${this.prefix}${name} ${type}\n${this.prefix}${name} ${value}\n`
    }
    for (const name of Object.keys(this.gauges) as G[]) family(name, this.gauges[name], 'gauge', gauges[name])
    for (const name of Object.keys(this.counters) as C[]) family(name, this.counters[name], 'counter', this.get(name))
    return out
  }
}
