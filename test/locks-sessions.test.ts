/**
 * Locks within one process, each session on its own socket to a real relay (SEMANTICS.md §2.2).
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import * as decoding from 'lib0/decoding'
import { session, eventually, within, rawSocket, stockClient, spawnRelay, tempDir, barrier, sessionPool } from './support/helpers.js'
import { LockLostError, LockTimeoutError, type ServerState } from '../client/index.js'
import { MESSAGE_YSS, YSS_ACQUIRE, YSS_COMMIT, YSS_DENIED, YSS_GRANT, decodeYss, encodeYss } from '../protocol/messages.js'
import type { Relay } from '../relay/server.js'

const pool = sessionPool('lock', { leaseMs: 500 })
const sessions = pool.sessions
let relay: Relay
before(async () => {
  relay = await pool.relay()
})
after(pool.close)

const increment = (s: { count?: number }) => {
  s.count = (s.count ?? 0) + 1
}

test('lock initialises a key that was never set, and resolves to what fn returns', async () => {
  const [a, b] = (await sessions(2)) as [ServerState<any>, ServerState<any>]
  const first = await a.lock('count', (s) => {
    if (!('count' in s)) s.count = 0
    return s.count
  })
  assert.equal(first, 0)
  await b.lock('count', increment)
  assert.equal(b.get('count'), 1, 'the holder sees its own commit once lock() resolves')
  await eventually(() => a.get('count') === 1, 'the other session')
})

test('concurrent locked increments from two sessions are exact', async () => {
  const [a, b] = (await sessions(2)) as [ServerState<any>, ServerState<any>]
  await Promise.all([
    ...Array.from({ length: 100 }, () => a.lock('count', increment)),
    ...Array.from({ length: 100 }, () => b.lock('count', increment))
  ])
  await barrier(a, [b])
  await barrier(b, [a])
  assert.equal(a.get('count'), 200)
  assert.equal(b.get('count'), 200)
})

test('a throwing fn applies none of its writes, releases the lease, and rejects with its error', async () => {
  const [a, b] = (await sessions(2)) as [ServerState<any>, ServerState<any>]
  a.set('count', 5)
  let updates = 0
  a.doc.on('update', () => updates++)
  await assert.rejects(
    a.lock(['count', 'other'], (s) => {
      s.count = 100
      s.other = 'x'
      assert.equal(s.count, 100, 'fn reads its own pending writes')
      throw new Error('abort')
    }),
    /abort/
  )
  assert.equal(updates, 0)
  assert.equal(a.get('count'), 5)
  assert.equal(a.has('other'), false)
  await within(b.lock('count', increment, { timeout: 2_000 }), 3_000, 'the lease to be free again')
  await eventually(() => a.get('count') === 6, "the next holder's write")
})

test('a lock taken again inside fn runs at once; other keys inside fn are refused', async () => {
  const [a] = (await sessions(1)) as [ServerState<any>]
  const order: string[] = []
  await a.lock(['x', 'y'], (s) => {
    order.push('outer')
    void a.lock('x', (inner) => {
      order.push('inner')
      inner.x = 1
    })
    order.push('after inner')
    s.y = inner(s)
    assert.throws(() => a.lock('z', () => {}), /inside lock/)
  })
  function inner(s: any) {
    return s.x + 1
  }
  assert.deepEqual(order, ['outer', 'inner', 'after inner'])
  assert.deepEqual([a.get('x'), a.get('y')], [1, 2])
})

test('multi-key locks taken in opposite orders do not deadlock', async () => {
  const [a, b] = (await sessions(2)) as [ServerState<any>, ServerState<any>]
  await within(
    Promise.all([
      ...Array.from({ length: 30 }, () =>
        a.lock(['p', 'q'], (s) => {
          s.p = (s.p ?? 0) + 1
          s.q = (s.q ?? 0) + 1
        })
      ),
      ...Array.from({ length: 30 }, () =>
        b.lock(['q', 'p'], (s) => {
          s.q = (s.q ?? 0) + 1
          s.p = (s.p ?? 0) + 1
        })
      )
    ]),
    20_000,
    'every lock'
  )
  await barrier(b, [a])
  assert.deepEqual([a.get('p'), a.get('q')], [60, 60])
})

test('a timeout while another session holds the lease rejects with LockTimeoutError naming the key, and applies nothing', async () => {
  const [a, b] = (await sessions(2)) as [ServerState<any>, ServerState<any>]
  // A raw client holds the lease and never commits; the relay takes it back after leaseMs (500).
  const holder = rawSocket(relay.url, a.room)
  await holder.opened
  holder.send(encodeYss({ type: YSS_ACQUIRE, id: 1, keys: ['count'] }))
  await holder.frame((f) => f[0] === MESSAGE_YSS && decodeYss(decoding.createDecoder(f.subarray(1))).type === YSS_GRANT)
  let ran = false
  const err = await a
    .lock(
      'count',
      (s) => {
        ran = true
        s.count = 1
      },
      { timeout: 100 }
    )
    .catch((e: unknown) => e)
  assert.ok(err instanceof LockTimeoutError, String(err))
  assert.deepEqual(err.keys, ['count'])
  assert.match(err.message, /"count"/)
  assert.equal(ran, false)
  // The lease expires; the holder's late commit is denied and applies nothing.
  await within(b.lock('count', increment, { timeout: 5_000 }), 6_000, 'the lease to expire')
  holder.send(encodeYss({ type: YSS_COMMIT, id: 1, update: new Uint8Array([0, 0]) }))
  await holder.frame((f) => f[0] === MESSAGE_YSS && decodeYss(decoding.createDecoder(f.subarray(1))).type === YSS_DENIED)
  await barrier(b, [a])
  assert.equal(a.get('count'), 1)
  holder.ws.close()
})

test('a stock y-websocket client in the room never receives a lock message', async () => {
  const [a, b] = (await sessions(2, 'lock-stock')) as [ServerState<any>, ServerState<any>]
  const raw = rawSocket(relay.url, 'lock-stock')
  const stock = stockClient(relay.url, 'lock-stock')
  try {
    await Promise.all([raw.opened, stock.synced])
    await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).lock('count', increment)))
    await a.flush()
    await eventually(() => stock.state.get('count') === 20, 'the stock client to see the count')
    await barrier(a, [b])
    await eventually(() => raw.frames.some((f) => f.length > 30), 'the raw socket to receive the updates')
    assert.equal(raw.frames.filter((f) => f[0] === MESSAGE_YSS).length, 0)
  } finally {
    stock.destroy()
    raw.ws.close()
  }
})

test('relay restarted mid-run: every lock call resolves with its increment applied once, or rejects with none', async () => {
  const data = tempDir('lock-restart')
  let proc = await spawnRelay(['--port', '0', '--data', data.path, '--log-level', 'error'])
  const port = new URL(proc.url).port
  const clients = await Promise.all([0, 1, 2].map(() => session(proc.url, 'restart', { maxBackoffMs: 200 })))
  let resolved = 0
  let rejected = 0
  let stop = false
  const run = async (s: ServerState<any>) => {
    while (!stop) {
      try {
        await s.lock('count', increment, { timeout: 5_000 })
        resolved++
      } catch (err) {
        if (!(err instanceof LockTimeoutError || err instanceof LockLostError)) throw err
        rejected++
        await eventually(() => s.status === 'connected' || stop, 'the session to reconnect', 20_000)
      }
    }
  }
  try {
    const loops = clients.map(run)
    for (let restart = 0; restart < 2; restart++) {
      const target = resolved + 60
      await eventually(() => resolved >= target, 'locked increments before the kill', 20_000)
      await proc.kill('SIGKILL')
      proc = await spawnRelay(['--port', port, '--data', data.path, '--log-level', 'error'])
    }
    const target = resolved + 60
    await eventually(() => resolved >= target, 'locked increments after the restarts', 20_000)
    stop = true
    await within(Promise.all(loops), 20_000, 'the loops to stop')
    await clients[0]!.flush()
    const check = await session(proc.url, 'restart')
    assert.equal(check.get('count'), resolved, `resolved ${resolved}, rejected ${rejected}`)
    check.close()
  } finally {
    stop = true
    for (const c of clients) c.close()
    await proc.kill('SIGTERM')
    data.remove()
  }
})
