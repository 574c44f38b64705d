/**
 * The abuse findings of issue 10, replayed at about their reported sizes against a relay in a
 * child process at its default limits: how much the relay grew (peak resident memory), how long
 * it stalled (a healthy pair's round trip), and how the attacker was answered.
 *
 *   node --import tsx bench/abuse.ts                 # every scenario
 *   node --import tsx bench/abuse.ts bomb locks      # some
 *   npm run bench -- abuse [row…]                    # the amplification table (abuse-table.ts)
 *
 * Each scenario prints one line. Against a relay without the limits, some of these sizes take
 * gigabytes: `pending`, `growth` and `query` are scaled so that they stay under about 1 GB there.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as Y from 'yjs'
import { eventually, rawSocket, session, updateFrame, within, type RawSocket } from '../test/support/helpers.js'
import {
  MiB,
  awarenessFrame,
  childRelay,
  deleteBomb,
  healthyPair,
  nonReader,
  queryAwareness,
  resume,
  roundTrip,
  syncStep1,
  type ChildRelay,
  type HealthyPair
} from '../test/support/limits-helpers.js'
import { YSS_ACQUIRE, YSS_DENIED, encodeYss } from '../protocol/messages.js'
import { runTable } from './abuse-table.js'

type Scenario = (relay: ChildRelay, pair: HealthyPair) => Promise<string>

/** Relay options of a scenario, beyond `leaseMs: 200`; a LevelDB store where the memory store would hold what is measured. */
const OPTIONS: Record<string, Record<string, unknown>> = {
  burst: { memory: false, dataDir: mkdtempSync(join(tmpdir(), 'abuse-')) }
}

/** A raw socket that has joined `room` (its first frame came). */
const open = async (relay: ChildRelay, room: string): Promise<RawSocket> => {
  const raw = rawSocket(relay.url, room)
  await raw.frame(() => true, 60_000)
  return raw
}

/** The update's fate: 'applied', or the close code and reason. */
const send = async (raw: RawSocket, update: Uint8Array): Promise<string> => {
  raw.send(updateFrame(update))
  return roundTrip(raw, 120_000).then(
    () => 'applied',
    async () => {
      const { code, reason } = await within(raw.closed, 10_000, 'the close')
      return `closed ${code} (${reason})`
    }
  )
}

/** Round trip of the healthy pair, ms. */
const stall = async (pair: HealthyPair): Promise<number> => {
  const started = Date.now()
  await pair.check('stall', 120_000)
  return Date.now() - started
}

const big = (bytes: number, key = 'big'): Uint8Array => {
  const doc = new Y.Doc()
  doc.getMap('state').set(key, `${key}`.padEnd(bytes, 'x'))
  return Y.encodeStateAsUpdate(doc)
}

/** Repeats `frame` on a socket that does not read, paced by round trips of `pacer`, until the relay drops it or `times`. */
const flood = async (relay: ChildRelay, room: string, pacer: RawSocket, frame: () => Uint8Array, times: number) => {
  const attacker = await nonReader(relay.url, room)
  let sent = 0
  for (; sent < times && (await relay.limitHits('queued_bytes')) === 0; sent++) {
    attacker.send(frame())
    await roundTrip(pacer, 120_000)
  }
  const growth = relay.growthMb()
  resume(attacker)
  const closed = await within(attacker.closed, 60_000, 'the attacker to close').then(
    (c) => `closed ${c.code}`,
    () => 'still open'
  )
  return `${sent} sent, relay +${growth.toFixed(0)} MB, ${closed}`
}

const SCENARIOS: Record<string, Scenario> = {
  /** Forty query-awareness frames on a socket that does not read, 16 MB of presence in the room. */
  query: async (relay) => {
    const publishers: RawSocket[] = []
    for (let p = 0; p < 64; p++) {
      const raw = await open(relay, 'query')
      raw.send(awarenessFrame([0, 1, 2, 3].map((i) => [1_000 + p * 4 + i, { name: 'y'.repeat(60_000) }])))
      publishers.push(raw)
    }
    await roundTrip(publishers[0]!)
    relay.resetPeak()
    const result = await flood(relay, 'query', publishers[0]!, queryAwareness, 40)
    for (const p of publishers) p.ws.close()
    return `40 query awareness, 15 MB of presence: ${result}`
  },
  /** Ten sync step 1 for a 15 MB room on a socket that does not read. */
  sync: async (relay) => {
    const seed = await open(relay, 'sync')
    await send(seed, big(15 * MiB))
    relay.resetPeak()
    return `10 sync step 1, 15 MB room: ${await flood(relay, 'sync', seed, syncStep1, 10)}`
  },
  /** A paused reader while a writer writes 200 MB, 1 MB at a time, to one key. */
  burst: async (relay) => {
    const writer = await open(relay, 'burst')
    relay.resetPeak()
    // BENCH_NO_READER=1: the same writes with no reader, for the relay's own cost of them.
    const reader = await nonReader(relay.url, process.env.BENCH_NO_READER ? 'burst-elsewhere' : 'burst')
    const doc = new Y.Doc()
    doc.on('update', (u: Uint8Array) => writer.send(updateFrame(u)))
    for (let i = 0; i < 200; i++) {
      doc.getMap('state').set('big', `${i}`.padEnd(MiB, 'x'))
      await roundTrip(writer, 120_000)
    }
    const growth = relay.growthMb()
    const hits = await relay.limitHits('queued_bytes')
    resume(reader)
    const closed = await within(reader.closed, 60_000, 'the reader to close').then(
      (c) => `closed ${c.code}`,
      () => 'still open'
    )
    return `paused reader, 200 MB of writes: relay +${growth.toFixed(0)} MB, reader ${closed} (queued_bytes hits: ${hits})`
  },
  /** A 2 MB insert, then a delete set of a million ranges splitting it. */
  bomb: async (relay, pair) => {
    const src = new Y.Doc()
    src.getText('t').insert(0, 'x'.repeat(2_000_000))
    const raw = await open(relay, 'bomb')
    await send(raw, Y.encodeStateAsUpdate(src))
    relay.resetPeak()
    const [fate, ms] = await Promise.all([send(raw, deleteBomb(src.clientID, 1_000_000)), stall(pair)])
    return `1,000,000-range delete set: ${fate}; healthy round trip meanwhile ${ms} ms; relay +${relay.growthMb().toFixed(0)} MB`
  },
  /** Nine such bombs on nine 2 MB inserts, one room each: the relay dies without the limits (not safe to run there). */
  bombs: async (relay, pair) => {
    relay.resetPeak()
    const fates: string[] = []
    for (let i = 0; i < 9; i++) {
      const src = new Y.Doc()
      src.getText('t').insert(0, 'x'.repeat(2_000_000))
      const raw = await open(relay, `bombs-${i}`)
      await send(raw, Y.encodeStateAsUpdate(src))
      fates.push((await send(raw, deleteBomb(src.clientID, 1_000_000))).split(' (')[0]!)
    }
    return `nine 1,000,000-range bombs: ${[...new Set(fates)].join(', ')}; relay +${relay.growthMb().toFixed(0)} MB, alive: ${await relay.healthy()}, healthy round trip ${await stall(pair)} ms`
  },
  /** Ten frames of 4 MB whose dependency never arrives, then what a joiner downloads. */
  pending: async (relay) => {
    const doc = new Y.Doc()
    const updates: Uint8Array[] = []
    doc.on('update', (u: Uint8Array) => updates.push(u))
    doc.getMap('state').set('first', 1)
    for (let i = 0; i < 10; i++) doc.getMap('state').set(`orphan${i}`, `${i}`.padEnd(4 * MiB, 'o'))
    const raw = await open(relay, 'pending')
    relay.resetPeak()
    let fate = 'applied'
    let sent = 0
    for (const u of updates.slice(1)) {
      fate = await send(raw, u)
      sent++
      if (fate !== 'applied') break
    }
    const joiner = await open(relay, 'pending')
    joiner.send(syncStep1())
    const step2 = await joiner.frame((f) => f[0] === 0 && f[1] === 1, 60_000)
    joiner.ws.close()
    return `10 pending updates of 4 MB: ${sent} sent, last ${fate.split(' (')[0]}; a joiner downloads ${(step2.length / 1e6).toFixed(2)} MB; relay +${relay.growthMb().toFixed(0)} MB`
  },
  /** Fourteen frames of 15 MB of new content into one room. */
  growth: async (relay) => {
    const raw = await open(relay, 'growth')
    relay.resetPeak()
    let accepted = 0
    let fate = 'applied'
    for (let i = 0; i < 14 && fate === 'applied'; i++) {
      fate = await send(raw, big(15 * MiB, `k${i}`))
      if (fate === 'applied') accepted++
    }
    return `14 updates of 15 MB: ${accepted} applied, then ${fate.split(' (')[0]}; relay +${relay.growthMb().toFixed(0)} MB`
  },
  /** 100,000 lock requests for one key from one connection, which then leaves; another session's lock meanwhile. */
  locks: async (relay) => {
    const victim = await session(relay.url, 'locks', { lockTimeout: 60_000 })
    const raw = await open(relay, 'locks')
    for (let i = 1; i <= 100_000; i++) raw.send(encodeYss({ type: YSS_ACQUIRE, id: i, keys: ['hog'] }))
    await roundTrip(raw, 120_000)
    const denied = raw.frames.filter((f) => f[0] === 100 && f[1] === YSS_DENIED).length
    raw.ws.close()
    await raw.closed
    const started = Date.now()
    await victim.lock('hog', (s) => {
      s.hog = 1
    })
    const ms = Date.now() - started
    victim.close()
    return `100,000 lock requests: ${denied} denied; after the flood left, another session's lock on its key took ${ms} ms`
  },
  /** Ten lock requests naming 1.6 MB of keys each, left to expire (lease 200 ms). */
  'lock-log': async (relay) => {
    const raw = await open(relay, 'lock-log')
    const before = relay.output.join('\n').length
    for (let i = 1; i <= 10; i++)
      raw.send(
        encodeYss({
          type: YSS_ACQUIRE,
          id: i,
          keys: Array.from({ length: 64 }, (_, k) => `${i}-${String(k).padStart(2, '0')}-`.padEnd(25_000, 'k'))
        })
      )
    await roundTrip(raw)
    const denied = raw.frames.filter((f) => f[0] === 100 && f[1] === YSS_DENIED).length
    const expired = () => relay.output.filter((l) => l.includes('lock lease expired')).length
    await eventually(() => denied + expired() >= 10, 'every request denied or expired', 60_000)
    raw.ws.close()
    return `10 requests with 1.6 MB of keys each: ${denied} denied, ${expired()} expired; log grew by ${relay.output.join('\n').length - before} bytes`
  },
  /** One connection claims 500 presence ids with 100 KB states; what a joiner gets. */
  presence: async (relay) => {
    const raw = await open(relay, 'presence')
    relay.resetPeak()
    for (let batch = 0; batch < 5; batch++) {
      raw.send(awarenessFrame(Array.from({ length: 100 }, (_, i) => [50_000 + batch * 100 + i, { blob: 'b'.repeat(100_000) }])))
      await roundTrip(raw)
    }
    const joiner = await open(relay, 'presence')
    const frame = await joiner.frame((f) => f[0] === 1).catch(() => new Uint8Array(0))
    joiner.ws.close()
    raw.ws.close()
    return `500 presence states of 100 KB: a joiner's presence frame is ${(frame.length / 1e6).toFixed(2)} MB; relay +${relay.growthMb().toFixed(0)} MB`
  }
}

// `abuse [row…]` (as `npm run bench -- abuse` passes it): the amplification table of issue 19.
if (process.argv[2] === 'abuse') {
  await runTable(process.argv.slice(3))
  process.exit(0)
}

const names = process.argv.slice(2).length > 0 ? process.argv.slice(2) : Object.keys(SCENARIOS)
for (const name of names) {
  const scenario = SCENARIOS[name]
  if (!scenario) throw new Error(`unknown scenario ${name}; one of ${Object.keys(SCENARIOS).join(', ')}`)
  const relay = await childRelay({ leaseMs: 200, ...OPTIONS[name] })
  const pair = await healthyPair(relay.url)
  try {
    const started = Date.now()
    const line = await scenario(relay, pair)
    process.stdout.write(`${name}: ${line} [${((Date.now() - started) / 1000).toFixed(1)} s]\n`)
  } catch (err) {
    process.stdout.write(
      `${name}: failed: ${(err as Error).message}; relay alive: ${await relay.healthy().catch(() => false)}\n${relay.output.slice(-3).join('\n').slice(0, 2000)}\n`
    )
  } finally {
    pair.close()
    await relay.close()
  }
}
process.exit(0)
