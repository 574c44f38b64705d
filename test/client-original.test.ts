/**
 * The eleven unit tests of streamlit-server-state, ported. A "session" is a second connected
 * client with its own socket to a real relay, not a mock; "bound" means a tracker of that
 * session read the key in its last run, and "re-run" is a notification of that tracker.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { counter, barrier, eventually, sessionPool } from './support/helpers.js'
import { RerunSuppressedError, configure, serverState, serverStateLock, defaultSession } from '../client/index.js'
import type { Relay } from '../relay/server.js'
import type { ServerState } from '../client/session.js'
import WebSocket from 'ws'

const pool = sessionPool('original')
const sessions = pool.sessions
let relay: Relay
before(async () => {
  relay = await pool.relay()
})
after(pool.close)

test('bound sessions are re-run when the value is set, and when it is updated', async () => {
  const [writer, reader] = (await sessions(2)) as [ServerState<any>, ServerState<any>]
  const bound = counter(reader, () => reader.get('foo'))
  writer.set('foo', 42)
  await eventually(() => bound.count === 1, 'the first re-run')
  assert.equal(reader.get('foo'), 42)
  writer.set('foo', 43)
  await eventually(() => bound.count === 2, 'the second re-run')
  assert.equal(reader.get('foo'), 43)
  assert.deepEqual(bound.calls, [['foo'], ['foo']])
})

test('all bound sessions are re-run', async () => {
  const [writer, ...readers] = (await sessions(4)) as [ServerState<any>, ...ServerState<any>[]]
  const bound = readers.map((r) => counter(r, () => r.state.foo))
  writer.state.foo = 'bar'
  await eventually(() => bound.every((b) => b.count === 1), 'every reader re-run')
  for (const r of readers) assert.equal(r.state.foo, 'bar')
})

test('a session is bound once, however often it reads the key', async () => {
  const [writer, reader] = (await sessions(2)) as [ServerState<any>, ServerState<any>]
  const bound = counter(reader, () => {
    reader.get('foo')
    reader.state.foo
    'foo' in reader.state
    reader.has('foo')
  })
  assert.equal(reader.bindings.count('foo'), 1)
  writer.set('foo', 1)
  await barrier(writer, [reader])
  assert.equal(bound.count, 1)
})

test('bound sessions are not re-run when the value set is equal to the current one', async () => {
  const [writer, reader] = (await sessions(2)) as [ServerState<any>, ServerState<any>]
  writer.set('foo', { a: [1, 2], b: 'x' })
  await eventually(() => reader.has('foo'), 'the first value')
  const bound = counter(reader, () => reader.get('foo'))
  let updates = 0
  writer.doc.on('update', () => updates++)
  writer.set('foo', { b: 'x', a: [1, 2] })
  assert.equal(updates, 0, 'an equal value makes no Yjs update at all')
  await barrier(writer, [reader])
  assert.equal(bound.count, 0)
})

test('bound sessions are re-run when a mutated copy of the value is set', async () => {
  const [writer, reader] = (await sessions(2)) as [ServerState<any>, ServerState<any>]
  writer.set('list', [1, 2])
  await eventually(() => reader.has('list'), 'the first value')
  const bound = counter(reader, () => reader.get('list'))
  const copy = [...writer.get('list')]
  copy.push(3)
  writer.set('list', copy)
  await eventually(() => bound.count === 1, 'the re-run')
  assert.deepEqual(reader.get('list'), [1, 2, 3])
})

test('bound sessions are not re-run by a write inside noRerun', async () => {
  const [writer, reader] = (await sessions(2)) as [ServerState<any>, ServerState<any>]
  const bound = counter(reader, () => reader.get('foo'))
  writer.noRerun(() => {
    writer.state.foo = 42
  })
  await barrier(writer, [reader])
  assert.equal(bound.count, 0)
  assert.equal(reader.get('foo'), 42, 'the value is stored all the same')
})

test('forceRerunBoundSessions re-runs the sessions bound to the key, and only those', async () => {
  const [writer, fooReader, barReader] = (await sessions(3)) as [ServerState<any>, ServerState<any>, ServerState<any>]
  writer.set('foo', [1])
  await eventually(() => fooReader.has('foo') && barReader.has('foo'), 'the value')
  const onFoo = counter(fooReader, () => fooReader.get('foo'))
  const onBar = counter(barReader, () => barReader.get('bar'))
  writer.forceRerunBoundSessions('foo')
  await eventually(() => onFoo.count === 1, 'the forced re-run')
  await barrier(writer, [fooReader, barReader])
  assert.equal(onFoo.count, 1)
  assert.equal(onBar.count, 0)
  assert.deepEqual(fooReader.get('foo'), [1], 'the value did not change')
})

test('forceRerunBoundSessions inside noRerun throws RerunSuppressedError', async () => {
  const [s] = (await sessions(1)) as [ServerState<any>]
  assert.throws(() => s.noRerun(() => s.forceRerunBoundSessions('foo')), RerunSuppressedError)
  assert.equal(s.version('foo'), 0, 'nothing was bumped')
})

test('the lock of a key is one object, by attribute or by item', async () => {
  const s = configure({ url: relay.url, room: 'original-lock-view', WebSocketPolyfill: WebSocket, broadcastChannel: false })
  pool.track(s)
  await s.ready
  assert.equal(serverStateLock.count, serverStateLock.count)
  assert.notEqual(serverStateLock.count, serverStateLock.other)
  await serverStateLock.count!(() => {
    if (!('count' in serverState)) serverState.count = 0
  })
  await serverStateLock.count!(() => {
    serverState.count += 1
  })
  assert.equal(serverState.count, 1)
  assert.equal(defaultSession(), s)
})

test('keys are strings: symbol keys are refused, and names like __proto__ are plain keys', async () => {
  const [writer, reader] = (await sessions(2)) as [ServerState<any>, ServerState<any>]
  const sym = Symbol('k')
  assert.throws(() => {
    ;(writer.state as any)[sym] = 1
  }, TypeError)
  assert.throws(() => {
    delete (writer.state as any)[sym]
  }, TypeError)
  assert.equal((writer.state as any)[sym], undefined)
  // biome-ignore lint/suspicious/noProto: the test writes a key named __proto__ to show it is a plain key, not the prototype
  writer.state.__proto__ = { a: 1 }
  writer.state.constructor = 'c'
  await eventually(() => reader.has('constructor') && reader.has('__proto__'), 'the odd keys')
  assert.deepEqual(reader.get('__proto__'), { a: 1 })
  assert.equal(reader.state.constructor, 'c')
  assert.deepEqual(reader.keys().sort(), ['__proto__', 'constructor'])
})

test('deleting a missing key changes nothing and re-runs nobody', async () => {
  const [writer, reader] = (await sessions(2)) as [ServerState<any>, ServerState<any>]
  const bound = counter(reader, () => reader.has('missing'))
  let updates = 0
  writer.doc.on('update', () => updates++)
  assert.equal(writer.delete('missing'), false)
  assert.equal(delete writer.state.missing, true)
  assert.equal(updates, 0)
  await barrier(writer, [reader])
  assert.equal(bound.count, 0)
})
