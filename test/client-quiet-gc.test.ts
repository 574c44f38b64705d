/**
 * A loud write followed by a chain of quiet writes of the same key re-runs the key's readers,
 * however the quiet markers reached them: a quiet marker that a later quiet write overwrote is
 * garbage collected (in a lock's commit, in the relay's doc, in an offline session's doc) and
 * loses the start it held, so its coverage must come from the doc's structure (issue 18, bug 4).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Network } from './harness/index.js'
import { counter, within } from './support/helpers.js'

test("a loud write then two quiet writes of one key in one lock commit re-run the key's readers", async (t) => {
  const net = new Network()
  t.after(() => net.close())
  const a = await net.session('A', 'quiet-gc-commit')
  const b = await net.session('B', 'quiet-gc-commit')
  const watch = counter(b, () => b.get('k'))
  const locked = a.lock('k', (s) => {
    s.k = 1
    a.noRerun(() => {
      s.k = 2
    })
    a.noRerun(() => {
      s.k = 3
    })
  })
  await net.flushAll()
  await within(locked, 5_000, 'the lock')
  assert.equal(b.get('k'), 3)
  assert.deepEqual(watch.calls, [['k']], "the loud write re-runs B's reader")

  // Control: a lock of two quiet writes alone re-runs nobody.
  const quiet = a.noRerun(() =>
    a.lock('k', (s) => {
      s.k = 4
      s.k = 5
    })
  )
  await net.flushAll()
  await within(quiet, 5_000, 'the quiet lock')
  assert.equal(b.get('k'), 5)
  assert.equal(watch.count, 1)
})

test("a loud write then two quiet writes of one key, received from the relay's doc in a reconnection, re-run the key's readers", async (t) => {
  const net = new Network()
  t.after(() => net.close())
  const a = await net.session('A', 'quiet-gc-relay')
  const b = await net.session('B', 'quiet-gc-relay')
  const watch = counter(b, () => b.get('k'))
  net.offline('B')
  a.set('k', 1)
  await net.flushAll()
  a.noRerun(() => a.set('k', 2))
  await net.flushAll()
  a.noRerun(() => a.set('k', 3))
  await net.flushAll()
  await net.reconnect('B')
  assert.equal(b.get('k'), 3)
  assert.deepEqual(watch.calls, [['k']], "the loud write re-runs B's reader")

  // Control: two quiet writes alone re-run nobody.
  net.offline('B')
  a.noRerun(() => a.set('k', 4))
  await net.flushAll()
  a.noRerun(() => a.set('k', 5))
  await net.flushAll()
  await net.reconnect('B')
  assert.equal(b.get('k'), 5)
  assert.equal(watch.count, 1)
})

test("a loud write then two quiet writes of one key, made offline and sent in the writer's sync step 2, re-run the key's readers", async (t) => {
  const net = new Network()
  t.after(() => net.close())
  const a = await net.session('A', 'quiet-gc-offline')
  const b = await net.session('B', 'quiet-gc-offline')
  const c = await net.session('C', 'quiet-gc-offline')
  const watchB = counter(b, () => b.get('k'))
  const watchC = counter(c, () => c.get('k'))
  net.offline('A')
  a.set('k', 1)
  a.noRerun(() => a.set('k', 2))
  a.noRerun(() => a.set('k', 3))
  await net.reconnect('A')
  assert.deepEqual([b.get('k'), c.get('k')], [3, 3])
  assert.deepEqual(watchB.calls, [['k']], "the loud write re-runs B's reader")
  assert.deepEqual(watchC.calls, [['k']], "the loud write re-runs C's reader")
})

test("a loud append then two quiet appends to one list, made offline and sent in the writer's sync step 2, re-run the list's readers", async (t) => {
  const net = new Network()
  t.after(() => net.close())
  const a = await net.session('A', 'quiet-gc-append')
  const b = await net.session('B', 'quiet-gc-append')
  const created = a.append('list', 0)
  await net.flushAll()
  await within(created, 5_000, 'the list')
  const watch = counter(b, () => b.get('list'))
  net.offline('A')
  void a.append('list', 1)
  a.noRerun(() => {
    void a.append('list', 2)
  })
  a.noRerun(() => {
    void a.append('list', 3)
  })
  await net.reconnect('A')
  assert.deepEqual(b.get('list'), [0, 1, 2, 3])
  assert.deepEqual(watch.calls, [['list']], "the loud append re-runs B's reader")

  // Control: two quiet appends alone re-run nobody.
  net.offline('A')
  a.noRerun(() => {
    void a.append('list', 4)
  })
  a.noRerun(() => {
    void a.append('list', 5)
  })
  await net.reconnect('A')
  assert.deepEqual(b.get('list'), [0, 1, 2, 3, 4, 5])
  assert.equal(watch.count, 1)
})

test("a loud write, a quiet delete and a quiet write of one key, made offline, re-run the key's readers", async (t) => {
  const net = new Network()
  t.after(() => net.close())
  const a = await net.session('A', 'quiet-gc-delete')
  const b = await net.session('B', 'quiet-gc-delete')
  const watch = counter(b, () => b.get('k'))
  net.offline('A')
  a.set('k', 1)
  a.noRerun(() => a.delete('k'))
  a.noRerun(() => a.set('k', 3))
  await net.reconnect('A')
  assert.equal(b.get('k'), 3)
  assert.deepEqual(watch.calls, [['k']], "the loud write re-runs B's reader")
})
