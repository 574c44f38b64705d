/**
 * A session that reconnects after writing offline sends a new write only with or after its sync
 * step 2, never before it: a live update sent first builds on the offline writes the relay does
 * not have yet, so its items wait there as pending structs while its deletions apply at once. A
 * force (which replaces the writer's count entry of the key) or a set then deletes what the relay
 * stored, and if the session closes before its step 2, the stored force or value is gone for good
 * (test/sim/README.md, finding 11).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type * as Y from 'yjs'
import { Network } from './harness/index.js'
import { forceCount } from '../protocol/doc-writes.js'
import { FORCES } from '../protocol/doc-names.js'

test('a force made on a reconnecting socket before its sync step 2, then close(), loses no stored force', async (t) => {
  const net = new Network()
  t.after(() => net.close())
  const a = await net.session('A', 'force-before-step2')
  const c = await net.session('C', 'force-before-step2')
  c.forceRerunBoundSessions('k')
  await net.flushAll()
  assert.equal(a.version('k'), 1)
  net.offline('C')
  c.set('x', 1)
  net.online('C')
  const link = await net.nextLink('C')
  net.hold(link, 'down')
  await net.deliver(link, 'down', 1) // the socket opens; the relay's answers stay in flight
  await net.deliver(link, 'up') // HELLO and C's sync step 1
  assert.equal(c.connection.synced, false)
  c.forceRerunBoundSessions('k')
  await net.deliver(link, 'up')
  c.close()
  await net.flushAll()
  assert.ok(a.version('k') >= 1, `the stored force is kept (version ${a.version('k')})`)
  const stored = await net.storedDoc('force-before-step2')
  assert.ok(forceCount(stored.getMap(FORCES) as Y.Map<number>, 'k') >= 1, 'the store keeps the stored force')
})

test('a set made on a reconnecting socket before its sync step 2, then close(), deletes no stored value', async (t) => {
  const net = new Network()
  t.after(() => net.close())
  const a = await net.session('A', 'set-before-step2')
  const c = await net.session('C', 'set-before-step2')
  c.set('k', 1)
  await net.flushAll()
  net.offline('C')
  c.set('x', 1)
  net.online('C')
  const link = await net.nextLink('C')
  net.hold(link, 'down')
  await net.deliver(link, 'down', 1)
  await net.deliver(link, 'up')
  c.set('k', 2)
  await net.deliver(link, 'up')
  c.close()
  await net.flushAll()
  assert.ok(a.has('k'), 'the key keeps a value')
})
