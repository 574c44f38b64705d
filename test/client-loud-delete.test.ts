/**
 * A delete outside `noRerun` is a loud write like any other: it re-runs the key's readers even
 * when a quiet write of the same key follows it in the same received transaction (a sync step 2
 * after a reconnection, a lock's commit). A delete writes no item of its own, so a loud one sets
 * an entry of `yss:loud-deletes` to be told apart item by item (see protocol/doc-writes.ts).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Network } from './harness/index.js'
import { counter, within } from './support/helpers.js'

test("a loud delete then a quiet write of one key, made offline, re-run the key's readers", async (t) => {
  const net = new Network()
  t.after(() => net.close())
  const a = await net.session('A', 'loud-delete')
  const b = await net.session('B', 'loud-delete')
  b.set('k', 1)
  await net.flushAll()
  const watch = counter(b, () => b.get('k'))
  net.offline('A')
  a.delete('k')
  a.noRerun(() => a.set('k', 3))
  await net.reconnect('A')
  assert.equal(b.get('k'), 3)
  assert.deepEqual(watch.calls, [['k']], "the loud delete re-runs B's reader")

  // Control: a quiet delete then a quiet write re-run nobody.
  net.offline('A')
  a.noRerun(() => a.delete('k'))
  a.noRerun(() => a.set('k', 4))
  await net.reconnect('A')
  assert.equal(b.get('k'), 4)
  assert.equal(watch.count, 1)
})

test("a loud delete then a quiet write of one key in one lock commit re-run the key's readers", async (t) => {
  const net = new Network()
  t.after(() => net.close())
  const a = await net.session('A', 'loud-delete-lock')
  const b = await net.session('B', 'loud-delete-lock')
  b.set('k', 1)
  await net.flushAll()
  const watch = counter(b, () => b.get('k'))
  const locked = a.lock('k', (s) => {
    delete s.k
    a.noRerun(() => {
      s.k = 3
    })
  })
  await net.flushAll()
  await within(locked, 5_000, 'the lock')
  assert.equal(b.get('k'), 3)
  assert.deepEqual(watch.calls, [['k']], "the loud delete re-runs B's reader")
})

test("a quiet delete in this session's own lock re-runs this session's readers when its commit comes back, and nobody else's", async (t) => {
  const net = new Network()
  t.after(() => net.close())
  const a = await net.session('A', 'own-quiet-delete')
  const b = await net.session('B', 'own-quiet-delete')
  a.set('k', 1)
  await net.flushAll()
  const mine = counter(a, () => a.get('k'))
  const theirs = counter(b, () => b.get('k'))
  const locked = a.noRerun(() =>
    a.lock('k', (s) => {
      delete s.k
    })
  )
  await net.flushAll()
  await within(locked, 5_000, 'the lock')
  assert.deepEqual([a.has('k'), b.has('k')], [false, false])
  assert.deepEqual(mine.calls, [['k']], "the writer's own session shows its quiet delete")
  assert.equal(theirs.count, 0, 'a quiet delete re-runs no other session')
})
