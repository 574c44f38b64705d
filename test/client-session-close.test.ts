/**
 * `close()` and what is pending at that moment, over the deterministic harness: a lock waiting for
 * its grant, a lock whose commit is on its way and a flush all reject with `SessionClosedError`, as
 * `close()`'s doc says (they used to reject with whatever the torn-down socket caused:
 * `LockTimeoutError`, `LockLostError`); and `settled()`, which a shared session awaits before it
 * closes, resolves once every lock and flush asked for has settled.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { SessionClosedError } from '../client/index.js'
import { Network } from './harness/index.js'
import { within } from './support/helpers.js'

const rejection = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    () => 'resolved',
    (err: unknown) => err
  )

test('close() rejects a lock waiting for its grant, a lock whose commit is in flight, and a flush, with SessionClosedError', async (t) => {
  const net = new Network()
  t.after(() => net.close())
  const a = await net.session('A', 'close-pending')
  const c = await net.session('C', 'close-pending')
  // A's lock waits for its grant (its ACQUIRE is not delivered), and so does its flush.
  const waiting = rejection(
    a.lock('count', (s) => {
      s.count = 'A'
    })
  )
  const flushing = rejection(a.flush())
  // C's lock is granted and commits; the relay's DONE is held back.
  const committing = rejection(
    c.lock('count', (s) => {
      s.count = 1
    })
  )
  await net.deliver(net.link('C'), 'up') // ACQUIRE
  await net.deliver(net.link('C'), 'down') // GRANT: fn runs, the COMMIT is sent
  await net.settle()
  net.hold(net.link('C'), 'down') // DONE stays on its way
  await net.deliver(net.link('C'), 'up') // the COMMIT reaches the relay
  a.close()
  c.close()
  const [w, done, f] = await within(Promise.all([waiting, committing, flushing]), 5_000, 'the pending work to settle')
  for (const [what, err] of [
    ['the waiting lock', w],
    ['the committing lock', done],
    ['the flush', f]
  ] as const) {
    assert.ok(err instanceof SessionClosedError, `${what} rejected with ${String(err)}`)
  }
  assert.match(String(done), /may or may not be stored/, "a sent commit's fate is undecided, and the error says so")
})

test('settled() resolves once every lock asked for so far has settled, not before', async (t) => {
  const net = new Network()
  t.after(() => net.close())
  const a = await net.session('A', 'settled')
  assert.equal(
    await within(
      a.settled().then(() => 'idle'),
      1_000,
      'settled() with nothing pending'
    ),
    'idle'
  )
  const locked = a.lock('count', (s) => {
    s.count = 1
  })
  let settled = false
  const waiting = a.settled().then(() => {
    settled = true
  })
  await net.settle()
  assert.equal(settled, false, 'not settled while the lock waits for its grant')
  await net.flushAll()
  await within(locked, 5_000, 'the lock')
  await within(waiting, 5_000, 'settled()')
  assert.equal(settled, true)
})
