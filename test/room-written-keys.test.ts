/**
 * relay/room/written-keys.ts: which keys an update would write, told without applying it. Each
 * case builds the update the way a client does (our doc-writes, or plain Yjs as a stock client
 * writes), asks, then applies it and checks the answer against the keys that really changed.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import { writtenKeys } from '../relay/room/written-keys.js'
import { applyWrites, type Write, type YType } from '../protocol/doc-writes.js'
import { FORCES, STATE } from '../protocol/doc-names.js'

/** A room's doc and a client's, in sync. */
const pair = (): { room: Y.Doc; client: Y.Doc } => {
  const room = new Y.Doc()
  const client = new Y.Doc()
  return { room, client }
}

/** What the client has that the room lacks, as its next update to the room. */
const diff = (room: Y.Doc, client: Y.Doc): Uint8Array => Y.encodeStateAsUpdate(client, Y.encodeStateVector(room))

/** Brings the two docs level. */
const sync = (room: Y.Doc, client: Y.Doc): void => {
  Y.applyUpdate(room, diff(room, client))
  Y.applyUpdate(client, diff(client, room))
}

const write = (doc: Y.Doc, ...writes: Write[]): void => doc.transact(() => applyWrites(doc, writes))

/** The keys of our root maps whose entries (or what is inside them) a transaction of `doc` changed. */
const changedKeys = (doc: Y.Doc, apply: () => void): Set<string> => {
  const keys = new Set<string>()
  const top = (type: YType, sub: string | null): void => {
    let t = type
    let s = sub
    while (t._item) {
      s = t._item.parentSub
      t = t._item.parent as YType
    }
    const root = Y.findRootTypeKey(t)
    if (s === null) return
    if (root === FORCES) keys.add(s.slice(0, s.lastIndexOf('\u0000')))
    else if (root === STATE || root.startsWith('yss:')) keys.add(s)
  }
  const look = (tr: Y.Transaction) => {
    for (const [type, subs] of tr.changed) for (const sub of subs) top(type, sub)
  }
  doc.on('afterTransaction', look)
  try {
    apply()
  } finally {
    doc.off('afterTransaction', look)
  }
  return keys
}

/** Asks, applies, and checks that every key the update changed was named. */
const check = (room: Y.Doc, update: Uint8Array): { keys: string[]; undecided: boolean } => {
  const said = writtenKeys(room, update)
  const changed = changedKeys(room, () => Y.applyUpdate(room, update))
  for (const key of changed) assert.ok(said.keys.has(key), `"${key}" changed but was not named (named: ${[...said.keys]})`)
  return { keys: [...said.keys].sort(), undecided: said.undecided }
}

test('a new key, an overwrite (whose item names its key only through the entry it replaces) and a delete', () => {
  const { room, client } = pair()
  write(client, { kind: 'set', key: 'a', value: 1, quiet: false })
  assert.deepEqual(check(room, diff(room, client)), { keys: ['a'], undecided: false })
  write(client, { kind: 'set', key: 'a', value: 2, quiet: false })
  const overwrite = diff(room, client)
  const item = Y.decodeUpdate(overwrite).structs.find((s) => s instanceof Y.Item && s.content instanceof Y.ContentAny) as Y.Item
  assert.equal(item.parent, null, 'the overwrite names no parent: only its origin')
  assert.deepEqual(check(room, overwrite), { keys: ['a'], undecided: false })
  write(client, { kind: 'delete', key: 'a', quiet: false })
  assert.deepEqual(check(room, diff(room, client)), { keys: ['a'], undecided: false })
})

test('a concurrent overwrite: its deletion is old news to the room, its origin alone names the key', () => {
  const { room, client } = pair()
  const other = new Y.Doc()
  client.getMap(STATE).set('a', 1)
  sync(room, client)
  Y.applyUpdate(other, Y.encodeStateAsUpdate(room))
  client.getMap(STATE).set('a', 2)
  other.getMap(STATE).set('a', 3)
  check(room, diff(room, client))
  assert.deepEqual(check(room, diff(room, other)), { keys: ['a'], undecided: false })
})

test("a plain delete, as a stock client sends it: a delete set and no item, still the key's write", () => {
  const { room, client } = pair()
  client.getMap(STATE).set('b', 1)
  client.getMap(STATE).set('c', 1)
  sync(room, client)
  client.getMap(STATE).delete('b')
  const update = diff(room, client)
  assert.equal(Y.decodeUpdate(update).structs.length, 0)
  assert.deepEqual(check(room, update), { keys: ['b'], undecided: false })
})

test('lists: created, appended to, and a stock client inserting a map inside one; each names its key', () => {
  const { room, client } = pair()
  write(client, { kind: 'list', key: 'log', items: [1, 2], quiet: false })
  sync(room, client)
  write(client, { kind: 'append', key: 'log', items: [3], quiet: false })
  assert.deepEqual(check(room, diff(room, client)), { keys: ['log'], undecided: false })
  const list = client.getMap(STATE).get('log') as Y.Array<unknown>
  const inner = new Y.Map<unknown>()
  list.insert(1, [inner])
  inner.set('deep', true)
  assert.deepEqual(check(room, diff(room, client)), { keys: ['log'], undecided: false })
  sync(room, client)
  inner.set('deep', false) // an overwrite two types down, named by its origin only
  assert.deepEqual(check(room, diff(room, client)), { keys: ['log'], undecided: false })
  list.delete(0, 1)
  assert.deepEqual(check(room, diff(room, client)), { keys: ['log'], undecided: false })
})

test('our bookkeeping counts as a write of its key: quiet markers and forces', () => {
  const { room, client } = pair()
  write(client, { kind: 'set', key: 'q', value: 1, quiet: true })
  assert.deepEqual(check(room, diff(room, client)), { keys: ['q'], undecided: false })
  write(client, { kind: 'force', key: 'f', quiet: false })
  assert.deepEqual(check(room, diff(room, client)), { keys: ['f'], undecided: false })
  // Only the marker, set by a client that writes nothing else: still the key's.
  client.getMap('yss:quiet').set('m', 'x')
  assert.deepEqual(check(room, diff(room, client)), { keys: ['m'], undecided: false })
})

test("a sync step 2 repeats the whole delete set: what the room deleted already is nobody's write", () => {
  const { room, client } = pair()
  const other = new Y.Doc()
  other.getMap(STATE).set('balance', 1)
  other.getMap(STATE).set('balance', 2)
  other.getMap(STATE).delete('balance')
  Y.applyUpdate(room, Y.encodeStateAsUpdate(other))
  sync(room, client)
  write(client, { kind: 'set', key: 'mine', value: 1, quiet: false })
  // What a stock client sends on reconnecting: everything beyond the room's state vector, and every deletion it knows.
  const step2 = Y.encodeStateAsUpdate(client, Y.encodeStateVector(room))
  assert.ok(Y.decodeUpdate(step2).ds.clients.has(other.clientID))
  assert.deepEqual(check(room, step2), { keys: ['mine'], undecided: false })
  // And an update the room has whole: nothing.
  assert.deepEqual(check(room, Y.encodeStateAsUpdate(client)), { keys: [], undecided: false })
})

test('items and deletions that build on an update the room lacks are undecided: they could land under any key', () => {
  const { room, client } = pair()
  const third = new Y.Doc()
  third.getMap(STATE).set('x', 1)
  // The client got the third doc's write (over a BroadcastChannel, say); the room did not.
  Y.applyUpdate(client, Y.encodeStateAsUpdate(third))
  client.getMap(STATE).set('x', 2) // its origin is the third doc's item
  const pending = Y.encodeStateAsUpdate(client, Y.encodeStateVector(third))
  assert.equal(writtenKeys(room, pending).undecided, true)
  // With what it builds on, it is decided.
  assert.deepEqual(writtenKeys(room, Y.encodeStateAsUpdate(client)), { keys: new Set(['x']), undecided: false })
  // A deletion of an item the room lacks.
  const deleting = new Y.Doc()
  Y.applyUpdate(deleting, Y.encodeStateAsUpdate(third))
  deleting.getMap(STATE).delete('x')
  const onlyDeletion = Y.encodeStateAsUpdate(deleting, Y.encodeStateVector(deleting))
  assert.equal(writtenKeys(room, onlyDeletion).undecided, true)
  // An item past a gap in its client's clocks.
  const gap = new Y.Doc()
  gap.getMap(STATE).set('g', 1)
  const first = Y.encodeStateAsUpdate(gap)
  gap.getMap(STATE).set('h', 1)
  const second = Y.encodeStateAsUpdate(gap, Y.encodeStateVectorFromUpdate(first))
  assert.equal(writtenKeys(room, second).undecided, true)
})

test('other root types (a stock client editing text) write no key', () => {
  const { room, client } = pair()
  client.getText('notes').insert(0, 'hello')
  client.getMap('other').set('balance', 1)
  assert.deepEqual(check(room, diff(room, client)), { keys: [], undecided: false })
})

test('an item inserted after a collected struct lands where Yjs puts it', () => {
  const { room, client } = pair()
  write(client, { kind: 'list', key: 'l', items: ['a', 'b'], quiet: false })
  sync(room, client)
  // Replacing the list deletes the old one: the room collects its items into GC structs.
  const old = client.getMap(STATE).get('l') as Y.Array<unknown>
  const late = new Y.Doc({ gc: false })
  Y.applyUpdate(late, Y.encodeStateAsUpdate(client))
  write(client, { kind: 'list', key: 'l', items: ['c'], quiet: false })
  sync(room, client)
  assert.ok(old.doc)
  // Another client, behind, appends to the old list: its origin is a collected item in the room.
  ;(late.getMap(STATE).get('l') as Y.Array<unknown>).push(['z'])
  const update = Y.encodeStateAsUpdate(late, Y.encodeStateVector(room))
  const { keys } = check(room, update)
  assert.ok(keys.length <= 1 && keys.every((k) => k === 'l'))
})

test('random writes of random keys, merged as a relay batch merges them: every key changed is named', () => {
  let seed = 7
  const random = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    return seed % n
  }
  const keys = ['a', 'b', 'c', 'list']
  for (let round = 0; round < 60; round++) {
    const room = new Y.Doc()
    const clients = [new Y.Doc(), new Y.Doc()]
    for (const c of clients) sync(room, c)
    for (let step = 0; step < 8; step++) {
      const c = clients[random(2)]!
      const key = keys[random(keys.length)]!
      const quiet = random(3) === 0
      const current = c.getMap(STATE).get(key)
      const kind = random(5)
      if (key === 'list' && current instanceof Y.Array && kind < 2) write(c, { kind: 'append', key, items: [step], quiet })
      else if (key === 'list') write(c, { kind: 'list', key, items: [step], quiet })
      else if (kind === 0 && current !== undefined) write(c, { kind: 'delete', key, quiet })
      else if (kind === 1) write(c, { kind: 'force', key, quiet: false })
      else write(c, { kind: 'set', key, value: step, quiet })
      if (random(3) === 0) {
        const update = Y.mergeUpdates(clients.map((d) => diff(room, d)))
        assert.equal(check(room, update).undecided, false)
        for (const d of clients) Y.applyUpdate(d, diff(d, room))
      }
    }
  }
})
