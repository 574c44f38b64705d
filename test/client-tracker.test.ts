/** The binding tracker on its own, with no doc and no network. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Bindings, Tracker } from '../client/tracker.js'

const setup = () => {
  const bindings = new Bindings()
  const calls: string[][] = []
  const t = new Tracker(bindings, (keys) => calls.push([...keys].sort()))
  return { bindings, calls, t }
}

test('a run binds exactly the keys it read, and the next run replaces them', () => {
  const { bindings, calls, t } = setup()
  t.run(() => {
    bindings.read('a')
    bindings.read('b')
    bindings.read('a')
  })
  assert.deepEqual([...t.keys].sort(), ['a', 'b'])
  t.run(() => bindings.read('c'))
  assert.deepEqual([...t.keys], ['c'])
  bindings.notify(['a', 'b'])
  assert.deepEqual(calls, [])
  bindings.notify(['c', 'x'])
  assert.deepEqual(calls, [['c']])
})

test('one notification for several of its keys, with those keys', () => {
  const { bindings, calls, t } = setup()
  t.run(() => {
    bindings.read('a')
    bindings.read('b')
    bindings.read('c')
  })
  bindings.notify(['a', 'c', 'z'])
  assert.deepEqual(calls, [['a', 'c']])
})

test('a running tracker, or one that wrote during its run, is not notified', () => {
  const { bindings, calls, t } = setup()
  t.run(() => {
    bindings.read('a')
    bindings.notify(['a'])
  })
  assert.deepEqual(calls, [])
  bindings.notify(['a'], () => [t])
  assert.deepEqual(calls, [])
  bindings.notify(['a'])
  assert.deepEqual(calls, [['a']])
})

test('nested trackers bind separately', () => {
  const bindings = new Bindings()
  const outer = new Tracker(bindings, () => {})
  const inner = new Tracker(bindings, () => {})
  outer.run(() => {
    bindings.read('o')
    inner.run(() => bindings.read('i'))
    bindings.read('o2')
  })
  assert.deepEqual([...outer.keys].sort(), ['o', 'o2'])
  assert.deepEqual([...inner.keys], ['i'])
})

test('a run that throws keeps what it read before the throw, and leaves nothing running', () => {
  const { bindings, calls, t } = setup()
  assert.throws(
    () =>
      t.run(() => {
        bindings.read('a')
        throw new Error('render failed')
      }),
    /render failed/
  )
  assert.deepEqual([...t.keys], ['a'])
  bindings.read('stray') // nothing is running: this binds nobody
  assert.equal(bindings.count('stray'), 0)
  bindings.notify(['a'])
  assert.deepEqual(calls, [['a']])
})

test('dispose unbinds every key, for good', () => {
  const { bindings, calls, t } = setup()
  t.run(() => bindings.read('a'))
  t.dispose()
  assert.equal(bindings.count('a'), 0)
  bindings.notify(['a'])
  assert.deepEqual(calls, [])
  assert.throws(() => t.run(() => {}), /after dispose/)
})
