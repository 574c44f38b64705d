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
