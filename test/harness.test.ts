/**
 * Deterministic multi-session tests on the in-process harness (test/harness/): the real relay
 * rooms and real client sessions, every frame delivered when the test says. Each regression test
 * names the fix it guards; each fails when that fix is reverted.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Network } from './harness/index.js'
import { updateOf, counter } from './helpers.js'

const sync = (frames: Uint8Array[]): Uint8Array[] => frames.filter((f) => updateOf(f) !== null)

test('harness: a held frame is not seen until it is delivered', async (t) => {
  const net = new Network()
  t.after(() => net.close())
  const a = await net.session('A', 'held')
  const b = await net.session('B', 'held')
  const linkB = net.link('B')
  net.hold(linkB, 'down')
  a.set('k', 1)
  await net.flushAll()
  assert.equal(b.get('k'), undefined, 'B read a frame that was held')
  assert.equal(sync(linkB.queued('down')).length, 1, 'the update waits on B\'s link')
  assert.equal(await net.deliver(linkB, 'down', 1), 1)
  assert.equal(b.get('k'), 1)
  net.release(linkB)
  await net.flushAll()
  assert.equal(linkB.pending('down'), 0)
})

test('harness: a batch of two sessions\' frames gives one broadcast frame a peer', async (t) => {
  const net = new Network()
  t.after(() => net.close())
  const a = await net.session('A', 'batch')
  const b = await net.session('B', 'batch')
  const c = await net.session('C', 'batch')
  const links = ['A', 'B', 'C'].map((n) => net.link(n))
  for (const link of links) net.hold(link, 'down')
  a.set('x', 1)
  b.set('y', 2)
  await net.deliverBatch([net.link('A'), net.link('B')])
  for (const link of links) assert.equal(sync(link.queued('down')).length, 1, `${link}: one merged update`)
  for (const link of links) net.release(link)
  await net.flushAll()
  assert.deepEqual([c.get('x'), c.get('y')], [1, 2])

  // The same two writes delivered one after the other: one frame each.
  for (const link of links) net.hold(link, 'down')
  a.set('x', 3)
  b.set('y', 4)
  await net.deliver(net.link('A'), 'up')
  await net.deliver(net.link('B'), 'up')
  for (const link of links) assert.equal(sync(link.queued('down')).length, 2, `${link}: two updates`)
  for (const link of links) net.release(link)
  await net.flushAll()
  assert.deepEqual([c.get('x'), c.get('y')], [3, 4])
})

test('harness: a dropped session reconnects on a new socket and syncs what it wrote offline', async (t) => {
  const net = new Network()
  t.after(() => net.close())
  const a = await net.session('A', 'drop')
  const b = await net.session('B', 'drop')
  const first = net.link('A')
  net.offline('A')
  assert.equal(a.status, 'disconnected')
  a.set('k', 'offline')
  await net.flushAll()
  assert.equal(b.get('k'), undefined)
  const second = await net.reconnect('A')
  assert.notEqual(second, first)
  assert.equal(a.status, 'connected')
  assert.equal(b.get('k'), 'offline')
})
