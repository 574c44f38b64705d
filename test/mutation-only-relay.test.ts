/**
 * Mutation-only keys at the relay, over real sockets (docs/mutations.md): a stock y-websocket
 * client that writes one is closed with 4423 and nothing of its update is applied, while the
 * room's other sessions go on; a lock commit that writes one is DENIED; everything else passes.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import { MemoryStore } from '../relay/store/memory-store.js'
import { CLOSE } from '../protocol/close-codes.js'
import { STATE } from '../protocol/doc-names.js'
import {
  DENIED_MUTATION_ONLY,
  HELLO_MUTATIONS,
  YSS_ACQUIRE,
  YSS_COMMIT,
  YSS_DENIED,
  YSS_GRANT,
  YSS_HELLO,
  YSS_MUTATION_ONLY,
  encodeYss
} from '../protocol/messages.js'
import { rawSocket, relayStateAfter, stockClient, testRelay, untilKey, within, yssMessages } from './support/helpers.js'

/** A store whose room `bank` holds `balance:ann` = 100 and `note` = 'hi', written before the relay ran. */
const seeded = async (): Promise<MemoryStore> => {
  const store = new MemoryStore()
  const doc = new Y.Doc()
  doc.getMap(STATE).set('balance:ann', 100)
  doc.getMap(STATE).set('note', 'hi')
  await store.append('bank', Y.encodeStateAsUpdate(doc))
  return store
}

test('a stock client that writes a mutation-only key is closed with 4423, nothing of it applied; the others go on', async () => {
  const relay = await testRelay({ store: await seeded(), mutationOnlyKeys: ['balance:*'] })
  const writer = stockClient(relay.url, 'bank')
  const other = stockClient(relay.url, 'bank')
  try {
    await Promise.all([writer.synced, other.synced])
    assert.equal(writer.state.get('balance:ann'), 100)
    // Its other keys pass, in the same room.
    writer.state.set('note', 'from a stock client')
    await untilKey(other.state, 'note', 'from a stock client')
    // One transaction: a plain key and a mutation-only one. Nothing of it may land.
    writer.doc.transact(() => {
      writer.state.set('note', 'half')
      writer.state.set('balance:ann', 1_000_000)
    })
    const closed = await within(writer.refused, 5_000, 'the writer to be closed')
    assert.equal(closed.code, CLOSE.mutationOnly)
    assert.match(closed.reason, /balance:ann/)
    other.state.set('note', 'still here')
    await untilKey(other.state, 'note', 'still here')
    assert.equal(other.state.get('balance:ann'), 100)
    const raw = rawSocket(relay.url, 'bank')
    await raw.opened
    const held = (await relayStateAfter(raw.ws)).getMap(STATE)
    assert.equal(held.get('balance:ann'), 100)
    assert.equal(held.get('note'), 'still here')
    raw.ws.close()
  } finally {
    writer.destroy()
    other.destroy()
    await relay.close()
  }
})

test('a stock client deleting a mutation-only key is closed too', async () => {
  const relay = await testRelay({ store: await seeded(), mutationOnlyKeys: ['balance:*'] })
  const writer = stockClient(relay.url, 'bank')
  try {
    await writer.synced
    writer.state.delete('balance:ann')
    assert.equal((await within(writer.refused, 5_000, 'the writer to be closed')).code, CLOSE.mutationOnly)
    const raw = rawSocket(relay.url, 'bank')
    await raw.opened
    assert.equal((await relayStateAfter(raw.ws)).getMap(STATE).get('balance:ann'), 100)
    raw.ws.close()
  } finally {
    writer.destroy()
    await relay.close()
  }
})

test('without mutation-only keys the same write passes (the check is what refuses it)', async () => {
  const relay = await testRelay({ store: await seeded() })
  const writer = stockClient(relay.url, 'bank')
  const other = stockClient(relay.url, 'bank')
  try {
    await Promise.all([writer.synced, other.synced])
    writer.state.set('balance:ann', 5)
    await untilKey(other.state, 'balance:ann', 5)
  } finally {
    writer.destroy()
    other.destroy()
    await relay.close()
  }
})

test('a lock commit that writes a mutation-only key is DENIED, nothing applied; HELLO bit 4 is told the patterns before ACCESS', async () => {
  const relay = await testRelay({ store: await seeded(), mutationOnlyKeys: ['balance:*', 'audit'] })
  const raw = rawSocket(relay.url, 'bank')
  try {
    await raw.opened
    raw.send(encodeYss({ type: YSS_HELLO, id: HELLO_MUTATIONS }))
    raw.send(encodeYss({ type: YSS_ACQUIRE, id: 1, keys: ['balance:ann'] }))
    await raw.frame((f) => yssMessages([f]).some((m) => m.type === YSS_GRANT))
    const told = yssMessages(raw.frames)
    assert.equal(told[0]?.type, YSS_MUTATION_ONLY)
    assert.deepEqual(told[0]?.type === YSS_MUTATION_ONLY && told[0].patterns, ['balance:*', 'audit'])
    const relayDoc = await relayStateAfter(raw.ws)
    const doc = new Y.Doc()
    Y.applyUpdate(doc, Y.encodeStateAsUpdate(relayDoc))
    const before = Y.encodeStateVector(doc)
    doc.getMap(STATE).set('balance:ann', 0)
    raw.send(encodeYss({ type: YSS_COMMIT, id: 1, update: Y.encodeStateAsUpdate(doc, before) }))
    await raw.frame((f) => yssMessages([f]).some((m) => m.type === YSS_DENIED))
    const denied = yssMessages(raw.frames).find((m) => m.type === YSS_DENIED)
    assert.ok(denied?.type === YSS_DENIED && denied.reason.startsWith(DENIED_MUTATION_ONLY), JSON.stringify(denied))
    assert.equal((await relayStateAfter(raw.ws)).getMap(STATE).get('balance:ann'), 100)
  } finally {
    raw.ws.close()
    await relay.close()
  }
})
