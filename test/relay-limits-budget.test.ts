/**
 * What all clients together can make the relay hold: bytes queued for sockets that do not read
 * are bounded relay-wide (`maxQueuedBytesTotal`: the socket a frame would pass it for is closed
 * with 1013), a socket that does not drain what was queued for it within `maxDrainMs` is closed
 * with 1008 whatever it sends meanwhile, and one address holds at most `maxConnectionsPerAddress`
 * sockets (more are answered 429).
 *
 * Run against the relay before: every non-reader keeps its socket and its answers, the one that
 * sends a FLUSH now and then is never closed, and every socket of one address is accepted.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import { eventually, rawSocket, testRelay, updateFrame, within, type RawSocket } from './support/helpers.js'
import { MiB, childRelay, flush, nonReader, resume, roundTrip, syncStep1, type ChildRelay } from './support/limits-helpers.js'

/** A room of about `bytes` bytes, written by a socket that stays. */
const seeded = async (relay: ChildRelay, room: string, bytes: number): Promise<RawSocket> => {
  const raw = rawSocket(relay.url, room)
  await raw.opened
  const doc = new Y.Doc()
  doc.getMap('state').set('big', 'x'.repeat(bytes))
  raw.send(updateFrame(Y.encodeStateAsUpdate(doc)))
  await roundTrip(raw, 30_000)
  return raw
}

test('non-readers asking for a big room pass the relay-wide budget of queued bytes: closed with 1013', { timeout: 120_000 }, async () => {
  const relay = await childRelay({ maxQueuedBytesTotal: 8 * MiB })
  const attackers: RawSocket[] = []
  try {
    const seed = await seeded(relay, 'budget', 6 * MiB)
    for (let i = 0; i < 10; i++) {
      const attacker = await nonReader(relay.url, 'budget')
      attacker.send(syncStep1())
      attackers.push(attacker)
      await roundTrip(seed, 30_000)
    }
    const evicted = await relay.limitHits('queued_bytes_total')
    assert.ok(evicted >= 1, 'the budget was hit')
    assert.equal(await relay.limitHits('queued_bytes'), 0, 'no socket passed its own limit')
    assert.ok(
      relay.output.some((l) => l.includes('limit=maxQueuedBytesTotal') && l.includes('code=1013')),
      'the log line of the close'
    )
    for (const a of attackers) resume(a)
    // Each evicted socket finds the close (1013, or 1006 if the relay dropped the TCP connection first).
    const codes = await Promise.all(
      attackers.map((a) =>
        within(a.closed, 2_000, 'an attacker to close').then(
          (c) => c.code,
          () => 'open'
        )
      )
    )
    assert.equal(codes.filter((c) => c === 1013 || c === 1006).length, evicted, `close codes ${codes.join(', ')}`)
    seed.ws.close()
  } finally {
    for (const a of attackers) a.ws.terminate()
    await relay.close()
  }
})

test('a socket that does not drain within maxDrainMs is closed with 1008, though it sends a FLUSH now and then', {
  timeout: 60_000
}, async () => {
  const relay = await childRelay({ maxDrainMs: 500 })
  try {
    const seed = await seeded(relay, 'drain', 10 * MiB)
    const attacker = await nonReader(relay.url, 'drain')
    attacker.send(syncStep1())
    let id = 1_000
    const alive = setInterval(() => attacker.ws.readyState === attacker.ws.OPEN && attacker.send(flush(id++)), 100)
    try {
      await eventually(async () => (await relay.limitHits('drain_ms')) >= 1, 'the relay to close the socket that does not drain', 20_000)
    } finally {
      clearInterval(alive)
    }
    resume(attacker)
    const { code } = await within(attacker.closed, 10_000, 'the close')
    assert.ok(code === 1008 || code === 1006, `close code ${code}`)
    await roundTrip(seed)
    seed.ws.close()
  } finally {
    await relay.close()
  }
})

test('one address holds at most maxConnectionsPerAddress sockets: more are answered 429', async () => {
  const relay = await testRelay({ maxConnectionsPerAddress: 3, capLoopback: true })
  try {
    const held = [0, 1, 2].map(() => rawSocket(relay.url, 'per-address'))
    await Promise.all(held.map((r) => r.opened))
    const extra = rawSocket(relay.url, 'per-address')
    const status = await new Promise<number>((resolve) => extra.ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)))
    assert.equal(status, 429)
    assert.equal(relay.metrics.hits('maxConnectionsPerAddress'), 1)
    held[0]!.ws.close()
    await held[0]!.closed
    await eventually(async () => {
      const again = rawSocket(relay.url, 'per-address')
      const ok = await again.opened.then(
        () => true,
        () => false
      )
      if (ok) again.ws.close()
      return ok
    }, 'a socket to open once one closed')
  } finally {
    await relay.close()
  }
})
