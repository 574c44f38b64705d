/**
 * Writes made before the relay has said a session's access go nowhere: not to the relay, not over
 * the BroadcastChannel. They are held (the session shows them), sent once the relay says `write`,
 * and rolled back with a ReadOnlyError if it says `read` (issue 19, break 5; SEMANTICS §2.4).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ChannelPair, Network } from './harness/index.js'
import { counter, within } from './support/helpers.js'
import { ReadOnlyError } from '../client/index.js'

type Outcome = { ok: true } | { ok: false; error: unknown }
const outcome = (p: Promise<unknown>): Promise<Outcome> =>
  p.then(
    () => ({ ok: true as const }),
    (error: unknown) => ({ ok: false as const, error })
  )

test("a read-only session's write made before its access is known reaches no other tab and no relay, and is rolled back with ReadOnlyError", async (t) => {
  const net = new Network()
  t.after(() => net.close())
  const a = await net.session('A', 'early-read')
  net.grants.set('R', { access: 'read', presence: true })
  // A token function: the access is not known until the relay says it.
  const r = net.connect('R', 'early-read', { token: () => 'opaque', broadcastChannel: true })
  const bc = new ChannelPair(a, r)
  t.after(() => bc.close())
  const watch = counter(r, () => r.get('x'))
  assert.equal(r.access, 'write', 'assumed until the relay says')
  r.set('x', 'from the viewer')
  assert.equal(r.get('x'), 'from the viewer', 'the session shows its own write meanwhile')
  assert.equal(watch.count, 1, "R's reader shows the held write")
  assert.equal(r.provider.bcconnected, false, 'the channel is silent until the access is known')
  bc.forward(r)
  const flushed = outcome(r.flush())

  await net.flushAll()
  await within(r.ready, 5_000, 'R to sync')
  assert.equal(r.access, 'read')
  bc.forward(r)
  assert.equal(r.get('x'), undefined, 'the write is rolled back')
  assert.equal(watch.count, 2, "R's reader shows the rollback")
  const result = await within(flushed, 5_000, 'the flush')
  assert.ok(!result.ok && result.error instanceof ReadOnlyError, `flush() rejects with ReadOnlyError, not ${JSON.stringify(result)}`)
  assert.equal(r.provider.bcconnected, false, 'a read-only session never joins the channel')
  assert.throws(() => r.set('x', 1), ReadOnlyError)

  // Whatever reached A over the channel goes to the relay when A re-syncs.
  net.offline('A')
  await net.reconnect('A')
  assert.equal(a.has('x'), false, "the viewer's write reached a writing tab")
  assert.equal((await net.room('early-read')).doc.getMap('state').has('x'), false)
  assert.equal((await net.storedDoc('early-read')).getMap('state').has('x'), false, "the viewer's write is stored")
})

test("a writing session's write made before its access is known is held, then sent once the relay says write", async (t) => {
  const net = new Network()
  t.after(() => net.close())
  const a = await net.session('A', 'early-write')
  const w = net.connect('W', 'early-write', { token: () => 'opaque', broadcastChannel: true })
  const bc = new ChannelPair(a, w)
  t.after(() => bc.close())
  w.set('y', 1)
  assert.equal(w.get('y'), 1)
  assert.equal(bc.pending(w), 0, 'nothing goes over the channel before the access is known')
  assert.equal(w.provider.bcconnected, false)
  const flushed = w.flush()
  await net.flushAll()
  await within(w.ready, 5_000, 'W to sync')
  await within(flushed, 5_000, 'the flush')
  assert.equal(w.access, 'write')
  assert.equal(w.provider.bcconnected, true, 'the channel opens once the relay says write')
  assert.equal(bc.pending(w), 1, 'the held write goes over the channel once the access is known')
  assert.equal(a.get('y'), 1, 'the held write reaches the relay')
  assert.equal((await net.storedDoc('early-write')).getMap('state').get('y'), 1)
})
