import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import * as decoding from 'lib0/decoding'
import { MESSAGE_YSS, YSS_FLUSH, decodeYss, encodeYss } from '../protocol/messages.js'
import { testRelay, stockClient, untilKey, rawSocket, updateFrame, updateOf, eventually, within } from './support/helpers.js'

test('two stock y-websocket clients sync a key through the relay', async () => {
  const relay = await testRelay()
  const a = stockClient(relay.url, 'sync')
  const b = stockClient(relay.url, 'sync')
  try {
    await Promise.all([a.synced, b.synced])
    a.state.set('count', 1)
    await untilKey(b.state, 'count', 1)
    b.state.set('count', 2)
    await untilKey(a.state, 'count', 2)
    assert.deepEqual(a.state.toJSON(), b.state.toJSON())
  } finally {
    a.destroy()
    b.destroy()
    await relay.close()
  }
})

test('a late joiner receives the whole room in its sync step 2', async () => {
  const relay = await testRelay()
  const a = stockClient(relay.url, 'late')
  try {
    await a.synced
    for (let i = 0; i < 20; i++) a.state.set(`k${i}`, i)
    const b = stockClient(relay.url, 'late')
    await b.synced
    await untilKey(b.state, 'k19', 19)
    assert.equal(b.state.size, 20)
    b.destroy()
  } finally {
    a.destroy()
    await relay.close()
  }
})

test('the relay sends sync step 1 and 2, and echoes an update to its sender', async () => {
  const relay = await testRelay()
  const raw = rawSocket(relay.url, 'echo')
  try {
    await raw.opened
    // the relay opens with its own sync step 1
    await raw.frame((f) => f[0] === 0 && f[1] === 0)
    raw.send(new Uint8Array([0, 0, 1, 0])) // sync step 1 with an empty state vector
    await raw.frame((f) => f[0] === 0 && f[1] === 1)
    const doc = new Y.Doc()
    doc.getMap('state').set('x', 'echoed')
    const update = Y.encodeStateAsUpdate(doc)
    raw.send(updateFrame(update))
    const echo = await raw.frame((f) => f[1] === 2)
    const check = new Y.Doc()
    Y.applyUpdate(check, updateOf(echo)!)
    assert.equal(check.getMap('state').get('x'), 'echoed')
  } finally {
    raw.ws.close()
    await relay.close()
  }
})

test('awareness is relayed, and removed when its connection closes', async () => {
  const relay = await testRelay()
  const a = stockClient(relay.url, 'aware')
  const b = stockClient(relay.url, 'aware')
  try {
    await Promise.all([a.synced, b.synced])
    a.provider.awareness.setLocalStateField('user', 'ada')
    const aId = a.doc.clientID
    await eventually(() => (b.provider.awareness.getStates().get(aId) as any)?.user === 'ada', "b to see a's awareness")
    const removed = new Promise<void>((resolve) => {
      b.provider.awareness.on('change', ({ removed }: { removed: number[] }) => {
        if (removed.includes(aId)) resolve()
      })
    })
    a.provider.ws!.close() // the relay sees the socket close and removes a's state
    await within(removed, 5_000, "a's awareness to be removed")
  } finally {
    a.destroy()
    b.destroy()
    await relay.close()
  }
})

test('rooms are separate documents', async () => {
  const relay = await testRelay()
  const a = stockClient(relay.url, 'room-a')
  const b = stockClient(relay.url, 'room-b')
  const a2 = stockClient(relay.url, 'room-a')
  try {
    await Promise.all([a.synced, b.synced, a2.synced])
    a.state.set('only', 'a')
    await untilKey(a2.state, 'only', 'a')
    assert.equal(b.state.has('only'), false)
  } finally {
    a.destroy()
    b.destroy()
    a2.destroy()
    await relay.close()
  }
})

test('query awareness is answered with every known state', async () => {
  const relay = await testRelay()
  const a = stockClient(relay.url, 'query')
  try {
    await a.synced
    a.provider.awareness.setLocalStateField('user', 'grace')
    await eventually(() => relay.metrics.get('messages_in_total') >= 3, 'the awareness update to arrive')
    // Joined after the state was set: the relay sends it once on join, and again only on a query.
    const raw = rawSocket(relay.url, 'query')
    const hasGrace = (f: Uint8Array) => f[0] === 1 && new TextDecoder().decode(f).includes('grace')
    await raw.frame(hasGrace)
    const before = raw.frames.filter(hasGrace).length
    raw.send(new Uint8Array([3]))
    await eventually(() => raw.frames.filter(hasGrace).length > before, 'an answer to the query', 3_000)
    raw.ws.close()
  } finally {
    a.destroy()
    await relay.close()
  }
})

test('frames that arrive together are all answered, even when the first stores nothing', async () => {
  const relay = await testRelay()
  const raw = rawSocket(relay.url, 'together')
  try {
    await raw.opened
    await raw.frame((f) => f[0] === 0 && f[1] === 0)
    // Sent in one tick, so they reach the relay in one TCP read: flushes store nothing.
    for (let id = 1; id <= 3; id++) raw.send(encodeYss({ type: YSS_FLUSH, id }))
    const flushed = new Set<number>()
    await raw.frame((f) => {
      if (f[0] === MESSAGE_YSS) flushed.add(decodeYss(decoding.createDecoder(f.subarray(1))).id)
      return flushed.size === 3
    }, 2_000)
    assert.deepEqual([...flushed].sort(), [1, 2, 3])
  } finally {
    raw.ws.close()
    await relay.close()
  }
})

test('a burst from two writers, broadcast as merged updates, reaches every client whole', async () => {
  const relay = await testRelay()
  const writers = [stockClient(relay.url, 'burst'), stockClient(relay.url, 'burst')]
  const reader = rawSocket(relay.url, 'burst')
  try {
    await Promise.all([...writers.map((w) => w.synced), reader.opened])
    await reader.frame((f) => f[0] === 0 && f[1] === 0)
    const before = reader.frames.length
    for (let i = 0; i < 200; i++) for (const [n, w] of writers.entries()) w.state.set(`w${n}-${i}`, i)
    const doc = new Y.Doc()
    await eventually(() => {
      for (const f of reader.frames.splice(before)) {
        const u = updateOf(f)
        if (u) Y.applyUpdate(doc, u)
      }
      return doc.getMap('state').size === 400
    }, 'the reader to hold all 400 keys')
    for (const w of writers) await untilKey(w.state, 'w1-199', 199)
    assert.deepEqual(doc.getMap('state').toJSON(), writers[0]!.state.toJSON())
  } finally {
    for (const w of writers) w.destroy()
    reader.ws.close()
    await relay.close()
  }
})
