/**
 * Retained leases, on the deterministic harness (test/harness/): after a commit that nobody waits
 * behind, the relay leaves the lease with its session (RETAINED), whose next lock on those keys
 * sends just its COMMIT; another session's ACQUIRE revokes it (REVOKE, answered by CANCEL or by a
 * COMMIT already on its way). Every interleaving below is written down frame by frame.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { HARNESS_URL, Network, type Link } from './harness/index.js'
import { eventually, yssMessages } from './support/helpers.js'
import {
  YSS_ACQUIRE,
  YSS_CANCEL,
  YSS_COMMIT,
  YSS_DONE,
  YSS_GRANT,
  YSS_HELLO,
  YSS_RETAINED,
  YSS_REVOKE,
  encodeYss,
  type YssMessage
} from '../protocol/messages.js'
import type { ServerState } from '../client/index.js'

/** The types of the lock messages a link carried one way, since `from` (an index into delivered frames). */
const sent = (link: Link, from = 0): number[] =>
  yssMessages([...link.delivered.up.slice(from), ...link.queued('up')])
    .filter((m) => m.type !== YSS_HELLO)
    .map((m) => m.type)
const received = (link: Link, from = 0): YssMessage[] => yssMessages(link.delivered.down.slice(from))

type Counter = { n?: number }
const increment = (s: ServerState<Counter>): Promise<void> =>
  s.lock('n', (st) => {
    st.n = (st.n ?? 0) + 1
  })

test('an uncontended commit leaves the lease with its session: the next lock sends COMMIT alone, and counts exactly', async (t) => {
  const net = new Network()
  t.after(() => net.close())
  const a = await net.session<Counter>('A', 'kept')
  const link = net.link('A')
  const p1 = increment(a)
  await net.flushAll()
  await p1
  assert.deepEqual(sent(link), [YSS_ACQUIRE, YSS_COMMIT])
  const reply = received(link).at(-1)!
  assert.equal(reply.type, YSS_RETAINED, 'the commit was answered with RETAINED')

  const up = link.delivered.up.length
  for (let i = 0; i < 3; i++) {
    const p = increment(a)
    await net.flushAll()
    await p
  }
  assert.deepEqual(sent(link, up), [YSS_COMMIT, YSS_COMMIT, YSS_COMMIT], 'no ACQUIRE for the locks after the first')
  assert.ok(
    received(link)
      .slice(-3)
      .every((m) => m.type === YSS_RETAINED && m.id === reply.id),
    'each commit kept the same lease'
  )
  assert.equal(a.get('n'), 4)
  assert.equal((await net.storedDoc('kept')).getMap('state').get('n'), 4)
  assert.equal(net.metrics.get('locks_granted_total'), 1)
})

test('a COMMIT that crosses the REVOKE on the wire is applied, then the waiter gets the lease: in order, exact', async (t) => {
  const net = new Network()
  t.after(() => net.close())
  const a = await net.session<Counter>('A', 'cross')
  const b = await net.session<Counter>('B', 'cross')
  const [linkA, linkB] = [net.link('A'), net.link('B')]
  const first = increment(a)
  await net.flushAll()
  await first

  // A's next lock runs on its retained lease; its COMMIT is on the wire, not yet at the relay.
  net.hold(linkA, 'up')
  const upA = linkA.delivered.up.length
  const second = increment(a)
  await net.settle()
  assert.deepEqual(sent(linkA, upA), [YSS_COMMIT])
  // B asks: the relay asks A for the lease back.
  const downA = linkA.delivered.down.length
  const third = increment(b)
  await net.settle()
  await net.deliver(linkB, 'up')
  await net.deliver(linkA, 'down')
  assert.deepEqual(
    received(linkA, downA).map((m) => m.type),
    [YSS_REVOKE]
  )
  assert.deepEqual(sent(linkA, upA), [YSS_COMMIT], 'A answers the REVOKE with the COMMIT already sent, not a CANCEL')
  assert.equal(
    received(linkB).some((m) => m.type === YSS_GRANT),
    false,
    "B waits while A's lease is out"
  )

  net.release(linkA, 'up')
  await net.flushAll()
  await Promise.all([second, third])
  assert.equal(received(linkA).at(-1)!.type, YSS_DONE, 'the crossing commit ends the lease')
  assert.equal(b.get('n'), 3, "B read A's second increment")
  assert.equal(a.get('n'), 3)
  assert.equal((await net.storedDoc('cross')).getMap('state').get('n'), 3)

  // Revoked, A queues like anyone: its next lock sends ACQUIRE (and B's lease is retained now).
  const upA2 = linkA.delivered.up.length
  const fourth = increment(a)
  await net.flushAll()
  await fourth
  assert.deepEqual(sent(linkA, upA2), [YSS_ACQUIRE, YSS_COMMIT])
  assert.equal(a.get('n'), 4)
  assert.equal(net.metrics.get('locks_revoked_total'), 2)
})

test('an idle retained lease is given back at once (CANCEL) when another session asks', async (t) => {
  const net = new Network()
  t.after(() => net.close())
  const a = await net.session<Counter>('A', 'idle')
  const b = await net.session<Counter>('B', 'idle')
  const linkA = net.link('A')
  await Promise.all([increment(a), net.flushAll()])
  const upA = linkA.delivered.up.length
  const p = increment(b)
  await net.flushAll()
  await p
  assert.deepEqual(sent(linkA, upA), [YSS_CANCEL])
  assert.equal(b.get('n'), 2)
  const again = increment(a)
  await net.flushAll()
  await again
  assert.deepEqual(sent(linkA, upA), [YSS_CANCEL, YSS_ACQUIRE, YSS_COMMIT])
  assert.equal((await net.storedDoc('idle')).getMap('state').get('n'), 3)
})

test('a holder that disconnects with a retained lease frees it: the next session is granted without a REVOKE', async (t) => {
  const net = new Network()
  t.after(() => net.close())
  const a = await net.session<Counter>('A', 'gone')
  const b = await net.session<Counter>('B', 'gone')
  await Promise.all([increment(a), net.flushAll()])
  const oldLink = net.link('A')
  assert.equal(received(oldLink).at(-1)?.type, YSS_RETAINED, 'A holds a retained lease')
  const downBefore = oldLink.delivered.down.length
  net.offline('A')
  const p = increment(b)
  await net.flushAll()
  await p
  assert.equal(b.get('n'), 2)
  assert.equal(received(oldLink, downBefore).length, 0)
  assert.equal(net.metrics.get('locks_revoked_total'), 0)

  // Back online, A's old lease is gone with its socket: it asks again.
  const link = await net.reconnect('A')
  const again = increment(a)
  await net.flushAll()
  await again
  assert.deepEqual(sent(link), [YSS_ACQUIRE, YSS_COMMIT])
  assert.equal((await net.storedDoc('gone')).getMap('state').get('n'), 3)
})

test('a REVOKE that is not answered ends the lease after the lease time, and the waiter gets it', async (t) => {
  const net = new Network({ leaseMs: 100 })
  t.after(() => net.close())
  const a = await net.session<Counter>('A', 'mute')
  const b = await net.session<Counter>('B', 'mute')
  const [linkA, linkB] = [net.link('A'), net.link('B')]
  await Promise.all([increment(a), net.flushAll()])
  net.hold(linkA, 'down') // A never reads the REVOKE
  const p = increment(b)
  await net.flushAll()
  assert.equal(
    received(linkB).some((m) => m.type === YSS_GRANT),
    false,
    'B waits for the revocation'
  )
  await eventually(() => linkB.queued('down').length > 0, 'the grant after the lease time', 5_000)
  await net.flushAll()
  await p
  assert.equal(net.metrics.get('locks_expired_total'), 1)
  assert.equal(b.get('n'), 2)

  // A reads the REVOKE late and gives back a lease the relay already took: nothing changes.
  net.release(linkA, 'down')
  await net.flushAll()
  const again = increment(a)
  await net.flushAll()
  await again
  assert.equal((await net.storedDoc('mute')).getMap('state').get('n'), 3)
})

test('multi-key: a retained lease serves a lock on some of its keys; a lock on other keys gives it back first', async (t) => {
  const net = new Network()
  t.after(() => net.close())
  const a = await net.session<{ x?: number; y?: number; z?: number }>('A', 'multi')
  const b = await net.session<{ x?: number; y?: number; z?: number }>('B', 'multi')
  const link = net.link('A')
  const run = async (p: Promise<unknown>) => {
    await net.flushAll()
    await p
  }
  await run(
    a.lock(['x', 'y'], (s) => {
      s.x = 1
      s.y = 1
    })
  )
  const up = link.delivered.up.length
  await run(
    a.lock(['y'], (s) => {
      s.y = (s.y ?? 0) + 1
    })
  )
  assert.deepEqual(sent(link, up), [YSS_COMMIT], 'a lock on a subset runs on the retained lease')
  await run(
    a.lock(['x', 'y'], (s) => {
      s.x = (s.x ?? 0) + 1
    })
  )
  assert.deepEqual(sent(link, up), [YSS_COMMIT, YSS_COMMIT], 'the subset lock kept the whole lease')
  await run(
    a.lock(['y', 'z'], (s) => {
      s.z = (s.y ?? 0) * 10
    })
  )
  assert.deepEqual(sent(link, up), [YSS_COMMIT, YSS_COMMIT, YSS_CANCEL, YSS_ACQUIRE, YSS_COMMIT], 'given back before the ACQUIRE')
  assert.equal(net.metrics.get('locks_revoked_total'), 0, 'the session never waits behind its own lease')
  // Another session locking y and z revokes A's new lease; x is free.
  await run(
    b.lock(['x'], (s) => {
      s.x = (s.x ?? 0) + 100
    })
  )
  await run(
    b.lock(['z'], (s) => {
      s.z = (s.z ?? 0) + 1
    })
  )
  assert.equal(net.metrics.get('locks_revoked_total'), 1)
  assert.deepEqual(b.get('x'), 102)
  assert.deepEqual(b.get('z'), 21)
  assert.deepEqual(a.get('y'), 2)
})

test('a client whose HELLO does not announce retained leases is answered DONE, and its lease goes at once', async (t) => {
  const net = new Network()
  t.after(() => net.close())
  const ws = new net.WebSocket(`${HARNESS_URL}/old-client?harness=old`)
  const frames: Uint8Array[] = []
  ws.onmessage = (e) => frames.push(new Uint8Array(e.data))
  await net.flushAll()
  ws.send(encodeYss({ type: YSS_HELLO, id: 0 }))
  ws.send(encodeYss({ type: YSS_ACQUIRE, id: 1, keys: ['n'] }))
  await net.flushAll()
  assert.equal(yssMessages(frames).at(-1)?.type, YSS_GRANT)
  ws.send(encodeYss({ type: YSS_COMMIT, id: 1, update: new Uint8Array() }))
  await net.flushAll()
  assert.deepEqual(yssMessages(frames).at(-1), { type: YSS_DONE, id: 1 })
  const b = await net.session<Counter>('B', 'old-client')
  const p = increment(b)
  await net.flushAll()
  await p
  assert.equal(
    yssMessages(frames).some((m) => m.type === YSS_REVOKE || m.type === YSS_RETAINED),
    false
  )
  assert.equal(net.metrics.get('locks_retained_total'), 1, 'only B, which announced it, retains')
})
