/**
 * Scenario 3, connection cost: C idle connections across 100 rooms; the relay's memory per
 * connection, twice: as Node runs by default, and with V8's young generation held at 1 MB.
 *
 * By default V8 grows its new space (8 MB at the start, up to 32 MB) while the connections pour in,
 * and keeps it: a fixed cost, the same for every Node relay, that the first figure spreads over
 * the C connections (about 5 KB each at C = 5000). With `--max-semi-space-size=1` the young
 * generation cannot grow, so the second figure is what one more connection costs.
 */
import { int, ints, reps } from '../lib/config.js'
import { launchRelay } from '../lib/relay.js'
import { compiledPackage } from '../lib/compiled.js'
import { openMany, dialectOf } from '../lib/raw-client.js'
import { alternate, LABEL, mediansOf, pick, SYSTEMS, type System } from '../lib/systems.js'
import { headline, num, ratio, type Headline, type Scenario, type Table, type Target } from '../lib/report.js'

const ROOMS = 100
/** The relay's Node flags for the marginal figure: a young generation that cannot grow. */
const PINNED_NEW_SPACE = ['--max-semi-space-size=1']
/** Today's figure in issue 11 (RSS per idle connection at C = 5000), whose half is the goal. */
const ISSUE_BASELINE_KB = 9.6

interface ConnRun {
  rssPerConnKb: number
  heapPerConnKb: number
  /** Heap plus buffers outside it (ws's socket buffers), per connection. */
  externalPerConnKb: number
  connectSeconds: number
  /** RSS per connection with the young generation held at 1 MB: one more connection's cost. */
  marginalRssPerConnKb: number
  marginalHeapPerConnKb: number
}

const measure = async (system: System, count: number): Promise<ConnRun> => {
  const plain = await measureOnce(system, count, [])
  const pinned = await measureOnce(system, count, PINNED_NEW_SPACE)
  return { ...plain, marginalRssPerConnKb: pinned.rssPerConnKb, marginalHeapPerConnKb: pinned.heapPerConnKb }
}

const measureOnce = async (
  system: System,
  count: number,
  nodeFlags: string[]
): Promise<Omit<ConnRun, 'marginalRssPerConnKb' | 'marginalHeapPerConnKb'>> => {
  const relay = await launchRelay({ system }, nodeFlags)
  try {
    const before = await relay.memory()
    const t0 = performance.now()
    const clients = await openMany(dialectOf(system), relay.url, count, (i) => `room-${i % ROOMS}`, 100)
    const connectSeconds = (performance.now() - t0) / 1000
    try {
      // Let the relay finish what the handshakes started (timers, buffers) before reading it.
      await new Promise((r) => setTimeout(r, 500))
      const after = await relay.memory()
      const kb = (bytes: number) => bytes / count / 1024
      return {
        rssPerConnKb: kb(after.rss - before.rss),
        heapPerConnKb: kb(after.heapUsed - before.heapUsed),
        externalPerConnKb: kb(after.external - before.external),
        connectSeconds
      }
    } finally {
      for (const c of clients) c.close()
    }
  } finally {
    await relay.stop()
  }
}

export const connections: Scenario = {
  name: 'connections',
  title: '3. Connection cost',
  method:
    `C idle raw clients across ${ROOMS} rooms of a fresh relay (each synced: step 1 and step 2 both ways, no awareness; ` +
    "Hocuspocus clients authenticate first). The relay's memory is read in its own process after two full GCs, before and after; " +
    'per connection = the difference / C, so the 100 (empty) rooms are included. Median over the repeats. ' +
    'Each system is measured twice: as Node runs by default (V8 grows its young generation from 8 to up to 32 MB during the ' +
    'burst of connections and keeps it, a fixed cost spread over C), and with `--max-semi-space-size=1` ("1 MB new space"), ' +
    'where that cannot happen: what one more connection costs.',
  async run() {
    const counts = ints('BENCH_CONNECTIONS', [1000, 5000], [200])
    const repeats = int('BENCH_CONN_REPS', Math.min(2, reps()), 1)
    const tables: Table[] = []
    const targets: Target[] = []
    const headlines: Headline[] = []
    for (const count of counts) {
      const runs = await alternate(SYSTEMS, repeats, `connections C=${count}`, (s) => measure(s, count))
      const m = mediansOf<keyof ConnRun>(runs)
      const ours = m.get('ours')!
      tables.push({
        title: `Idle connections, C = ${count} across ${ROOMS} rooms (median of ${repeats})`,
        columns: [
          'system',
          'RSS KB/conn',
          'heap KB/conn',
          'external KB/conn',
          'connect all, s',
          'ours vs this (RSS, >1 = ours smaller)',
          'RSS KB/conn, 1 MB new space',
          'heap KB/conn, 1 MB new space'
        ],
        rows: SYSTEMS.map((s) => {
          const r = m.get(s)!
          return [
            LABEL[s],
            num(r.rssPerConnKb),
            num(r.heapPerConnKb),
            num(r.externalPerConnKb),
            num(r.connectSeconds),
            s === 'ours' ? '' : ratio(ours.rssPerConnKb, r.rssPerConnKb, true),
            num(r.marginalRssPerConnKb),
            num(r.marginalHeapPerConnKb)
          ]
        })
      })
      headlines.push(headline(`Idle connections C=${count}: relay RSS per connection`, pick(m, 'rssPerConnKb'), ' KB', true))
      if (count === Math.max(...counts)) {
        const goal = ISSUE_BASELINE_KB / 2
        targets.push({
          what: `Idle connection memory at C=${count}`,
          goal: `≤ ${num(goal)} KB RSS per connection (half of issue 11's ${num(ISSUE_BASELINE_KB)} KB)`,
          value: `${num(ours.rssPerConnKb)} KB RSS (${num(ours.heapPerConnKb)} KB heap); ${num(ours.marginalRssPerConnKb)} KB RSS with a 1 MB new space`,
          met: ours.rssPerConnKb <= goal
        })
      }
    }
    const notes = [
      compiledPackage() ? 'Our relay runs compiled by tsc, as the package ships it.' : 'Our relay runs from its sources under tsx.'
    ]
    return { tables, targets, notes, headlines }
  }
}
