/**
 * LeaseTable.snapshot(): what the inspector shows of a room's locks. It reports, key by key, the
 * holder and the waiters in line order with their times, and reading it changes nothing.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { LeaseTable } from '../relay/locks/lease-table.js'

const table = () => {
  const grants: string[] = []
  const t = new LeaseTable<string>({ leaseMs: 60_000, onGrant: (r) => grants.push(`${r.holder}#${r.id}`) })
  return { t, grants }
}

test('a snapshot names, for each key, its holder and its waiters in line order, with when they asked and were granted', () => {
  const { t, grants } = table()
  const before = Date.now()
  t.acquire('a', 1, ['y'])
  t.acquire('b', 1, ['x', 'y']) // takes x, waits for y
  t.acquire('c', 1, ['y'])
  const after = Date.now()
  const snap = t.snapshot()
  assert.deepEqual(
    snap.map((k) => [k.key, k.holder?.holder, k.waiting.map((w) => w.holder)]),
    [
      ['x', 'b', []],
      ['y', 'a', ['b', 'c']]
    ]
  )
  const [x, y] = snap as [(typeof snap)[0], (typeof snap)[0]]
  assert.equal(x.holder?.grantedAt, undefined, 'b holds x but is not granted: it waits for y')
  assert.deepEqual(x.holder?.keys, ['x', 'y'])
  assert.ok(y.holder!.requestedAt >= before && y.holder!.requestedAt <= after)
  assert.ok(y.holder!.grantedAt! >= y.holder!.requestedAt && y.holder!.grantedAt! <= after)
  assert.deepEqual(
    y.waiting.map((w) => w.grantedAt),
    [undefined, undefined]
  )

  // Reading changed nothing: the table grants as before.
  y.waiting.length = 0
  t.release('a', 1)
  assert.deepEqual(grants, ['a#1', 'b#1'])
  const next = t.snapshot()
  assert.deepEqual(
    next.map((k) => [k.key, k.holder?.holder, k.waiting.map((w) => w.holder)]),
    [
      ['x', 'b', []],
      ['y', 'b', ['c']]
    ]
  )
  assert.ok(next[1]!.holder!.grantedAt! >= next[1]!.holder!.requestedAt)
  t.dropHolder('b')
  t.release('c', 1)
  assert.deepEqual(t.snapshot(), [])
})
