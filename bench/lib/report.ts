/**
 * What a scenario reports: tables (printed as it finishes, and written into RESULTS.md), the
 * targets of issue 6 with whether each is met, notes on how to read the figures, and charts of
 * its comparisons (written beside RESULTS.md as SVG files, see chart.ts).
 */
export interface Table {
  title: string
  columns: string[]
  rows: string[][]
}

export interface Target {
  what: string
  goal: string
  value: string
  met: boolean
}

/** One key figure of a scenario, with ours against each peer, for the summary of RESULTS.md. */
export interface Headline {
  figure: string
  ours: string
  reference?: string
  hocuspocus?: string
  /** Ours against the reference relay, as {@link ratio} writes it (above 1× = ours better). */
  vsReference?: string
  vsHocuspocus?: string
  /** The figures as numbers, for the summary charts (see {@link headline}). */
  values?: { ours: number; reference: number; hocuspocus: number; unit: string; lowerIsBetter: boolean }
}

export interface ScenarioResult {
  tables: Table[]
  targets: Target[]
  notes: string[]
  headlines?: Headline[]
  /** Each comparison of ours with its peers as a chart. */
  charts?: Chart[]
}

export interface Scenario {
  /** The name on the command line: `npm run bench -- <name>`. */
  name: string
  title: string
  /** What is measured, and how, in a sentence or two (for RESULTS.md). */
  method: string
  run(): Promise<ScenarioResult>
}

export interface Bar {
  label: string
  value: number
  /** Ours: drawn in the accent colour; peers in greys. */
  ours?: boolean
}

export interface ChartGroup {
  /** The figure the bars compare, such as "1 process" or "quiet-room p50". */
  label: string
  bars: Bar[]
  /** Ours against each peer, as {@link ratio} writes them ("0.68× the mutex"): marked beside the group. */
  ratios: string[]
  /** The unit of this group's values, if not the chart's. */
  unit?: string
}

/** A comparison drawn as horizontal bars, grouped by figure (lib/chart.ts writes it as SVG). */
export interface Chart {
  /** The file name, without `.svg`: letters, digits and dashes. */
  id: string
  title: string
  /** Follows each value: " ms", "/s". */
  unit: string
  /** Latency, CPU: shorter bars are better; said under the title. */
  lowerIsBetter: boolean
  groups: ChartGroup[]
}

/** A number with a sensible count of digits for a table. */
export const num = (v: number, digits?: number): string => {
  if (!Number.isFinite(v)) return '—'
  const d = digits ?? (Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2)
  return v.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d })
}

/** `ours / peer` as "2.31×"; `lowerIsBetter` flips it, so that above 1× always means ours is better. */
export const ratio = (ours: number, peer: number, lowerIsBetter = false): string => {
  const r = lowerIsBetter ? peer / ours : ours / peer
  return Number.isFinite(r) ? `${r.toFixed(2)}×` : '—'
}

const pad = (s: string, n: number, right: boolean): string => (right ? s.padStart(n) : s.padEnd(n))
const numeric = (s: string): boolean => /^[-+]?[\d,.]+(×| ms| KB| MB| B|\/s|%)?$/.test(s) || s === '—'

/** A table as aligned text for the terminal. */
export const textTable = (t: Table): string => {
  const widths = t.columns.map((c, i) => Math.max(c.length, ...t.rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]) => cells.map((c, i) => pad(c, widths[i]!, i > 0 && numeric(c))).join('  ')
  return [`${t.title}`, line(t.columns), widths.map((w) => '-'.repeat(w)).join('  '), ...t.rows.map(line)].join('\n')
}

/** A table as Markdown. */
export const markdownTable = (t: Table): string => {
  const row = (cells: string[]) => `| ${cells.join(' | ')} |`
  const align = t.columns.map((_, i) => (i === 0 ? '---' : '---:'))
  return [`**${t.title}**`, '', row(t.columns), row(align), ...t.rows.map(row)].join('\n')
}

export const headlinesTable = (headlines: Headline[]): Table => ({
  title: 'Headline figures (ratio above 1× = ours better)',
  columns: ['figure', 'ours', 'y-websocket-server', 'Hocuspocus', 'ours vs y-websocket-server', 'ours vs Hocuspocus'],
  rows: headlines.map((h) => [h.figure, h.ours, h.reference ?? '', h.hocuspocus ?? '', h.vsReference ?? '', h.vsHocuspocus ?? ''])
})

/**
 * A headline comparing one figure of the three systems; `unit` follows each value, and
 * `lowerIsBetter` for latency, memory and time.
 */
export const headline = (
  figure: string,
  v: Record<'ours' | 'reference' | 'hocuspocus', number>,
  unit: string,
  lowerIsBetter = false
): Headline => ({
  figure,
  ours: `${num(v.ours)}${unit}`,
  reference: `${num(v.reference)}${unit}`,
  hocuspocus: `${num(v.hocuspocus)}${unit}`,
  vsReference: ratio(v.ours, v.reference, lowerIsBetter),
  vsHocuspocus: ratio(v.ours, v.hocuspocus, lowerIsBetter),
  values: { ...v, unit, lowerIsBetter }
})

/**
 * The headlines that compare ours with both peers as two charts, figures where more is better
 * and figures where less is.
 */
export const headlineCharts = (headlines: Headline[]): Chart[] =>
  ([false, true] as const).flatMap((lowerIsBetter) => {
    const groups: ChartGroup[] = headlines
      .filter((h) => h.values?.lowerIsBetter === lowerIsBetter)
      .map((h) => {
        const v = h.values!
        return {
          label: h.figure,
          unit: v.unit,
          bars: [
            { label: 'y-server-state', value: v.ours, ours: true },
            { label: 'y-websocket-server', value: v.reference },
            { label: 'Hocuspocus', value: v.hocuspocus }
          ],
          ratios: [`${h.vsReference} vs y-websocket-server`, `${h.vsHocuspocus} vs Hocuspocus`]
        }
      })
    return groups.length === 0
      ? []
      : [
          {
            id: lowerIsBetter ? 'summary-lower-is-better' : 'summary-higher-is-better',
            title: `Headline figures against both peers: ${lowerIsBetter ? 'latency, memory, time' : 'throughput'}`,
            unit: '',
            lowerIsBetter,
            groups
          }
        ]
  })

export const targetsTable = (targets: Target[]): Table => ({
  title: 'Targets',
  columns: ['target', 'goal', 'measured', 'met'],
  rows: targets.map((t) => [t.what, t.goal, t.value, t.met ? 'yes' : '**no**'])
})
