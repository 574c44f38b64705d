/**
 * What one update may make the relay do, bounded by its size and not only by what it adds: the
 * client entries it names (even empty ones), the structs of the room it walks or splits, and how
 * often what waits for missing updates is re-read.
 *
 * Run against the relay before these bounds, each test fails: the empty entries and both delete
 * sets are applied, and the gap-filling updates are all applied, re-reading what is pending each
 * time, without the sender being closed.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import { rawSocket, relayStateAfter, testRelay, updateFrame, within, type RawSocket } from './support/helpers.js'
import { deleteBomb, roundTrip } from './support/limits-helpers.js'
import type { Relay } from '../relay/server.js'

/** A raw socket that joined `room`. */
const joined = async (relay: Relay, room: string): Promise<RawSocket> => {
  const raw = rawSocket(relay.url, room)
  await raw.frame(() => true)
  return raw
}

/** The fate of what `raw` sent: 'applied' if a round trip comes back, else its close code. */
const fate = (raw: RawSocket): Promise<string | number> =>
  roundTrip(raw, 30_000).then(
    () => 'applied',
    async () => (await within(raw.closed, 5_000, 'the close')).code
  )

test('an update of empty client entries counts each entry against maxUpdateItems: 4413', async () => {
  const relay = await testRelay()
  try {
    const raw = await joined(relay, 'entries')
    // 200,000 struct entries with no structs: 0 structs and 0 ranges, as the old count saw it.
    const e = encoding.createEncoder()
    encoding.writeVarUint(e, 200_000)
    for (let c = 0; c < 200_000; c++) {
      encoding.writeVarUint(e, 0)
      encoding.writeVarUint(e, c + 1)
      encoding.writeVarUint(e, 0)
    }
    encoding.writeVarUint(e, 0)
    raw.send(updateFrame(encoding.toUint8Array(e)))
    assert.equal(await fate(raw), 4413)
    assert.equal(relay.metrics.hits('maxUpdateItems'), 1)
  } finally {
    await relay.close()
  }
})

test('a delete set that would split or walk too much of the room is refused with 4413; an honest full delete set passes', async () => {
  const relay = await testRelay()
  try {
    const raw = await joined(relay, 'work')
    const src = new Y.Doc()
    src.getText('t').insert(0, 'x'.repeat(400_000))
    raw.send(updateFrame(Y.encodeStateAsUpdate(src)))
    assert.equal(await fate(raw), 'applied')
    // 50,000 one-character ranges inside one item: within maxUpdateItems, 100,000 splits.
    raw.send(updateFrame(deleteBomb(src.clientID, 50_000)))
    assert.equal(await fate(raw), 4413)
    assert.equal(relay.metrics.hits('maxUpdateWork'), 1)

    // An honest doc: every other character of a 20,000-character text deleted by its author.
    const honest = new Y.Doc()
    const text = honest.getText('t')
    text.insert(0, 'y'.repeat(20_000))
    const writer = await joined(relay, 'work-honest')
    writer.send(updateFrame(Y.encodeStateAsUpdate(honest)))
    for (let i = 0; i < 10_000; i++) text.delete(i + 1, 1)
    writer.send(updateFrame(Y.encodeStateAsUpdate(honest)))
    assert.equal(await fate(writer), 'applied')
    // Its whole delete set again (a reconnecting client's step 2): ranges over deleted structs, no split.
    writer.send(updateFrame(Y.encodeStateAsUpdate(honest)))
    assert.equal(await fate(writer), 'applied')
    // 2,000 ranges each covering all 20,000 structs walk 40 million of them.
    const e = encoding.createEncoder()
    encoding.writeVarUint(e, 0)
    encoding.writeVarUint(e, 1)
    encoding.writeVarUint(e, honest.clientID)
    encoding.writeVarUint(e, 2_000)
    for (let i = 0; i < 2_000; i++) {
      encoding.writeVarUint(e, 0)
      encoding.writeVarUint(e, 20_000)
    }
    writer.send(updateFrame(encoding.toUint8Array(e)))
    assert.equal(await fate(writer), 4413)
    assert.equal(relay.metrics.hits('maxUpdateWork'), 2)
  } finally {
    await relay.close()
  }
})

test('pending structs filled one gap at a time: re-read a bounded number of times, then dropped and the sender closed with 1008', {
  timeout: 60_000
}, async () => {
  const relay = await testRelay()
  try {
    const raw = await joined(relay, 'gaps')
    const src = new Y.Doc()
    const updates: Uint8Array[] = []
    src.on('update', (u: Uint8Array) => updates.push(u))
    for (let i = 0; i < 6_000; i++) src.getArray('a').push([i])
    // Every odd item in one update: each waits for the even item before it.
    const odd = Y.mergeUpdates(updates.filter((_, i) => i % 2 === 1))
    assert.ok(odd.length < 64 * 1024, `${odd.length} bytes pending, within maxPendingBytes`)
    raw.send(updateFrame(odd))
    // Pending, so not stored: a FLUSH would wait for what it lacks (FLUSHED means stored). A sync
    // round trip shows the relay kept the connection and holds the update back.
    const held = await relayStateAfter(raw.ws)
    assert.equal(held.getArray('a').length, 0, 'nothing of the odd items is integrated yet')
    assert.equal(raw.ws.readyState, raw.ws.OPEN)
    const evens = updates.filter((_, i) => i % 2 === 0)
    for (const u of evens) raw.send(updateFrame(u))
    assert.equal(await fate(raw), 1008)
    assert.equal(relay.metrics.hits('maxPendingBytes'), 1)
  } finally {
    await relay.close()
  }
})

/** `n` items, each of a client of its own, all inserted at the start of the list `a`: concurrent inserts at one place. */
const concurrentInserts = (n: number, firstClient: number): Uint8Array =>
  Y.mergeUpdates(
    Array.from({ length: n }, (_, i) => {
      const d = new Y.Doc()
      d.clientID = firstClient + i
      d.getArray('a').insert(0, [i])
      return Y.encodeStateAsUpdate(d)
    })
  )

test('concurrent inserts at one place cost the relay a walk over each other: past maxUpdateWork, 4413', async () => {
  const relay = await testRelay()
  try {
    const raw = await joined(relay, 'concurrent')
    // 5,000 at once: each is placed by walking the ones before it, 12.5 million steps.
    raw.send(updateFrame(concurrentInserts(5_000, 1_000_000)))
    assert.equal(await fate(raw), 4413)
    assert.equal(relay.metrics.hits('maxUpdateWork'), 1)
    // 3,000 in two updates of 1,500 are within the limit; 2,000 more walk the 3,000 the room holds too.
    const writer = await joined(relay, 'concurrent')
    writer.send(updateFrame(concurrentInserts(1_500, 2_000_000)))
    writer.send(updateFrame(concurrentInserts(1_500, 3_000_000)))
    assert.equal(await fate(writer), 'applied')
    writer.send(updateFrame(concurrentInserts(2_000, 4_000_000)))
    assert.equal(await fate(writer), 4413)
    assert.equal(relay.metrics.hits('maxUpdateWork'), 2)
  } finally {
    await relay.close()
  }
})
