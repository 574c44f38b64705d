/**
 * Chaos over a cluster, with real processes (issue 22): three relays on a redis-server and a
 * PostgreSQL cluster of the test's own, worker processes doing locked increments (a marker per
 * call) and acknowledged plain writes through every relay, and a stock y-websocket client on
 * each relay, while faults come one after another at random: a relay SIGKILLed and restarted, a
 * relay SIGSTOPped past its liveness (sometimes past the compaction grace) and continued, Redis
 * SIGKILLed and restarted or SIGSTOPped, PostgreSQL SIGSTOPped. Checked call by call: every
 * resolved call applied once, no rejected call applied, no acknowledged write lost, every
 * client converges, and a session that syncs with a relay just woken sees everything
 * acknowledged before it woke (it never serves stale state).
 *
 * `CHAOS_SECONDS` (default 25) sets how long faults come, `CHAOS_SEED` replays a run (the seed is
 * printed): `CHAOS_SECONDS=600 node --import tsx --test test/cluster-chaos.test.ts`. The short
 * run stops relays past their liveness but within the compaction grace; a run given
 * CHAOS_SECONDS stops them past the grace too (where a session once joined a room dropped
 * halfway through its load: see docs/cluster.md, "Chaos", and its test in cluster-hangs).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { join } from 'node:path'
import WebSocket from 'ws'
import { connect } from '../client/index.js'
import { ROOT, eventually, spawnRelay, stockClient, within, type RelayProcess } from './support/helpers.js'
import { freePort, pgCluster, startRedis } from './support/cluster-services.js'

const SECONDS = Number(process.env.CHAOS_SECONDS ?? 25)
const SEED = Number(process.env.CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31))
const LIVENESS_MS = 2_000
const GRACE_MS = 4_000
const TUNING = [
  '--liveness-ms',
  String(LIVENESS_MS),
  '--compact-delay-ms',
  '0',
  '--compact-grace-ms',
  String(GRACE_MS),
  '--compact-interval-ms',
  '100',
  '--compact-lock-ms',
  '3000',
  '--log-level',
  'warn'
]
const ROOM = 'chaos'
/** The longest a relay is stopped: past the grace only in a long run (see above). */
const STOP_MAX_MS = process.env.CHAOS_SECONDS ? GRACE_MS + 2_000 : GRACE_MS - 300

/** mulberry32: a run is replayed from its seed. */
const prng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/** A session of ours, synced within `timeout` (the machine is shared: a relay just woken may be slow). */
const session = async (url: string, timeout = 30_000) => {
  const s = connect<Record<string, unknown>>({ url, room: ROOM, WebSocketPolyfill: WebSocket, broadcastChannel: false })
  try {
    await within(s.ready, timeout, `a session on ${url} to sync`)
  } catch (err) {
    s.close()
    throw err
  }
  return s
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms)) // a fault's length, not a synchronisation

interface ChaosWorker {
  proc: ChildProcess
  calls: Map<number, boolean>
  acked: number[]
  ready: Promise<void>
  done: Promise<void>
}

const chaosWorker = (urls: string): ChaosWorker => {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/fixtures/cluster-chaos-worker.ts'), urls, ROOM], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'inherit']
  })
  const calls = new Map<number, boolean>()
  const acked: number[] = []
  let ready!: () => void
  let done!: () => void
  const w: ChaosWorker = {
    proc,
    calls,
    acked,
    ready: new Promise((r) => {
      ready = r
    }),
    done: new Promise((r) => {
      done = r
    })
  }
  createInterface({ input: proc.stdout! }).on('line', (l) => {
    if (l === 'ready') return ready()
    const m = JSON.parse(l) as { call?: number; ok?: boolean; write?: number; acked?: boolean; done?: boolean }
    if (m.call !== undefined) calls.set(m.call, m.ok!)
    if (m.write !== undefined && m.acked) acked.push(m.write)
    if (m.done) done()
  })
  return w
}

test(`chaos over three relays, Redis and PostgreSQL (${SECONDS} s of faults): every call applied once or never, nothing acknowledged lost, every client converges, no stale state served`, {
  timeout: (SECONDS + 240) * 1_000
}, async () => {
  const random = prng(SEED)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!
  const between = (lo: number, hi: number) => Math.round(lo + random() * (hi - lo))
  console.log(`# chaos seed ${SEED} (CHAOS_SEED=${SEED} replays it)`)
  const redis = await startRedis()
  const pgc = await pgCluster()
  const ports = await Promise.all([0, 1, 2].map(() => freePort()))
  const launch = (i: number) => spawnRelay(['--port', String(ports[i]), '--redis', redis.url, '--postgres', pgc.url, ...TUNING])
  const rs: RelayProcess[] = await Promise.all([0, 1, 2].map(launch))
  const url = (i: number) => `ws://127.0.0.1:${ports[i]}`
  const workers = [0, 1, 2, 0].map((k) => chaosWorker([0, 1, 2].map((j) => url((k + j) % 3)).join(',')))
  const stock = [0, 1, 2].map((i) => stockClient(url(i), ROOM))
  const faults: string[] = []
  let staleChecks = 0
  try {
    await within(Promise.all(workers.map((w) => w.ready)), 60_000, 'the workers to sync')
    for (const w of workers) w.proc.stdin!.write('go\n')
    let probe = 0
    const end = Date.now() + SECONDS * 1_000
    while (Date.now() < end) {
      await pause(between(500, 2_000))
      const fault = pick(['kill-relay', 'stop-relay', 'stop-relay', 'restart-redis', 'hang-redis', 'hang-pg'] as const)
      const i = between(0, 2)
      if (fault === 'kill-relay') {
        faults.push(`kill relay ${i}`)
        await rs[i]!.kill('SIGKILL')
        await pause(between(200, 2_000))
        rs[i] = await launch(i)
      } else if (fault === 'stop-relay') {
        const ms = between(LIVENESS_MS + 500, STOP_MAX_MS)
        faults.push(`stop relay ${i} ${ms} ms`)
        rs[i]!.proc.kill('SIGSTOP')
        const stoppedAt = Date.now()
        // Something acknowledged through another relay while it sleeps.
        const writer = await session(url((i + 1) % 3))
        writer.set('probe', ++probe)
        await within(writer.flush(), 20_000, 'the probe write')
        writer.close()
        await pause(Math.max(0, ms - (Date.now() - stoppedAt)))
        rs[i]!.proc.kill('SIGCONT')
        // A session that syncs with the woken relay sees it: the relay caught up, or dropped the room.
        const reader = await session(url(i))
        const seen = reader.get('probe') as number
        reader.close()
        assert.ok(seen >= probe, `relay ${i}, woken after ${ms} ms, served probe ${seen} after ${probe} was acknowledged`)
        staleChecks++
      } else if (fault === 'restart-redis') {
        faults.push('restart redis')
        await redis.kill()
        await pause(between(200, 2_000))
        await redis.start()
      } else if (fault === 'hang-redis') {
        const ms = between(500, 4_000)
        faults.push(`hang redis ${ms} ms`)
        redis.pause()
        await pause(ms)
        redis.resume()
      } else {
        const ms = between(500, 6_000)
        faults.push(`hang postgres ${ms} ms`)
        pgc.pause()
        await pause(ms)
        pgc.resume()
      }
    }
    console.log(`# faults: ${faults.join(', ')}`)
    // Healed: every relay ready again, then the workers finish their call in hand.
    for (const r of rs)
      await eventually(
        async () =>
          (await fetch(`${r.httpUrl}healthz`).then(
            (x) => x.status,
            () => 0
          )) === 200,
        'every relay ready',
        30_000
      )
    for (const w of workers) w.proc.stdin!.write('stop\n')
    await within(Promise.all(workers.map((w) => w.done)), 90_000, 'the workers to finish')

    const resolved = workers.flatMap((w) => [...w.calls].filter(([, ok]) => ok).map(([i]) => `m:${w.proc.pid}:${i}`))
    const rejected = workers.flatMap((w) => [...w.calls].filter(([, ok]) => !ok).map(([i]) => `m:${w.proc.pid}:${i}`))
    const acked = workers.flatMap((w) => w.acked.map((i) => `w:${w.proc.pid}:${i}`))
    console.log(
      `# ${resolved.length} calls resolved, ${rejected.length} rejected, ${acked.length} writes acknowledged, ${staleChecks} woken relays checked`
    )
    assert.ok(resolved.length > 0)
    for (let i = 0; i < 3; i++) {
      const check = await session(url(i))
      assert.equal(check.get('count'), resolved.length, `relay ${i}: count is the number of resolved calls`)
      assert.deepEqual(
        resolved.filter((m) => check.get(m) !== 1),
        [],
        `relay ${i}: every resolved call applied`
      )
      assert.deepEqual(
        rejected.filter((m) => check.get(m) !== undefined),
        [],
        `relay ${i}: no rejected call applied`
      )
      assert.deepEqual(
        acked.filter((k) => check.get(k) === undefined),
        [],
        `relay ${i}: every acknowledged write kept`
      )
      check.close()
    }
    // Every stock client converges on the same state.
    for (const [i, c] of stock.entries()) {
      await eventually(
        () => c.state.get('count') === resolved.length && resolved.every((m) => c.state.get(m) === 1) && acked.every((k) => c.state.has(k)),
        `stock client ${i} to converge`,
        30_000
      )
      assert.deepEqual(
        rejected.filter((m) => c.state.has(m)),
        []
      )
    }
  } catch (err) {
    console.log(`# faults so far: ${faults.join(', ')}; seed ${SEED}`)
    for (const [i, r] of rs.entries())
      console.log(
        `# relay ${i}'s last lines:\n${r.output
          .slice(-12)
          .map((l) => `#   ${l}`)
          .join('\n')}`
      )
    throw err
  } finally {
    for (const c of stock) c.destroy()
    for (const w of workers) w.proc.kill('SIGKILL')
    for (const r of rs) {
      r.proc.kill('SIGCONT')
      r.proc.kill('SIGKILL')
    }
    redis.resume()
    pgc.resume()
    await redis.remove()
    pgc.remove()
  }
})
