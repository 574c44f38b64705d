/**
 * Fencing (SEMANTICS §2.2, "Exactness"), on the deterministic harness: a session gives its socket
 * up while its bytes are still in flight (a half-open connection: y-websocket's silence watchdog,
 * a mobile network), and the old connection's frames reach the relay only after the new one has
 * synced. The new connection's HELLO names the session; the relay ends the old connections'
 * leases and standing before it answers, and tells the fate of the commit that was in flight.
 * The client decides from that answer, never from the state it re-synced.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Network, type Link } from './harness/index.js'
import { within, yssMessages } from './support/helpers.js'
import { YSS_COMMIT, YSS_DENIED, YSS_DONE } from '../protocol/messages.js'
import { LockLostError, type ServerState } from '../client/index.js'

type Counter = { n?: number }
const increment = (s: ServerState<Counter>): Promise<void> =>
  s.lock('n', (st) => {
    st.n = (st.n ?? 0) + 1
  })

/**
 * The client gives its socket up (as y-websocket's watchdog does) while what it sent is still on
 * the wire: the relay has not read it, nor the close, and the connection stays open there.
 */
const giveUp = (net: Network, link: Link): void => {
  net.hold(link, 'up')
  net.hold(link, 'down')
  link.socket.lose(1006, 'given up by the client', false)
}

/** The session's next socket, synced; the old one stays held (`Network.reconnect` would release it). */
const reconnect = async (net: Network, name: string): Promise<Link> => {
  const link = await net.nextLink(name)
  await net.flushAll()
  assert.ok(net.sessions.get(name)!.connection.synced, `${name} re-synced`)
  return link
}

/** Runs `lock` up to its COMMIT on `link`'s wire: ACQUIRE and GRANT delivered, the COMMIT not. */
const upToCommit = async (net: Network, link: Link, lock: () => Promise<void>): Promise<{ lock: Promise<void> }> => {
  const p = lock()
  p.catch(() => {})
  await net.settle()
  await net.deliver(link, 'up')
  net.hold(link, 'up')
  await net.deliver(link, 'down')
  for (let i = 0; i < 10 && !yssMessages(link.queued('up')).some((m) => m.type === YSS_COMMIT); i++) await net.settle()
  assert.ok(
    yssMessages(link.queued('up')).some((m) => m.type === YSS_COMMIT),
    'the COMMIT is on the wire'
  )
  return { lock: p }
}

test('a COMMIT that reaches the relay after its session reconnected is never applied; the lock rejects with LockLostError', async (t) => {
  const net = new Network()
  t.after(() => net.close())
  const a = await net.session<Counter>('A', 'fence-late')
  const old = net.link('A')
  const { lock } = await upToCommit(net, old, () => increment(a))
  giveUp(net, old)
  const fresh = await reconnect(net, 'A')
  assert.notEqual(fresh, old)
  await assert.rejects(lock, LockLostError)

  // The old connection's bytes arrive at last: the relay has fenced it.
  await net.deliver(old, 'up')
  await net.flushAll()
  assert.equal((await net.storedDoc('fence-late')).getMap('state').has('n'), false, 'the rejected lock was applied never')
  assert.equal(a.has('n'), false)
  const denied = yssMessages(fresh.delivered.down).find((m) => m.type === YSS_DENIED)
  assert.ok(denied, 'the new connection was told the commit was abandoned')

  // A retry counts once.
  const retry = increment(a)
  await net.flushAll()
  await retry
  assert.equal((await net.storedDoc('fence-late')).getMap('state').get('n'), 1)
})

test('a COMMIT the relay applied before the reconnection resolves the lock, though its DONE was lost', async (t) => {
  const net = new Network()
  t.after(() => net.close())
  const a = await net.session<Counter>('A', 'fence-done')
  const old = net.link('A')
  const { lock } = await upToCommit(net, old, () => increment(a))
  await net.deliver(old, 'up') // applied and stored; its DONE stays on the wire
  giveUp(net, old)
  const fresh = await reconnect(net, 'A')
  await lock
  assert.equal(a.get('n'), 1)
  assert.ok(
    yssMessages(fresh.delivered.down).some((m) => m.type === YSS_DONE),
    'the new connection was told the commit was applied'
  )
  assert.equal((await net.storedDoc('fence-done')).getMap('state').get('n'), 1)
})

test("a reconnection ends the leases of the session's earlier connections: a waiter is granted at once", async (t) => {
  const net = new Network({ leaseMs: 60_000 })
  t.after(() => net.close())
  const a = await net.session<Counter>('A', 'fence-lease')
  const b = await net.session<Counter>('B', 'fence-lease')
  const old = net.link('A')
  const { lock } = await upToCommit(net, old, () => increment(a))
  const waiting = increment(b)
  await net.flushAll() // B's ACQUIRE queues behind A's lease
  giveUp(net, old)
  await reconnect(net, 'A')
  await assert.rejects(lock, LockLostError)
  await net.flushAll()
  await within(waiting, 2_000, "B's grant (the old connection's lease lasts a minute)")
  assert.equal(b.get('n'), 1, 'B was granted the lease and its increment counted alone')
  await net.deliver(old, 'up')
  await net.flushAll()
  assert.equal((await net.storedDoc('fence-lease')).getMap('state').get('n'), 1)
})
