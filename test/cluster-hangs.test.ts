/**
 * A cluster under stalls and hung dependencies (SEMANTICS.md §2.5, issue 22): a relay whose
 * reader fell behind a trimmed stream notices it on its next read, an empty one included, and
 * whenever a sync waits; a wait for the stream is bounded; a hung PostgreSQL or Redis
 * (SIGSTOPped, not refusing) gives 1013 and a 503 /healthz within a bounded time, and one
 * liveness reset after it, not a storm; a relay whose liveness a lock script finds gone resets
 * at once; relays creating the table together all start. Each test has its own redis-server
 * (and, to hang it, its own PostgreSQL cluster).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import { Redis } from 'ioredis'
import { ClusterKeys } from '../relay/cluster/keys.js'
import { ClusterMetrics } from '../relay/cluster/cluster-metrics.js'
import { SharedRooms } from '../relay/cluster/shared-rooms.js'
import { Snapshots } from '../relay/cluster/snapshots.js'
import { APPEND } from '../relay/cluster/scripts.js'
import { redisClient, untilReady } from '../relay/cluster/redis-client.js'
import { createLogger } from '../relay/log.js'
import { UnavailableError } from '../relay/store/unavailable.js'
import { startRelay, type Relay } from '../relay/server.js'
import WebSocket from 'ws'
import { connect } from '../client/index.js'
import { eventually, session, socketHistory, stockClient, within } from './support/helpers.js'
import { metric, pgCluster, pgDatabase, startRedis } from './support/cluster-services.js'

const log = createLogger('silent')

const updateSetting = (key: string, value: number): Uint8Array => {
  const doc = new Y.Doc()
  doc.getMap('state').set(key, value)
  return Y.encodeStateAsUpdate(doc)
}

const health = async (relay: Relay): Promise<number> => (await fetch(`${relay.httpUrl}healthz`)).status

/** SharedRooms on a Redis of its own, with a reader whose socket the test can stall. */
const streamFixture = async (waitMs?: number) => {
  const [redis, db] = await Promise.all([startRedis(), pgDatabase()])
  const keys = new ClusterKeys('yss')
  const direct = new Redis(redis.url)
  const commands = redisClient(redis.url, 'commands')
  const reader = redisClient(redis.url, 'reader')
  const subscriber = redisClient(redis.url, 'pubsub')
  await Promise.all([untilReady(commands), untilReady(reader), untilReady(subscriber)])
  const snapshots = new Snapshots(db.url)
  const rooms = new SharedRooms({
    redis: commands,
    reader,
    subscriber,
    keys,
    snapshots,
    relayId: () => 'r-test',
    log,
    metrics: new ClusterMetrics(),
    compactDelayMs: 60_000,
    ...(waitMs ? { waitMs } : {})
  })
  /** Another relay appends to the room. */
  await rooms.start()
  const append = async (room: string, i: number) =>
    Number(
      (
        (await APPEND.run(direct, [
          keys.room(room),
          keys.global,
          room,
          Buffer.from(updateSetting(`k${i}`, i)),
          60_000,
          'other'
        ])) as number[]
      )[0]
    )
  return {
    keys,
    direct,
    rooms,
    append,
    /** The reader's socket stops being read: what Redis sends it waits, as in a process stall. */
    stall: () => (reader as unknown as { stream: { pause(): void } }).stream.pause(),
    wake: () => (reader as unknown as { stream: { resume(): void } }).stream.resume(),
    done: async () => {
      await rooms.close()
      for (const c of [direct, commands, reader, subscriber]) c.disconnect()
      await snapshots.close()
      await redis.remove()
      await db.drop()
    }
  }
}

test('a stream trimmed past a stalled reader is detected on its next read, an empty one, and when a sync waits', async () => {
  const f = await streamFixture()
  try {
    const lost: Error[] = []
    const got: Uint8Array[] = []
    f.rooms.subscribe(
      't',
      (u) => got.push(u),
      (err) => lost.push(err)
    )
    await f.rooms.load('t')
    await f.append('t', 1)
    await eventually(() => got.length === 1, 'the reader to read update 1')
    // The reader stalls with a read pending: it gets update 2 in that read's reply when it wakes,
    // and asks for what follows 2, which compaction trimmed meanwhile.
    f.stall()
    for (let i = 2; i <= 6; i++) await f.append('t', i)
    await f.direct.xtrim(f.keys.stream('t'), 'MAXLEN', 0)
    f.wake()
    const sync = f.rooms.barrier('t')
    await assert.rejects(within(sync, 5_000, 'the sync to fail'), /skips|trimmed/)
    await eventually(() => lost.length === 1, 'the room to be failed', 5_000)
    assert.match(lost[0]!.message, /trimmed/)
  } finally {
    await f.done()
  }
})

test('a room whose stream was trimmed while nothing new came is failed by an empty read', async () => {
  const f = await streamFixture()
  try {
    const lost: Error[] = []
    const got: Uint8Array[] = []
    f.rooms.subscribe(
      'quiet',
      (u) => got.push(u),
      (err) => lost.push(err)
    )
    await f.rooms.load('quiet')
    await f.append('quiet', 1)
    await eventually(() => got.length === 1, 'the reader to read update 1')
    f.stall()
    for (let i = 2; i <= 4; i++) await f.append('quiet', i)
    await f.direct.xtrim(f.keys.stream('quiet'), 'MAXLEN', 0)
    f.wake()
    // Nothing asks this relay for anything: its own reads must notice.
    await eventually(() => lost.length === 1, 'an empty read to fail the room', 5_000)
  } finally {
    await f.done()
  }
})

test('a wait for the stream is bounded: a reader that never gets there rejects it with "try again later"', async () => {
  const f = await streamFixture(500)
  try {
    f.rooms.subscribe('slow', () => {})
    await f.rooms.load('slow')
    f.stall()
    const n = await f.append('slow', 1)
    await assert.rejects(within(f.rooms.reached('slow', n), 5_000, 'the wait to end'), UnavailableError)
  } finally {
    f.wake()
    await f.done()
  }
})

test('a hung PostgreSQL: a room that needs it closes with 1013 and /healthz answers 503, both within a bounded time', async () => {
  const redis = await startRedis()
  const pgc = await pgCluster()
  const opts = {
    port: 0,
    logLevel: 'silent' as const,
    redis: redis.url,
    postgres: pgc.url,
    cluster: { livenessMs: 1_000, compaction: { intervalMs: 100, delayMs: 0, graceMs: 2_000, lockMs: 1_000 } }
  }
  const direct = new Redis(redis.url)
  const a = await startRelay(opts)
  const b = await startRelay(opts)
  let stock: ReturnType<typeof stockClient> | undefined
  try {
    const s = await session(a.url, 'in-pg')
    s.set('kept', 1)
    await s.flush()
    s.close()
    // Compacted and trimmed: the room's history is in PostgreSQL, and B never loaded it.
    await eventually(
      async () => (await direct.get('yss:{in-pg}:pg')) !== null && (await direct.xlen('yss:{in-pg}:s')) === 0,
      'the room to be compacted and trimmed',
      15_000
    )
    assert.equal(await health(b), 200)
    pgc.pause()
    const started = Date.now()
    stock = stockClient(b.url, 'in-pg')
    const history = socketHistory(stock.provider)
    await within(
      history.until(() => history.closes.some((c) => c.code === 1013)),
      15_000,
      'a 1013 close'
    )
    assert.equal(await within(health(b), 10_000, '/healthz to answer'), 503)
    console.log(`# hung PostgreSQL: 1013 and 503 after ${Date.now() - started} ms`)
    pgc.resume()
    await within(stock.synced, 20_000, 'the client to sync once PostgreSQL answers')
    await eventually(() => stock!.state.get('kept') === 1, 'the room as PostgreSQL holds it', 10_000)
  } finally {
    pgc.resume()
    stock?.destroy()
    direct.disconnect()
    await a.close()
    await b.close()
    await redis.remove()
    pgc.remove()
  }
})

test('a hung Redis: /healthz answers 503 within a bounded time, and the relay resets once after it, not once a queued renewal', async () => {
  const [redis, db] = await Promise.all([startRedis(), pgDatabase()])
  const relay = await startRelay({
    port: 0,
    logLevel: 'silent',
    redis: redis.url,
    postgres: db.url,
    cluster: { livenessMs: 1_000, compaction: { graceMs: 2_000 } }
  })
  try {
    const s = await session(relay.url, 'hung')
    s.set('x', 1)
    await s.flush()
    redis.pause()
    // Five liveness periods: the old code queued a renewal every 333 ms meanwhile.
    const pausedAt = Date.now()
    assert.equal(await within(health(relay), 10_000, '/healthz to answer'), 503)
    console.log(`# hung Redis: /healthz 503 after ${Date.now() - pausedAt} ms`)
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, 5_000 - (Date.now() - pausedAt)))) // the hang itself, not a synchronisation
    redis.resume()
    await eventually(async () => (await health(relay)) === 200, '/healthz 200 again', 10_000)
    // A lock through the relay's command connection: every reply queued before it has come back.
    await eventually(
      async () => {
        try {
          await s.lock(
            'n',
            (st) => {
              st.n = 1
            },
            { timeout: 2_000 }
          )
          return true
        } catch {
          return false
        }
      },
      'a lock to succeed after the hang',
      20_000
    )
    assert.equal(await metric(relay, 'yss_cluster_liveness_lost_total'), 1)
    s.close()
  } finally {
    redis.resume()
    await relay.close()
    await redis.remove()
    await db.drop()
  }
})

test('a relay whose liveness a lock script finds gone resets at once, not at its next renewal', async () => {
  const [redis, db] = await Promise.all([startRedis(), pgDatabase()])
  // Renewals every 20 s: the first is far off.
  const relay = await startRelay({
    port: 0,
    logLevel: 'silent',
    redis: redis.url,
    postgres: db.url,
    cluster: { livenessMs: 60_000, compaction: { graceMs: 120_000 } }
  })
  const direct = new Redis(redis.url)
  try {
    const s = await session(relay.url, 'gone')
    // Its liveness key is gone (a Redis that restarted without it, say): the others presume it dead.
    const [key] = await direct.keys('yss:relay:*')
    await direct.del(key!)
    await assert.rejects(
      s.lock(
        'n',
        (st) => {
          st.n = 1
        },
        { timeout: 5_000 }
      )
    )
    const denied = Date.now()
    await eventually(async () => (await metric(relay, 'yss_cluster_liveness_lost_total')) === 1, 'the relay to reset', 3_000)
    await eventually(async () => (await direct.keys('yss:relay:*')).length === 1, 'a new liveness key', 3_000)
    // Its sessions were reset with it: they reconnect, and lock again.
    await eventually(
      () =>
        s
          .lock(
            'n',
            (st) => {
              st.n = 2
            },
            { timeout: 5_000 }
          )
          .then(
            () => true,
            () => false
          ),
      'a lock after the reset',
      10_000
    )
    assert.equal(s.get('n'), 2)
    assert.ok(Date.now() - denied < 15_000)
    s.close()
  } finally {
    direct.disconnect()
    await relay.close()
    await redis.remove()
    await db.drop()
  }
})

test('relays creating the table at the same moment all start: a concurrent CREATE TABLE IF NOT EXISTS counts as created', async () => {
  const db = await pgDatabase()
  try {
    for (let round = 0; round < 8; round++) {
      const all = Array.from({ length: 8 }, () => new Snapshots(db.url, `race_${round}`))
      try {
        const results = await Promise.allSettled(all.map((s) => s.open()))
        assert.deepEqual(
          results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason)),
          []
        )
      } finally {
        await Promise.all(all.map((s) => s.close()))
      }
    }
  } finally {
    await db.drop()
  }
})

test('a room failed while it loads (its relay reset meanwhile) takes no session: the session reconnects and syncs', async () => {
  // What a relay stalled past the compaction grace met on waking (issue 22, chaos seeds 1687369004
  // and 1576893804): a room failed (its stream was trimmed past it), a session's connection
  // loaded it again, and the relay's reset failed that load halfway. The session joined the
  // failed room and never synced. Here the load is held on PostgreSQL while the relay resets.
  const redis = await startRedis()
  const pgc = await pgCluster()
  const direct = new Redis(redis.url)
  const opts = {
    port: 0,
    logLevel: 'silent' as const,
    redis: redis.url,
    postgres: pgc.url,
    cluster: { livenessMs: 1_000, timeoutMs: 20_000, compaction: { intervalMs: 100, delayMs: 0, graceMs: 2_000, lockMs: 1_000 } }
  }
  const a = await startRelay(opts)
  const [aKey] = await direct.keys('yss:relay:*')
  const b = await startRelay(opts)
  let s: ReturnType<typeof connect<Record<string, number>>> | undefined
  try {
    const w = await session(b.url, 'reloaded')
    w.set('kept', 1)
    await w.flush()
    w.close()
    // Compacted and trimmed: A loads the room from PostgreSQL.
    await eventually(
      async () => (await direct.get('yss:{reloaded}:pg')) !== null && (await direct.xlen('yss:{reloaded}:s')) === 0,
      'the room to be compacted and trimmed',
      15_000
    )
    pgc.pause()
    s = connect<Record<string, number>>({ url: a.url, room: 'reloaded', WebSocketPolyfill: WebSocket, broadcastChannel: false })
    // Its connection was accepted: the room's load has begun, and waits for PostgreSQL.
    await eventually(async () => (await metric(a, 'yss_connections_total')) === 1, 'relay A to accept the connection', 5_000)
    // A's liveness key is gone: its next renewal resets it, failing every room, the loading one too.
    await direct.del(aKey!)
    await eventually(async () => (await metric(a, 'yss_cluster_liveness_lost_total')) === 1, 'relay A to reset', 5_000)
    pgc.resume()
    await within(s.ready, 10_000, 'the session to sync with relay A')
    assert.equal(s.get('kept'), 1)
  } finally {
    pgc.resume()
    s?.close()
    direct.disconnect()
    await a.close()
    await b.close()
    await redis.remove()
    pgc.remove()
  }
})
