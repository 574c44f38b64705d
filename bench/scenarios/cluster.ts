/**
 * Scenario 8, several relays (`--redis` and `--postgres`): the cost of sharing rooms through
 * Redis, each figure next to the one-relay figure of the same run.
 * - Fan-out: one writer on the first relay, R readers spread over one relay alone (its embedded
 *   store in memory), one relay in a cluster, and three relays of a cluster.
 * - Locked increments: N sessions spread over three relays vs the same N on one relay alone.
 * - Exactness at full size: P processes spread over three relays, M locked increments each.
 * The bench starts its own redis-server (append-only file, fsync always) and database.
 */
import { int, reps } from '../lib/config.js'
import { launchRelay, type LaunchedRelay } from '../lib/relay.js'
import { openReaders, type ReaderGroup } from '../lib/readers.js'
import { RawClient } from '../lib/raw-client.js'
import { WRITER, writerUpdates } from '../lib/fanout.js'
import { median, percentile } from '../lib/stats.js'
import { num, type Scenario, type Table } from '../lib/report.js'
import { session } from '../../test/support/helpers.js'
import { pgDatabase, startRedis } from '../../test/support/cluster-services.js'
import { race, worker } from '../../test/support/lock-workers.js'
import type { ServerState } from '../../client/index.js'

interface Setup {
  label: string
  relays: number
  cluster: boolean
}

const SETUPS: Setup[] = [
  { label: 'one relay alone', relays: 1, cluster: false },
  { label: 'cluster, 1 relay', relays: 1, cluster: true },
  { label: 'cluster, 3 relays', relays: 3, cluster: true }
]

const launch = async (setup: Setup, shared: { redis: string; postgres: string }): Promise<LaunchedRelay[]> =>
  Promise.all(Array.from({ length: setup.relays }, () => launchRelay(setup.cluster ? { system: 'ours', ...shared } : { system: 'ours' })))

const fanout = async (setup: Setup, shared: { redis: string; postgres: string }, readers: number, updates: number, room: string) => {
  const relays = await launch(setup, shared)
  const groups: ReaderGroup[] = []
  let writer: RawClient | null = null
  try {
    for (let i = 0; i < relays.length; i++) {
      const count = Math.floor(readers / relays.length) + (i < readers % relays.length ? 1 : 0)
      groups.push(await openReaders('ours', relays[i]!.url, room, count, WRITER, updates))
    }
    writer = await RawClient.open('y-websocket', relays[0]!.url, room)
    const frames = writerUpdates(updates).map((u) => writer!.updateFrame(u))
    await new Promise((r) => setTimeout(r, 300)) // the readers' handshakes settle before the clock starts
    const sentAt = new Float64Array(updates)
    const start = performance.now()
    for (let i = 0; i < updates; i++) {
      sentAt[i] = performance.now()
      writer.send(frames[i]!)
    }
    const ends = await Promise.all(groups.map((g) => g.until(updates, 180_000)))
    const latency = Array.from({ length: updates }, (_, i) => Math.max(...groups.map((g) => g.lastAt[i]!)) - sentAt[i]!)
    const seconds = (Math.max(...ends) - start) / 1000
    return { updatesPerSec: updates / seconds, p50: percentile(latency, 50), p99: percentile(latency, 99) }
  } finally {
    writer?.close()
    for (const g of groups) g.close()
    await Promise.all(relays.map((r) => r.stop()))
  }
}

/** Locked increments of "count" by `s` until `deadline` (performance.now()); how many resolved. */
const incrementUntil = async (s: ServerState, deadline: number): Promise<number> => {
  let n = 0
  for (; performance.now() < deadline; n++) await s.lock('count', (st: Record<string, any>) => { st.count = ((st.count as number | undefined) ?? 0) + 1 })
  return n
}

const locked = async (setup: Setup, shared: { redis: string; postgres: string }, sessions: number, seconds: number, room: string) => {
  const relays = await launch(setup, shared)
  const open: ServerState[] = []
  try {
    for (let i = 0; i < sessions; i++) open.push(await session(relays[i % relays.length]!.url, room))
    const t0 = performance.now()
    const counts = await Promise.all(open.map((s) => incrementUntil(s, t0 + seconds * 1000)))
    const elapsed = (performance.now() - t0) / 1000
    const expected = counts.reduce((a, b) => a + b, 0)
    const checker = await session(relays[relays.length - 1]!.url, room)
    open.push(checker)
    return { perSec: expected / elapsed, exact: checker.get('count') === expected }
  } finally {
    for (const s of open) s.close()
    await Promise.all(relays.map((r) => r.stop()))
  }
}

export const cluster: Scenario = {
  name: 'cluster',
  title: '8. Several relays (Redis and PostgreSQL)',
  method: 'Relays of ours, each in its own process, sharing rooms through a redis-server of the bench\'s own (append-only file, ' +
    '`appendfsync always`, so every append is fsynced before it is acknowledged) and a PostgreSQL database of its own. ' +
    'Fan-out: one raw writer on the first relay sends U small map sets back to back; R raw readers are spread round-robin over the relays; ' +
    'the clock stops when every reader holds the last update (latency: send → last reader). Locked increments: N sessions of our client, ' +
    'spread round-robin over the relays, loop `lock("count", …)` for a fixed time; a fresh session checks the count. ' +
    '"One relay alone" is the same relay without Redis (rooms in memory), measured in the same run. Median over the repeats.',
  async run() {
    const readers = int('BENCH_CLUSTER_READERS', 60, 30)
    const updates = int('BENCH_CLUSTER_UPDATES', 2000, 300)
    const sessions = int('BENCH_CLUSTER_SESSIONS', 8, 8)
    const seconds = int('BENCH_CLUSTER_LOCK_SECONDS', 3, 2)
    const processes = int('BENCH_CLUSTER_PROCESSES', 8, 8)
    const perProcess = int('BENCH_CLUSTER_INCREMENTS', 250, 25)
    const [redis, db] = await Promise.all([startRedis(), pgDatabase()])
    const shared = { redis: redis.url, postgres: db.url }
    try {
      const fanRows: string[][] = []
      const lockRows: string[][] = []
      let room = 0
      for (const setup of SETUPS) {
        const f = []
        for (let r = 0; r < reps(); r++) {
          f.push(await fanout(setup, shared, readers, updates, `fan-${room++}`))
          process.stderr.write(`  cluster fanout ${setup.label} #${r + 1}\n`)
        }
        fanRows.push([setup.label, num(median(f.map((x) => x.updatesPerSec))), num(median(f.map((x) => x.p50))), num(median(f.map((x) => x.p99)))])
        if (setup.label === 'cluster, 1 relay') continue // locks: one relay alone vs three in a cluster
        const l = []
        for (let r = 0; r < reps(); r++) {
          l.push(await locked(setup, shared, sessions, seconds, `lock-${room++}`))
          process.stderr.write(`  cluster locks ${setup.label} #${r + 1}\n`)
        }
        lockRows.push([setup.label, num(median(l.map((x) => x.perSec))), l.every((x) => x.exact) ? 'yes' : '**no**'])
      }
      // The core's exactness across three relays, at full size: separate processes.
      const relays = await launch(SETUPS[2]!, shared)
      let exactRow: string[]
      try {
        const t0 = performance.now()
        const workers = Array.from({ length: processes }, (_, i) => worker(relays[i % 3]!.url, 'exact-full', 'inc', perProcess))
        const results = await race(workers, 600_000)
        const elapsed = (performance.now() - t0) / 1000
        const checker = await session(relays[1]!.url, 'exact-full')
        const count = checker.get('count') as number
        checker.close()
        const resolved = results.reduce((s, r) => s + r.done, 0)
        exactRow = [`${processes} × ${perProcess}`, String(count), count === processes * perProcess && resolved === count ? 'yes' : '**no**', num(elapsed)]
      } finally {
        await Promise.all(relays.map((r) => r.stop()))
      }
      const tables: Table[] = [
        { title: `Fan-out burst through Redis, R = ${readers} readers, U = ${updates} updates (median of ${reps()})`, columns: ['setup', 'updates/s', 'p50 ms', 'p99 ms'], rows: fanRows },
        { title: `Locked increments, ${sessions} sessions for ${seconds} s (median of ${reps()})`, columns: ['setup', 'locked increments/s', 'final count exact'], rows: lockRows },
        { title: 'Exactness across three relays: processes × locked increments each', columns: ['processes × increments', 'final count', 'exact', 'seconds (incl. process start)'], rows: [exactRow] }
      ]
      return {
        tables,
        targets: [],
        notes: ['Every relay, the bench\'s readers and sessions, redis-server and PostgreSQL share the same 2 cores.'],
        headlines: [
          { figure: 'Cluster: fan-out updates/s, 3 relays vs one alone', ours: `${fanRows[2]![1]}/s vs ${fanRows[0]![1]}/s` },
          { figure: 'Cluster: locked increments/s, 8 sessions over 3 relays vs one alone', ours: `${lockRows[1]?.[1]}/s vs ${lockRows[0]?.[1]}/s` }
        ]
      }
    } finally {
      await redis.remove()
      await db.drop()
    }
  }
}
