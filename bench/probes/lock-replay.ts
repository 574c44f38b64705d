/**
 * The relay's own CPU per contended locked increment, without sockets or other processes: one
 * room of a room registry in this process, P peers that take turns at one key as P lock clients
 * do (ACQUIRE, then on GRANT a COMMIT of the next increment, then on DONE the next ACQUIRE), each
 * frame handed over a turn of the event loop later, as a socket read would be. The commits are
 * made beforehand by a Y.Doc (under one client id per peer, each deleting the previous value),
 * so the peers cost almost nothing. The waiter hold's timer is replaced by one that fires after
 * a number of increments (`PROBE_HOLD_INCREMENTS`, default 3: 10 ms at the bench's rate at 8
 * processes on this machine). Prints the CPU per increment, the frames sent per increment and
 * those that carried doc updates, best of rounds: the room's pipeline, the lease table and the
 * waiter hold, with little of a shared machine's noise in it.
 *
 * @example
 *   node --import tsx bench/probes/lock-replay.ts [peers] [increments]
 *   PROBE_COMPILED=/tmp/build node --import tsx bench/probes/lock-replay.ts 8 4000  # a tsc build (see lib/compiled.ts)
 *   PROBE_HOLD_INCREMENTS=1 node --import tsx bench/probes/lock-replay.ts 8 4000
 */
import * as Y from 'yjs'
import * as decoding from 'lib0/decoding'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { Schedule } from '../../relay/room/outbox.js'
import type { Peer } from '../../relay/peer.js'
import { MESSAGE_SYNC, MESSAGE_YSS, YSS_ACQUIRE, YSS_COMMIT, YSS_DONE, YSS_GRANT, decodeYss, encodeYss } from '../../protocol/messages.js'

/** The relay's modules from a build in `PROBE_COMPILED` (named functions in a profile, no tsx), or from its sources. */
const dir = process.env.PROBE_COMPILED
const load = async <T>(path: string): Promise<T> =>
  (await import(dir ? pathToFileURL(join(dir, `${path}.js`)).href : `../../${path}.js`)) as T
const { RoomRegistry } = await load<typeof import('../../relay/room/registry.js')>('relay/room/registry')
const { MemoryStore } = await load<typeof import('../../relay/store/memory-store.js')>('relay/store/memory-store')
const { Metrics } = await load<typeof import('../../relay/metrics.js')>('relay/metrics')
const { resolveLimits } = await load<typeof import('../../relay/limits.js')>('relay/limits')
const { LogLimiter } = await load<typeof import('../../relay/log-limiter.js')>('relay/log-limiter')
const { createLogger } = await load<typeof import('../../relay/log.js')>('relay/log')
const { localBus } = await load<typeof import('../../relay/room/bus.js')>('relay/room/bus')

const peers = Number(process.argv[2] ?? 8)
const increments = Number(process.argv[3] ?? 4000)
const holdIncrements = Number(process.env.PROBE_HOLD_INCREMENTS ?? 3)
const rounds = Number(process.env.PROBE_ROUNDS ?? 5)

/** The commits of a round: increment i under the client id of peer i % P. */
const commits = (): Uint8Array[] => {
  const doc = new Y.Doc()
  const out: Uint8Array[] = []
  doc.on('update', (u: Uint8Array) => out.push(u))
  const clients = Array.from({ length: peers }, (_, i) => 1000 + i)
  for (let i = 0; i < increments; i++) {
    doc.clientID = clients[i % peers]!
    doc.getMap('state').set('count', i + 1)
  }
  return out
}

/** The hold's timer, fired after `holdIncrements` more increments rather than after ms. */
let timers: Array<{ at: number; fn: () => void }> = []
let done = 0
const schedule: Schedule = (fn) => {
  const t = { at: done + holdIncrements, fn }
  timers.push(t)
  return () => {
    timers = timers.filter((x) => x !== t)
  }
}

const log = createLogger('silent')
const registry = new RoomRegistry(
  {
    store: new MemoryStore(),
    bus: localBus,
    metrics: new Metrics(),
    log,
    leaseMs: 60_000,
    compactEvery: 1_000_000,
    limits: resolveLimits({}),
    limited: new LogLimiter(log, 60_000),
    schedule
  },
  3_600_000
)

const round = async (name: string): Promise<{ us: number; frames: number; updates: number }> => {
  const room = await registry.open(name)
  const updates = commits()
  let next = 0
  /** Lock requests made so far: one per increment. */
  let requested = 0
  let frames = 0
  let updateFrames = 0
  let finish!: () => void
  const finished = new Promise<void>((r) => (finish = r))
  const acquire = (id: number) => {
    requested++
    return encodeYss({ type: YSS_ACQUIRE, id, keys: ['count'] })
  }
  const make = (i: number): Peer => {
    let id = 1
    const peer: Peer = {
      id: i + 1,
      closed: false,
      send: (frame) => {
        frames++
        // A socket read: a turn of the event loop later.
        setImmediate(() => {
          const d = decoding.createDecoder(frame)
          const type = decoding.readVarUint(d)
          if (type === MESSAGE_SYNC) {
            updateFrames++
            return
          }
          if (type !== MESSAGE_YSS) return
          const m = decodeYss(d)
          if (m.type === YSS_GRANT) room.receive(peer, encodeYss({ type: YSS_COMMIT, id: m.id, update: updates[next++]! }))
          else if (m.type === YSS_DONE) {
            done++
            for (const t of timers.filter((x) => x.at <= done)) {
              timers = timers.filter((x) => x !== t)
              t.fn()
            }
            if (requested < increments) room.receive(peer, acquire(++id))
            if (done === increments) finish()
          }
        })
      },
      reserve: () => true,
      fail: (code, reason) => {
        throw new Error(`peer failed: ${code} ${reason}`)
      },
      overLimit: (limit) => {
        throw new Error(`over ${limit}`)
      }
    }
    return peer
  }
  const all = Array.from({ length: peers }, (_, i) => make(i))
  for (const p of all) room.join(p)
  await new Promise((r) => setImmediate(r))
  frames = 0
  updateFrames = 0
  done = 0
  requested = 0
  const cpu0 = process.cpuUsage()
  for (const p of all) room.receive(p, acquire(1))
  await finished
  const cpu = process.cpuUsage(cpu0)
  if (room.doc.getMap('state').get('count') !== increments) throw new Error('the count is not exact')
  for (const p of all) room.leave(p)
  return { us: (cpu.user + cpu.system) / increments, frames: frames / increments, updates: updateFrames / increments }
}

let best = Infinity
for (let r = 0; r < rounds; r++) {
  const { us, frames, updates } = await round(`r${r}`)
  if (r > 0) best = Math.min(best, us)
  console.log(
    `round ${r + 1}: ${us.toFixed(1)} µs CPU an increment, ${frames.toFixed(2)} frames sent (${updates.toFixed(2)} of doc updates) an increment (${peers} peers, ${increments} increments, hold ${holdIncrements} increments)`
  )
}
console.log(`best of rounds 2-${rounds}: ${best.toFixed(1)} µs an increment`)
await registry.close()
