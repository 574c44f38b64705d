/**
 * Scenario 7, cold load: a stored room of K keys, loaded by a fresh relay process for its
 * first client; the time that takes and the relay's memory for the room.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as Y from 'yjs'
import { LeveldbPersistence } from 'y-leveldb'
import { int, reps } from '../lib/config.js'
import { launchRelay } from '../lib/relay.js'
import { RawClient, dialectOf } from '../lib/raw-client.js'
import { alternate, LABEL, mediansOf, pick, SYSTEMS, type System } from '../lib/systems.js'
import { within } from '../../test/support/helpers.js'
import { headline, num, ratio, type Scenario } from '../lib/report.js'
import { LevelStore } from '../../relay/store/level-store.js'

const ROOM = 'big'
/** The client id that wrote the stored room: a reader holds all of it at clock `keys`. */
const SEEDER = 777

interface ColdRun {
  loadMs: number
  rssMb: number
  heapMb: number
}

/** The room as one update: `keys` map entries in the `state` map, as our client writes them. */
const roomUpdate = (keys: number): Uint8Array => {
  const doc = new Y.Doc()
  doc.clientID = SEEDER
  const map = doc.getMap('state')
  doc.transact(() => {
    for (let i = 0; i < keys; i++) map.set(`key-${i}`, i)
  })
  const update = Y.encodeStateAsUpdate(doc)
  doc.destroy()
  return update
}

/** Stores the room where each system reads it: LevelDB for ours and the reference (same format), a snapshot file for Hocuspocus. */
const seed = async (dirs: Record<System, string>, update: Uint8Array): Promise<void> => {
  const ours = new LevelStore(dirs.ours)
  await ours.append(ROOM, update)
  await ours.close()
  const reference = new LeveldbPersistence(dirs.reference)
  await reference.storeUpdate(ROOM, update)
  await reference.destroy()
  writeFileSync(join(dirs.hocuspocus, `${ROOM}.bin`), update)
}

const measure = async (system: System, dataDir: string, keys: number): Promise<ColdRun> => {
  const relay = await launchRelay({ system, dataDir })
  try {
    const before = await relay.memory()
    // The reference relay answers a client's step 1 before its store has loaded, and sends the
    // room later as an update: the clock stops when the client holds the whole room, whichever
    // message brought it.
    let loaded!: () => void
    const whole = new Promise<void>((r) => {
      loaded = r
    })
    const t0 = performance.now()
    const client = await RawClient.open(dialectOf(system), relay.url, ROOM, 120_000, (update) => {
      if ((Y.parseUpdateMeta(update).to.get(SEEDER) ?? 0) >= keys) loaded()
    })
    await within(whole, 120_000, `the ${system} client to receive the whole room`)
    const loadMs = performance.now() - t0
    // With the client still connected: the peers unload a room as soon as its last one leaves.
    const after = await relay.memory()
    client.close()
    return { loadMs, rssMb: (after.rss - before.rss) / 2 ** 20, heapMb: (after.heapUsed - before.heapUsed) / 2 ** 20 }
  } finally {
    await relay.stop()
  }
}

export const coldLoad: Scenario = {
  name: 'cold-load',
  title: '7. Cold load',
  method:
    'A room of K keys (`state` map, one number each), stored as one update: in LevelDB for ours and the reference relay ' +
    '(y-leveldb, its YPERSISTENCE), and for Hocuspocus, which stores nothing by itself, as a snapshot file read in onLoadDocument. ' +
    'A fresh relay process; one raw client connects and asks for everything; load time = connect → the client holds ' +
    "the whole room (so it includes sending it). Memory: the relay's after two GCs, minus before the client came, read while it is still connected. " +
    'Median over the repeats.',
  async run() {
    const keys = int('BENCH_COLD_KEYS', 100_000, 10_000)
    const root = mkdtempSync(join(tmpdir(), 'yss-bench-cold-'))
    try {
      const dirs = Object.fromEntries(SYSTEMS.map((s) => [s, join(root, s)])) as Record<System, string>
      for (const dir of Object.values(dirs)) mkdirSync(dir)
      const update = roomUpdate(keys)
      await seed(dirs, update)
      const runs = await alternate(SYSTEMS, reps(), 'cold load', (s) => measure(s, dirs[s], keys))
      const m = mediansOf<keyof ColdRun>(runs)
      const ours = m.get('ours')!
      return {
        tables: [
          {
            title: `Cold load of a stored room of ${keys.toLocaleString('en-US')} keys (${num(update.length / 2 ** 20, 2)} MB as one update; median of ${reps()})`,
            columns: [
              'system',
              'load ms',
              'relay RSS MB',
              'relay heap MB',
              'ours vs this (load time, >1 = ours faster)',
              'ours vs this (RSS)'
            ],
            rows: SYSTEMS.map((s) => {
              const r = m.get(s)!
              return [
                LABEL[s],
                num(r.loadMs),
                num(r.rssMb),
                num(r.heapMb),
                s === 'ours' ? '' : ratio(ours.loadMs, r.loadMs, true),
                s === 'ours' ? '' : ratio(ours.rssMb, r.rssMb, true)
              ]
            })
          }
        ],
        targets: [],
        notes: [
          'Hocuspocus reads a snapshot file, which costs less than a LevelDB read: its figure is a lower bound, not a like-for-like store.',
          'The reference relay answers the first sync before its store has loaded and sends the room afterwards as an update.'
        ],
        headlines: [
          headline(`Cold load of ${keys.toLocaleString('en-US')} keys: time`, pick(m, 'loadMs'), ' ms', true),
          headline(`Cold load of ${keys.toLocaleString('en-US')} keys: relay heap`, pick(m, 'heapMb'), ' MB', true)
        ]
      }
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
  }
}
