/**
 * Amplification without back-pressure: a socket that never reads asks for the whole room, or all
 * presence, again and again, or sits in a room under a burst of writes. The relay bounds what it
 * queues for one socket (`maxQueuedBytes`) and closes it with 1008; its memory stays within a
 * generous bound, and a healthy pair in another room keeps syncing throughout.
 *
 * Each relay runs in a child process so that its peak resident memory can be read. Run against a
 * relay without the limit, each test fails: the socket is never closed, and the relay grows by
 * about the attack's size (160, 150 and 100 MB here).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import { eventually, rawSocket, updateFrame, within, type RawSocket } from './support/helpers.js'
import {
  MiB,
  awarenessFrame,
  underAttack,
  nonReader,
  resume,
  queryAwareness,
  roundTrip,
  syncStep1,
  type ChildRelay
} from './support/limits-helpers.js'

/** Sends `frame` up to `times` times, each after a flush round trip through `pacer` in the same room, until the relay closes it. */
const repeatUntilClosed = async (relay: ChildRelay, attacker: RawSocket, pacer: RawSocket, frame: () => Uint8Array, times: number) => {
  let sent = 0
  for (; sent < times && (await relay.limitHits('queued_bytes')) === 0; sent++) {
    attacker.send(frame())
    await roundTrip(pacer)
  }
  return sent
}

const closedForNotReading = async (relay: ChildRelay, attacker: RawSocket) => {
  await eventually(async () => (await relay.limitHits('queued_bytes')) >= 1, 'the relay to close the non-reading socket', 10_000)
  await eventually(
    () => relay.output.some((l) => l.includes('over a limit') && l.includes('limit=maxQueuedBytes') && l.includes('code=1008')),
    'the log line of the close',
    5_000
  )
  // Once it reads again it finds the close (1008, or 1006 if the relay dropped the TCP connection first).
  resume(attacker)
  const { code } = await within(attacker.closed, 10_000, 'the non-reading socket to close')
  assert.ok(code === 1008 || code === 1006, `close code ${code}`)
}

/** A raw socket in `room` that has written `update` and seen it come back. */
const writer = async (url: string, room: string, update?: Uint8Array): Promise<RawSocket> => {
  const raw = rawSocket(url, room)
  await raw.opened
  if (update) {
    raw.send(updateFrame(update))
    await raw.frame((f) => f[0] === 0 && f[1] === 2, 10_000)
  }
  return raw
}

const bigUpdate = (bytes: number, key = 'big'): Uint8Array => {
  const doc = new Y.Doc()
  doc.getMap('state').set(key, 'x'.repeat(bytes))
  return Y.encodeStateAsUpdate(doc)
}

test(
  'a non-reading socket that asks for the whole room again and again is closed with 1008, the relay stays small',
  { timeout: 120_000 },
  (t) =>
    underAttack({ maxQueuedBytes: 4 * MiB }, async (relay, pair) => {
      const seed = await writer(relay.url, 'amp-sync', bigUpdate(4 * MiB))
      relay.resetPeak()
      const attacker = await nonReader(relay.url, 'amp-sync')
      const sent = await repeatUntilClosed(relay, attacker, seed, syncStep1, 40)
      await pair.check('during')
      const growth = relay.growthMb()
      t.diagnostic(`relay grew by ${growth.toFixed(0)} MB answering ${sent} sync step 1 of a 4 MB room`)
      await closedForNotReading(relay, attacker)
      assert.ok(growth < 60, `relay grew by ${growth.toFixed(0)} MB answering ${sent} sync step 1 of a 4 MB room`)
      seed.ws.close()
    })
)

test(
  'a non-reading socket that queries all presence again and again is closed with 1008, the relay stays small',
  { timeout: 120_000 },
  (t) =>
    underAttack({ maxQueuedBytes: 4 * MiB }, async (relay, pair) => {
      const publishers: RawSocket[] = []
      try {
        // 16 connections × 4 states × 60 KB, each within the presence limits: 3.8 MB an answer.
        for (let p = 0; p < 16; p++) {
          const raw = await writer(relay.url, 'amp-presence')
          raw.send(awarenessFrame([0, 1, 2, 3].map((i) => [1000 + p * 4 + i, { name: 'y'.repeat(60_000) }])))
          publishers.push(raw)
        }
        const pacer = publishers[0]!
        await roundTrip(pacer)
        relay.resetPeak()
        const attacker = await nonReader(relay.url, 'amp-presence')
        const sent = await repeatUntilClosed(relay, attacker, pacer, queryAwareness, 40)
        await pair.check('during')
        const growth = relay.growthMb()
        t.diagnostic(`relay grew by ${growth.toFixed(0)} MB answering ${sent} queries of 3.8 MB of presence`)
        await closedForNotReading(relay, attacker)
        assert.ok(growth < 60, `relay grew by ${growth.toFixed(0)} MB answering ${sent} queries of 3.8 MB of presence`)
      } finally {
        for (const p of publishers) p.ws.close()
      }
    })
)

test('a paused reader under a burst of writes is closed with 1008 before the burst piles up in the relay', { timeout: 120_000 }, (t) =>
  underAttack({ maxQueuedBytes: 4 * MiB }, async (relay, pair) => {
    const raw = await writer(relay.url, 'amp-burst')
    relay.resetPeak()
    const reader = await nonReader(relay.url, 'amp-burst')
    // 100 writes of 1 MB to one key by one client: the room stays at 1 MB, the broadcasts total 100 MB.
    const doc = new Y.Doc()
    doc.on('update', (update: Uint8Array) => raw.send(updateFrame(update)))
    let written = 0
    for (; written < 100 && (await relay.limitHits('queued_bytes')) === 0; written++) {
      doc.getMap('state').set('big', `${written}`.padEnd(MiB, 'x'))
      await roundTrip(raw)
    }
    await pair.check('during')
    const growth = relay.growthMb()
    t.diagnostic(`relay grew by ${growth.toFixed(0)} MB under ${written} MB of writes`)
    await closedForNotReading(relay, reader)
    assert.ok(growth < 60, `relay grew by ${growth.toFixed(0)} MB under ${written} MB of writes`)
    raw.ws.close()
  })
)
