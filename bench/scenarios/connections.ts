/**
 * Scenario 3, connection cost: C idle connections across 100 rooms; the relay's memory per
 * connection.
 */
import { int, ints, reps } from '../lib/config.js'
import { launchRelay } from '../lib/relay.js'
import { openMany, dialectOf } from '../lib/raw-client.js'
import { alternate, LABEL, mediansOf, pick, SYSTEMS, type System } from '../lib/systems.js'
import { headline, num, ratio, type Headline, type Scenario, type Table, type Target } from '../lib/report.js'

const ROOMS = 100

interface ConnRun {
  rssPerConnKb: number
  heapPerConnKb: number
  /** Heap plus buffers outside it (ws's socket buffers), per connection. */
  externalPerConnKb: number
  connectSeconds: number
}

const measure = async (system: System, count: number): Promise<ConnRun> => {
  const relay = await launchRelay({ system })
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
  method: `C idle raw clients across ${ROOMS} rooms of a fresh relay (each synced: step 1 and step 2 both ways, no awareness; ` +
    'Hocuspocus clients authenticate first). The relay\'s memory is read in its own process after two full GCs, before and after; ' +
    'per connection = the difference / C, so the 100 (empty) rooms are included. Median over the repeats.',
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
        columns: ['system', 'RSS KB/conn', 'heap KB/conn', 'external KB/conn', 'connect all, s', 'ours vs this (RSS, >1 = ours smaller)'],
        rows: SYSTEMS.map((s) => {
          const r = m.get(s)!
          return [LABEL[s], num(r.rssPerConnKb), num(r.heapPerConnKb), num(r.externalPerConnKb), num(r.connectSeconds), s === 'ours' ? '' : ratio(ours.rssPerConnKb, r.rssPerConnKb, true)]
        })
      })
      headlines.push(headline(`Idle connections C=${count}: relay RSS per connection`, pick(m, 'rssPerConnKb'), ' KB', true))
      if (count === Math.max(...counts)) {
        targets.push({
          what: `Idle connection memory at C=${count}`,
          goal: '≤ 20 KB RSS per connection',
          value: `${num(ours.rssPerConnKb)} KB RSS (${num(ours.heapPerConnKb)} KB heap)`,
          met: ours.rssPerConnKb <= 20
        })
      }
    }
    return { tables, targets, notes: [], headlines }
  }
}
