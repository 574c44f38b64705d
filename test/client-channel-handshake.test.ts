/**
 * Deletions that come over the BroadcastChannel while a session's socket is re-syncing: only the
 * ones its own sync step 2 carried to the relay may be forgotten; one that came after that step 2
 * went out is still carried by the next lock commit (issue 18, bug 6).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ChannelPair, Network } from './harness/index.js'
import { within } from './support/helpers.js'
import { MESSAGE_SYNC } from '../protocol/messages.js'

/** Whether `frame` is a sync step 1 (message 0, sub-type 0). */
const isStep1 = (frame: Uint8Array): boolean => frame[0] === MESSAGE_SYNC && frame[1] === 0

test("a deletion that comes over the channel after the reconnect's sync step 2 went out is carried by the next lock commit", async (t) => {
  const net = new Network()
  t.after(() => net.close())
  const a = await net.session('A', 'bc-handshake')
  const b = await net.session('B', 'bc-handshake')
  a.set('y', 1)
  await net.flushAll()
  const bc = new ChannelPair(a, b)
  t.after(() => bc.close())
  net.offline('A') // A's deletion reaches B over the channel only
  net.offline('B')

  // B reconnects, one step at a time.
  net.online('B')
  const link = await net.nextLink('B')
  net.hold(link)
  await net.deliver(link, 'down', 1) // the open: B sends HELLO and its sync step 1
  assert.ok(isStep1(link.queued('down')[0]!), "the relay's sync step 1 waits for B")
  await net.deliver(link, 'down', 1) // B answers the relay's step 1 with its step 2
  a.delete('y')
  assert.equal(bc.forward(a), 1)
  assert.equal(b.has('y'), false, "B reads A's deletion from the channel")
  await net.deliver(link, 'up') // HELLO, step 1, step 2 (without the deletion)
  await net.deliver(link, 'down') // ACCESS and the relay's step 2: B is synced
  assert.equal(b.connection.synced, true)
  net.release(link)

  const locked = b.lock(['x', 'y'], (s) => {
    if (!('y' in s)) s.x = 'y is gone'
  })
  await net.flushAll()
  await within(locked, 5_000, "B's lock")
  const c = await net.session('C', 'bc-handshake')
  assert.equal(c.get('x'), 'y is gone')
  assert.equal(c.has('y'), false, 'the lock resolved, yet the relay lacks the deletion it read')
  assert.equal((await net.storedDoc('bc-handshake')).getMap('state').has('y'), false)
})
