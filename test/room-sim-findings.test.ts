/**
 * Regression tests for the room pipeline's bugs that the seeded simulation found (test/sim/README.md,
 * "Found beyond issue 18's list"), each on the deterministic harness (test/harness/), each failing
 * on the code before its fix. The simulation's replay line is named with each.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import { HARNESS_URL, Network } from './harness/index.js'
import { updateFrame } from './support/helpers.js'

// Finding 8 (`npm run fuzz -- --seed 30 --ops core,channel`): the room skipped every queued frame
// of a connection that had closed meanwhile, so a tab's last write, read with its close, was lost.

test("8. a write that reaches the relay with its connection's close is applied, stored and broadcast", async (t) => {
  const net = new Network()
  t.after(() => net.close())
  const a = await net.session('A', 'last-write')
  const b = await net.session('B', 'last-write')
  const linkA = net.link('A')
  a.set('k', 'last')
  a.close()
  assert.equal(linkA.up.at(-1)?.kind, 'close', 'the write (and the presence removal), then the close, on the wire')
  // One batch: the room queues the frame, the close detaches the peer, then the batch is handled.
  await net.deliverBatch([linkA])
  await net.flushAll()
  assert.equal(b.get('k'), 'last', "the other session got the closed session's last write")
  assert.equal((await net.storedDoc('last-write')).getMap('state').get('k'), 'last', 'stored')
})

test("8. what a read-only connection sent before its close is still dropped, and a closed connection's pending update goes with it", async (t) => {
  const net = new Network({ grant: (client) => (client === 'R' ? { access: 'read', presence: true } : undefined) })
  t.after(() => net.close())
  const raw = new net.WebSocket(`${HARNESS_URL}/closed-pending?harness=R`)
  await net.flushAll()
  const w = new net.WebSocket(`${HARNESS_URL}/closed-pending?harness=W`)
  await net.flushAll()
  const room = await net.room('closed-pending')

  const doc = new Y.Doc()
  doc.getMap('state').set('r', 1)
  raw.send(updateFrame(Y.encodeStateAsUpdate(doc)))
  raw.close()
  await net.deliverBatch([net.link('R')])
  assert.equal(room.doc.getMap('state').has('r'), false, "a read-only connection's update is not applied after its close either")

  // W's update builds on an item the relay lacks: it would wait as pending, with nobody left to complete it.
  const before = Y.encodeStateVector(doc)
  doc.getMap('state').set('r', 2)
  w.send(updateFrame(Y.encodeStateAsUpdate(doc, before)))
  w.close()
  await net.deliverBatch([net.link('W')])
  assert.equal(room.doc.store.pendingStructs, null, 'no pending structs of a connection that is gone')
  assert.equal(room.doc.store.pendingDs, null, 'no pending deletes of a connection that is gone')
})

// Finding 10 (`npm run fuzz -- --seed 170 --steps 150`, `npm run fuzz -- --seed 252 --ops core,channel`):
// a compaction wrote the doc's pending structs and deletes into the store, and every later load
// of the room failed with "the stored history is incomplete".

test("10. a compaction while a connection's update waits as pending stores none of it, and the room loads after a restart", async (t) => {
  const net = new Network({ compactEvery: 1 })
  t.after(() => net.close())
  const raw = new net.WebSocket(`${HARNESS_URL}/pending-compact?harness=raw`)
  await net.flushAll()
  const a = await net.session('A', 'pending-compact')
  const room = await net.room('pending-compact')

  // A tab wrote x = 1 (the relay never got it) and another overwrote it: an item whose origin,
  // and a deletion whose item, the relay lacks.
  const tab = new Y.Doc()
  tab.getMap('state').set('x', 1)
  const other = new Y.Doc()
  Y.applyUpdate(other, Y.encodeStateAsUpdate(tab))
  const before = Y.encodeStateVector(other)
  other.getMap('state').set('x', 2)
  raw.send(updateFrame(Y.encodeStateAsUpdate(other, before)))
  await net.flushAll()
  assert.notEqual(room.doc.store.pendingStructs, null, 'the update waits as pending structs')
  assert.notEqual(room.doc.store.pendingDs, null, 'and a pending delete')

  // Its sender is still connected; another session's write is stored and compacts the room.
  a.set('y', 1)
  await net.flushAll()
  const stored = await net.storedDoc('pending-compact')
  assert.equal(stored.store.pendingStructs, null, 'no pending structs in the store')
  assert.equal(stored.store.pendingDs, null, 'no pending deletes in the store')
  assert.equal(stored.getMap('state').get('y'), 1, 'the compaction kept what is integrated')

  await net.restartRelay()
  const reloaded = await net.room('pending-compact')
  assert.equal(reloaded.doc.getMap('state').get('y'), 1)
  assert.equal(reloaded.doc.getMap('state').has('x'), false)
})
