/**
 * The framework-neutral subscription (`server.subscribe`) and the Svelte-contract store
 * (`server.store`), across real sockets.
 */
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { barrier, counter, eventually, sessionPool } from './support/helpers.js'
import type { ServerState } from '../client/session.js'

const pool = sessionPool('subscribe')
after(pool.close)

/** Records a listener's calls. */
const recorder = () => {
  const calls: unknown[] = []
  return {
    calls,
    listener: (v: unknown) => {
      calls.push(v)
    }
  }
}

test('subscribe: not called at once; called with the new value on each change, in any session', async () => {
  const [mine, other] = (await pool.sessions(2)) as [ServerState<any>, ServerState<any>]
  mine.set('a', 1)
  const { calls, listener } = recorder()
  const stop = mine.subscribe('a', listener)
  assert.deepEqual(calls, [], 'not called when subscribing')
  assert.equal(mine.bindings.count('a'), 1, 'one tracker bound to "a"')
  mine.set('a', 2)
  assert.deepEqual(calls, [2], 'an own write, at once')
  await eventually(() => other.get('a') === 2, 'the own write to reach the other session')
  other.set('a', { x: [3] })
  await eventually(() => calls.length === 2, "the other session's write")
  assert.deepEqual(calls[1], { x: [3] })
  assert.ok(Object.isFrozen(calls[1]), 'the value is frozen')
  other.delete('a')
  await eventually(() => calls.length === 3, 'a delete')
  assert.equal(calls[2], undefined, 'a deleted key is undefined')
  stop()
  assert.equal(mine.bindings.count('a'), 0, 'unsubscribing unbinds')
  other.set('a', 4)
  await barrier(other, [mine])
  assert.equal(calls.length, 3, 'not called after unsubscribing')
})

test('subscribe: other keys, equal values and other subscriptions do not call it; a forced re-run does', async () => {
  const [mine, other] = (await pool.sessions(2)) as [ServerState<any>, ServerState<any>]
  const a = recorder()
  const b = recorder()
  mine.subscribe('a', a.listener)
  mine.subscribe('b', b.listener)
  other.set('b', 1)
  other.set('a', 'x')
  other.set('a', 'x') // equal: no update at all
  await barrier(other, [mine])
  assert.deepEqual([a.calls, b.calls], [['x'], [1]])
  other.forceRerunBoundSessions('a')
  await eventually(() => a.calls.length === 2, 'the forced re-run')
  assert.deepEqual(a.calls, ['x', 'x'], 'called again with the same value')
  assert.deepEqual(b.calls, [1])
})

test("subscribe: one call a transaction, and the listener's reads bind no running tracker", async () => {
  const [mine] = (await pool.sessions(1)) as [ServerState<any>]
  const { calls, listener } = recorder()
  mine.subscribe('a', (v) => {
    listener(v)
    mine.get('other')
  })
  mine.doc.transact(() => {
    mine.set('a', 1)
    mine.set('a', 2)
  })
  assert.deepEqual(calls, [2], 'one call for two writes in one transaction')
  // A write made while another tracker runs (a render) notifies the subscription at once, inside
  // that run: what the listener reads must not bind the running tracker.
  const render = counter(mine, () => mine.set('a', 3))
  assert.deepEqual(calls, [2, 3])
  assert.deepEqual([...render.tracker.keys], [], 'the running tracker read nothing')
  assert.equal(mine.bindings.count('other'), 0, 'nothing is bound to what the listener read')
})

test('subscribe and store refuse a key that is not a string', async () => {
  const [mine] = (await pool.sessions(1)) as [ServerState<any>]
  assert.throws(() => mine.subscribe(1 as never, () => {}), TypeError)
  assert.throws(() => mine.store(Symbol('k') as never), TypeError)
})

test('store: subscribe calls run at once and on each change, returns the unsubscribe; set writes', async () => {
  const [mine, other] = (await pool.sessions(2)) as [ServerState<any>, ServerState<any>]
  const count = mine.store('count')
  const first = recorder()
  const stop1 = count.subscribe(first.listener)
  assert.deepEqual(first.calls, [undefined], 'run at once with the current value, unset')
  count.set(1)
  assert.deepEqual(first.calls, [undefined, 1])
  const second = recorder()
  const stop2 = count.subscribe(second.listener)
  assert.deepEqual(second.calls, [1], 'a later subscriber gets the current value at once')
  assert.equal(mine.bindings.count('count'), 2, 'one tracker a subscriber')
  await eventually(() => other.get('count') === 1, "the store's set to reach the other session")
  other.store('count').update((n) => (n ?? 0) + 10)
  await eventually(() => first.calls.length === 3 && second.calls.length === 2, "the other session's update")
  assert.deepEqual([first.calls.at(-1), second.calls.at(-1)], [11, 11])
  count.set(11) // equal: nobody is called
  assert.equal(first.calls.length, 3)
  stop1()
  assert.equal(mine.bindings.count('count'), 1, 'the first unsubscribed')
  count.set(12)
  assert.deepEqual([first.calls.length, second.calls.at(-1)], [3, 12], 'only the second is called')
  stop2()
  assert.equal(mine.bindings.count('count'), 0)
  assert.equal(count.get(), 12)
})

test('store: get() and the first run bind no running tracker; a run that throws leaves nothing bound', async () => {
  const [mine] = (await pool.sessions(1)) as [ServerState<any>]
  const store = mine.store('k')
  const outer = counter(mine, () => {
    store.get()
    store.subscribe(() => {})()
  })
  assert.deepEqual([...outer.tracker.keys], [], 'the outer tracker read nothing')
  assert.throws(
    () =>
      store.subscribe(() => {
        throw new Error('bad subscriber')
      }),
    /bad subscriber/
  )
  assert.equal(mine.bindings.count('k'), 0, 'a subscriber that threw holds no binding')
})

test('store: set checks JSON like server.set', async () => {
  const [mine] = (await pool.sessions(1)) as [ServerState<any>]
  assert.throws(() => mine.store('k').set(() => 1), /server state "k"/)
  assert.equal(mine.has('k'), false)
})
