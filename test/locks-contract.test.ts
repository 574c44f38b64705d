/**
 * What docs/locks.md decides where SEMANTICS §2.2 leaves it open, each on the deterministic
 * harness: a lock on a retained lease sees the plain writes the relay stored meanwhile; close()
 * during a commit in flight leaves it undecided and says so; what a waiting session sees while
 * the relay holds others' writes back from it. (A COMMIT on a retained lease that crosses a
 * waiter's ACQUIRE: test/lease-retained.test.ts, "a COMMIT that crosses the REVOKE".)
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Network } from './harness/index.js'
import { within, yssMessages } from './support/helpers.js'
import { YSS_ACQUIRE, YSS_COMMIT, YSS_RETAINED } from '../protocol/messages.js'
import { SessionClosedError, type ServerState } from '../client/index.js'
import type { Schedule } from '../relay/room/outbox.js'

type Counter = { n?: number }
const increment = (s: ServerState<Counter>): Promise<void> =>
  s.lock('n', (st) => {
    st.n = (st.n ?? 0) + 1
  })

test('a lock on a retained lease runs on the plain writes the relay stored meanwhile: it counts on them, exactly', async (t) => {
  const net = new Network()
  t.after(() => net.close())
  const a = await net.session<Counter>('A', 'retained-plain')
  const b = await net.session<Counter>('B', 'retained-plain')
  const linkA = net.link('A')
  const first = increment(a)
  await net.flushAll()
  await first
  assert.equal(yssMessages(linkA.delivered.down).at(-1)!.type, YSS_RETAINED, 'A keeps the lease')

  // B writes n without a lock; the relay stores it, but A has not read it yet when its next lock runs.
  net.hold(linkA, 'down')
  b.set('n', 100)
  await net.flushAll()
  assert.equal((await net.storedDoc('retained-plain')).getMap('state').get('n'), 100)
  const upA = linkA.delivered.up.length
  const second = increment(a)
  await net.settle()
  assert.deepEqual(
    yssMessages(linkA.queued('up')).map((m) => m.type),
    [YSS_COMMIT],
    'A ran on its retained lease'
  )
  await net.deliver(linkA, 'up')
  net.release(linkA, 'down')
  await net.flushAll()
  await within(second, 2_000, "A's second lock")
  assert.equal(a.get('n'), 101, "the lock counted on B's write")
  assert.equal(b.get('n'), 101)
  assert.equal((await net.storedDoc('retained-plain')).getMap('state').get('n'), 101)
  assert.ok(
    yssMessages(linkA.delivered.up.slice(upA)).some((m) => m.type === YSS_ACQUIRE),
    'its stale commit was refused, and it ran again under a fresh grant'
  )
})

test('close() during a commit in flight rejects at once, and says the writes may or may not be stored', async (t) => {
  const net = new Network()
  t.after(() => net.close())
  const a = await net.session<Counter>('A', 'close-commit')
  const link = net.link('A')
  const p = increment(a)
  await net.settle()
  await net.deliver(link, 'up') // the ACQUIRE
  net.hold(link, 'up')
  await net.deliver(link, 'down') // the GRANT: the COMMIT goes on the wire
  for (let i = 0; i < 10 && !yssMessages(link.queued('up')).some((m) => m.type === YSS_COMMIT); i++) await net.settle()
  a.close()
  const err = await p.then(
    () => null,
    (e: unknown) => e
  )
  assert.ok(err instanceof SessionClosedError, `close() gives SessionClosedError, got ${String(err)}`)
  assert.match(err.message, /may or may not be stored/)
  // Undecided indeed: the COMMIT was sent before the close, and the relay reads it first.
  await net.deliver(link, 'up')
  assert.equal((await net.storedDoc('close-commit')).getMap('state').get('n'), 1)
})

test("a waiting session sees others' writes late but before its grant; its flush() brings them; its own writes reach the others at once", async (t) => {
  const due = new Set<() => void>()
  const schedule: Schedule = (fn) => {
    due.add(fn)
    return () => {
      due.delete(fn)
    }
  } // never fired: only a grant or a flush sends
  const net = new Network({ schedule, waiterHoldMs: 10 })
  t.after(() => net.close())
  const h = await net.session<Counter & { x?: number; w?: number }>('H', 'waiting')
  const w = await net.session<Counter & { x?: number; w?: number }>('W', 'waiting')
  const a = await net.session<Counter & { x?: number; w?: number }>('A', 'waiting')
  const linkH = net.link('H')
  // H holds n, its COMMIT kept on its link; W waits for n.
  const held = increment(h)
  await net.settle()
  await net.deliver(linkH, 'up')
  net.hold(linkH, 'up')
  await net.flushAll()
  const waiting = increment(w)
  await net.flushAll()
  assert.ok(
    yssMessages(net.link('W').delivered.up).some((m) => m.type === YSS_ACQUIRE),
    'W waits'
  )

  a.set('x', 1)
  await net.flushAll()
  assert.equal(w.get('x'), undefined, 'held back from the waiting session')
  w.set('w', 2)
  await net.flushAll()
  assert.equal(a.get('w'), 2, "the waiting session's own write reached the others at once")
  const flushed = w.flush()
  await net.flushAll()
  await within(flushed, 2_000, "W's flush")
  assert.equal(w.get('x'), 1, 'FLUSHED comes after the writes held back')

  a.set('x', 3)
  await net.flushAll()
  assert.equal(w.get('x'), 1, 'held again while W still waits')
  net.release(linkH, 'up')
  await net.flushAll()
  await within(Promise.all([held, waiting]), 2_000, 'the locks')
  assert.equal(w.get('x'), 3, "the held write arrived before W's grant")
  assert.equal(w.get('n'), 2)
})
