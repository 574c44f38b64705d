/**
 * A read's answer is as large as the room: clients that ask and never read must not make the
 * relay hold their answers past its outbound budget (`maxQueuedBytesTotal`), as sockets cannot.
 * Before the answers were counted, every one was held in full: 6 unread reads of a 20 MB room
 * held about 120 MB with a budget of 32 MiB, and no limit was hit.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { eventually, testRelay } from './support/helpers.js'
import { httpApi } from './support/http-api.js'
import { metricSamples } from '../relay/http/inspector-api.js'

/** Asks for the room's state and reads nothing: the answer waits in the relay. */
const unreadRead = (port: number, room: string): Promise<Socket> =>
  new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.pause()
      socket.write(`GET /rooms/${room}/state HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n`, () => resolve(socket))
    })
    socket.on('error', () => {})
  })

test("reads' answers count in the relay's outbound budget: unread ones past it are refused or cut", async (t) => {
  const MiB = 1024 * 1024
  const relay = await testRelay({ maxQueuedBytesTotal: 32 * MiB, maxHttpBodyBytes: 24 * MiB })
  t.after(() => relay.close())
  const api = httpApi(relay.httpUrl, 'big')
  assert.equal((await api('PUT', 'state/blob', 'x'.repeat(20 * MiB))).status, 200)

  const sockets = await Promise.all(Array.from({ length: 6 }, () => unreadRead(relay.port, 'big')))
  t.after(() => {
    for (const s of sockets) s.destroy()
  })
  const hits = async () =>
    metricSamples(await (await fetch(`${relay.httpUrl}metrics`)).text())['limit_hits_total{limit="queued_bytes_total"}'] ?? 0
  await eventually(async () => (await hits()) > 0, 'the outbound budget to refuse or evict an unread answer')
  // The relay still answers a client that reads.
  assert.equal((await api('GET', 'state/blob')).status, 200)
})
