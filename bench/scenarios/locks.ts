/**
 * Scenario 4, locks:
 *
 * 1. Locked increments: P processes (each one client, as real clients are) each do M locked
 *    increments of one counter, with our client against our relay, and with the simplest exact
 *    alternative a user would reach for, a FIFO mutex on Redis (BLPOP a token, GET, SET, RPUSH the
 *    token back) against a redis-server of the bench's own; and with the same mutex doing the work
 *    our sessions do, every process seeing every new value (PUBLISH it before RPUSH, a SUBSCRIBE
 *    connection in every process). The final count must be exact, and held by every process.
 * 2. A locking session's memory: a room holding a 10,000-message chat; one process holds a
 *    session of ours that has locked, another a stock y-websocket client; the heap each took.
 */
import { fileURLToPath } from 'node:url'
import { int, ints, names, reps } from '../lib/config.js'
import { launchRelay } from '../lib/relay.js'
import { procCpuUs, spawnChild, type Child } from '../lib/children.js'
import { redisVersion } from '../lib/redis-server.js'
import { startRedis } from '../../test/support/cluster-services.js'
import { respConnect } from '../lib/resp.js'
import { rotation } from '../lib/systems.js'
import { session } from '../../test/support/helpers.js'
import { compiledPackage } from '../lib/compiled.js'
import { median } from '../lib/stats.js'
import { num, type Chart, type Headline, type Scenario, type Table, type Target } from '../lib/report.js'

const LOCK_CHILD = fileURLToPath(new URL('../children/lock-child.ts', import.meta.url))
const MEMORY_CHILD = fileURLToPath(new URL('../children/memory-child.ts', import.meta.url))

type LockSystem = 'ours' | 'redis-pub' | 'redis'
const ALL_LOCK_SYSTEMS = ['ours', 'redis-pub', 'redis'] as const satisfies readonly LockSystem[]
/** `BENCH_LOCK_SYSTEMS=ours` measures ours only (for profiling). */
const LOCK_SYSTEMS: readonly LockSystem[] = names('BENCH_LOCK_SYSTEMS', ALL_LOCK_SYSTEMS)
const LOCK_LABEL: Record<LockSystem, string> = { ours: 'ours', 'redis-pub': 'Redis mutex + PUBLISH', redis: 'Redis mutex' }
/** How long every process may take to hold the final count once the last increment resolved. */
const SEEN_BOUND_MS = 10_000

interface LockRun {
  perSec: number
  /** CPU time per increment of all the clients together, and of the relay (ours) or redis-server, in µs. */
  clientCpuUs: number
  serverCpuUs: number
  exact: boolean
  finalCount: number
  expected: number
  /** Processes that did not hold the final count within {@link SEEN_BOUND_MS} (or, publishing, missed a value). */
  behind: number
}

/** How many of `children` do not hold `expected` (and, when `everyValue`, did not receive every value) in time. */
const behindOf = async (children: Child[], expected: number, everyValue: boolean): Promise<number> => {
  const seen = await Promise.all(
    children.map((c) =>
      c.request<{ value: number; received: number }>({ cmd: 'seen', value: expected, timeoutMs: SEEN_BOUND_MS }, SEEN_BOUND_MS + 5_000)
    )
  )
  return seen.filter((s) => s.value !== expected || (everyValue && s.received !== expected)).length
}

/** `BENCH_PROFILE_CLIENTS=DIR` runs our lock clients under --cpu-prof (profiles land in DIR). */
const clientArgs = (system: LockSystem): string[] => {
  const dir = process.env.BENCH_PROFILE_CLIENTS
  return dir && (process.env.BENCH_LOCK_SYSTEMS ?? 'ours').split(',').includes(system) ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : []
}

const spawnLockers = (n: number, system: LockSystem): Promise<Child[]> =>
  // Eight Node processes starting at once take a while on a busy 2-core machine.
  Promise.all(Array.from({ length: n }, () => spawnChild(LOCK_CHILD, [], { execArgv: clientArgs(system), readyTimeoutMs: 120_000 })))

/** Starts every child's loop at once; resolves with the increments per second of them all. */
const race = async (
  children: Child[],
  ops: number,
  serverCpu: () => Promise<number>
): Promise<{ perSec: number; done: number; clientCpuUs: number; serverCpuUs: number }> => {
  const s0 = await serverCpu()
  const t0 = performance.now()
  const results = await Promise.all(
    children.map((c) => c.request<{ done: number; ms: number; cpuUs: number }>({ cmd: 'run', ops }, 300_000))
  )
  const seconds = (performance.now() - t0) / 1000
  const s1 = await serverCpu()
  const done = results.reduce((a, r) => a + r.done, 0)
  return { perSec: done / seconds, done, clientCpuUs: results.reduce((a, r) => a + r.cpuUs, 0) / done, serverCpuUs: (s1 - s0) / done }
}

/** A run's row: exact only if every increment landed once and every process saw the last value. */
const lockRun = (
  r: { perSec: number; done: number; clientCpuUs: number; serverCpuUs: number },
  finalCount: number,
  expected: number,
  behind: number
): LockRun => ({
  perSec: r.perSec,
  clientCpuUs: r.clientCpuUs,
  serverCpuUs: r.serverCpuUs,
  exact: finalCount === r.done && r.done === expected && behind === 0,
  finalCount,
  expected,
  behind
})
const measureOurs = async (processes: number, ops: number): Promise<LockRun> => {
  const relay = await launchRelay({ system: 'ours' })
  const children = await spawnLockers(processes, 'ours')
  try {
    await Promise.all(
      children.map((c) => c.request({ cmd: 'connect', system: 'ours', url: relay.url, room: 'locks', compiledDir: compiledPackage() }))
    )
    const { perSec, done, clientCpuUs, serverCpuUs } = await race(children, ops, async () => {
      const c = await relay.cpu()
      return c.user + c.system
    })
    const checker = await session(relay.url, 'locks')
    const finalCount = checker.get('count') as number
    checker.close()
    const behind = await behindOf(children, processes * ops, false)
    return lockRun({ perSec, done, clientCpuUs, serverCpuUs }, finalCount, processes * ops, behind)
  } finally {
    await Promise.all(children.map((c) => c.stop()))
    await relay.stop()
  }
}

const measureRedis = async (processes: number, ops: number, publish: boolean): Promise<LockRun> => {
  const redis = await startRedis({ persist: false })
  const children = await spawnLockers(processes, publish ? 'redis-pub' : 'redis')
  try {
    const admin = await respConnect(redis.port)
    await admin.command('DEL', 'count', 'token')
    await admin.command('RPUSH', 'token', '1')
    await Promise.all(
      children.map((c) =>
        c.request({ cmd: 'connect', system: 'redis', port: redis.port, publish, client: process.env.BENCH_LOCK_REDIS_CLIENT ?? 'resp' })
      )
    )
    const { perSec, done, clientCpuUs, serverCpuUs } = await race(children, ops, async () => procCpuUs(redis.pid))
    const finalCount = Number(await admin.command('GET', 'count'))
    admin.close()
    const behind = publish ? await behindOf(children, processes * ops, true) : 0
    return lockRun({ perSec, done, clientCpuUs, serverCpuUs }, finalCount, processes * ops, behind)
  } finally {
    await Promise.all(children.map((c) => c.stop()))
    await redis.remove()
  }
}

interface MemoryRun {
  /** Heap plus memory outside it (buffers), after full collections, in bytes. */
  bytes: number
  heap: number
  rss: number
}

const message = (i: number) => ({ nickname: `user-${i % 97}`, text: `Hello from message ${i}, how is everyone doing today?` })

const measureMemory = async (system: 'ours' | 'plain', existing: number, after: number): Promise<MemoryRun> => {
  const relay = await launchRelay({ system: 'ours' })
  const child = await spawnChild(MEMORY_CHILD, [])
  try {
    const seeder = await session(relay.url, 'chat')
    for (let i = 0; i < existing; i += 1000)
      await seeder.append('messages', ...Array.from({ length: Math.min(1000, existing - i) }, (_, k) => message(i + k)))
    await seeder.flush()
    const { length } = await child.request<{ length: number }>({
      cmd: 'connect',
      system,
      url: relay.url,
      room: 'chat',
      compiledDir: compiledPackage()
    })
    // Messages that arrive after the session locked: each is applied to every copy of the room.
    for (let i = 0; i < after; i++) await seeder.append('messages', message(existing + i))
    await seeder.flush()
    const m = await child.request<{ heap: number; external: number; rss: number }>({ cmd: 'measure', length: length + after })
    seeder.close()
    return { bytes: m.heap + m.external, heap: m.heap, rss: m.rss }
  } finally {
    await child.stop()
    await relay.stop()
  }
}

const range = (values: number[], f: (v: number) => string): string =>
  values.length > 1 ? `${f(Math.min(...values))}–${f(Math.max(...values))}` : f(values[0]!)

const x = (v: number): string => `${v.toFixed(2)}×`

export const locks: Scenario = {
  name: 'locks',
  title: '4. Locks',
  method:
    'Locked increments: P processes, each one client alone in its process (as real clients are), each do M locked increments ' +
    'of one counter, one after another, all starting together; the clock runs from the start to the last one resolved, and the ' +
    'final count must equal P × M. Ours: a session of our client (`await lock("count", s => { s.count += 1 })`) against our relay ' +
    "(in memory, in its own process). The peer: a FIFO mutex on a redis-server of the bench's own (persistence off), the simplest exact " +
    'alternative a user would reach for: BLPOP a token from a list (Redis serves blocked clients first come, first served), GET the ' +
    'counter, SET it, RPUSH the token back, through a minimal RESP client (bench/lib/resp.ts); and the same mutex doing the work our ' +
    'sessions do, every process seeing every new value: it PUBLISHes the new value before RPUSH, and every process holds a SUBSCRIBE ' +
    'connection that receives it. After the clock stops, every process must hold the final count (ours: its session; the ' +
    'publishing mutex: its subscriber, having received every value). The three systems alternate within each repeat. Our relay and client run as the package ships them, compiled by tsc (`BENCH_SOURCES=1`: the sources under tsx). Memory: a room holding a chat of M messages; a fresh process connects one client and reads its heap plus external memory ' +
    'after full collections, minus the same before it connected; then 100 more messages arrive and the figure is read. Ours is a ' +
    'session that has locked (a counter, and one message appended under the lock of the list); the peer a stock y-websocket client ' +
    '(Y.Doc and WebsocketProvider) that pushed one message.',
  async run() {
    const counts = ints('BENCH_LOCK_PROCESSES', [1, 2, 4, 8], [1, 8])
    const ops = int('BENCH_LOCK_OPS', 250, 100)
    const repeats = int('BENCH_LOCK_REPS', Math.max(reps(), 5), 1)
    const chatMessages = int('BENCH_LOCK_CHAT', 10_000, 2_000)
    const memReps = int('BENCH_LOCK_MEMORY_REPS', reps(), 1)
    const rows: string[][] = []
    const targets: Target[] = []
    const headlines: Headline[] = []
    const notes: string[] = []

    const charts: Chart[] = []
    const groups: Chart['groups'] = []
    const notExact = (rs: LockRun[]) =>
      rs.filter((r) => !r.exact).map((r) => `${r.finalCount}/${r.expected}${r.behind ? `, ${r.behind} behind` : ''}`)
    const cpu = (rs: LockRun[]) =>
      rs.length ? `${num(median(rs.map((r) => r.clientCpuUs)))} + ${num(median(rs.map((r) => r.serverCpuUs)))}` : '—'
    for (const p of counts) {
      const runs: Record<LockSystem, LockRun[]> = { ours: [], 'redis-pub': [], redis: [] }
      for (let rep = 0; rep < repeats; rep++) {
        for (const system of rotation(LOCK_SYSTEMS, rep)) {
          const run = system === 'ours' ? await measureOurs(p, ops) : await measureRedis(p, ops, system === 'redis-pub')
          runs[system].push(run)
          process.stderr.write(
            `  locks P=${p} ${system} #${rep + 1}: ${num(run.perSec)}/s, CPU per increment: clients ${num(run.clientCpuUs)} µs, server ${num(run.serverCpuUs)} µs${run.exact ? '' : ` NOT EXACT ${run.finalCount}/${run.expected}, ${run.behind} behind`}\n`
          )
        }
      }
      if (runs.ours.length === 0) continue
      const ours = median(runs.ours.map((r) => r.perSec))
      /** Ours against a peer: the median of the repeats' ratios (each repeat's systems ran side by side), and their range. */
      const versus = (peer: 'redis-pub' | 'redis') => {
        const ratios = runs[peer].map((r, i) => runs.ours[i]!.perSec / r.perSec)
        return { perSec: median(runs[peer].map((r) => r.perSec)), ratio: median(ratios), ratios }
      }
      const pub = versus('redis-pub')
      const bare = versus('redis')
      const bad = notExact([...runs.ours, ...runs['redis-pub'], ...runs.redis])
      const exact = bad.length === 0
      const perSecRange = (rs: LockRun[]) =>
        rs.length
          ? range(
              rs.map((r) => r.perSec),
              (v) => num(v)
            )
          : '—'
      rows.push([
        String(p),
        num(ours),
        perSecRange(runs.ours),
        num(pub.perSec),
        perSecRange(runs['redis-pub']),
        num(bare.perSec),
        perSecRange(runs.redis),
        pub.ratios.length ? `${x(pub.ratio)} (${range(pub.ratios, x)})` : '—',
        bare.ratios.length ? `${x(bare.ratio)} (${range(bare.ratios, x)})` : '—',
        `${cpu(runs.ours)} / ${cpu(runs['redis-pub'])} / ${cpu(runs.redis)}`,
        exact ? 'yes' : `**no** (${bad.join('; ')})`
      ])
      const plural = `${p} process${p === 1 ? '' : 'es'}`
      if (pub.ratios.length) {
        targets.push({
          what: `Locked increments, ${plural}, every process seeing every new value, vs a Redis FIFO mutex that PUBLISHes each value`,
          goal: '≥ 1.00×, exact',
          value: `${x(pub.ratio)} (${num(ours)} vs ${num(pub.perSec)}/s; ${range(pub.ratios, x)}), ${exact ? 'exact' : 'NOT exact'}`,
          met: pub.ratio >= 1 && exact
        })
      }
      if (bare.ratios.length && p === 1) {
        targets.push({
          what: 'Locked increments, 1 process, vs a Redis FIFO mutex',
          goal: '≥ 1.00×, exact',
          value: `${x(bare.ratio)} (${num(ours)} vs ${num(bare.perSec)}/s; ${range(bare.ratios, x)}), ${exact ? 'exact' : 'NOT exact'}`,
          met: bare.ratio >= 1 && exact
        })
      }
      groups.push({
        label: plural,
        bars: LOCK_SYSTEMS.map((s) => ({ label: LOCK_LABEL[s], value: median(runs[s].map((r) => r.perSec)), ours: s === 'ours' })),
        ratios: [
          ...(pub.ratios.length ? [`${x(pub.ratio)} vs mutex + PUBLISH`] : []),
          ...(bare.ratios.length ? [`${x(bare.ratio)} vs bare mutex`] : [])
        ]
      })
      if (p === Math.max(...counts)) {
        headlines.push({
          figure: `Locked increments, ${p} processes (vs a Redis FIFO mutex + PUBLISH: ${num(pub.perSec)}/s; bare: ${num(bare.perSec)}/s)`,
          ours: `${num(ours)}/s (${x(pub.ratio)}; ${x(bare.ratio)})`
        })
      }
    }
    const lockTable: Table = {
      title: `Locked increments, P processes × ${ops} each (median of ${repeats}, systems alternating; range over the repeats)`,
      columns: [
        'processes',
        'ours /s',
        'ours range',
        'mutex + PUBLISH /s',
        'range',
        'bare mutex /s',
        'range',
        'ours ÷ mutex + PUBLISH',
        'ours ÷ bare mutex',
        'CPU µs/increment, clients + server: ours / + PUBLISH / bare',
        'count exact, held by all'
      ],
      rows
    }
    if (groups.length > 0)
      charts.push({
        id: 'locks',
        title: `Locked increments per second, P processes × ${ops} each`,
        unit: '/s',
        lowerIsBetter: false,
        groups
      })

    notes.push(
      `Redis ${redisVersion()}, one redis-server of the bench's own per measurement, on 127.0.0.1, \`--save '' --appendonly no\`; ` +
        `our relay keeps the room in memory. ${compiledPackage() ? 'Our relay and client run compiled by tsc, as the package ships them' : 'Our relay and client run from their sources under tsx'}; ` +
        "every process is Node 20 started through tsx (bench/children/lock-child.ts), the mutex's clients too.",
      'A ratio above 1× means ours is faster. This 2-core machine is shared: the figures move between runs, so each is the median of ' +
        'repeats with the systems alternating, and the range is shown.',
      'CPU per increment is the CPU time of the client processes together, and of the relay or redis-server, divided by the increments. ' +
        'With P processes each of our increments is applied by every session (that is the product: every client sees the counter), so ' +
        'every commit wakes P Node processes, and each hand-over crosses the relay (COMMIT to it; the broadcast and the GRANT to the next ' +
        'holder, in one write). A Redis client that waits in BLPOP is not woken until the token comes back.'
    )
    const mem: Record<'ours' | 'plain', MemoryRun[]> = { ours: [], plain: [] }
    const tables = [lockTable]
    for (let rep = 0; rep < (chatMessages > 0 ? memReps : 0); rep++) {
      for (const system of rotation(['ours', 'plain'] as const, rep)) {
        const run = await measureMemory(system, chatMessages, 100)
        mem[system].push(run)
        process.stderr.write(`  locks memory ${system} #${rep + 1}: ${num(run.bytes / 2 ** 20)} MB\n`)
      }
    }
    if (mem.ours.length === 0) return { tables, targets, notes, headlines, charts }
    const mb = (v: number) => num(v / 2 ** 20)
    const memRatios = mem.ours.map((r, i) => r.bytes / mem.plain[i]!.bytes)
    const memRatio = median(memRatios)
    tables.push({
      title: `A client's memory in a room holding ${chatMessages} chat messages, 100 more arriving after it connected (median of ${memReps})`,
      columns: ['client', 'heap + external MB', 'range', 'heap MB', 'RSS MB', 'ours ÷ plain'],
      rows: (['ours', 'plain'] as const).map((s) => [
        s === 'ours' ? 'ours: a session that has locked' : 'a plain y-websocket client',
        mb(median(mem[s].map((r) => r.bytes))),
        range(
          mem[s].map((r) => r.bytes),
          mb
        ),
        mb(median(mem[s].map((r) => r.heap))),
        mb(median(mem[s].map((r) => r.rss))),
        s === 'ours' ? `${x(memRatio)} (${range(memRatios, x)})` : ''
      ])
    })
    targets.push({
      what: `A locking session's memory, ${chatMessages}-message chat, vs a plain y-websocket client`,
      goal: '≤ 1.20×',
      value: `${x(memRatio)} (${range(memRatios, x)})`,
      met: memRatio <= 1.2
    })
    headlines.push({
      figure: `A locking session's memory, ${chatMessages}-message chat (a plain y-websocket client: ${mb(median(mem.plain.map((r) => r.bytes)))} MB)`,
      ours: `${mb(median(mem.ours.map((r) => r.bytes)))} MB (${x(memRatio)})`
    })

    return { tables, targets, notes, headlines, charts }
  }
}
