/**
 * What one connection's frames may make the relay hold: frames sent before its room has loaded
 * (`maxEarlyFrames`, `maxEarlyBytes`: past them it is closed with 1008), and repeated requests
 * for the whole room or all presence, answered once a batch.
 *
 * Run against a relay without these limits, each test fails: the early frames are all kept (the
 * relay grows by their 100 MB) and each request is answered (50 answers for 50 requests).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import { rawSocket, stockClient, testRelay, updateFrame, updateOf, within } from './support/helpers.js'
import { MiB, awarenessFrame, underAttack, queryAwareness, roundTrip, syncStep1 } from './support/limits-helpers.js'

test('frames sent before the room has loaded are bounded by maxEarlyBytes and maxEarlyFrames: past them, 1008', { timeout: 60_000 }, (t) =>
  underAttack(
    {},
    async (relay, pair) => {
      let honest: ReturnType<typeof stockClient> | undefined
      try {
        relay.resetPeak()
        const bulky = rawSocket(relay.url, 'slow-room')
        await bulky.opened
        const frame = new Uint8Array(MiB)
        let sent = 0
        for (; sent < 100 && bulky.ws.readyState === bulky.ws.OPEN; sent++) {
          bulky.send(frame)
          // ws frames it on the send; the TCP write drains between sends.
          await new Promise<void>((resolve) => bulky.ws.send(new Uint8Array([3]), () => resolve()))
        }
        const chatty = rawSocket(relay.url, 'slow-room')
        await chatty.opened
        for (let i = 0; i < 2_000; i++) chatty.send(queryAwareness())
        await new Promise<void>((resolve) => chatty.ws.send(queryAwareness(), () => resolve()))
        await pair.check('while the room loads')
        const growth = relay.growthMb()
        t.diagnostic(`early frames: ${sent} frames of 1 MiB sent, relay grew by ${growth.toFixed(0)} MB`)
        const bulkyClose = await within(bulky.closed, 10_000, 'the relay to close the bulky early sender')
        const chattyClose = await within(chatty.closed, 10_000, 'the relay to close the chatty early sender')
        assert.equal(bulkyClose.code, 1008)
        assert.equal(chattyClose.code, 1008)
        assert.ok(growth < 60, `relay grew by ${growth.toFixed(0)} MB`)
        assert.equal(await relay.limitHits('early_bytes'), 1)
        assert.equal(await relay.limitHits('early_frames'), 1)
        honest = stockClient(relay.url, 'slow-room')
        relay.openGate()
        await within(honest.synced, 10_000, 'the honest client to sync once the room loads')
      } finally {
        honest?.destroy()
      }
    },
    true
  )
)

const stepOne = (sv: Uint8Array): Uint8Array => {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, 0)
  encoding.writeVarUint(e, 0)
  encoding.writeVarUint8Array(e, sv)
  return encoding.toUint8Array(e)
}

test('repeated sync step 1 and query awareness that arrive together are answered once a batch', async (t) => {
  const relay = await testRelay()
  try {
    const writer = rawSocket(relay.url, 'coalesce')
    await writer.opened
    const doc = new Y.Doc()
    doc.getMap('state').set('big', 'x'.repeat(MiB))
    writer.send(updateFrame(Y.encodeStateAsUpdate(doc)))
    writer.send(awarenessFrame([[42, { name: 'writer' }]]))
    await roundTrip(writer)

    const asker = rawSocket(relay.url, 'coalesce')
    await asker.opened
    await asker.frame((f) => f[0] === 1) // the presence sent on join
    const before = asker.frames.length
    for (let i = 0; i < 50; i++) {
      asker.send(syncStep1())
      asker.send(queryAwareness())
    }
    await roundTrip(asker)
    const answers = asker.frames.slice(before)
    const step2 = answers.filter((f) => f[0] === 0 && f[1] === 1).length
    const presence = answers.filter((f) => f[0] === 1).length
    t.diagnostic(`50 sync step 1 and 50 query awareness sent together: ${step2} step 2 and ${presence} presence answers`)
    // One answer a batch; the 100 frames arrive in a few TCP reads, and so a few batches.
    assert.ok(step2 >= 1 && step2 <= 10, `${step2} sync step 2 answers`)
    assert.ok(presence >= 1 && presence <= 10, `${presence} presence answers`)

    // Step 1 from a client that holds the room, then from one that holds nothing: the one answer covers both.
    const at = asker.frames.length
    asker.send(stepOne(Y.encodeStateVector(doc)))
    asker.send(syncStep1())
    await roundTrip(asker)
    const covered = new Y.Doc()
    for (const f of asker.frames.slice(at)) if (f[0] === 0 && f[1] === 1) Y.applyUpdate(covered, updateOf(f)!)
    assert.equal((covered.getMap('state').get('big') as string).length, MiB)
  } finally {
    await relay.close()
  }
})
