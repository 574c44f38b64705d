/**
 * A lock's commit, encoded without a second copy of the room (client/commit.ts), against what Yjs
 * itself writes when the same writes are applied in a copy of the doc under the commit's client
 * id (how commits were encoded before). On many random rooms and random writes: the same items,
 * the same deletions, the same room afterwards, byte for byte. A commit lost with its connection,
 * over the harness; and the relay's GRANT state vector against Yjs's.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import { encodeCommit } from '../client/commit.js'
import { grantStateVector } from '../relay/locks/lock-messages.js'
import { LockLostError } from '../client/index.js'
import { Network } from './harness/index.js'
import { within } from './support/helpers.js'
import { applyWrites, entryId, type Write } from '../protocol/doc-writes.js'
import { FORCES, QUIET, QUIET_START, STATE } from '../protocol/doc-names.js'
import type { Json } from '../protocol/json.js'

/** A small deterministic PRNG (mulberry32), so that a failure names its seed. */
const prng = (seed: number) => () => {
  seed |= 0
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const KEYS = ['a', 'b', 'c', 'list', 'other']

const randomValue = (r: () => number): Json => {
  switch (Math.floor(r() * 5)) {
    case 0:
      return Math.floor(r() * 100)
    case 1:
      return `s${Math.floor(r() * 10)}`
    case 2:
      return null
    case 3:
      return { x: Math.floor(r() * 3), y: [1, 'two'] }
    default:
      return [Math.floor(r() * 3), { z: true }]
  }
}

/** Random writes, as a lock's scope would hold them for `doc` (appends only onto a list). */
const randomWrites = (r: () => number, doc: Y.Doc, count: number): Write[] => {
  const writes: Write[] = []
  const state = doc.getMap(STATE)
  for (let i = 0; i < count; i++) {
    const key = KEYS[Math.floor(r() * KEYS.length)]!
    const quiet = r() < 0.3
    const kind = Math.floor(r() * 6)
    const onlyAppends = writes.every((w) => w.key !== key || w.kind === 'append' || w.kind === 'force')
    if (kind === 0 && state.get(key) instanceof Y.Array && onlyAppends) {
      writes.push({ kind: 'append', key, items: Array.from({ length: 1 + Math.floor(r() * 3) }, () => randomValue(r)), quiet })
    } else if (kind === 1) writes.push({ kind: 'delete', key, quiet })
    else if (kind === 2) writes.push({ kind: 'list', key, items: Array.from({ length: Math.floor(r() * 3) }, () => randomValue(r)), quiet })
    else if (kind === 3) writes.push({ kind: 'force', key, quiet: false })
    else writes.push({ kind: 'set', key, value: randomValue(r), quiet })
  }
  return writes
}

/** A room with history: several writers (one of them `commitClient`), synced, in random orders. */
const randomRoom = (r: () => number, commitClient: number): Y.Doc => {
  const writers = [11, 22, 33, commitClient].map((id) => {
    const d = new Y.Doc()
    d.clientID = id
    return d
  })
  for (let round = 0; round < 1 + Math.floor(r() * 6); round++) {
    for (const w of writers) {
      if (r() < 0.4) continue
      w.transact(() => applyWrites(w, randomWrites(r, w, 1 + Math.floor(r() * 4))))
    }
    // Sync some pairs, not all: concurrent writes of one key meet later.
    for (const a of writers)
      for (const b of writers) if (a !== b && r() < 0.5) Y.applyUpdate(b, Y.encodeStateAsUpdate(a, Y.encodeStateVector(b)))
  }
  const room = new Y.Doc()
  room.clientID = 99
  for (const w of writers) Y.applyUpdate(room, Y.encodeStateAsUpdate(w))
  // The session's doc as it loads a room: from one update.
  const doc = new Y.Doc()
  doc.clientID = 77
  Y.applyUpdate(doc, Y.encodeStateAsUpdate(room))
  // Reading a list by index leaves search markers in it, which a push starts from.
  for (const value of doc.getMap(STATE).values()) {
    if (value instanceof Y.Array && value.length > 1 && r() < 0.5) value.get(Math.floor(r() * value.length))
  }
  return doc
}

/** What Yjs writes for `writes` in a copy of `doc` that writes under `client`. */
const byYjs = (doc: Y.Doc, client: number, writes: Write[]): Uint8Array | null => {
  const copy = new Y.Doc()
  Y.applyUpdate(copy, Y.encodeStateAsUpdate(doc))
  copy.clientID = client
  let update: Uint8Array | null = null
  copy.on('update', (u: Uint8Array) => {
    update = u
  })
  copy.transact(() => applyWrites(copy, writes))
  return update
}

const after = (doc: Y.Doc, update: Uint8Array | null): Y.Doc => {
  const copy = new Y.Doc()
  Y.applyUpdate(copy, Y.encodeStateAsUpdate(doc))
  if (update) Y.applyUpdate(copy, update)
  return copy
}

const roomJson = (d: Y.Doc) => ({ state: d.getMap(STATE).toJSON(), quiet: d.getMap(QUIET).toJSON(), forces: d.getMap(FORCES).toJSON() })

test('a commit encoded from the items it replaces is the update Yjs writes for the same writes, on 3,000 random rooms', () => {
  let compared = 0
  for (let seed = 1; seed <= 3000; seed++) {
    const r = prng(seed)
    const client = r() < 0.5 ? 44 : 1_000_000 + seed
    const doc = randomRoom(r, client)
    const writes = randomWrites(r, doc, 1 + Math.floor(r() * 5))
    const start = Y.getState(doc.store, client)
    let expected: Uint8Array | null
    try {
      expected = byYjs(doc, client, writes)
    } catch (err) {
      assert.throws(() => encodeCommit(doc, client, start, writes), { message: (err as Error).message }, `seed ${seed}`)
      continue
    }
    const ours = encodeCommit(doc, client, start, writes)
    if (!expected) {
      assert.equal(ours, null, `seed ${seed}: Yjs wrote nothing`)
      continue
    }
    assert.ok(ours, `seed ${seed}: Yjs wrote an update, the encoder none`)
    assert.equal(ours.start, start)
    assert.equal(ours.end, Y.getState(after(doc, expected).store, client), `seed ${seed}: end clock`)
    const a = after(doc, expected)
    const b = after(doc, ours.update)
    assert.deepEqual(roomJson(b), roomJson(a), `seed ${seed}: the room differs`)
    for (const key of KEYS) assert.equal(entryId(b.getMap(STATE), key), entryId(a.getMap(STATE), key), `seed ${seed}: entry of ${key}`)
    assert.deepEqual(Y.encodeStateAsUpdate(b), Y.encodeStateAsUpdate(a), `seed ${seed}: the room's structs differ`)
    // Item by item, as the relay and the other sessions decode it.
    const da = Y.decodeUpdate(expected)
    const db = Y.decodeUpdate(ours.update)
    assert.ok(Y.equalDeleteSets(db.ds, da.ds), `seed ${seed}: the deletions differ`)
    const describe = (structs: Array<Y.Item | Y.GC | Y.Skip>) =>
      structs.flatMap((s) => {
        // Yjs merges runs of its own new items; compare clock by clock.
        const out: string[] = []
        for (let i = 0; i < s.length; i++) {
          if (!(s instanceof Y.Item)) {
            out.push(`${s.constructor.name}@${s.id.clock + i}`)
            continue
          }
          const origin = i === 0 ? s.origin : Y.createID(s.id.client, s.id.clock + i - 1)
          const parent = s.parent instanceof Y.ID ? `${s.parent.client}:${s.parent.clock}` : String(s.parent)
          const content = s.content instanceof Y.ContentAny ? JSON.stringify(s.content.getContent()[i]) : s.content.constructor.name
          out.push(
            `${s.id.clock + i} o=${origin?.client}:${origin?.clock} r=${s.rightOrigin?.client}:${s.rightOrigin?.clock} ${origin ? '' : `p=${parent} k=${s.parentSub} `}${content}`
          )
        }
        return out
      })
    assert.deepEqual(describe(db.structs as any), describe(da.structs as any), `seed ${seed}: the items differ`)
    compared++
  }
  assert.ok(compared > 2000, `only ${compared} rooms compared`)
})

test("a commit starts where the client's earlier commits end, and nothing of it touches the doc", () => {
  const doc = new Y.Doc()
  const client = 5
  const first = encodeCommit(doc, client, 0, [{ kind: 'set', key: 'count', value: 1, quiet: false }])!
  assert.deepEqual([first.start, first.end], [0, 1])
  assert.equal(doc.getMap(STATE).get('count'), undefined)
  Y.applyUpdate(doc, first.update)
  const second = encodeCommit(doc, client, Y.getState(doc.store, client), [{ kind: 'set', key: 'count', value: 2, quiet: true }])!
  // Quiet, right after the client's own item of the key: a yss:quiet-start entry comes between.
  assert.deepEqual([second.start, second.end], [1, 4])
  Y.applyUpdate(doc, second.update)
  assert.equal(doc.getMap(STATE).get('count'), 2)
  assert.equal(doc.getMap(QUIET_START).has('count'), true)
  assert.equal(doc.getMap(QUIET).get('count'), `${client}:2@2`)
})

/** The client id of the item that holds `key` in `doc`'s state now. */
const writerOf = (doc: Y.Doc, key: string): number => ((doc.getMap(STATE) as any)._map.get(key) as Y.Item).id.client

test('a commit lost with its connection is applied nowhere; the next lock commits under a fresh client id, applied once', async (t) => {
  const net = new Network()
  t.after(() => net.close())
  const a = await net.session('A', 'lost-commit')
  const b = await net.session('B', 'lost-commit')
  const first = a.lock('count', (s) => {
    s.count = 1
  })
  await net.flushAll()
  await within(first, 5_000, 'the first lock')
  const client = writerOf(a.doc, 'count')
  assert.notEqual(client, a.doc.clientID, "a commit is written under the locks' own client id")

  // The second lock is granted and runs; its COMMIT is lost with the connection.
  const lost = a
    .lock('count', (s) => {
      s.count = 2
    })
    .then(
      () => 'resolved',
      (err: unknown) => err
    )
  await net.deliver(net.link('A'), 'up') // ACQUIRE
  await net.deliver(net.link('A'), 'down') // GRANT: fn runs and the COMMIT is sent
  await net.settle()
  net.drop(net.link('A'))
  await net.reconnect('A')
  const err = await within(lost, 5_000, 'the lost lock to settle')
  assert.ok(err instanceof LockLostError, `rejected with ${String(err)}`)
  assert.equal(a.get('count'), 1, 'a lost commit is applied nowhere')

  const third = a.lock('count', (s) => {
    s.count = (s.count ?? 0) + 10
  })
  await net.flushAll()
  await within(third, 5_000, 'the lock after the lost one')
  const stored = await net.storedDoc('lost-commit')
  assert.deepEqual([a.get('count'), b.get('count'), stored.getMap(STATE).get('count')], [11, 11, 11])
  const fresh = writerOf(a.doc, 'count')
  assert.notEqual(fresh, client, 'after a lost commit, commits take a fresh client id')
  assert.equal(Y.getState(stored.store, client), 1, 'the room holds the first commit only, of the first client id')
})

test("a GRANT's state vector is the doc's, as Yjs encodes it, whatever the order of its clients", () => {
  for (let seed = 1; seed <= 200; seed++) {
    const r = prng(seed)
    const doc = randomRoom(r, 1_000 + seed)
    assert.deepEqual(Y.decodeStateVector(grantStateVector(doc)), Y.decodeStateVector(Y.encodeStateVector(doc)), `seed ${seed}`)
  }
  assert.deepEqual(Y.decodeStateVector(grantStateVector(new Y.Doc())), new Map())
})
