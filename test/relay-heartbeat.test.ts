/**
 * The relay's heartbeat, over real sockets: every `pingMs` it pings each connection, and drops one
 * it heard nothing from (not even a pong) since the previous ping.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import WebSocket from 'ws'
import { rawSocket, testRelay, within } from './support/helpers.js'

/** Resolves at the `n`th ping `ws` receives from now on. */
const pings = (ws: WebSocket, n: number): Promise<void> =>
  new Promise((resolve) => {
    let seen = 0
    const on = () => {
      if (++seen < n) return
      ws.off('ping', on)
      resolve()
    }
    ws.on('ping', on)
  })

test('the heartbeat drops a client that answers no ping, and keeps pinging one that answers', async () => {
  const relay = await testRelay({ pingMs: 100 })
  const silent = rawSocket(relay.url, 'heartbeat', { autoPong: false })
  const live = rawSocket(relay.url, 'heartbeat')
  try {
    await Promise.all([silent.opened, live.opened])
    const dropped = await within(silent.closed, 5_000, 'the silent client to be dropped')
    assert.equal(dropped.code, 1006, 'terminated, with no close frame')
    // The relay pings only a connection it heard from since the last ping: two more pings mean
    // the live one passed two more checks after the silent one was dropped.
    await within(pings(live.ws, 2), 5_000, 'two more pings to the live client')
    assert.equal(live.ws.readyState, WebSocket.OPEN)
  } finally {
    live.ws.close()
    await relay.close()
  }
})
