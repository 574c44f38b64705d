/**
 * Faults of a cluster, with real processes: a relay SIGKILLed during locked increments and
 * writes, every relay SIGKILLed and restarted, Redis SIGKILLed and restarted (its append-only
 * file on), PostgreSQL stopped and started, and a dead relay's presence. Each test has its own
 * redis-server and database; the PostgreSQL test its own PostgreSQL cluster.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Redis } from 'ioredis'
import { eventually, session, socketHistory, spawnRelay, stockClient, within, type RelayProcess } from './support/helpers.js'
import { pgCluster, pgDatabase, startRedis, type PgDatabase, type RedisServer } from './support/cluster-services.js'
import { race, worker } from './support/lock-workers.js'

const TUNING = [
  '--liveness-ms',
  '2000',
  '--compact-delay-ms',
  '0',
  '--compact-grace-ms',
  '4000',
  '--compact-interval-ms',
  '100',
  '--compact-lock-ms',
  '1000',
  '--log-level',
  'warn'
]

const relays = (n: number, redis: RedisServer, db: { url: string }, extra: string[] = []): Promise<RelayProcess[]> =>
  Promise.all(Array.from({ length: n }, () => spawnRelay(['--port', '0', '--redis', redis.url, '--postgres', db.url, ...TUNING, ...extra])))

const services = async (): Promise<{ redis: RedisServer; db: PgDatabase; done(): Promise<void> }> => {
  const [redis, db] = await Promise.all([startRedis(), pgDatabase()])
  return {
    redis,
    db,
    done: async () => {
      await redis.remove()
      await db.drop()
    }
  }
}

const health = async (r: RelayProcess): Promise<number> => (await fetch(`${r.httpUrl}healthz`)).status

test('one of three relays SIGKILLed during locked increments and writes: sessions move on, every lock call counted once or never, no acknowledged write lost', async () => {
  const { redis, db, done } = await services()
  const rs = await relays(3, redis, db)
  const urls = (i: number) => [0, 1, 2].map((k) => rs[(i + k) % 3]!.url).join(',')
  const N = 6
  const M = 30
  const workers = Array.from({ length: N }, (_, i) => worker(urls(i), 'faults', 'inc-faults', M))
  try {
    const watcher = await session(rs[2]!.url, 'faults')
    const finished = race(workers, 90_000)
    await eventually(() => (watcher.get('count') ?? 0) >= 40, 'the increments to be under way', 30_000)
    rs[0]!.proc.kill('SIGKILL')
    const results = await finished
    const resolved = results.reduce((s, r) => s + r.done, 0)
    assert.equal(resolved, N * M)
    const check = await session(rs[1]!.url, 'faults')
    // Every resolved call applied once, every rejected one never.
    assert.equal(check.get('count'), resolved)
    // Every acknowledged write is there (each worker's last write is its last acknowledged one).
    for (const r of results)
      assert.ok(check.get(`w:${r.pid}`) >= r.acked, `worker ${r.pid}: acknowledged ${r.acked}, found ${check.get(`w:${r.pid}`)}`)
    console.log(`# relay killed mid-run: ${resolved} resolved, ${results.reduce((s, r) => s + r.failed, 0)} rejected and never applied`)
    check.close()
    watcher.close()
  } finally {
    for (const w of workers) w.proc.kill('SIGKILL')
    for (const r of rs) r.proc.kill('SIGKILL')
    await done()
  }
})

test('every relay SIGKILLed, then restarted: everything acknowledged is there', async () => {
  const { redis, db, done } = await services()
  let rs = await relays(3, redis, db)
  try {
    const writers = await Promise.all(rs.map((r) => session(r.url, 'all-killed')))
    for (let i = 0; i < 30; i++) writers[i % 3]!.set(`k${i}`, i)
    await Promise.all(writers.map((w) => w.flush()))
    for (const r of rs) r.proc.kill('SIGKILL')
    await Promise.all(rs.map((r) => r.exited))
    for (const w of writers) w.close()
    rs = await relays(3, redis, db)
    for (const r of rs) {
      const check = await session(r.url, 'all-killed')
      assert.deepEqual(
        Array.from({ length: 30 }, (_, i) => check.get(`k${i}`)),
        Array.from({ length: 30 }, (_, i) => i)
      )
      check.close()
    }
  } finally {
    for (const r of rs) r.proc.kill('SIGKILL')
    await done()
  }
})

test('Redis restarted: nothing acknowledged lost; while it is down relays close with 1013 and are not ready, and recover by themselves', async () => {
  const { redis, db, done } = await services()
  const rs = await relays(2, redis, db)
  const a = await session(rs[0]!.url, 'redis-restart')
  const b = await session(rs[1]!.url, 'redis-restart')
  const stock = stockClient(rs[1]!.url, 'redis-restart')
  const history = socketHistory(stock.provider)
  let closeCheck = (): void => {}
  try {
    await stock.synced
    for (let i = 0; i < 10; i++) a.set(`before${i}`, i)
    await a.flush()
    await redis.kill()
    assert.equal(await health(rs[0]!), 503)
    // A lock while Redis is down is refused, and never applied.
    await assert.rejects(
      a.lock(
        'locked',
        (s) => {
          s.locked = 'never'
        },
        { timeout: 3_000 }
      )
    )
    // A write while Redis is down is not acknowledged: its room closes with 1013, try again later.
    b.set('during', 'down')
    let flushed = false
    const pending = b.flush().then(() => {
      flushed = true
    })
    await within(
      history.until(() => history.closes.some((c) => c.code === 1013)),
      10_000,
      'a 1013 close'
    )
    assert.equal(flushed, false)
    await redis.start()
    await within(pending, 30_000, 'the write to be acknowledged once Redis is back')
    await eventually(async () => (await health(rs[0]!)) === 200 && (await health(rs[1]!)) === 200, 'both relays ready again', 20_000)
    await eventually(() => a.get('during') === 'down', "the write to reach the other relay's session", 20_000)
    const check = await session(rs[0]!.url, 'redis-restart')
    closeCheck = () => check.close()
    assert.deepEqual(
      Array.from({ length: 10 }, (_, i) => check.get(`before${i}`)),
      Array.from({ length: 10 }, (_, i) => i)
    )
    assert.equal(check.get('during'), 'down')
    assert.equal(check.get('locked'), undefined)
    await check.lock('locked', (s) => {
      s.locked = 'after'
    })
    assert.equal(check.get('locked'), 'after')
  } finally {
    closeCheck() // a session left open would keep this file running after a failure
    stock.destroy()
    a.close()
    b.close()
    for (const r of rs) r.proc.kill('SIGKILL')
    await done()
  }
})

test('PostgreSQL stopped: relays keep serving from Redis, compaction waits and catches up when it returns', async () => {
  const redis = await startRedis()
  const pgc = await pgCluster()
  const rs = await relays(2, redis, pgc)
  const direct = new Redis(redis.url)
  const a = await session(rs[0]!.url, 'pg-down')
  const b = await session(rs[1]!.url, 'pg-down')
  const compacted = async (): Promise<number> => {
    const { Client } = (await import('pg')).default
    const c = new Client({ connectionString: pgc.url })
    await c.connect()
    try {
      return Number((await c.query(`SELECT upto_n FROM yss_rooms WHERE room = 'pg-down'`)).rows[0]?.upto_n ?? 0)
    } finally {
      await c.end()
    }
  }
  try {
    a.set('first', 1)
    await a.flush()
    await eventually(async () => (await compacted()) >= 1 && (await direct.xlen('yss:{pg-down}:s')) === 0, 'the first compaction', 10_000)
    pgc.stop()
    await eventually(async () => (await health(rs[0]!)) === 503, '/healthz to report PostgreSQL unreachable', 5_000)
    for (let i = 0; i < 10; i++) (i % 2 ? a : b).set(`while${i}`, i)
    await Promise.all([a.flush(), b.flush()])
    await eventually(() => a.get('while8') === 8 && b.get('while9') === 9, 'both relays to serve the writes')
    const head = Number(await direct.get('yss:{pg-down}:n'))
    assert.ok((await direct.xlen('yss:{pg-down}:s')) > 0, 'the stream keeps what PostgreSQL does not have')
    pgc.start()
    await eventually(
      async () => (await compacted()) >= head && (await direct.xlen('yss:{pg-down}:s')) === 0,
      'compaction to catch up',
      20_000
    )
    await eventually(async () => (await health(rs[0]!)) === 200, '/healthz ready again', 5_000)
  } finally {
    a.close()
    b.close()
    direct.disconnect()
    for (const r of rs) r.proc.kill('SIGKILL')
    await redis.remove()
    pgc.remove()
  }
})

test("a dead relay's sessions' presence is removed from the others within its liveness time", async () => {
  const { redis, db, done } = await services()
  const rs = await relays(2, redis, db)
  const a = await session(rs[0]!.url, 'presence')
  const b = await session(rs[1]!.url, 'presence')
  try {
    a.presence.set({ name: 'alice' })
    await eventually(() => b.presence.list().some((p) => p.state.name === 'alice'), "B to see A's presence")
    const killedAt = Date.now()
    rs[0]!.proc.kill('SIGKILL')
    await eventually(() => !b.presence.list().some((p) => p.state.name === 'alice'), "A's presence to go", 10_000)
    const took = Date.now() - killedAt
    assert.ok(took < 2_000 + 1_000 + 1_000, `removed after ${took} ms`)
  } finally {
    a.close()
    b.close()
    for (const r of rs) r.proc.kill('SIGKILL')
    await done()
  }
})
