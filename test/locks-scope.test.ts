/**
 * What a lock's function may do, and what its commit must and must not do: regressions found in
 * review, each across real sockets.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { session, barrier, counter, eventually, untilKey, holdingProxy, sessionPool } from './support/helpers.js'
import { LockLostError } from '../client/index.js'
import type { Relay } from '../relay/server.js'

const pool = sessionPool('scope', { leaseMs: 500 })
const sessions = pool.sessions
let relay: Relay
before(async () => {
  relay = await pool.relay()
})
after(pool.close)

test('keys() inside a lock keeps a key whose re-run was forced', async () => {
  const [a] = await sessions(1)
  a!.set('x', 1)
  a!.set('y', 2)
  const seen = await a!.lock(['x', 'y'], (s) => {
    a!.forceRerunBoundSessions('x')
    return { keys: a!.keys().sort(), own: Object.keys(s).sort() }
  })
  assert.deepEqual(seen, { keys: ['x', 'y'], own: ['x', 'y'] })
})

test("two appends in one lock append to the list, and keep another session's concurrent append", async () => {
  const [a, b] = (await sessions(2)) as [any, any]
  await a.append('chat', 'm0')
  await barrier(a, [b])
  const list = a.doc.getMap('state').get('chat')
  b.provider.disconnect()
  await b.append('chat', 'b1') // offline: the list exists, so this needs no lock
  await a.lock('chat', () => {
    a.append('chat', 'a1')
    a.append('chat', 'a2')
  })
  assert.equal(a.doc.getMap('state').get('chat'), list, 'the Y.Array was not replaced')
  b.provider.connect()
  await eventually(() => a.get('chat').length === 4 && b.get('chat').length === 4, 'both appends everywhere')
  assert.deepEqual([...a.get('chat')].sort(), ['a1', 'a2', 'b1', 'm0'])
})

test('an append that fails inside fn aborts the whole lock', async () => {
  const [a] = (await sessions(1)) as [any]
  a.set('count', 0)
  a.set('notAList', 'x')
  await assert.rejects(
    a.lock(['count', 'notAList'], (s: any) => {
      s.count += 1
      a.append('notAList', 1)
    }),
    /not a list/
  )
  await assert.rejects(
    a.lock(['count', 'chat'], (s: any) => {
      s.count += 1
      a.append('chat', () => 1)
    }),
    TypeError
  )
  await a.flush()
  assert.equal(a.get('count'), 0)
})

test('writes that end where they started send nothing and re-run nobody', async () => {
  const [a, b] = (await sessions(2)) as [any, any]
  a.set('x', 0)
  await barrier(a, [b])
  const bound = counter(b, () => b.get('x'))
  let updates = 0
  a.doc.on('update', () => updates++)
  await a.lock('x', (s: any) => {
    s.x = 1
    s.x = 0
  })
  assert.equal(updates, 0)
  await barrier(a, [b])
  assert.equal(bound.count, 0)
})

test('an async fn is refused: writes after an await would not be locked', async () => {
  const [a] = (await sessions(1)) as [any]
  await assert.rejects(
    a.lock('count', async (s: any) => {
      s.count = 1
    }),
    /must be synchronous/
  )
  await a.lock(
    'count',
    (s: any) => {
      s.count = (s.count ?? 0) + 1
    },
    { timeout: 2_000 }
  ) // the lease was freed
  assert.equal(a.get('count'), 1)
})

test('a locked write made during a run does not re-run it when its commit comes back', async () => {
  const [a] = (await sessions(1)) as [any]
  let runs = 0
  const locks: Promise<unknown>[] = []
  const stop = a.watch(() => {
    a.get('count')
    if (++runs <= 10)
      locks.push(
        a.lock('count', (s: any) => {
          s.count = (s.count ?? 0) + 1
        })
      )
  })
  await locks[0]
  await a.flush()
  assert.equal(runs, 1)
  assert.equal(a.get('count'), 1)
  stop()
})

test('a quiet write then a loud one of the same key, in one lock, re-runs the other sessions', async () => {
  const [a, b] = (await sessions(2)) as [any, any]
  a.set('x', 0)
  await barrier(a, [b])
  const bound = counter(b, () => b.get('x'))
  await a.lock('x', (s: any) => {
    a.noRerun(() => {
      s.x = 1
    })
    s.x = 2
  })
  await eventually(() => bound.count === 1, 'the loud write to re-run the other session')
  assert.equal(b.get('x'), 2)
})

test('a quiet write then a loud one, merged in one sync after a reconnection, re-runs the session', async () => {
  const [a, b] = (await sessions(2)) as [any, any]
  a.set('x', 0)
  await barrier(a, [b])
  const bound = counter(b, () => b.get('x'))
  b.provider.disconnect()
  a.noRerun(() => a.set('x', 1))
  a.set('x', 2)
  await a.flush()
  b.provider.connect()
  await untilKey(b.doc.getMap('state'), 'x', 2)
  await barrier(a, [b])
  assert.equal(bound.count, 1)
})

test('two locks of one session granted before their updates arrive: each resolves only if its writes are stored', async () => {
  const proxy = await holdingProxy(relay.url)
  const room = 'scope-shadow'
  const a = pool.track(await session(proxy.url, room))
  const [b] = await sessions(1, room)
  try {
    let grants = 0
    const handler = a.provider.messageHandlers[100]!
    a.provider.messageHandlers[100] = (e, d, ...rest) => {
      if (d.arr[d.pos] === 2) grants++
      return handler(e, d, ...rest)
    }
    proxy.hold = true // a does not receive u, which both grants are ordered after
    b!.set('u', 1)
    await b!.flush()
    const first = a.lock('k1', (s) => {
      s.k1 = 'one'
    })
    first.catch(() => {})
    await eventually(() => grants === 1, 'the first grant')
    await eventually(() => relay.metrics.get('locks_expired_total') >= 1, 'the first lease to expire', 5_000)
    const second = a.lock('k2', (s) => {
      s.k2 = 'two'
    })
    await eventually(() => grants === 2, 'the second grant')
    proxy.release()
    await assert.rejects(first, LockLostError)
    await second
    const check = pool.track(await session(relay.url, room))
    assert.equal(check.get('k2'), 'two')
    assert.equal(check.has('k1'), false)
  } finally {
    proxy.close()
  }
})

test('append() inside a lock on another key is refused: the list would be created without its lock', async () => {
  const [a] = (await sessions(1)) as [any]
  await assert.rejects(
    a.lock('other', () => {
      a.append('fresh-list', 'm')
    }),
    /append\("fresh-list"\) inside lock\(\["other"\]\)/
  )
  assert.equal(a.has('fresh-list'), false)
  await a.lock(['fresh-list', 'other'], () => {
    a.append('fresh-list', 'm')
  })
  assert.deepEqual(a.get('fresh-list'), ['m'])
})

test('lock() with bad keys or no function rejects instead of throwing', async () => {
  const [a] = (await sessions(1)) as [any]
  for (const [keys, fn] of [
    [[], () => {}],
    [[1], () => {}],
    ['k', 'not a function']
  ] as const) {
    let promise: Promise<unknown> | undefined
    assert.doesNotThrow(() => {
      promise = a.lock(keys, fn)
    })
    await assert.rejects(promise!, TypeError)
  }
})
