/**
 * The next major of the stock client, ahead of its release: `@y/websocket` 4.0.0-3 on `@y/y`
 * 14.0.0-rc.6 (both prereleases, devDependencies under their own names: they clash with nothing,
 * and an alias of `@y/y` would leave `@y/websocket`'s peer import unresolved) shares a room of our
 * relay with yjs 13 clients, stock and ours. yjs 14's root type `doc.get('state')` holds its keys
 * as attributes (`setAttr`/`getAttr`); on the wire they are the entries of yjs 13's Y.Map `state`.
 *
 * A file, and so a process, of its own: yjs 14 and its lib0 1.0 prerelease load only here, and
 * a change in them fails this file alone.
 *
 * @example
 *   node --import tsx --test test/relay-compat-y14.test.ts
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import WebSocket from 'ws'
import * as Y14 from '@y/y'
import { WebsocketProvider as ProviderV4 } from '@y/websocket'
import { testRelay, stockClient, untilKey, within, nextEvent } from './support/helpers.js'
import { connect } from '../client/index.js'

/** A yjs 14 client of `room`: its doc, its provider, and its `state` type. */
const y14Client = (url: string, room: string) => {
  const doc = new Y14.Doc()
  const provider = new ProviderV4(url, room, doc, { WebSocketPolyfill: WebSocket as never, disableBc: true })
  const synced = provider.synced ? Promise.resolve() : nextEvent<void>(provider, 'sync', 10_000)
  return {
    doc,
    provider,
    state: doc.get('state'),
    synced,
    destroy: () => {
      provider.destroy()
      doc.destroy()
    }
  }
}

/** Resolves once the yjs 14 type holds `key` = `value`. */
const untilAttr = (state: Y14.Type, key: string, value: unknown, timeout = 5_000): Promise<void> => {
  const ok = () => JSON.stringify(state.getAttr(key)) === JSON.stringify(value)
  if (ok()) return Promise.resolve()
  return within(
    new Promise<void>((resolve) => {
      const fn = () => {
        if (ok()) {
          state.unobserve(fn)
          resolve()
        }
      }
      state.observe(fn)
    }),
    timeout,
    `yjs 14's attribute "${key}"`
  )
}

test('@y/websocket 4 on yjs 14 shares a room with a stock yjs 13 client and ours: keys go both ways', async () => {
  const relay = await testRelay()
  const room = 'org/mixed room é'
  const y14 = y14Client(relay.url, room)
  const y13 = stockClient(relay.url, room)
  const ours = connect({ url: relay.url, room, WebSocketPolyfill: WebSocket, broadcastChannel: false })
  try {
    await within(Promise.all([y14.synced, y13.synced, ours.ready]), 10_000, 'every client to sync')
    y14.state.setAttr('from-y14', { major: 14, list: [1, 2] })
    await within(
      Promise.all([
        untilKey(y13.state, 'from-y14', { major: 14, list: [1, 2] }),
        untilKey(ours.doc.getMap('state'), 'from-y14', { major: 14, list: [1, 2] })
      ]),
      10_000,
      "yjs 14's key at the yjs 13 clients"
    )
    assert.deepEqual(ours.get('from-y14'), { major: 14, list: [1, 2] })

    y13.state.set('from-y13', 'thirteen')
    ours.set('from-ours', 7)
    await Promise.all([untilAttr(y14.state, 'from-y13', 'thirteen'), untilAttr(y14.state, 'from-ours', 7)])
    // One room, named as the application named it, for the three clients.
    assert.deepEqual(relay.loadedRooms(), [room])
  } finally {
    y14.destroy()
    y13.destroy()
    ours.close()
    await relay.close()
  }
})

test("a yjs 14 client joining later receives the yjs 13 clients' state from the relay's store", async () => {
  const relay = await testRelay()
  const room = 'late-y14'
  const y13 = stockClient(relay.url, room)
  try {
    await within(y13.synced, 10_000, 'the yjs 13 client to sync')
    y13.state.set('count', 41)
    y13.state.set('count', 42)
    const late = y14Client(relay.url, room)
    try {
      await within(late.synced, 10_000, 'the late yjs 14 client to sync')
      assert.equal(late.state.getAttr('count'), 42)
      late.state.setAttr('count', 43)
      await untilKey(y13.state, 'count', 43)
    } finally {
      late.destroy()
    }
  } finally {
    y13.destroy()
    await relay.close()
  }
})
