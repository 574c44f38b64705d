/**
 * A lock() inside a lock() (SEMANTICS §2.2, "Reentrant"), on the deterministic harness: an inner
 * function that throws has its writes cut back while the outer one goes on, and an inner lock's
 * promise settles with its outer lock's outcome, never before the outer commit is stored.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Network } from './harness/index.js'
import { yssMessages } from './support/helpers.js'
import { YSS_COMMIT, YSS_DONE, YSS_RETAINED } from '../protocol/messages.js'

type S = { x?: number; y?: number; z?: number }

/** Whether `p` has settled, and how, without waiting for it. */
const watch = <T>(p: Promise<T>): { state: 'pending' | 'resolved' | 'rejected'; error?: unknown } => {
  const seen: { state: 'pending' | 'resolved' | 'rejected'; error?: unknown } = { state: 'pending' }
  p.then(
    () => {
      seen.state = 'resolved'
    },
    (error) => {
      seen.state = 'rejected'
      seen.error = error
    }
  )
  return seen
}

test("a failing inner lock's writes are cut back; the outer function catches the error and goes on", async (t) => {
  const net = new Network()
  t.after(() => net.close())
  const a = await net.session<S>('A', 'nested-cut')
  let caught: unknown
  const outer = a.lock(['x', 'y', 'z'], (s) => {
    s.x = 1
    try {
      a.lock(['y'], (inner) => {
        inner.y = 2
        s.x = 99
        throw new Error('inner failed')
      })
    } catch (err) {
      caught = err
    }
    // The outer function reads the state as the inner lock left it: cut back.
    assert.equal(s.x, 1, 'the outer function reads its own write, not the failed inner one')
    assert.equal(s.y, undefined, 'the failed inner write is gone from the scope')
    s.z = 3
  })
  await net.flushAll()
  await outer
  assert.match(String(caught), /inner failed/)
  assert.deepEqual([a.get('x'), a.has('y'), a.get('z')], [1, false, 3])
  const stored = (await net.storedDoc('nested-cut')).getMap('state')
  assert.deepEqual([stored.get('x'), stored.has('y'), stored.get('z')], [1, false, 3])
})

test('an inner lock settles with its outer lock: not before the outer commit is stored, and rejected if the outer one fails', async (t) => {
  const net = new Network()
  t.after(() => net.close())
  const a = await net.session<S>('A', 'nested-outcome')
  const link = net.link('A')

  // The outer commit is on the wire, not yet at the relay: the inner lock must not have resolved.
  let innerPromise: Promise<number> | undefined
  const outer = a.lock('x', () => {
    innerPromise = a.lock('x', (inner) => {
      inner.x = 1
      return 7
    })
  })
  await net.settle()
  await net.deliver(link, 'up') // the ACQUIRE
  net.hold(link, 'up')
  await net.deliver(link, 'down') // the GRANT: the functions run, the COMMIT is sent
  for (let i = 0; i < 5 && !innerPromise; i++) await net.settle()
  assert.ok(innerPromise, 'the outer function ran')
  const inner = watch(innerPromise)
  for (let i = 0; i < 5; i++) await net.settle()
  assert.ok(
    yssMessages(link.queued('up')).some((m) => m.type === YSS_COMMIT),
    'the outer commit is in flight'
  )
  assert.equal(inner.state, 'pending', 'the inner lock waits for the outer commit to be stored')
  net.release(link, 'up')
  await net.flushAll()
  await outer
  assert.ok(yssMessages(link.delivered.down).some((m) => m.type === YSS_DONE || m.type === YSS_RETAINED))
  assert.equal(await innerPromise, 7, 'then it resolves with its own result')

  // An outer function that throws after its inner lock ran: nothing is applied, and the inner lock rejects too.
  let second: Promise<number> | undefined
  const failing = a.lock('x', () => {
    second = a.lock('x', (inner) => {
      inner.x = 2
      return 8
    })
    throw new Error('outer failed')
  })
  await assert.rejects(failing, /outer failed/)
  assert.ok(second, 'the outer function ran')
  await assert.rejects(second, /outer failed/, "the inner lock shares its outer lock's outcome")
  await net.flushAll()
  assert.equal(a.get('x'), 1)
})
