/**
 * Our contract beyond the original's tests (SEMANTICS.md §2.1), each across real sockets.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import { session, counter, barrier, eventually, stockClient, untilKey, sessionPool } from './support/helpers.js'
import { connect, KEYS, type Status } from '../client/index.js'
import type { Relay } from '../relay/server.js'
import type { ServerState } from '../client/session.js'

const pool = sessionPool('semantics')
const sessions = pool.sessions
let relay: Relay
before(async () => {
  relay = await pool.relay()
})
after(pool.close)

test('noRerun: remote sessions are not re-run, the writer still is, and it nests and is restored', async () => {
  const [writer, reader] = (await sessions(2)) as [ServerState<any>, ServerState<any>]
  const mine = counter(writer, () => writer.get('foo'))
  const theirs = counter(reader, () => [reader.get('foo'), reader.get('bar')])
  writer.noRerun(() => {
    writer.noRerun(() => {
      writer.state.foo = 1
    })
    writer.state.bar = 2 // still quiet after the inner scope ends
  })
  assert.throws(
    () =>
      writer.noRerun(() => {
        throw new Error('boom')
      }),
    /boom/
  )
  assert.equal(writer.quiet, false, 'restored after a throw')
  await barrier(writer, [reader])
  assert.equal(theirs.count, 0)
  assert.deepEqual([reader.get('foo'), reader.get('bar')], [1, 2])
  assert.equal(mine.count, 1, 'the writer shows its own write')
  writer.state.foo = 3 // outside noRerun: everyone re-runs again
  await eventually(() => theirs.count === 1, 'the loud write')
})

test('concurrent forced re-runs: each force re-runs every bound tracker once, and the versions converge', async () => {
  const [a, b, c] = (await sessions(3)) as [ServerState<any>, ServerState<any>, ServerState<any>]
  const bound = [a, b, c].map((s) => counter(s, () => s.get('k')))
  // Both force before either hears of the other: the counters conflict in the CRDT.
  a.forceRerunBoundSessions('k')
  b.forceRerunBoundSessions('k')
  await eventually(() => bound.every((t) => t.count === 2), 'two re-runs in every session')
  await barrier(a, [b, c])
  await barrier(b, [a, c])
  assert.deepEqual(
    bound.map((t) => t.count),
    [2, 2, 2]
  )
  const versions = [a, b, c].map((s) => s.version('k'))
  assert.ok(versions[0]! >= 1)
  assert.deepEqual(versions, [versions[0], versions[0], versions[0]])
})

test('a tracker is unbound from keys its last run stopped reading, and from all when disposed', async () => {
  const [writer, reader] = (await sessions(2)) as [ServerState<any>, ServerState<any>]
  const calls: string[][] = []
  const t = reader.tracker((keys) => calls.push([...keys]))
  t.run(() => reader.get('a'))
  t.run(() => reader.get('b'))
  assert.deepEqual([...t.keys], ['b'])
  writer.set('a', 1)
  await barrier(writer, [reader])
  assert.deepEqual(calls, [])
  writer.set('b', 1)
  await eventually(() => calls.length === 1, 'the re-run for b')
  t.dispose()
  writer.set('b', 2)
  await barrier(writer, [reader])
  assert.deepEqual(calls, [['b']])
  assert.equal(reader.bindings.count('b'), 0)
})

test('one notification a transaction, however many bound keys it changed', async () => {
  const [writer, reader] = (await sessions(2)) as [ServerState<any>, ServerState<any>]
  const theirs = counter(reader, () => [reader.get('x'), reader.get('y'), reader.get('z')])
  const mine = counter(writer, () => [writer.get('x'), writer.get('y')])
  await writer.lock(['x', 'y', 'z'], (s) => {
    s.x = 1
    s.y = 2
    s.z = 3
  })
  await eventually(() => theirs.count === 1, 'the lock transaction')
  writer.doc.transact(() => {
    writer.set('x', 10)
    writer.set('y', 20)
  })
  await eventually(() => theirs.count === 2, 'the local transaction')
  await barrier(writer, [reader])
  assert.deepEqual(theirs.calls, [
    ['x', 'y', 'z'],
    ['x', 'y']
  ])
  assert.deepEqual(mine.calls, [
    ['x', 'y'],
    ['x', 'y']
  ])
})

test('a write during a run does not re-run that run, so it cannot loop', async () => {
  const [writer, reader] = (await sessions(2)) as [ServerState<any>, ServerState<any>]
  let runs = 0
  const t = writer.tracker(() => t.run(render))
  const render = () => {
    runs++
    if (runs > 10) throw new Error('loop')
    writer.set('n', (writer.get('n') ?? 0) + 1)
  }
  t.run(render)
  assert.equal(runs, 1)
  await eventually(() => reader.get('n') === 1, 'the write to reach the other session')
  reader.set('n', 5) // a remote change still re-runs it, once
  await eventually(() => runs === 2, 'the re-run')
  await barrier(reader, [writer])
  assert.equal(runs, 2)
  assert.equal(writer.get('n'), 6)
})

test('values that are not JSON are refused with a TypeError naming the key, and nothing changes', async () => {
  const [s] = (await sessions(1)) as [ServerState<any>]
  s.set('k', 'before')
  let updates = 0
  s.doc.on('update', () => updates++)
  class Point {
    x = 1
  }
  const cycle: any = { a: 1 }
  cycle.self = cycle
  const bad: Array<[string, unknown]> = [
    ['a function', () => 1],
    ['an instance of Point', new Point()],
    ['undefined', undefined],
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['a cycle', cycle],
    ['a symbol', Symbol('s')],
    ['a BigInt', 10n],
    ['an instance of Date', { when: new Date(0) }],
    ['a nested undefined', [1, undefined]],
    // lib0 writes UTF-8: a lone surrogate would reach the other sessions as U+FFFD
    ['a lone surrogate', 'x\ud800'],
    ['a lone surrogate in a key', { '\udc00': 1 }],
    // Yjs picks a value's content type by value.constructor
    ['a "constructor" key', { constructor: 'Ada' }]
  ]
  for (const [what, value] of bad) {
    assert.throws(
      () => s.set('k', value),
      (e: unknown) => e instanceof TypeError && e.message.includes('"k"'),
      what
    )
    assert.throws(
      () => {
        s.state.k = value
      },
      TypeError,
      what
    )
  }
  assert.equal(updates, 0)
  assert.equal(s.get('k'), 'before')
})

test('reads are frozen, and a stored value is a copy of what was set', async () => {
  const [writer, reader] = (await sessions(2)) as [ServerState<any>, ServerState<any>]
  const value = { list: [1, { deep: true }] }
  writer.set('v', value)
  value.list.push(99) // does not reach the shared value
  assert.deepEqual(writer.get('v'), { list: [1, { deep: true }] })
  await eventually(() => reader.has('v'), 'the value')
  for (const read of [writer.get('v'), reader.get('v'), reader.state.v]) {
    assert.ok(Object.isFrozen(read) && Object.isFrozen(read.list) && Object.isFrozen(read.list[1]))
    assert.throws(() => {
      read.list.push(1)
    }, TypeError)
  }
})

test('keys(), in and delete follow the map, and keys() binds to membership', async () => {
  const [writer, reader] = (await sessions(2)) as [ServerState<any>, ServerState<any>]
  await barrier(writer, [reader]) // the barrier's own key exists before we count membership changes
  const listing = counter(reader, () => reader.keys())
  writer.state.a = 1
  await eventually(() => listing.count === 1, 'a key added')
  assert.deepEqual(listing.calls[0], [KEYS])
  writer.state.a = 2 // a new value, not a new key
  await barrier(writer, [reader])
  assert.equal(listing.count, 1)
  assert.ok('a' in reader.state)
  delete writer.state.a
  await eventually(() => listing.count === 2, 'a key deleted')
  assert.ok(!('a' in reader.state))
  assert.deepEqual(Object.keys(reader.state), ['__barrier'])
})

test('status is observable: connecting, connected, then disconnected when closed', async () => {
  const WebSocket = (await import('ws')).default
  const s = connect({ url: relay.url, room: 'status', WebSocketPolyfill: WebSocket, broadcastChannel: false })
  const seen: Status[] = [s.status]
  s.onStatus((status) => seen.push(status))
  await s.ready
  s.close()
  assert.deepEqual(seen, ['connecting', 'connected', 'disconnected'])
  assert.throws(() => s.set('x', 1), /after close/)
  await assert.rejects(s.flush(), /after close/)
})

test("a stock y-websocket client and our session see each other's writes", async () => {
  const ours = await session(relay.url, 'stock-mix')
  pool.track(ours)
  const stock = stockClient(relay.url, 'stock-mix')
  try {
    await stock.synced
    const bound = counter(ours, () => ours.get('fromStock'))
    stock.state.set('fromStock', { n: 1 })
    await eventually(() => bound.count === 1, 'our session to re-run')
    assert.deepEqual(ours.get('fromStock'), { n: 1 })
    ours.set('fromOurs', [1, 2])
    await untilKey(stock.state, 'fromOurs', [1, 2])
    await ours.append('chat', { text: 'hi' })
    await eventually(() => stock.state.get('chat') instanceof Y.Array, 'the list')
    assert.deepEqual((stock.state.get('chat') as Y.Array<unknown>).toJSON(), [{ text: 'hi' }])
  } finally {
    stock.destroy()
  }
})

test('append sends only the new items, however long the list', async () => {
  const [writer, reader] = (await sessions(2)) as [ServerState<any>, ServerState<any>]
  const bound = counter(reader, () => reader.get('log'))
  await writer.append('log', ...Array.from({ length: 2_000 }, (_, i) => ({ nickname: 'n', text: `message ${i}` })))
  await eventually(() => reader.get('log')?.length === 2_000, 'the history')
  const sizes: number[] = []
  writer.doc.on('update', (u: Uint8Array) => sizes.push(u.length))
  await writer.append('log', { nickname: 'n', text: 'one more' })
  await eventually(() => reader.get('log')?.length === 2_001, 'the new message')
  assert.equal(sizes.length, 1)
  assert.ok(sizes[0]! < 200, `one message cost ${sizes[0]} bytes`)
  assert.deepEqual(reader.get('log').at(-1), { nickname: 'n', text: 'one more' })
  assert.ok(bound.count >= 2)
  await assert.rejects(async () => {
    writer.set('scalar', 1)
    await writer.append('scalar', 2)
  }, /not a list/)
})
