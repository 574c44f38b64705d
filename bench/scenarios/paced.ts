/**
 * Scenario 2, paced latency: the fan-out rooms, with the writer at a steady rate; latency from
 * each write to the last reader.
 */
import { int, ints, reps } from '../lib/config.js'
import { runFanout, type FanoutRun } from '../lib/fanout.js'
import { alternate, LABEL, mediansOf, pick, SYSTEMS } from '../lib/systems.js'
import { headline, num, ratio, type Headline, type Scenario, type Table, type Target } from '../lib/report.js'

export const paced: Scenario = {
  name: 'paced',
  title: '2. Paced latency',
  method:
    'The rooms of scenario 1, with the writer sending at a steady rate instead of a burst. ' +
    'Latency of an update: writer send → the last of the R readers holds it. p50/p95/p99 within a run, median over the repeats.',
  async run() {
    const rate = int('BENCH_PACED_RATE', 200)
    const updates = int('BENCH_PACED_UPDATES', 600, 200)
    const readerCounts = ints('BENCH_FANOUT_READERS', [50, 500], [50])
    // A p99 of a few hundred samples moves with every pause of a shared machine: more repeats.
    const repeats = int('BENCH_PACED_REPS', Math.max(5, reps()), 1)
    const tables: Table[] = []
    const targets: Target[] = []
    const headlines: Headline[] = []
    for (const readers of readerCounts) {
      const runs = await alternate(SYSTEMS, repeats, `paced R=${readers}`, (s) =>
        runFanout(s, readers, updates, { kind: 'paced', perSecond: rate })
      )
      const m = mediansOf<keyof FanoutRun>(runs)
      const ours = m.get('ours')!
      tables.push({
        title: `Paced latency, R = ${readers} readers, ${rate} updates/s for ${updates} updates (median of ${repeats})`,
        columns: ['system', 'p50 ms', 'p95 ms', 'p99 ms', 'ours vs this (p99, >1 = ours lower)'],
        rows: SYSTEMS.map((s) => {
          const r = m.get(s)!
          return [LABEL[s], num(r.p50), num(r.p95), num(r.p99), s === 'ours' ? '' : ratio(ours.p99, r.p99, true)]
        })
      })
      headlines.push(headline(`Paced ${rate}/s R=${readers}: p99 latency`, pick(m, 'p99'), ' ms', true))
      const ref = m.get('reference')!
      targets.push({
        what: `Paced R=${readers}: p99 vs reference`,
        goal: 'no worse',
        value: `${num(ours.p99)} ms vs ${num(ref.p99)} ms`,
        met: ours.p99 <= ref.p99
      })
    }
    const notes = [
      `At R = 500, ${rate} updates/s is ${(rate * 500).toLocaleString('en-US')} deliveries/s, near what a relay that writes one frame ` +
        'per update per reader sustains here (see scenario 1): latency there measures how fast a backlog grows.'
    ]
    return { tables, targets, notes, headlines }
  }
}
