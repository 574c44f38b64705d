/**
 * Scenario 8, several relays (`--redis` and `--postgres`): the cost of sharing rooms through
 * Redis, each figure next to the one-relay figure of the same run.
 * - Fan-out: one writer on the first relay, R readers spread over one relay alone (its embedded
 *   store in memory), one relay in a cluster, and three relays of a cluster.
 * - Locked increments: N sessions spread over three relays vs the same N on one relay alone.
 * - Exactness at full size: P processes spread over three relays, M locked increments each.
 * - Rooms at scale: one relay holding K rooms (each loaded by a raw client, then left without
 *   one), idle: Redis's CPU, and a quiet room's echo, beside one relay alone holding the same rooms.
 * `BENCH_CLUSTER_PARTS` (fanout, locks, exact, rooms) runs some of them only.
 * The bench starts its own redis-server (append-only file, fsync always) and database.
 */
import { int, names, reps } from '../lib/config.js'
import { launchRelay, type LaunchedRelay } from '../lib/relay.js'
import { openReaders, type ReaderGroup } from '../lib/readers.js'
import { RawClient } from '../lib/raw-client.js'
import { procCpuUs } from '../lib/children.js'
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
  for (; performance.now() < deadline; n++)
    await s.lock('count', (st: Record<string, any>) => {
      st.count = ((st.count as number | undefined) ?? 0) + 1
    })
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

/**
 * One relay holding `rooms` rooms, left idle for `idleSeconds`: the CPU redis-server and the relay
 * spend meanwhile (percent of one core), then `echoes` writes in one more room, one at a time,
 * each timed from send to its echo back to the writer. A process may open 20,000 files here, so
 * the rooms are loaded by raw clients in waves of `WAVE`, each closed once synced: the relay keeps
 * a room loaded for an hour after its last connection.
 */
const WAVE = 5_000
const manyRooms = async (
  setup: Setup,
  shared: { redis: string; postgres: string },
  redisPid: number,
  rooms: number,
  idleSeconds: number,
  echoes: number,
  tag: string
) => {
  const relay = await launchRelay(
    setup.cluster ? { system: 'ours', ...shared, idleUnloadMs: 3_600_000 } : { system: 'ours', idleUnloadMs: 3_600_000 }
  )
  let writer: RawClient | null = null
  try {
    const t0 = performance.now()
    for (let from = 0; from < rooms; from += WAVE) {
      // At most 50 handshakes at a time, each given 2 minutes: the machine is shared, and a load of thousands is slow.
      const wave: RawClient[] = []
      let next = from
      const end = Math.min(rooms, from + WAVE)
      await Promise.all(
        Array.from({ length: 50 }, async () => {
          while (next < end) {
            const i = next++
            wave.push(await RawClient.open('y-websocket', relay.url, `${tag}-${i}`, 120_000))
          }
        })
      )
      for (const c of wave) c.close()
    }
    const openSeconds = (performance.now() - t0) / 1000
    writer = await RawClient.open('y-websocket', relay.url, `${tag}-echo`)
    await new Promise((r) => setTimeout(r, 2_000)) // the loads' last Redis and PostgreSQL calls, and the closes, settle before the idle clock starts
    const redis0 = procCpuUs(redisPid)
    const relay0 = procCpuUs(relay.pid)
    const i0 = performance.now()
    await new Promise((r) => setTimeout(r, idleSeconds * 1000))
    const idleUs = (performance.now() - i0) * 1000
    const redisIdle = (100 * (procCpuUs(redisPid) - redis0)) / idleUs
    const relayIdle = (100 * (procCpuUs(relay.pid) - relay0)) / idleUs
    const frames = writerUpdates(echoes).map((u) => writer!.updateFrame(u))
    const latency: number[] = []
    for (const frame of frames) {
      const echoed = new Promise<void>((resolve) => {
        writer!.onUpdate = () => resolve()
      })
      const at = performance.now()
      writer.send(frame)
      await echoed
      latency.push(performance.now() - at)
      await new Promise((r) => setTimeout(r, 20)) // a quiet room: one write at a time, apart
    }
    return { openSeconds, redisIdle, relayIdle, p50: percentile(latency, 50), p99: percentile(latency, 99) }
  } finally {
    writer?.close()
    await relay.stop()
  }
}

const PARTS = ['fanout', 'locks', 'exact', 'rooms'] as const

export const cluster: Scenario = {
  name: 'cluster',
  title: '8. Several relays (Redis and PostgreSQL)',
  method:
    "Relays of ours, each in its own process, sharing rooms through a redis-server of the bench's own (append-only file, " +
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
    const manyRoomCount = int('BENCH_CLUSTER_ROOMS', 20_000, 1_000)
    const idleSeconds = int('BENCH_CLUSTER_IDLE_SECONDS', 10, 3)
    const echoes = int('BENCH_CLUSTER_ECHOES', 100, 20)
    const parts = new Set(names('BENCH_CLUSTER_PARTS', PARTS))
    const [redis, db] = await Promise.all([startRedis(), pgDatabase()])
    const shared = { redis: redis.url, postgres: db.url }
    try {
      const fanRows: string[][] = []
      const lockRows: string[][] = []
      const lockRates: number[] = []
      let room = 0
      for (const setup of SETUPS) {
        if (parts.has('fanout')) {
          const f = []
          for (let r = 0; r < reps(); r++) {
            f.push(await fanout(setup, shared, readers, updates, `fan-${room++}`))
            process.stderr.write(`  cluster fanout ${setup.label} #${r + 1}\n`)
          }
          fanRows.push([
            setup.label,
            num(median(f.map((x) => x.updatesPerSec))),
            num(median(f.map((x) => x.p50))),
            num(median(f.map((x) => x.p99)))
          ])
        }
        if (setup.label === 'cluster, 1 relay' || !parts.has('locks')) continue // locks: one relay alone vs three in a cluster
        const l = []
        for (let r = 0; r < reps(); r++) {
          l.push(await locked(setup, shared, sessions, seconds, `lock-${room++}`))
          process.stderr.write(`  cluster locks ${setup.label} #${r + 1}\n`)
        }
        const rate = median(l.map((x) => x.perSec))
        lockRates.push(rate)
        lockRows.push([
          setup.label,
          num(rate),
          lockRates.length > 1 ? `${(rate / lockRates[0]!).toFixed(2)}×` : '1×',
          l.every((x) => x.exact) ? 'yes' : '**no**'
        ])
      }
      // The core's exactness across three relays, at full size: separate processes.
      let exactRow: string[] | null = null
      if (parts.has('exact')) {
        const relays = await launch(SETUPS[2]!, shared)
        try {
          const t0 = performance.now()
          const workers = Array.from({ length: processes }, (_, i) => worker(relays[i % 3]!.url, 'exact-full', 'inc', perProcess))
          const results = await race(workers, 600_000)
          const elapsed = (performance.now() - t0) / 1000
          const checker = await session(relays[1]!.url, 'exact-full')
          const count = checker.get('count') as number
          checker.close()
          const resolved = results.reduce((s, r) => s + r.done, 0)
          exactRow = [
            `${processes} × ${perProcess}`,
            String(count),
            count === processes * perProcess && resolved === count ? 'yes' : '**no**',
            num(elapsed)
          ]
        } finally {
          await Promise.all(relays.map((r) => r.stop()))
        }
      }
      // Rooms at scale: one relay alone, then one relay of a cluster, each holding the same number of rooms.
      const roomRows: string[][] = []
      const echoP50: number[] = []
      if (parts.has('rooms')) {
        for (const setup of [SETUPS[0]!, SETUPS[1]!]) {
          const m = await manyRooms(setup, shared, redis.pid, manyRoomCount, idleSeconds, echoes, `many-${room++}`)
          process.stderr.write(`  cluster rooms ${setup.label}: opened in ${m.openSeconds.toFixed(1)} s\n`)
          echoP50.push(m.p50)
          roomRows.push([
            setup.label,
            setup.cluster ? m.redisIdle.toFixed(1) : `(${m.redisIdle.toFixed(1)}, unused)`,
            m.relayIdle.toFixed(1),
            num(m.p50),
            num(m.p99),
            echoP50.length > 1 ? `${(m.p50 / echoP50[0]!).toFixed(2)}×` : '1×',
            num(m.openSeconds)
          ])
        }
      }
      const tables: Table[] = [
        ...(fanRows.length
          ? [
              {
                title: `Fan-out burst through Redis, R = ${readers} readers, U = ${updates} updates (median of ${reps()})`,
                columns: ['setup', 'updates/s', 'p50 ms', 'p99 ms'],
                rows: fanRows
              }
            ]
          : []),
        ...(lockRows.length
          ? [
              {
                title: `Locked increments, ${sessions} sessions for ${seconds} s (median of ${reps()}; ratio to one relay alone in this run)`,
                columns: ['setup', 'locked increments/s', 'ratio', 'final count exact'],
                rows: lockRows
              }
            ]
          : []),
        ...(exactRow
          ? [
              {
                title: 'Exactness across three relays: processes × locked increments each',
                columns: ['processes × increments', 'final count', 'exact', 'seconds (incl. process start)'],
                rows: [exactRow]
              }
            ]
          : []),
        ...(roomRows.length
          ? [
              {
                title: `${manyRoomCount} rooms held by one relay (loaded by raw clients, kept without one), idle for ${idleSeconds} s, then ${echoes} writes one at a time in one more room`,
                columns: [
                  'setup',
                  'redis-server CPU idle, % of a core',
                  'relay CPU idle, %',
                  'echo p50 ms',
                  'echo p99 ms',
                  'p50 ratio',
                  'seconds to open the rooms'
                ],
                rows: roomRows
              }
            ]
          : [])
      ]
      return {
        tables,
        targets: [],
        notes: ["Every relay, the bench's readers and sessions, redis-server and PostgreSQL share the same 2 cores."],
        headlines: [
          ...(fanRows.length === 3
            ? [{ figure: 'Cluster: fan-out updates/s, 3 relays vs one alone', ours: `${fanRows[2]![1]}/s vs ${fanRows[0]![1]}/s` }]
            : []),
          ...(lockRows.length === 2
            ? [
                {
                  figure: 'Cluster: locked increments/s, 8 sessions over 3 relays vs one alone',
                  ours: `${lockRows[1]![1]}/s vs ${lockRows[0]![1]}/s (${lockRows[1]![2]})`
                }
              ]
            : []),
          ...(roomRows.length === 2
            ? [
                {
                  figure: `Cluster: ${manyRoomCount} rooms on a relay, idle Redis CPU and quiet-room echo p50 vs one alone`,
                  ours: `${roomRows[1]![1]}%, ${roomRows[1]![3]} ms vs ${roomRows[0]![3]} ms (${roomRows[1]![5]})`
                }
              ]
            : [])
        ]
      }
    } finally {
      await redis.remove()
      await db.drop()
    }
  }
}
