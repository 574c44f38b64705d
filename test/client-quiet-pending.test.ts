/**
 * A quiet write re-runs no other session even when its marker reaches a session before the
 * key's previous marker: a live broadcast that overtakes a reconnecting session's sync step 2
 * brings the value, which integrates, and the marker, which waits as a pending struct until the
 * step 2 brings its origin (test/sim/README.md, finding 9).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Network } from './harness/index.js'
import { counter } from './support/helpers.js'

/** B quietly sets and deletes `k` (R misses the delete); R reconnects and A's write (quiet or loud) reaches it before its step 2. */
const overtaking = async (net: Network, room: string, quiet: boolean) => {
  const a = await net.session('A', room)
  const b = await net.session('B', room)
  const r = await net.session('R', room)
  const watch = counter(r, () => r.get('k'))
  b.noRerun(() => b.set('k', 1))
  await net.flushAll()
  net.offline('R')
  b.noRerun(() => b.delete('k'))
  await net.flushAll()
  net.online('R')
  const link = await net.nextLink('R')
  net.hold(link, 'up')
  await net.deliver(link, 'down')
  if (quiet) a.noRerun(() => a.set('k', 2))
  else a.set('k', 2)
  await net.deliver(net.link('A'), 'up')
  await net.deliver(link, 'down')
  assert.equal(r.get('k'), 2, "A's value reached R before its sync step 2")
  if (quiet) assert.ok(r.doc.store.pendingStructs, "A's marker waits for B's delete marker")
  net.release(link, 'up')
  await net.flushAll()
  assert.ok(r.connection.synced)
  assert.equal(r.doc.store.pendingStructs, null)
  return watch
}

test("a quiet write whose marker arrives before the key's previous marker re-runs no other session", async (t) => {
  const net = new Network()
  t.after(() => net.close())
  const watch = await overtaking(net, 'quiet-pending', true)
  assert.equal(watch.count, 0)
})

test('control: a loud write reaching a session the same way re-runs its reader', async (t) => {
  const net = new Network()
  t.after(() => net.close())
  const watch = await overtaking(net, 'loud-pending', false)
  assert.deepEqual(watch.calls, [['k']])
})

test("a loud write whose writer's next struct waits as a pending struct, not its marker, re-runs the readers at once", async (t) => {
  const net = new Network()
  t.after(() => net.close())
  const room = 'loud-next-pending'
  const a = await net.session('A', room)
  const b = await net.session('B', room)
  const r = await net.session('R', room)
  const watch = counter(r, () => r.get('j'))
  net.offline('R')
  b.set('k', 1)
  await net.flushAll()
  net.online('R')
  const link = await net.nextLink('R')
  net.hold(link, 'up')
  await net.deliver(link, 'down')
  // One update: A's loud write of j integrates at R; A's write of k, built on B's that R lacks, waits.
  const done = a.lock('k', (s) => {
    s.j = 1
    s.k = 2
  })
  await net.flushAll()
  await done
  assert.equal(r.get('j'), 1)
  assert.ok(r.doc.store.pendingStructs, "A's write of k waits for B's")
  assert.deepEqual(watch.calls, [['j']], "the loud write re-ran R's reader when it arrived")
  net.release(link, 'up')
  await net.flushAll()
  assert.equal(r.get('k'), 2)
  assert.equal(watch.count, 1)
})
