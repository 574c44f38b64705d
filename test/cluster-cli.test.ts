/**
 * Starting relays that share rooms: the flags and their environment variables, the usage errors,
 * the Redis settings checked at start, and the CLI started from REDIS_URL and DATABASE_URL.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Redis } from 'ioredis'
import { parseCli, UsageError } from '../relay/cli-options.js'
import { startRelay } from '../relay/server.js'
import { spawnRelay } from './support/helpers.js'
import { pgDatabase, startRedis } from './support/cluster-services.js'

test('--redis and --postgres, or REDIS_URL and DATABASE_URL; each needs the other, and excludes --data', () => {
  const flags = parseCli(
    [
      '--redis',
      'redis://127.0.0.1:6379',
      '--postgres',
      'postgres://postgres@127.0.0.1/x',
      '--liveness-ms',
      '2000',
      '--compact-grace-ms',
      '4000'
    ],
    {}
  )
  assert.ok(flags !== 'help')
  assert.equal(flags.redis, 'redis://127.0.0.1:6379')
  assert.equal(flags.postgres, 'postgres://postgres@127.0.0.1/x')
  assert.equal(flags.cluster?.livenessMs, 2000)
  assert.equal(flags.cluster?.compaction?.graceMs, 4000)
  const env = parseCli([], { REDIS_URL: 'redis://r:6379', DATABASE_URL: 'postgres://p/db' })
  assert.ok(env !== 'help')
  assert.deepEqual([env.redis, env.postgres], ['redis://r:6379', 'postgres://p/db'])
  assert.throws(
    () => parseCli(['--redis', 'redis://r:6379'], {}),
    (e: Error) => e instanceof UsageError && /needs --postgres/.test(e.message)
  )
  assert.throws(
    () => parseCli(['--postgres', 'postgres://p/db'], {}),
    (e: Error) => e instanceof UsageError && /needs --redis/.test(e.message)
  )
  assert.throws(() => parseCli(['--redis', 'redis://r', '--postgres', 'postgres://p/db', '--data', './d'], {}), UsageError)
  assert.throws(
    () => parseCli(['--liveness-ms', '2000'], {}),
    (e: Error) => e instanceof UsageError && /needs --redis/.test(e.message)
  )
  assert.throws(
    () => parseCli(['--redis', 'http://r', '--postgres', 'postgres://p/db'], {}),
    (e: Error) => e instanceof UsageError && /redis:\/\//.test(e.message)
  )
})

test('a relay refuses a Redis that may evict keys, and starts from REDIS_URL and DATABASE_URL on one that keeps them', async () => {
  const [redis, db] = await Promise.all([startRedis(), pgDatabase()])
  const direct = new Redis(redis.url)
  try {
    await direct.config('SET', 'maxmemory-policy', 'allkeys-lru')
    await assert.rejects(
      startRelay({ port: 0, logLevel: 'silent', redis: redis.url, postgres: db.url }),
      /maxmemory-policy must be noeviction/
    )
    await direct.config('SET', 'maxmemory-policy', 'noeviction')
    const relay = await spawnRelay(['--port', '0'], { REDIS_URL: redis.url, DATABASE_URL: db.url })
    assert.equal((await fetch(`${relay.httpUrl}healthz`)).status, 200)
    assert.match(await (await fetch(`${relay.httpUrl}metrics`)).text(), /^yss_cluster_postgres_up 1$/m)
    assert.equal(await relay.kill('SIGTERM'), 0)
    assert.equal(await direct.keys('yss:relay:*').then((k) => k.length), 0, 'a relay that shuts down removes its liveness key')
  } finally {
    direct.disconnect()
    await redis.remove()
    await db.drop()
  }
})

test('--compact-grace-ms must exceed --liveness-ms with margin: a relay that stalls short of its liveness still finds what it missed', () => {
  const base = ['--redis', 'redis://127.0.0.1:6379', '--postgres', 'postgres://postgres@127.0.0.1/x']
  assert.throws(
    () => parseCli([...base, '--liveness-ms', '2000', '--compact-grace-ms', '0'], {}),
    (e: Error) => e instanceof UsageError && /--compact-grace-ms/.test(e.message)
  )
  assert.throws(
    () => parseCli([...base, '--liveness-ms', '2000', '--compact-grace-ms', '3999'], {}),
    (e: Error) => e instanceof UsageError && /--compact-grace-ms/.test(e.message)
  )
  // The default grace (60 s) against a liveness beyond half of it.
  assert.throws(
    () => parseCli([...base, '--liveness-ms', '40000'], {}),
    (e: Error) => e instanceof UsageError && /--compact-grace-ms/.test(e.message)
  )
  const ok = parseCli([...base, '--liveness-ms', '2000', '--compact-grace-ms', '4000'], {})
  assert.ok(ok !== 'help')
  assert.equal(ok.cluster?.compaction?.graceMs, 4000)
})

test('startRelay refuses the same: a grace under twice the liveness, before it connects to anything', async () => {
  await assert.rejects(
    startRelay({
      port: 0,
      logLevel: 'silent',
      redis: 'redis://127.0.0.1:1',
      postgres: 'postgres://postgres@127.0.0.1:1/none',
      cluster: { livenessMs: 2_000, compaction: { graceMs: 0 } }
    }),
    /graceMs must be at least 4000/
  )
})
