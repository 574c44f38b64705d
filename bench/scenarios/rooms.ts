/**
 * Scenario 9, a thousand busy rooms: does the relay keep up with many rooms each taking a small
 * update now and then, and how long does a write in a quiet room wait meanwhile?
 */
import { int, names, reps } from '../lib/config.js'
import { ROOMS_LABEL, ROOMS_SYSTEMS, runBusyRooms, type RoomsRun, type RoomsSystem } from '../lib/busy-rooms.js'
import { alternate, mediansOf } from '../lib/systems.js'
import { num, ratio, type Headline, type Scenario, type Target } from '../lib/report.js'

const pct = (part: number, whole: number): string => `${num((100 * part) / whole, 1)}%`

export const rooms: Scenario = {
  name: 'rooms',
  title: '9. A thousand busy rooms',
  method: 'N rooms, each with a writer and a reader (raw sockets; the writers send pre-encoded small map sets and do not read ' +
    'their echoes). Each writer sends one update every I ms, the writers staggered, for S seconds (N × 1000 / I updates/s offered); ' +
    'meanwhile one quiet room gets a write every Q ms, whose latency (send → its reader holds it) is measured. Delivered: updates ' +
    'held by the readers when the last one was sent, and how long after that the rest took. Ours with its LevelDB store (a fresh ' +
    'data directory) and in memory; the reference relay with its LevelDB persistence on (YPERSISTENCE, a fresh directory) and off. ' +
    'Send lag is how late the load generator sent against its schedule; CPU is a share of one core; store writes/s (ours) counts a room\'s batch once, ' +
    'from the first send until every update was delivered. Median over the repeats, the four alternating.',
  async run() {
    const shape = {
      rooms: int('BENCH_ROOMS', 1000, 200),
      intervalMs: int('BENCH_ROOMS_INTERVAL_MS', 100),
      seconds: int('BENCH_ROOMS_SECONDS', 5, 2),
      quietIntervalMs: int('BENCH_ROOMS_QUIET_MS', 75)
    }
    const repeats = reps()
    // A subset (`BENCH_ROOMS_SYSTEMS=ours-memory`) is for profiling; the targets need all four.
    const systems = names('BENCH_ROOMS_SYSTEMS', ROOMS_SYSTEMS)
    const runs = await alternate<RoomsRun, RoomsSystem>(systems, repeats, `rooms N=${shape.rooms}`, (s) => runBusyRooms(s, shape))
    const m = mediansOf<keyof RoomsRun, RoomsSystem>(runs)
    const rate = (shape.rooms * 1000) / shape.intervalMs
    const refStored = m.get('reference-leveldb') ?? ({ quietP50: NaN, quietP99: NaN, deliveredDuringLoad: NaN, offered: NaN } as RoomsRun)
    const table = {
      title: `Busy rooms: ${shape.rooms.toLocaleString('en-US')} rooms × one update every ${shape.intervalMs} ms (${rate.toLocaleString('en-US')}/s offered) for ${shape.seconds} s; ` +
        `a quiet room written every ${shape.quietIntervalMs} ms (median of ${repeats})`,
      columns: ['system', 'offered', 'delivered while loading', 'rest delivered after, ms', 'quiet p50 ms', 'quiet p99 ms', 'quiet max ms',
        'ours vs reference+LevelDB (quiet p50)', 'send lag p99 ms', 'bench CPU', 'relay CPU', 'relay CPU µs/update', 'store writes/s'],
      rows: systems.map((s) => {
        const r = m.get(s)!
        return [ROOMS_LABEL[s], num(r.offered, 0), pct(r.deliveredDuringLoad, r.offered), Number.isNaN(r.drainMs) ? `— (${pct(r.delivered, r.offered)} in all)` : num(r.drainMs),
          num(r.quietP50), num(r.quietP99), num(r.quietMax), s.startsWith('ours') ? ratio(r.quietP50, refStored.quietP50, true) : '',
          num(r.sendLagP99), pct(r.benchCpu, 1), pct(r.relayCpu, 1), num(r.relayCpuPerUpdate), num(r.storeWritesPerSec, 0)]
      })
    }
    const targets: Target[] = []
    const headlines: Headline[] = []
    for (const store of ['leveldb', 'memory'] as const) {
      const ours = m.get(`ours-${store}`)
      if (!ours) continue
      const where = store === 'leveldb' ? 'LevelDB' : 'in memory'
      // Keeping up: all but what was in flight at the end (a few ms of sends) held while the
      // load ran, and the rest within one writer's interval.
      const keptUp = ours.deliveredDuringLoad >= 0.99 * ours.offered && ours.drainMs <= shape.intervalMs
      targets.push({
        what: `Busy rooms, ours ${where}: every offered update delivered while the load runs`,
        goal: `≥ 99% while loading, the rest within ${shape.intervalMs} ms`,
        value: `${pct(ours.deliveredDuringLoad, ours.offered)}, the rest in ${Number.isNaN(ours.drainMs) ? '—' : `${num(ours.drainMs)} ms`}`,
        met: keptUp
      })
      targets.push({
        what: `Busy rooms, ours ${where}: quiet-room p50 vs the reference relay with LevelDB`,
        goal: 'no slower',
        value: `${num(ours.quietP50)} ms vs ${num(refStored.quietP50)} ms (p99 ${num(ours.quietP99)} vs ${num(refStored.quietP99)} ms)`,
        met: ours.quietP50 <= refStored.quietP50
      })
      headlines.push({
        figure: `Busy rooms (${shape.rooms} × ${1000 / shape.intervalMs}/s), ours ${where}: quiet-room p50; delivered while loading`,
        ours: `${num(ours.quietP50)} ms; ${pct(ours.deliveredDuringLoad, ours.offered)}`,
        reference: `${num(refStored.quietP50)} ms; ${pct(refStored.deliveredDuringLoad, refStored.offered)} (LevelDB)`,
        vsReference: ratio(ours.quietP50, refStored.quietP50, true)
      })
    }
    const notes = [
      'The reference relay echoes an update before its LevelDB write (y-leveldb queues it), so its store is never in the way of a write; ' +
        'ours stores a room\'s batch before it echoes it, so its store\'s speed is in every figure of "ours, LevelDB".',
      'The load generator runs in the bench process on the same cores: a send lag p99 of more than a few ms, or a reference relay ' +
        'that does not deliver everything, would mean the generator, not the relay, was the limit.'
    ]
    return { tables: [table], targets, notes, headlines }
  }
}
