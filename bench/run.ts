/**
 * `npm run bench` runs every scenario and writes bench/RESULTS.md, with a chart of each
 * comparison beside it in bench/charts/; `npm run bench -- <scenario> [...]` runs those only and
 * prints their tables (`--out=DIR`: writes DIR/RESULTS.md and DIR/charts/ for them too).
 * Sizes: `--quick`, `--reps=N` and the `BENCH_*` variables (see lib/config.ts).
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { positional, quick, reps, string } from './lib/config.js'
import { chartSvg } from './lib/chart.js'
import { machineLines, sampleLoad } from './lib/machine.js'
import { headlineCharts, headlinesTable, markdownTable, targetsTable, textTable, type Scenario, type ScenarioResult } from './lib/report.js'
import { fanout } from './scenarios/fanout.js'
import { paced } from './scenarios/paced.js'
import { connections } from './scenarios/connections.js'
import { locks } from './scenarios/locks.js'
import { chat } from './scenarios/chat.js'
import { render } from './scenarios/render.js'
import { coldLoad } from './scenarios/cold-load.js'
import { cluster } from './scenarios/cluster.js'
import { rooms } from './scenarios/rooms.js'

const SCENARIOS: Scenario[] = [fanout, paced, connections, locks, chat, render, coldLoad, cluster, rooms]

const names = positional()
// The amplification table runs alone, against our relay only (bench/abuse-table.ts).
if (names[0] === 'abuse') {
  process.argv.splice(2, process.argv.length, ...process.argv.slice(process.argv.indexOf('abuse')))
  await import('./abuse.js')
}
const unknown = names.filter((n) => !SCENARIOS.some((s) => s.name === n))
if (unknown.length > 0) {
  console.error(`unknown scenario ${unknown.join(', ')}; choose from: ${SCENARIOS.map((s) => s.name).join(', ')}`)
  process.exit(2)
}
const chosen = names.length === 0 ? SCENARIOS : SCENARIOS.filter((s) => names.includes(s.name))
const results: Array<{ scenario: Scenario; result: ScenarioResult | null; error?: string; seconds: number }> = []
const started = performance.now()
const head = machineLines()
const load = sampleLoad()
console.log(head.join('\n'))

for (const scenario of chosen) {
  console.log(`\n== ${scenario.title} ==`)
  const t0 = performance.now()
  try {
    const result = await scenario.run()
    const seconds = (performance.now() - t0) / 1000
    results.push({ scenario, result, seconds })
    for (const t of [...result.tables, ...(result.targets.length ? [targetsTable(result.targets)] : [])]) console.log(`\n${textTable(t)}`)
    for (const n of result.notes) console.log(`note: ${n}`)
    console.log(`(${seconds.toFixed(0)} s)`)
  } catch (err) {
    const seconds = (performance.now() - t0) / 1000
    console.error(`${scenario.name} failed:`, err)
    results.push({ scenario, result: null, error: String((err as Error).stack ?? err), seconds })
  }
}

const total = (performance.now() - started) / 1000
head.push(load.line())
const headlines = results.flatMap((r) => r.result?.headlines ?? [])
if (headlines.length > 0) console.log(`\n${textTable(headlinesTable(headlines))}`)
console.log(`\nbench: ${total.toFixed(0)} s`)

// Only a whole run (not --quick) replaces bench/RESULTS.md: it is the record of one complete run.
// `--out=DIR` writes any run's results elsewhere, to look at them.
const outDir = string('BENCH_OUT') ?? (names.length === 0 && !quick ? fileURLToPath(new URL('.', import.meta.url)) : undefined)
if (outDir !== undefined) {
  const chartsDir = join(outDir, 'charts')
  mkdirSync(chartsDir, { recursive: true })
  for (const f of readdirSync(chartsDir)) if (f.endsWith('.svg')) rmSync(join(chartsDir, f))
  const chartLinks = (result: ScenarioResult): string[] =>
    (result.charts ?? []).flatMap((c) => {
      writeFileSync(join(chartsDir, `${c.id}.svg`), chartSvg(c))
      return [`![${c.title}](charts/${c.id}.svg)`, '']
    })
  const allTargets = results.flatMap((r) => r.result?.targets ?? [])
  const summaryCharts = headlineCharts(headlines)
  const allCharts = [...summaryCharts, ...results.flatMap((r) => r.result?.charts ?? [])]
  const md = [
    '# Benchmarks',
    '',
    `Written by \`npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}\` (bench/run.ts) from one ${names.length === 0 && !quick ? 'complete ' : ''}run. Every relay ran alone in a child process on 127.0.0.1;`,
    `readers and writers ran in the bench process. Each figure is the median of ${reps()} repeats, the three systems alternating`,
    'in a rotating order; a ratio above 1× means ours is better (higher throughput, or lower latency, memory or bytes).',
    '',
    ...head,
    `- Whole run: ${total.toFixed(0)} s`,
    '',
    '## Summary',
    '',
    markdownTable(headlinesTable(headlines)),
    '',
    ...chartLinks({ tables: [], targets: [], notes: [], charts: summaryCharts }),
    markdownTable(targetsTable(allTargets)),
    '',
    ...(allCharts.length > 0
      ? [`Charts (ours and each peer, the ratio marked): ${allCharts.map((c) => `[${c.title}](charts/${c.id}.svg)`).join(' · ')}`, '']
      : []),
    ...results.flatMap(({ scenario, result, error, seconds }) => [
      `## ${scenario.title}`,
      '',
      scenario.method,
      '',
      ...(result
        ? [
            ...result.tables.flatMap((t) => [markdownTable(t), '']),
            ...chartLinks(result),
            ...result.notes.map((n) => `- ${n}`),
            ...(result.notes.length ? [''] : [])
          ]
        : ['**Failed:**', '', '```', error ?? '', '```', '']),
      `_(${seconds.toFixed(0)} s)_`,
      ''
    ])
  ].join('\n')
  const path = join(outDir, 'RESULTS.md')
  writeFileSync(path, md)
  console.log(`wrote ${path}`)
}
// Sockets of a failed scenario may still hold the loop open; the children die with us.
process.exit(results.some((r) => !r.result) ? 1 : 0)
