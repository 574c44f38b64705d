/**
 * The HTTP API against clients that misbehave: bodies cut short, keys named like the properties
 * of every object. Each test failed on the code before its fix.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { eventually, memoryLogger, session, testRelay } from './support/helpers.js'
import { httpApi } from './support/http-api.js'

/** Sends the head of a request and part of its body, then drops the connection once the relay reads it. */
const cutShort = (port: number, path: string): Promise<void> =>
  new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(`PUT ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"a":`, () => {
        socket.destroy()
        resolve()
      })
    })
  })

test('a body cut short is the client leaving, not a relay failure: nothing logged as an error, its place given back', async (t) => {
  const logger = memoryLogger()
  const relay = await testRelay({ logger, maxHttpRequests: 1 })
  t.after(() => relay.close())
  await cutShort(relay.port, '/rooms/cut/state/k')
  await eventually(async () => (await (await fetch(`${relay.httpUrl}metrics`)).text()).includes('status="499"'), 'the request to end')
  assert.deepEqual(
    logger.lines.filter((l) => /level=error/.test(l)),
    [],
    'a client that leaves mid-body logs an error line each time'
  )
  const api = httpApi(relay.httpUrl, 'cut')
  assert.deepEqual(await api('PUT', 'state/k', 1).then((a) => [a.status, a.body]), [200, { version: 0 }], 'its place is free again')
})

test('a key named "__proto__" (or "constructor") is a key like any other: written, read, listed, leased, watched', async (t) => {
  const relay = await testRelay()
  t.after(() => relay.close())
  const api = httpApi(relay.httpUrl, 'proto')
  assert.deepEqual((await api('PUT', 'state/__proto__', { a: 1 })).body, { version: 0 })
  assert.deepEqual((await api('PATCH', 'state', { set: { constructor: 2 } })).body, { versions: { constructor: 0 } })
  assert.deepEqual((await api('GET', 'state/__proto__')).body, { value: { a: 1 }, version: 0 })
  const all = (await api('GET', 'state')).body
  assert.deepEqual(Object.keys(all.keys).sort(), ['__proto__', 'constructor'])
  assert.deepEqual(Object.getOwnPropertyDescriptor(all.keys, '__proto__')?.value, { value: { a: 1 }, version: 0 })
  const lease = (await api('POST', 'leases', { keys: ['__proto__'] })).body
  assert.deepEqual(Object.keys(lease.values), ['__proto__'], 'the grant gives the key its value')
  const commit = await api('POST', `leases/${lease.lease}/commit`, undefined, { raw: '{"set":{"__proto__":5}}' })
  assert.deepEqual([commit.status, Object.keys(commit.body.versions)], [200, ['__proto__']])
  const s = await session(relay.url, 'proto')
  t.after(() => s.close())
  assert.equal(s.get('__proto__'), 5)
  const snapshot = await fetch(`${relay.httpUrl}rooms/proto/events`)
  const reader = snapshot.body!.getReader()
  let text = ''
  while (!text.includes('\n\n')) text += new TextDecoder().decode((await reader.read()).value)
  await reader.cancel()
  assert.match(text, /"__proto__":\{"value":5,"version":0\}/, 'the snapshot lists it')
})

test('each request runs the authenticate hook once (it may cost a call to a service)', async (t) => {
  let calls = 0
  const relay = await testRelay({
    authenticate: () => {
      calls++
      return { access: 'write' }
    }
  })
  t.after(() => relay.close())
  const api = httpApi(relay.httpUrl, 'auth-once')
  for (const [method, path, body] of [
    ['PUT', 'state/k', 1],
    ['PATCH', 'state', { set: { j: 2 } }],
    ['POST', 'state/k/force', undefined],
    ['DELETE', 'state/k', undefined],
    ['GET', 'state', undefined]
  ] as const) {
    const before = calls
    assert.equal((await api(method, path, body)).status, 200, `${method} ${path}`)
    assert.equal(calls - before, 1, `${method} ${path} ran the hook ${calls - before} times`)
  }
})
