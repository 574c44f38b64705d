/**
 * Deterministic multi-session tests on the in-process harness (test/harness/): the real relay
 * rooms and real client sessions, every frame delivered when the test says. Each regression test
 * names the fix it guards and fails on the behaviour before it.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import { ChannelPair, HARNESS_URL, Network } from './harness/index.js'
import { counter, updateOf, within, yssMessages } from './support/helpers.js'
import { LockLostError } from '../client/index.js'
import { CLOSE } from '../protocol/close-codes.js'
import { YSS_ACQUIRE, YSS_COMMIT, YSS_DENIED, YSS_DONE, YSS_GRANT, encodeYss } from '../protocol/messages.js'

const sync = (frames: Uint8Array[]): Uint8Array[] => frames.filter((f) => updateOf(f) !== null)

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown }
const outcome = <T>(p: Promise<T>): Promise<Outcome<T>> =>
  p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error })
  )

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
  assert.equal(sync(linkB.queued('down')).length, 1, "the update waits on B's link")
  assert.equal(await net.deliver(linkB, 'down', 1), 1)
  assert.equal(b.get('k'), 1)
  net.release(linkB)
  await net.flushAll()
  assert.equal(linkB.pending('down'), 0)
})

test("harness: a batch of two sessions' frames gives one broadcast frame a peer", async (t) => {
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

// 1. A lock can resolve while its writes are applied nowhere (fixes: client/lock.ts
// withDependencies, relay/locks/lock-messages.ts integrates). Either fix alone keeps the first test
// green (the commit carries its dependency, or it is denied), so it fails only with both
// reverted; the relay test checks the relay's fix alone.

test('1. a lock built on a write that came over the BroadcastChannel is applied everywhere, or rejected and applied nowhere', async (t) => {
  const net = new Network()
  t.after(() => net.close())
  const a = await net.session('A', 'bc-lock')
  const b = await net.session('B', 'bc-lock')
  const bc = new ChannelPair(a, b)
  t.after(() => bc.close())
  net.offline('A') // A's socket is down and stays down
  a.set('x', 100)
  assert.equal(bc.forward(a), 1)
  assert.equal(b.get('x'), 100, "B reads A's write from the channel")

  const locked = outcome(
    b.lock('x', (s) => {
      s.x += 1
    })
  )
  await net.flushAll()
  const result = await within(locked, 5_000, "B's lock to settle")
  t.diagnostic(result.ok ? 'the lock resolved' : 'the lock was denied')
  const room = await net.room('bc-lock')
  assert.equal(room.doc.store.pendingStructs, null, 'the relay keeps a commit it could not integrate')
  const c = await net.session('C', 'bc-lock')
  const stored = (await net.storedDoc('bc-lock')).getMap('state').get('x')
  if (result.ok) {
    assert.equal(c.get('x'), 101, 'the lock resolved: a fresh session reads its write')
    assert.equal(stored, 101, 'the lock resolved: its write is stored')
  } else {
    assert.ok(result.error instanceof LockLostError, `rejected with ${String(result.error)}`)
    assert.notEqual(c.get('x'), 101)
    assert.notEqual(stored, 101)
    assert.equal(b.get('x'), 100, 'a rejected lock is applied nowhere')
  }
  await net.reconnect('A')
  const x = result.ok ? 101 : 100
  assert.deepEqual([a.get('x'), b.get('x'), c.get('x')], [x, x, x])
})

test('1. a lock built on a deletion that came over the BroadcastChannel is applied everywhere, or rejected and applied nowhere', async (t) => {
  const net = new Network()
  t.after(() => net.close())
  const a = await net.session('A', 'bc-delete')
  const b = await net.session('B', 'bc-delete')
  a.set('y', 1)
  await net.flushAll()
  const bc = new ChannelPair(a, b)
  t.after(() => bc.close())
  net.offline('A')
  a.delete('y')
  assert.equal(bc.forward(a), 1)
  assert.equal(b.has('y'), false, "B reads A's deletion from the channel")

  const locked = outcome(
    b.lock(['x', 'y'], (s) => {
      if (!('y' in s)) s.x = 'y is gone'
    })
  )
  await net.flushAll()
  const result = await within(locked, 5_000, "B's lock to settle")
  const c = await net.session('C', 'bc-delete')
  if (result.ok) {
    assert.equal(c.get('x'), 'y is gone')
    assert.equal(c.has('y'), false, 'the lock resolved, yet the relay lacks the deletion it read')
  } else {
    assert.ok(result.error instanceof LockLostError, `rejected with ${String(result.error)}`)
    assert.equal(c.has('x'), false)
  }
})

test('1. relay: a COMMIT whose items build on an item the relay lacks is DENIED and nothing of it applied', async (t) => {
  const net = new Network()
  t.after(() => net.close())
  const ws = new net.WebSocket(`${HARNESS_URL}/raw-commit?harness=raw`)
  const frames: Uint8Array[] = []
  ws.onmessage = (e) => frames.push(new Uint8Array(e.data))
  await net.flushAll()
  const lastReply = () => yssMessages(frames).at(-1)

  // A tab wrote x = 100 and the holder overwrote it: the holder's item has the tab's as origin.
  const tab = new Y.Doc()
  tab.getMap('state').set('x', 100)
  const holder = new Y.Doc()
  Y.applyUpdate(holder, Y.encodeStateAsUpdate(tab))
  const before = Y.encodeStateVector(holder)
  holder.getMap('state').set('x', 101)
  const alone = Y.encodeStateAsUpdate(holder, before) // starts where the relay is for the holder's client
  assert.equal(Y.parseUpdateMeta(alone).from.get(holder.clientID), 0)

  ws.send(encodeYss({ type: YSS_ACQUIRE, id: 1, keys: ['x'] }))
  await net.flushAll()
  assert.equal(lastReply()?.type, YSS_GRANT)
  ws.send(encodeYss({ type: YSS_COMMIT, id: 1, update: alone }))
  await net.flushAll()
  assert.deepEqual(lastReply(), { type: YSS_DENIED, id: 1, reason: 'the writes depend on an update the relay does not have' })
  const room = await net.room('raw-commit')
  assert.equal(room.doc.store.pendingStructs, null, "nothing of the commit waits in the relay's doc")
  assert.equal(room.doc.getMap('state').has('x'), false)
  assert.equal((await net.storedDoc('raw-commit')).getMap('state').has('x'), false)

  // The same writes carrying what they build on integrate: DONE, applied and stored.
  ws.send(encodeYss({ type: YSS_ACQUIRE, id: 2, keys: ['x'] }))
  await net.flushAll()
  assert.equal(lastReply()?.type, YSS_GRANT)
  ws.send(encodeYss({ type: YSS_COMMIT, id: 2, update: Y.encodeStateAsUpdate(holder) }))
  await net.flushAll()
  assert.deepEqual(lastReply(), { type: YSS_DONE, id: 2 })
  assert.equal(room.doc.getMap('state').get('x'), 101)
  assert.equal((await net.storedDoc('raw-commit')).getMap('state').get('x'), 101)
})

// 2. A noRerun write hides an earlier normal write of the same key (fix: client/changes.ts
// decides quiet per written item).

test("2. a loud write and a later quiet write of one key, merged by the relay into one broadcast, re-run the key's readers", async (t) => {
  const net = new Network()
  t.after(() => net.close())
  const a = await net.session('A', 'quiet-batch')
  const b = await net.session('B', 'quiet-batch')
  const c = await net.session('C', 'quiet-batch')
  const bc = new ChannelPair(a, b)
  t.after(() => bc.close())
  const watch = counter(c, () => c.get('k'))
  a.set('k', 1)
  bc.forward(a) // B has A's write before it writes, without the relay
  b.noRerun(() => b.set('k', 2))
  const linkC = net.link('C')
  net.hold(linkC, 'down')
  await net.deliverBatch([net.link('A'), net.link('B')])
  assert.equal(sync(linkC.queued('down')).length, 1, 'both writes reach C as one update')
  net.release(linkC)
  await net.flushAll()
  assert.equal(c.get('k'), 2)
  assert.deepEqual(watch.calls, [['k']], "A's loud write re-runs C's reader")

  // Control: B's quiet write alone re-runs nobody.
  b.noRerun(() => b.set('k', 3))
  await net.flushAll()
  assert.equal(c.get('k'), 3)
  assert.equal(watch.count, 1)
})

test("2. a loud write and a later quiet write of one key, received in the sync step 2 of a reconnection, re-run the key's readers", async (t) => {
  const net = new Network()
  t.after(() => net.close())
  const a = await net.session('A', 'quiet-resync')
  const b = await net.session('B', 'quiet-resync')
  const c = await net.session('C', 'quiet-resync')
  const watch = counter(c, () => c.get('k'))
  net.offline('C')
  a.set('k', 1)
  await net.flushAll()
  assert.equal(b.get('k'), 1, "B has A's write before it writes")
  b.noRerun(() => b.set('k', 2))
  await net.flushAll()
  let transactions = 0
  c.doc.on('afterTransaction', (tr: Y.Transaction) => {
    if (tr.changed.has(c.doc.getMap('state') as Y.AbstractType<any>)) transactions++
  })
  await net.reconnect('C')
  assert.equal(c.get('k'), 2)
  assert.equal(transactions, 1, 'both writes reach C in one transaction')
  assert.deepEqual(watch.calls, [['k']], "A's loud write re-runs C's reader")

  // Control: two quiet writes of two sessions in one step 2 re-run nobody (the relay has
  // overwritten A's marker by then: its quiet write is known by the marker's place alone).
  net.offline('C')
  a.noRerun(() => a.set('k', 3))
  await net.flushAll()
  b.noRerun(() => b.set('k', 4))
  await net.flushAll()
  await net.reconnect('C')
  assert.equal(c.get('k'), 4)
  assert.equal(transactions, 2)
  assert.equal(watch.count, 1)
})

// 3. A tracker that took a lock during its run is spared only its own commit's writes (fix:
// client/changes.ts decides own per written item).

test("3. another session's write merged into the broadcast of a tracker's lock commit re-runs that tracker", async (t) => {
  const net = new Network()
  t.after(() => net.close())
  const a = await net.session('A', 'own-commit')
  const b = await net.session('B', 'own-commit')
  let locked: Promise<void> | undefined
  const watch = counter(a, () => {
    a.get('a')
    a.get('b')
    locked = a.lock('a', (s) => {
      s.a = 1
    }) // asked for during the run: its commit must not re-run it
  })
  const linkA = net.link('A')
  await net.deliver(linkA, 'up') // ACQUIRE
  await net.deliver(linkA, 'down') // GRANT
  await net.settle() // the lock's function runs and sends its COMMIT
  assert.equal(linkA.pending('up'), 1, "the COMMIT waits on A's link")
  b.set('b', 5)
  await net.deliverBatch([linkA, net.link('B')])
  await net.flushAll()
  await within(locked!, 5_000, "A's lock")
  assert.deepEqual([a.get('a'), a.get('b')], [1, 5])
  assert.deepEqual(watch.calls, [['b']], "B's write re-runs the tracker; its own commit does not")
})

test("3. another session's write in the sync step 2 that confirms a tracker's lock commit after a drop re-runs that tracker", async (t) => {
  const net = new Network()
  t.after(() => net.close())
  const a = await net.session('A', 'own-resync')
  const b = await net.session('B', 'own-resync')
  let locked: Promise<void> | undefined
  const watch = counter(a, () => {
    a.get('a')
    a.get('b')
    locked = a.lock('a', (s) => {
      s.a = 1
    })
  })
  const linkA = net.link('A')
  await net.deliver(linkA, 'up')
  await net.deliver(linkA, 'down')
  await net.settle()
  net.hold(linkA, 'down')
  assert.equal(await net.deliver(linkA, 'up'), 1, 'the COMMIT reaches the relay; its broadcast and DONE are held')
  b.set('b', 5)
  await net.deliver(net.link('B'), 'up')
  net.offline('A') // the held broadcast and DONE are lost: A learns of its commit from the step 2
  await net.reconnect('A')
  await within(locked!, 5_000, "A's lock")
  assert.deepEqual([a.get('a'), a.get('b')], [1, 5])
  assert.deepEqual(watch.calls, [['b']], "B's write re-runs the tracker; its own commit does not")
})

test("3. another session's quiet write merged into the broadcast of this session's lock commit re-runs nobody here", async (t) => {
  const net = new Network()
  t.after(() => net.close())
  const a = await net.session('A', 'own-quiet')
  const b = await net.session('B', 'own-quiet')
  const watch = counter(a, () => a.get('q'))
  const linkA = net.link('A')
  const locked = a.lock('a', (s) => {
    s.a = 1
  })
  await net.deliver(linkA, 'up')
  await net.deliver(linkA, 'down')
  await net.settle()
  assert.equal(linkA.pending('up'), 1, "the COMMIT waits on A's link")
  b.noRerun(() => b.set('q', 1))
  await net.deliverBatch([linkA, net.link('B')])
  await net.flushAll()
  await within(locked, 5_000, "A's lock")
  assert.deepEqual([a.get('a'), a.get('q')], [1, 1])
  assert.equal(watch.count, 0, "B's quiet write re-ran a tracker")

  // Control: the tracker is live, a loud write of q re-runs it.
  b.set('q', 2)
  await net.flushAll()
  assert.deepEqual(watch.calls, [['q']])
})

// 4. forceRerunBoundSessions is a counter per session (fix: protocol/doc-writes.ts force entries).

test("4. two sessions forcing one key at once add two to its version everywhere, and re-run a third session's readers once a transaction", async (t) => {
  const net = new Network()
  t.after(() => net.close())
  const a = await net.session('A', 'forces')
  const b = await net.session('B', 'forces')
  const c = await net.session('C', 'forces')
  const byVersion = counter(c, () => c.version('f'))
  const byValue = counter(c, () => c.get('f'))
  const all = [a, b, c]
  assert.deepEqual(
    all.map((s) => s.version('f')),
    [0, 0, 0]
  )

  // Both forces made before either session sees the other's, merged by the relay: C gets them
  // in one transaction, and each of its bound trackers runs exactly once.
  a.forceRerunBoundSessions('f')
  b.forceRerunBoundSessions('f')
  await net.deliverBatch([net.link('A'), net.link('B')])
  await net.flushAll()
  assert.deepEqual(
    all.map((s) => s.version('f')),
    [2, 2, 2]
  )
  assert.deepEqual(byVersion.calls, [['f']])
  assert.deepEqual(byValue.calls, [['f']])

  // Concurrent again, but handled in two batches: two transactions at C, one run each.
  a.forceRerunBoundSessions('f')
  b.forceRerunBoundSessions('f')
  await net.deliver(net.link('A'), 'up')
  await net.deliver(net.link('B'), 'up')
  await net.flushAll()
  assert.deepEqual(
    all.map((s) => s.version('f')),
    [4, 4, 4]
  )
  assert.deepEqual(byVersion.calls, [['f'], ['f'], ['f']])
  assert.deepEqual(byValue.calls, [['f'], ['f'], ['f']])
})

// 5. A tracker listener that throws (fix: client/tracker.ts Bindings.notify).

test("5. a throwing tracker listener neither stops the other trackers nor escapes into the socket's message handler", async (t) => {
  const net = new Network()
  t.after(() => net.close())
  const g = globalThis as { reportError?: (e: unknown) => void }
  const original = g.reportError
  const reported: unknown[] = []
  g.reportError = (e) => {
    reported.push(e)
  }
  t.after(() => {
    if (original) g.reportError = original
    else delete g.reportError
  })
  // y-protocols' sync handler catches what applying an update throws, and logs it here.
  const logged = t.mock.method(console, 'error', () => {})

  const a = await net.session('A', 'throws')
  const c = await net.session('C', 'throws')
  const boom = new Error('listener failed')
  c.tracker(() => {
    throw boom
  }).run(() => c.get('k')) // bound first: notified first
  const other = counter(c, () => c.get('k'))
  a.set('k', 1)
  await net.flushAll()
  assert.deepEqual(net.takeEscaped(), [], "an error escaped from C's socket handler")
  assert.deepEqual(
    logged.mock.calls.map((call) => String(call.arguments[0])),
    [],
    "an error escaped into C's sync message handler"
  )
  assert.equal(other.count, 1, 'the other tracker was not notified')
  assert.deepEqual(reported, [boom], "the listener's error is reported, not lost")

  a.set('k', 2)
  await net.flushAll()
  assert.equal(c.get('k'), 2, 'C goes on syncing')
  assert.equal(other.count, 2)

  // A local write notifies the same way: the writer's set() does not throw.
  assert.doesNotThrow(() => c.set('k', 3))
  assert.equal(other.count, 3)
  assert.deepEqual(reported, [boom, boom, boom])
  await net.flushAll()
  assert.equal(a.get('k'), 3)
  assert.deepEqual(net.takeEscaped(), [])
})

// 6. A bus update that fails to apply (fix: relay/room/room.ts applyRemote).

test('6. a broken update from the bus fails its room, without an unhandled rejection, and the room is served afresh', async (t) => {
  const net = new Network()
  t.after(() => net.close())
  const rejections: unknown[] = []
  const onRejection = (reason: unknown) => {
    rejections.push(reason)
  }
  process.on('unhandledRejection', onRejection)
  t.after(() => {
    process.off('unhandledRejection', onRejection)
  })

  const a = await net.session('A', 'bus')
  a.set('before', 1)
  await net.flushAll()
  const room = await net.room('bus')
  assert.equal(net.bus.deliver('bus', new Uint8Array([1, 2, 3])), 1)
  await net.settle() // an unhandled rejection is reported once the microtasks have run
  assert.deepEqual(rejections, [])
  await within(room.idle(), 5_000, 'the room to finish its drain')
  assert.equal(room.failed, true)
  assert.ok(
    net.log.lines.some((l) => l.includes('an update from the bus failed to apply')),
    net.log.lines.join('\n')
  )
  const first = net.link('A')
  await net.flushAll()
  assert.equal(first.ended?.code, CLOSE.internalError)

  await net.reconnect('A')
  assert.notEqual(await net.room('bus'), room, 'the failed room was dropped and is loaded again')
  a.set('after', 2)
  await net.flushAll()
  const stored = (await net.storedDoc('bus')).getMap('state')
  assert.deepEqual([stored.get('before'), stored.get('after')], [1, 2])
  assert.deepEqual(rejections, [])
})
