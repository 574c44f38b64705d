/**
 * Update bombs: an update whose delete set splits a big insert into a million pieces, updates
 * that wait forever for updates that never come, and a room grown without end. The relay costs
 * an update before applying it (`maxUpdateItems`), bounds what waits (`maxPendingBytes`) and the
 * room (`maxRoomBytes`), refuses with the documented close code, and lives; a healthy pair in
 * another room keeps syncing.
 *
 * Run against a relay without the limits, each test fails: nothing is closed, the bomb grows the
 * relay by about 300 MB, the pending updates reach every joiner, the room grows past its limit.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import { eventually, rawSocket, stockClient, updateFrame, updateOf, within, type RawSocket } from './support/helpers.js'
import { MiB, deleteBomb, underAttack, roundTrip, syncStep1 } from './support/limits-helpers.js'

const opened = async (url: string, room: string): Promise<RawSocket> => {
  const raw = rawSocket(url, room)
  await raw.opened
  return raw
}

/** Sends `update` and waits for its echo (or a close). */
const write = async (raw: RawSocket, update: Uint8Array): Promise<void> => {
  raw.send(updateFrame(update))
  await roundTrip(raw).catch(() => {})
}

/** The bytes of the sync step 2 a fresh socket gets for the whole room. */
const joinBytes = async (url: string, room: string): Promise<number> => {
  const raw = await opened(url, room)
  raw.send(syncStep1())
  const step2 = await raw.frame((f) => f[0] === 0 && f[1] === 1)
  raw.ws.close()
  return updateOf(step2)!.length
}

test(
  'an update over maxUpdateItems (a delete set of 500,000 ranges) closes its socket with 4413 before it is applied',
  { timeout: 120_000 },
  (t) =>
    underAttack({}, async (relay, pair) => {
      const src = new Y.Doc()
      src.getText('t').insert(0, 'x'.repeat(2 * MiB))
      const attacker = await opened(relay.url, 'bomb')
      await write(attacker, Y.encodeStateAsUpdate(src))
      relay.resetPeak()
      const started = Date.now()
      attacker.send(updateFrame(deleteBomb(src.clientID, 500_000)))
      await pair.check('during')
      await eventually(async () => (await relay.limitHits('update_items')) > 0, 'the bomb to be refused', 20_000)
      const ms = Date.now() - started
      const growth = relay.growthMb()
      t.diagnostic(`bomb of 500,000 ranges: refused after ${ms} ms, relay grew by ${growth.toFixed(0)} MB`)
      const { code, reason } = await within(attacker.closed, 5_000, 'the bomb to be refused')
      assert.equal(code, 4413)
      assert.match(reason, /structs and deleted ranges/)
      assert.ok(growth < 80, `relay grew by ${growth.toFixed(0)} MB`)
      assert.equal(await relay.limitHits('update_items'), 1)
      assert.ok(relay.output.some((l) => l.includes('limit=maxUpdateItems') && l.includes('code=4413')))
      // The room is whole and served: a new client gets the insert, undamaged.
      const reader = stockClient(relay.url, 'bomb')
      await reader.synced
      assert.equal(reader.doc.getText('t').length, 2 * MiB)
      reader.destroy()
    })
)

test('a room is refused growth past maxRoomBytes with 4413, and stays small enough to join', { timeout: 120_000 }, (t) =>
  underAttack({ maxRoomBytes: 8 * MiB }, async (relay, _pair) => {
    const attacker = await opened(relay.url, 'grow')
    relay.resetPeak()
    let accepted = 0
    for (let i = 0; i < 20; i++) {
      const doc = new Y.Doc()
      doc.getMap('state').set(`k${i}`, `${i}`.padEnd(MiB, 'x'))
      await write(attacker, Y.encodeStateAsUpdate(doc))
      if (attacker.ws.readyState !== attacker.ws.OPEN) break
      accepted++
    }
    const { code, reason } = await within(attacker.closed, 10_000, 'the room to refuse growth')
    t.diagnostic(
      `room limit 8 MiB: ${accepted} updates of 1 MiB accepted, then close ${code}; relay grew by ${relay.growthMb().toFixed(0)} MB`
    )
    assert.equal(code, 4413)
    assert.match(reason, /room is full/)
    assert.ok(accepted >= 5 && accepted <= 8, `${accepted} updates of 1 MiB accepted`)
    assert.equal(await relay.limitHits('room_bytes'), 1)
    assert.ok(relay.output.some((l) => l.includes('limit=maxRoomBytes')))
    const size = await joinBytes(relay.url, 'grow')
    assert.ok(size <= 8 * MiB, `a joiner downloads ${size} bytes`)
    const reader = stockClient(relay.url, 'grow')
    await reader.synced
    assert.equal(reader.state.size, accepted)
    reader.destroy()
  })
)

/** `count` updates of `bytes` each, from one client, whose first update (clock 0) is withheld: none can integrate. */
const orphans = (count: number, bytes: number): Uint8Array[] => {
  const doc = new Y.Doc()
  const updates: Uint8Array[] = []
  doc.on('update', (u: Uint8Array) => updates.push(u))
  doc.getMap('state').set('first', 1)
  for (let i = 0; i < count; i++) doc.getMap('state').set(`orphan${i}`, `${i}`.padEnd(bytes, 'o'))
  return updates.slice(1)
}

test(
  'updates that wait for a missing update are bounded by maxPendingBytes, closed with 1008, and never reach joiners',
  { timeout: 120_000 },
  (t) =>
    underAttack({}, async (relay, _pair) => {
      const attacker = await opened(relay.url, 'pending')
      let sent = 0
      for (const update of orphans(10, 300_000)) {
        await write(attacker, update)
        if (attacker.ws.readyState !== attacker.ws.OPEN) break
        sent++
      }
      const { code } = await within(attacker.closed, 10_000, 'the relay to close the sender of pending updates')
      const size = await joinBytes(relay.url, 'pending')
      t.diagnostic(`pending: ${sent} updates of 300 KB kept, then close ${code}; a joiner then downloads ${size} bytes`)
      assert.equal(code, 1008)
      assert.equal(sent, 0, `${sent} pending updates of 300 KB were kept before the close`)
      assert.ok(size < 1_000, `a joiner downloads ${size} bytes of pending updates`)
      assert.equal(await relay.limitHits('pending_bytes'), 1)

      // Deletes of what the room does not have wait too, and every later update re-reads them.
      const deleter = await opened(relay.url, 'pending')
      deleter.send(updateFrame(deleteBomb(987_654, 20_000)))
      assert.equal((await within(deleter.closed, 10_000, 'the relay to close the sender of pending deletes')).code, 1008)
      assert.equal(await relay.limitHits('pending_bytes'), 2)

      // Under the limit, they go with their sender.
      const quiet = await opened(relay.url, 'pending-2')
      await write(quiet, orphans(1, 30_000)[0]!)
      assert.ok((await joinBytes(relay.url, 'pending-2')) > 30_000, 'held while its sender is connected')
      quiet.ws.close()
      await quiet.closed
      await eventually(
        async () => (await joinBytes(relay.url, 'pending-2')) < 1_000,
        'a joiner to get no pending update once the sender left'
      )
    })
)
