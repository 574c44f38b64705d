/**
 * The relay's own cost of an update in a busy room, without sockets: N rooms of a room registry
 * in this process (a memory store, or LevelDB in the directory given), a writer and a reader peer
 * each that only count what they are sent, and U updates a room handed to the rooms round-robin,
 * with a turn of the event loop every ten as socket reads would give. Prints the CPU time per
 * update beside the bare minimum (apply it to a doc, encode one frame), alternating rounds, and
 * the least of each: the pipeline's overhead, with little of a shared machine's noise in it.
 *
 * With a LevelDB directory, `PROBE_FSYNC=never` sets the store's `--fsync` (default `always`).
 *
 * @example
 *   node --import tsx bench/probes/rooms-probe.ts [rooms] [updates-per-room] [leveldb-dir]
 *   PROBE_FSYNC=never node --import tsx bench/probes/rooms-probe.ts 1000 10 /tmp/probe-db
 */
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as syncProtocol from 'y-protocols/sync'
import { RoomRegistry } from '../../relay/room/registry.js'
import type { RoomStore } from '../../relay/store/room-store.js'
import { LevelStore, type Fsync } from '../../relay/store/level-store.js'
import { MemoryStore } from '../../relay/store/memory-store.js'
import { Metrics } from '../../relay/metrics.js'
import { resolveLimits } from '../../relay/limits.js'
import { LogLimiter } from '../../relay/log-limiter.js'
import { createLogger } from '../../relay/log.js'
import { localBus } from '../../relay/room/bus.js'
import type { Peer } from '../../relay/peer.js'
import { writerUpdates } from '../lib/fanout.js'
import { syncFrame, SYNC_UPDATE } from '../lib/wire.js'

const rooms = Number(process.argv[2] ?? 1000)
const perRoom = Number(process.argv[3] ?? 20)
const dir = process.argv[4]

let sent = 0
let nextId = 1
const peer = (): Peer => ({
  id: nextId++,
  closed: false,
  send: () => {
    sent++
  },
  reserve: () => true,
  fail: (code, reason) => {
    throw new Error(`peer failed: ${code} ${reason}`)
  },
  overLimit: (limit) => {
    throw new Error(`over ${limit}`)
  }
})

const fsync = (process.env.PROBE_FSYNC ?? 'always') as Fsync
const store: RoomStore = dir ? new LevelStore(dir, undefined, { fsync }) : new MemoryStore()
await store.open?.()
const log = createLogger('silent')
const registry = new RoomRegistry(
  {
    store,
    bus: localBus,
    metrics: new Metrics(),
    log,
    leaseMs: 10_000,
    compactEvery: 500,
    limits: resolveLimits({}),
    limited: new LogLimiter(log, 60_000)
  },
  3_600_000
)
const updates = writerUpdates(perRoom)
const frames = updates.map((u) => syncFrame('y-websocket', '', SYNC_UPDATE, u))
/** The last round of ours: from the first frame until every room is stored and sent, ms. */
let wall = 0

/** Our rooms: `perRoom` updates into each of `rooms` fresh rooms; CPU µs an update. */
const ours = async (round: number): Promise<number> => {
  const opened = await Promise.all(Array.from({ length: rooms }, (_, i) => registry.open(`r${round}-${i}`)))
  const writers = opened.map((room) => {
    const w = peer()
    room.join(w)
    return w
  })
  for (const room of opened) room.join(peer())
  sent = 0
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  // Round-robin over the rooms, as the staggered writers of the scenario send; a macrotask
  // every few frames, as socket reads are.
  for (let k = 0; k < perRoom; k++) {
    for (let i = 0; i < rooms; i++) {
      opened[i]!.receive(writers[i]!, frames[k]!)
      if (i % 10 === 9) await new Promise((r) => setImmediate(r))
    }
  }
  await registry.idle()
  const cpu = process.cpuUsage(cpu0)
  // A room that waited for its store sends its backlog as one merged update: fewer frames.
  if (sent === 0 || sent > 2 * rooms * perRoom) throw new Error(`sent ${sent} frames for ${rooms * perRoom} updates`)
  wall = performance.now() - t0
  return (cpu.user + cpu.system) / (rooms * perRoom)
}

/** The bare minimum a relay does with an update: apply it to the room's doc, encode one frame. */
const bare = async (): Promise<number> => {
  const docs = Array.from({ length: rooms }, () => new Y.Doc())
  for (const d of docs)
    d.on('update', (u: Uint8Array) => {
      const e = encoding.createEncoder()
      encoding.writeVarUint(e, 0)
      syncProtocol.writeUpdate(e, u)
      encoding.toUint8Array(e)
    })
  const cpu0 = process.cpuUsage()
  for (let k = 0; k < perRoom; k++) {
    for (let i = 0; i < rooms; i++) {
      Y.applyUpdate(docs[i]!, updates[k]!)
      if (i % 10 === 9) await new Promise((r) => setImmediate(r))
    }
  }
  const cpu = process.cpuUsage(cpu0)
  for (const d of docs) d.destroy()
  return (cpu.user + cpu.system) / (rooms * perRoom)
}

// Alternating; the first round warms the JIT and is not counted; the least of the rest is the
// least disturbed by other work on the machine.
const rounds = Number(process.env.PROBE_ROUNDS ?? 6)
const best = { ours: Infinity, bare: Infinity }
for (let round = 0; round < rounds; round++) {
  const a = await ours(round)
  const b = await bare()
  if (round > 0) {
    best.ours = Math.min(best.ours, a)
    best.bare = Math.min(best.bare, b)
  }
  console.log(
    `round ${round + 1}: ours ${a.toFixed(1)} µs CPU an update (all stored and sent in ${wall.toFixed(0)} ms, ${sent} frames), bare ${b.toFixed(1)} µs (${rooms} rooms × ${perRoom} updates${dir ? `, LevelDB, fsync ${fsync}` : ', memory'})`
  )
}
console.log(
  `best of rounds 2-${rounds}: ours ${best.ours.toFixed(1)} µs, bare ${best.bare.toFixed(1)} µs, overhead ${(best.ours - best.bare).toFixed(1)} µs an update`
)
await registry.close()
await store.close()
