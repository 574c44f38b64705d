/**
 * `flush()` resolves only once the relay has stored the session's writes, never while they wait
 * in the relay's doc as pending structs for an update the relay lacks (issue 18, bug 5): a write
 * built on one that reached the tab over the BroadcastChannel from a tab whose socket is down.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ChannelPair, Network } from './harness/index.js'
import { within } from './support/helpers.js'

test("flush() of a write built on another tab's write that the relay lacks resolves once the relay has stored both", async (t) => {
  const net = new Network()
  t.after(() => net.close())
  const a = await net.session('A', 'flush-pending')
  const b = await net.session('B', 'flush-pending')
  const c = await net.session('C', 'flush-pending')
  const bc = new ChannelPair(a, b)
  t.after(() => bc.close())
  net.offline('A') // A's socket is down and stays down
  a.set('x', 100)
  assert.equal(bc.forward(a), 1)
  b.set('x', 101) // its item builds on A's, which the relay lacks
  const flush = b.flush()
  await net.flushAll()
  await within(flush, 5_000, 'the flush')
  const room = await net.room('flush-pending')
  assert.equal(room.doc.store.pendingStructs, null, 'FLUSHED, yet the write waits as a pending struct')
  assert.equal((await net.storedDoc('flush-pending')).getMap('state').get('x'), 101, 'FLUSHED, yet the write is not stored')
  assert.equal(c.get('x'), 101, 'FLUSHED, yet another session does not see the write')
})

test('flush() of a write the relay holds as pending waits, and resolves once the missing write arrives from its writer', async (t) => {
  const net = new Network()
  t.after(() => net.close())
  const a = await net.session('A', 'flush-later')
  const b = await net.session('B', 'flush-later')
  const bc = new ChannelPair(a, b)
  t.after(() => bc.close())
  net.offline('A')
  a.set('x', 100)
  bc.forward(a)
  const linkB = net.link('B')
  b.set('x', 101)
  let flushed = false
  const flush = b.flush().then(() => {
    flushed = true
  })
  assert.equal(await net.deliver(linkB, 'up'), 2, 'the update, then FLUSH')
  const room = await net.room('flush-later')
  assert.ok(room.doc.store.pendingStructs, "B's write waits in the relay")
  net.hold(linkB, 'up') // whatever B answers stays on its way
  await net.flushAll()
  assert.equal(flushed, false, 'flush() resolved while the write waits as a pending struct')

  await net.reconnect('A') // A's write arrives: B's integrates and is stored
  assert.equal(room.doc.store.pendingStructs, null)
  await within(flush, 5_000, 'the flush')
  assert.equal((await net.storedDoc('flush-later')).getMap('state').get('x'), 101)
  net.release(linkB)
  await net.flushAll()
})

test('flush() whose pending write the relay dropped (another sender passed maxPendingBytes) waits for it to be sent again and stored', async (t) => {
  const net = new Network({ limits: { maxPendingBytes: 2_000 } })
  t.after(() => net.close())
  const a = await net.session('A', 'flush-dropped')
  const b = await net.session('B', 'flush-dropped')
  const c = await net.session('C', 'flush-dropped')
  const toB = new ChannelPair(a, b)
  const toC = new ChannelPair(a, c)
  t.after(() => {
    toB.close()
    toC.close()
  })
  net.offline('A')
  a.set('x', 100)
  a.set('z', 100)
  toB.forward(a)
  toC.forward(a)
  b.set('x', 101)
  let flushed = false
  const flush = b.flush().then(() => {
    flushed = true
  })
  const linkB = net.link('B')
  assert.equal(await net.deliver(linkB, 'up'), 2, 'the update, then FLUSH')
  net.hold(linkB, 'up') // what B answers waits: its write is pending, and stays so
  await net.flushAll()
  const room = await net.room('flush-dropped')
  assert.ok(room.doc.store.pendingStructs, "B's write waits in the relay")

  // C's pending write passes the limit: C is closed, and B's pending write is dropped with it.
  c.set('z', 'c'.repeat(3_000))
  await net.deliver(net.link('C'), 'up')
  assert.equal(net.link('C').ended?.code, 1008)
  assert.equal(room.doc.store.pendingStructs, null, 'what was pending is dropped')
  assert.equal(flushed, false)

  await net.reconnect('A') // A's write arrives; B's, dropped, is not in the relay
  assert.equal(flushed, false, 'FLUSHED for a write the relay dropped')
  net.release(linkB) // B's answers to the relay's requests for what is missing
  await net.flushAll()
  await within(flush, 5_000, 'the flush')
  assert.equal((await net.storedDoc('flush-dropped')).getMap('state').get('x'), 101)
})
