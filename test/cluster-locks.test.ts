/**
 * Exact locks across relays (SEMANTICS.md §2.2 and §2.5): the lease table lives in Redis, so a
 * lock granted by one relay is respected by all. Eight processes over three relays end at the
 * exact count, a two-key transfer conserves its sum, a lease held through another relay makes
 * a lock time out and is handed over when its holder dies, and a commit after its lease expired
 * (by Redis's clock) is refused and applied never. The full size (8 × 250) runs in the bench.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Redis } from 'ioredis'
import type { Relay, RelayOptions } from '../relay/server.js'
import { LockLostError, LockTimeoutError } from '../client/errors.js'
import { eventually, session, within } from './support/helpers.js'
import { race, worker } from './support/lock-workers.js'
import { clusterFixture } from './support/cluster-services.js'
import { ClusterKeys } from '../relay/cluster/keys.js'
import { ClusterMetrics } from '../relay/cluster/cluster-metrics.js'
import { SharedLeases, parseGrant } from '../relay/cluster/shared-leases.js'
import { ACQUIRE, RELEASE } from '../relay/cluster/scripts.js'
import { redisClient, untilReady } from '../relay/cluster/redis-client.js'
import { createLogger } from '../relay/log.js'

const fixture = clusterFixture()
const three = (options: RelayOptions = {}): Promise<Relay[]> => Promise.all([0, 1, 2].map(() => fixture.relay(options)))

const N = 8
const M = 25

test(`${N} processes over three relays doing ${M} locked increments each end at exactly ${N * M}`, async () => {
  const rs = await three()
  const workers = Array.from({ length: N }, (_, i) => worker(rs[i % 3]!.url, 'exact', 'inc', M))
  try {
    const results = await race(workers)
    assert.deepEqual(
      results.map((r) => r.done),
      Array(N).fill(M)
    )
    for (const r of rs) {
      const check = await session(r.url, 'exact')
      assert.equal(check.get('count'), N * M)
      check.close()
    }
  } finally {
    for (const w of workers) w.proc.kill('SIGKILL')
  }
})

test('processes over three relays moving value between two keys under one lock conserve the sum', async () => {
  const rs = await three()
  const setup = await session(rs[0]!.url, 'transfer')
  setup.set('a', 1_000)
  setup.set('b', 0)
  await setup.flush()
  const workers = Array.from({ length: 4 }, (_, i) => worker(rs[i % 3]!.url, 'transfer', 'move', 30))
  try {
    const results = await race(workers)
    const net = results.reduce((sum, r) => sum + r.net, 0)
    const check = await session(rs[2]!.url, 'transfer')
    assert.equal(check.get('a') + check.get('b'), 1_000)
    assert.equal(check.get('b'), net)
    check.close()
  } finally {
    setup.close()
    for (const w of workers) w.proc.kill('SIGKILL')
  }
})

test('multi-key locks over overlapping keys through three relays never deadlock and conserve the total', async () => {
  const rs = await three()
  const pairs = [
    ['a', 'b'],
    ['b', 'c'],
    ['c', 'a']
  ] as const
  const sessions = await Promise.all(rs.map((r) => session(r.url, 'overlap')))
  try {
    await within(
      Promise.all(
        sessions.map(async (s, i) => {
          const [from, to] = pairs[i]!
          for (let k = 0; k < 20; k++)
            await s.lock(
              [from, to],
              (st) => {
                st[from] = (st[from] ?? 0) - 1
                st[to] = (st[to] ?? 0) + 1
              },
              { timeout: 10_000 }
            )
        })
      ),
      30_000,
      'every locked move'
    )
    const check = await session(rs[0]!.url, 'overlap')
    assert.equal(check.get('a') + check.get('b') + check.get('c'), 0)
    assert.deepEqual([check.get('a'), check.get('b'), check.get('c')], [0, 0, 0]) // each key lost 20 and gained 20
    check.close()
  } finally {
    for (const s of sessions) s.close()
  }
})

test('a lease held through one relay makes a lock on another time out, and is handed over when its holder dies', async () => {
  const rs = await three()
  const holder = worker(rs[0]!.url, 'held', 'hold', 1)
  try {
    await holder.line((l) => l === 'ready', 'the holder to sync')
    holder.go()
    await holder.line((l) => l === 'holding', 'the holder to hold the lease')
    const other = await session(rs[1]!.url, 'held')
    await assert.rejects(
      other.lock(
        'count',
        (s) => {
          s.count += 1
        },
        { timeout: 300 }
      ),
      LockTimeoutError
    )
    const waiting = other.lock(
      'count',
      (s) => {
        s.count = (s.count ?? 0) + 10
      },
      { timeout: 20_000 }
    )
    holder.proc.kill('SIGKILL')
    await within(waiting, 20_000, 'the lease to be handed over')
    // The holder's increment was never committed: only the waiter's is there.
    assert.equal(other.get('count'), 10)
    other.close()
  } finally {
    holder.proc.kill('SIGKILL')
  }
})

test("a commit after its lease expired by Redis's clock is refused and applied never", async () => {
  const rs = await three({ leaseMs: 300 })
  const slow = await session(rs[0]!.url, 'expiry')
  const other = await session(rs[1]!.url, 'expiry')
  try {
    await assert.rejects(
      slow.lock('k', (s) => {
        s.k = 'late'
        const end = Date.now() + 700
        while (Date.now() < end) {
          /* outlives the lease */
        }
      }),
      LockLostError
    )
    await other.lock('k', (s) => {
      s.k = s.k ?? 'fresh'
    })
    assert.equal(other.get('k'), 'fresh')
    await eventually(() => slow.get('k') === 'fresh', 'the refused session to see the room as it is')
  } finally {
    slow.close()
    other.close()
  }
})

test('lock requests through three relays are served first come, first served', async () => {
  const rs = await three()
  const holder = worker(rs[0]!.url, 'fifo', 'hold', 1)
  const direct = new Redis(fixture.redis.url)
  const queued = async (): Promise<number> => direct.llen('yss:{fifo}:w:count')
  const order = [rs[1]!, rs[2]!, rs[0]!]
  const sessions = await Promise.all(order.map((r) => session(r.url, 'fifo')))
  try {
    await holder.line((l) => l === 'ready', 'the holder to sync')
    holder.go()
    await holder.line((l) => l === 'holding', 'the holder to hold the lease')
    const calls: Array<Promise<void>> = []
    for (let i = 0; i < sessions.length; i++) {
      calls.push(
        sessions[i]!.lock(
          ['count', 'order'],
          (s) => {
            s.order = [...(s.order ?? []), i]
          },
          { timeout: 20_000 }
        )
      )
      await eventually(async () => (await queued()) === i + 1, `request ${i} to queue in Redis`)
    }
    holder.proc.kill('SIGKILL')
    await within(Promise.all(calls), 20_000, 'every queued lock')
    const check = await session(rs[1]!.url, 'fifo')
    assert.deepEqual(check.get('order'), [0, 1, 2])
    check.close()
  } finally {
    holder.proc.kill('SIGKILL')
    direct.disconnect()
    for (const s of sessions) s.close()
  }
})

test("a grant published before its acquire's reply is kept while another request's reply comes first (not left to the poll)", async () => {
  const keys = new ClusterKeys('yss')
  const redis = redisClient(fixture.redis.url, 'commands')
  await untilReady(redis)
  const P = keys.room('early')
  await redis.set(keys.relay('me'), 1)
  await redis.set(keys.relay('other'), 1)
  try {
    // Another relay holds both keys.
    const other = Number(((await ACQUIRE.run(redis, [P, keys.global, 'early', 'other', 60_000, '["a","b"]'])) as number[])[0])
    const granted: number[] = []
    const table = new SharedLeases<string>(
      'early',
      { leaseMs: 60_000, onGrant: (r) => granted.push(r.id) },
      {
        redis,
        keys,
        relayId: () => 'me',
        presumedDead: () => {},
        reached: () => Promise.resolve(),
        stored: () => {},
        log: createLogger('silent'),
        metrics: new ClusterMetrics(),
        pollMs: 600_000, // a grant left to the poll never comes within the test
        compactDelayMs: 60_000,
        register: () => () => {}
      }
    )
    // In this order on one connection: both requests queue, then "b" is handed to the second.
    table.acquire('h1', 1, ['a'])
    table.acquire('h2', 2, ['b'])
    const release = RELEASE.run(redis, [P, keys.global, 'early', other])
    // Its grant is published at once: here it arrives before either acquire's reply.
    table.remoteGrant(other + 2, 0)
    await release
    await eventually(() => granted.includes(2), 'the second request to be granted', 3_000)
    assert.deepEqual(granted, [2])
    table.close()
  } finally {
    redis.disconnect()
  }
})

test('a grant message carries a committed update whole: any room name, any bytes', () => {
  const room = 'a\nroom {é}'
  const update = Uint8Array.from([0, 10, 255, 10, 1])
  const message = Buffer.concat([Buffer.from(`7\n12\n1700000000000-3\n${Buffer.byteLength(room)}\n${room}`), update])
  assert.deepEqual(parseGrant(message), {
    fence: 7,
    n: 12,
    room,
    entry: { id: '1700000000000-3', n: 12, update: Buffer.from(update), origin: 'commit' }
  })
  assert.deepEqual(parseGrant(Buffer.from(`7\n12\n\n${Buffer.byteLength(room)}\n${room}`)), { fence: 7, n: 12, room })
  assert.equal(parseGrant(Buffer.from('7\n12\nroom')), null)
  assert.equal(parseGrant(Buffer.from('7\n12\n\n99\nshort')), null)
})
