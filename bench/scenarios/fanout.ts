/**
 * Scenario 1, fan-out burst: one writer sends U small map sets as fast as it can to a room with
 * R readers; how soon does every reader hold the last one?
 */
import { int, ints, reps } from '../lib/config.js'
import { runFanout, type FanoutRun } from '../lib/fanout.js'
import { alternate, LABEL, mediansOf, pick, SYSTEMS } from '../lib/systems.js'
import { headline, num, ratio, type Headline, type Scenario, type Table, type Target } from '../lib/report.js'

export const fanout: Scenario = {
  name: 'fanout',
  title: '1. Fan-out burst',
  method:
    'One writer (a raw client sending pre-encoded updates) and R readers in one room of a fresh relay. ' +
    'The writer sends U small map sets back to back; the clock stops when every reader holds the last one. ' +
    "Readers of ours and of the reference relay are raw sockets that read the writer's clock from each update; " +
    'Hocuspocus readers are its provider (a Y.Doc each, no awareness). Latency of an update: writer send → last reader. ' +
    'Figures are medians over the repeats, systems alternating.',
  async run() {
    const updates = int('BENCH_FANOUT_UPDATES', 2000, 300)
    const readerCounts = ints('BENCH_FANOUT_READERS', [50, 500], [50])
    const tables: Table[] = []
    const targets: Target[] = []
    const headlines: Headline[] = []
    for (const readers of readerCounts) {
      const runs = await alternate(SYSTEMS, reps(), `fanout R=${readers}`, (s) => runFanout(s, readers, updates, { kind: 'burst' }))
      const m = mediansOf<keyof FanoutRun>(runs)
      const ours = m.get('ours')!
      tables.push({
        title: `Fan-out burst, R = ${readers} readers, U = ${updates} updates (median of ${reps()})`,
        columns: [
          'system',
          'all delivered, ms',
          'updates/s',
          'deliveries/s',
          'p50 ms',
          'p99 ms',
          'relay RSS MB',
          'ours vs this (updates/s)'
        ],
        rows: SYSTEMS.map((s) => {
          const r = m.get(s)!
          return [
            LABEL[s],
            num(r.totalMs),
            num(r.updatesPerSec),
            num(r.deliveriesPerSec),
            num(r.p50),
            num(r.p99),
            num(r.relayRssMb),
            s === 'ours' ? '' : ratio(ours.updatesPerSec, r.updatesPerSec)
          ]
        })
      })
      headlines.push(headline(`Fan-out burst R=${readers}: updates/s`, pick(m, 'updatesPerSec'), '/s'))
      headlines.push(headline(`Fan-out burst R=${readers}: p99 latency`, pick(m, 'p99'), ' ms', true))
      const ref = m.get('reference')!
      targets.push({
        what: `Fan-out burst R=${readers}: updates/s vs reference`,
        goal: '≥ 2.00×',
        value: `${ratio(ours.updatesPerSec, ref.updatesPerSec)} (${num(ours.updatesPerSec)} vs ${num(ref.updatesPerSec)}/s)`,
        met: ours.updatesPerSec >= 2 * ref.updatesPerSec
      })
    }
    const notes = [
      'Hocuspocus readers are its provider, as the issue asks: each decodes every update into its own Y.Doc in the bench process, ' +
        "work the raw readers of the other two skip, so the load generator may bound Hocuspocus's figures (its relay is not shown to be the limit).",
      'Each relay sends one WebSocket frame per update per reader; "deliveries/s" is updates × readers / time.'
    ]
    return { tables, targets, notes, headlines }
  }
}
