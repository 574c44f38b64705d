/**
 * Scenario 9, a thousand busy rooms: does the relay keep up with many rooms each taking a small
 * update now and then, and how long does a write in a quiet room wait meanwhile?
 */
import { int, names, reps } from '../lib/config.js'
import { ROOMS_LABEL, ROOMS_SYSTEMS, runBusyRooms, type RoomsRun, type RoomsShape, type RoomsSystem } from '../lib/busy-rooms.js'
import { alternate, mediansOf } from '../lib/systems.js'
import { num, ratio, type Chart, type Headline, type Scenario, type Table, type Target } from '../lib/report.js'

const pct = (part: number, whole: number): string => `${num((100 * part) / whole, 1)}%`

/** The bars' names in a chart: short enough to sit beside a bar. */
const SHORT: Record<RoomsSystem, string> = {
  'ours-leveldb': 'ours, LevelDB, fsync always',
  'ours-leveldb-nofsync': 'ours, LevelDB, fsync never',
  'reference-leveldb': 'reference, LevelDB',
  'ours-memory': 'ours, in memory',
  'reference-memory': 'reference, in memory'
}
/** What a ratio of ours is against, beside a group of bars. */
const VERSUS: Partial<Record<RoomsSystem, string>> = { 'ours-leveldb': 'always', 'ours-leveldb-nofsync': 'never', 'ours-memory': 'memory' }

/** The peer whose CPU per update ours is held to: the reference with the same kind of store. */
const cpuPeer = (s: RoomsSystem): RoomsSystem => (s === 'ours-memory' ? 'reference-memory' : 'reference-leveldb')

type Medians = Map<RoomsSystem, RoomsRun>

const NONE = { quietP50: NaN, quietP99: NaN, deliveredDuringLoad: NaN, offered: NaN, relayCpuPerUpdate: NaN } as RoomsRun

const table = (m: Medians, systems: RoomsSystem[], title: string): Table => {
  const ref = m.get('reference-leveldb') ?? NONE
  return {
    title,
    columns: [
      'system',
      'offered',
      'delivered while loading',
      'rest delivered after, ms',
      'quiet p50 ms',
      'quiet p99 ms',
      'quiet max ms',
      'ours vs reference+LevelDB (quiet p50; p99)',
      'send lag p99 ms',
      'bench CPU',
      'relay CPU',
      'relay CPU µs/update',
      'store writes/s'
    ],
    rows: systems.map((s) => {
      const r = m.get(s)!
      return [
        ROOMS_LABEL[s],
        num(r.offered, 0),
        pct(r.deliveredDuringLoad, r.offered),
        Number.isNaN(r.drainMs) ? `— (${pct(r.delivered, r.offered)} in all)` : num(r.drainMs),
        num(r.quietP50),
        num(r.quietP99),
        num(r.quietMax),
        s.startsWith('ours') ? `${ratio(r.quietP50, ref.quietP50, true)}; ${ratio(r.quietP99, ref.quietP99, true)}` : '',
        num(r.sendLagP99),
        pct(r.benchCpu, 1),
        pct(r.relayCpu, 1),
        num(r.relayCpuPerUpdate),
        num(r.storeWritesPerSec, 0)
      ]
    })
  }
}

/** Quiet-room p50 and p99, and CPU per update, of every system; ratios of ours against the reference. */
const chart = (m: Medians, systems: RoomsSystem[], id: string, title: string): Chart[] => {
  const ours = systems.filter((s) => VERSUS[s])
  const group = (label: string, field: 'quietP50' | 'quietP99' | 'relayCpuPerUpdate', peer: (s: RoomsSystem) => RoomsSystem) => ({
    label,
    bars: systems.map((s) => ({ label: SHORT[s], value: m.get(s)![field], ours: s.startsWith('ours') })),
    ratios: ours.filter((s) => m.has(peer(s))).map((s) => `${VERSUS[s]} ${ratio(m.get(s)![field], m.get(peer(s))![field], true)}`)
  })
  return [
    {
      id,
      title: `${title}: quiet-room latency, ms`,
      unit: ' ms',
      lowerIsBetter: true,
      groups: [
        group('quiet-room p50 (ours ÷ reference, LevelDB)', 'quietP50', () => 'reference-leveldb'),
        group('quiet-room p99', 'quietP99', () => 'reference-leveldb')
      ]
    },
    {
      id: `${id}-cpu`,
      title: `${title}: relay CPU per update, µs`,
      unit: ' µs',
      lowerIsBetter: true,
      groups: [group('relay CPU per update (ours ÷ reference with the same store)', 'relayCpuPerUpdate', cpuPeer)]
    }
  ]
}

/** The issue's goals for one pass (a quiet machine, or a core taken): every update echoed while loading; p50, p99 and CPU no worse than the reference. */
const targetsOf = (m: Medians, shape: RoomsShape, when: string): { targets: Target[]; headlines: Headline[] } => {
  const targets: Target[] = []
  const headlines: Headline[] = []
  const ref = m.get('reference-leveldb') ?? NONE
  for (const s of ['ours-leveldb', 'ours-leveldb-nofsync', 'ours-memory'] as const) {
    const ours = m.get(s)
    if (!ours) continue
    const where = SHORT[s].replace(/^ours, /, '')
    // Keeping up: all but what was in flight at the end (a few ms of sends) held while the
    // load ran, and the rest within one writer's interval.
    const keptUp = ours.deliveredDuringLoad >= 0.99 * ours.offered && ours.drainMs <= shape.intervalMs
    targets.push({
      what: `Busy rooms${when}, ours ${where}: every offered update delivered while the load runs`,
      goal: `≥ 99% while loading, the rest within ${shape.intervalMs} ms`,
      value: `${pct(ours.deliveredDuringLoad, ours.offered)}, the rest in ${Number.isNaN(ours.drainMs) ? '—' : `${num(ours.drainMs)} ms`} (reference, LevelDB: ${pct(ref.deliveredDuringLoad, ref.offered)})`,
      met: keptUp
    })
    targets.push({
      what: `Busy rooms${when}, ours ${where}: quiet-room p50 and p99 vs the reference relay with LevelDB`,
      goal: '≥ 1.00× on both',
      value: `p50 ${num(ours.quietP50)} vs ${num(ref.quietP50)} ms (${ratio(ours.quietP50, ref.quietP50, true)}); p99 ${num(ours.quietP99)} vs ${num(ref.quietP99)} ms (${ratio(ours.quietP99, ref.quietP99, true)})`,
      met: ours.quietP50 <= ref.quietP50 && ours.quietP99 <= ref.quietP99
    })
    const peer = m.get(cpuPeer(s))
    if (peer) {
      targets.push({
        what: `Busy rooms${when}, ours ${where}: relay CPU per update vs the reference (${SHORT[cpuPeer(s)].replace(/^reference, /, '')})`,
        goal: 'no more',
        value: `${num(ours.relayCpuPerUpdate)} vs ${num(peer.relayCpuPerUpdate)} µs (${ratio(ours.relayCpuPerUpdate, peer.relayCpuPerUpdate, true)})`,
        met: ours.relayCpuPerUpdate <= peer.relayCpuPerUpdate
      })
    }
    headlines.push({
      figure: `Busy rooms (${shape.rooms} × ${1000 / shape.intervalMs}/s)${when}, ours ${where}: quiet-room p50 / p99; delivered while loading`,
      ours: `${num(ours.quietP50)} / ${num(ours.quietP99)} ms; ${pct(ours.deliveredDuringLoad, ours.offered)}`,
      reference: `${num(ref.quietP50)} / ${num(ref.quietP99)} ms; ${pct(ref.deliveredDuringLoad, ref.offered)} (LevelDB)`,
      vsReference: `${ratio(ours.quietP50, ref.quietP50, true)} / ${ratio(ours.quietP99, ref.quietP99, true)}`
    })
  }
  return { targets, headlines }
}

export const rooms: Scenario = {
  name: 'rooms',
  title: '9. A thousand busy rooms',
  method:
    'N rooms, each with a writer and a reader (raw sockets; the writers send pre-encoded small map sets and do not read ' +
    'their echoes). Each writer sends one update every I ms, the writers staggered, for S seconds (N × 1000 / I updates/s offered); ' +
    'meanwhile one quiet room gets a write every Q ms, whose latency (send → its reader holds it) is measured. Delivered: updates ' +
    'held by the readers when the last one was sent, and how long after that the rest took. Ours with its LevelDB store (a fresh ' +
    'data directory) and in memory; the reference relay with its LevelDB persistence on (YPERSISTENCE, a fresh directory) and off. ' +
    "Send lag is how late the load generator sent against its schedule; CPU is a share of one core; store writes/s (ours) counts a room's batch once, " +
    'from the first send until every update was delivered. Ours on LevelDB runs at both `--fsync` settings (always, the default: ' +
    'each batch fsynced before any of it is echoed; never). Median over the repeats, the systems alternating. Then the same with a ' +
    'core taken: a process spinning on one core from before the load until everything was delivered, as other work on the machine ' +
    'would (ours on LevelDB and in memory, and the reference on LevelDB).',
  async run() {
    const shape: RoomsShape = {
      rooms: int('BENCH_ROOMS', 1000, 200),
      intervalMs: int('BENCH_ROOMS_INTERVAL_MS', 100),
      seconds: int('BENCH_ROOMS_SECONDS', 5, 2),
      quietIntervalMs: int('BENCH_ROOMS_QUIET_MS', 75)
    }
    const repeats = reps()
    // A subset (`BENCH_ROOMS_SYSTEMS=ours-memory`) is for profiling; the targets need all of them.
    const systems = names('BENCH_ROOMS_SYSTEMS', ROOMS_SYSTEMS)
    const spinSystems = names(
      'BENCH_ROOMS_SPIN_SYSTEMS',
      ROOMS_SYSTEMS.filter((s) => s !== 'reference-memory')
    )
    const spinRepeats = int('BENCH_ROOMS_SPIN_REPS', repeats)
    const rate = (shape.rooms * 1000) / shape.intervalMs
    const what =
      `${shape.rooms.toLocaleString('en-US')} rooms × one update every ${shape.intervalMs} ms (${rate.toLocaleString('en-US')}/s offered) for ${shape.seconds} s; ` +
      `a quiet room written every ${shape.quietIntervalMs} ms`
    const quiet = mediansOf<keyof RoomsRun, RoomsSystem>(
      await alternate<RoomsRun, RoomsSystem>(systems, repeats, `rooms N=${shape.rooms}`, (s) => runBusyRooms(s, shape))
    )
    const tables = [table(quiet, systems, `Busy rooms: ${what} (median of ${repeats})`)]
    const charts = chart(quiet, systems, 'rooms', `Busy rooms, ${shape.rooms} × ${1000 / shape.intervalMs}/s`)
    const { targets, headlines } = targetsOf(quiet, shape, '')
    if (spinRepeats > 0 && spinSystems.length > 0) {
      const spun = mediansOf<keyof RoomsRun, RoomsSystem>(
        await alternate<RoomsRun, RoomsSystem>(spinSystems, spinRepeats, `rooms N=${shape.rooms}, a core taken`, (s) =>
          runBusyRooms(s, { ...shape, spin: true })
        )
      )
      tables.push(table(spun, spinSystems, `Busy rooms with a core taken by a spinning process: ${what} (median of ${spinRepeats})`))
      charts.push(
        ...chart(spun, spinSystems, 'rooms-core-taken', `Busy rooms, ${shape.rooms} × ${1000 / shape.intervalMs}/s, a core taken`)
      )
      const more = targetsOf(spun, shape, ', a core taken')
      targets.push(...more.targets)
      headlines.push(...more.headlines)
    }
    const notes = [
      'The reference relay echoes an update before its LevelDB write (y-leveldb queues it), so its store is never in the way of a write; ' +
        'ours stores a room\'s batch before it echoes it, so its store\'s speed is in every figure of "ours, LevelDB". The reference ' +
        'never fsyncs: it matches ours with `--fsync never` in what it survives (less: its echo does not wait for the write).',
      'The load generator runs in the bench process on the same cores: a send lag p99 of more than a few ms, or a reference relay ' +
        'that does not deliver everything, would mean the generator, not the relay, was the limit. With a core taken, the relay, ' +
        'the generator and the spinning process share two cores.'
    ]
    return { tables, targets, notes, headlines, charts }
  }
}
