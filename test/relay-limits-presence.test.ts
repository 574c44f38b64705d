/**
 * Presence under abuse: one connection claims hundreds of awareness client ids with large
 * states. The relay keeps `maxAwarenessStates` a connection and states up to `maxAwarenessBytes`,
 * drops the rest (the connection stays), and a joiner gets only what was kept. A stock client's
 * own presence goes through as before.
 *
 * Run against a relay without the limits: the joiner is sent every state (30 MB) and the relay
 * grows by more than that.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as decoding from 'lib0/decoding'
import { rawSocket, stockClient, within } from './support/helpers.js'
import { awarenessFrame, underAttack, roundTrip } from './support/limits-helpers.js'

/** The client ids and state sizes of an awareness frame. */
const statesOf = (frame: Uint8Array): Map<number, number> => {
  const d = decoding.createDecoder(frame)
  decoding.readVarUint(d)
  const u = decoding.createDecoder(decoding.readVarUint8Array(d))
  const states = new Map<number, number>()
  for (let n = decoding.readVarUint(u); n > 0; n--) {
    const id = decoding.readVarUint(u)
    decoding.readVarUint(u)
    const json = decoding.readVarString(u)
    if (json !== 'null') states.set(id, json.length)
  }
  return states
}

test('a connection claiming 300 presence states of 100 KB keeps 4 small ones; joiners get only those', { timeout: 60_000 }, (t) =>
  underAttack({}, async (relay, _pair) => {
    const honest = stockClient(relay.url, 'presence')
    try {
      await honest.synced
      honest.provider.awareness.setLocalStateField('user', { name: 'honest' })
      const attacker = rawSocket(relay.url, 'presence')
      await attacker.opened
      await attacker.frame((f) => f[0] === 1 && statesOf(f).has(honest.doc.clientID))
      relay.resetPeak()
      const ids = Array.from({ length: 300 }, (_, i) => 10_000 + i)
      attacker.send(awarenessFrame(ids.map((id) => [id, { blob: 'b'.repeat(100_000) }])))
      attacker.send(
        awarenessFrame(
          ids.map((id) => [id, { name: `small ${id}` }]),
          2
        )
      )
      await roundTrip(attacker)
      const growth = relay.growthMb()

      const joiner = rawSocket(relay.url, 'presence')
      const frame = await joiner.frame((f) => f[0] === 1)
      const states = statesOf(frame)
      const claimed = [...states.keys()].filter((id) => id >= 10_000 && id < 10_300)
      t.diagnostic(
        `300 states of 100 KB then 300 of 20 bytes: a joiner gets ${claimed.length} of the attacker's, ${frame.length} bytes; relay grew by ${growth.toFixed(0)} MB`
      )
      assert.deepEqual(claimed, [10_000, 10_001, 10_002, 10_003])
      assert.ok(states.has(honest.doc.clientID), "the honest client's presence is there")
      assert.ok(frame.length < 1_000, `the joiner's presence frame is ${frame.length} bytes`)
      // Receiving the 30 MB frame costs about twice its size (ws joins its fragments); keeping it would cost more.
      assert.ok(growth < 100, `relay grew by ${growth.toFixed(0)} MB`)
      assert.equal(await relay.limitHits('awareness_bytes'), 1)
      assert.equal(await relay.limitHits('awareness_states'), 1)
      assert.equal(attacker.ws.readyState, attacker.ws.OPEN, 'the connection stays; only the excess is dropped')

      // When the attacker leaves, its states go; a state it frees can be taken by another id.
      attacker.ws.close()
      await within(attacker.closed, 5_000, 'the attacker to close')
      await joiner.frame((f) => f[0] === 1 && statesOf(f).size === 0 && f.length > 10)
      joiner.ws.close()
    } finally {
      honest.destroy()
    }
  })
)
