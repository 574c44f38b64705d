/**
 * Locks under abuse: one connection floods lock requests, holds hundreds of keys, disconnects
 * with a long queue, names huge keys, or commits an update bomb. The relay caps a connection's
 * open requests (`maxLockRequests`, `maxLockKeyChars`: DENIED), keeps granting other sessions'
 * locks at once, and after the flood leaves (test/locks-table.test.ts: releasing is O(1) a request),
 * logs an expired lease in a line of bounded length, and costs a commit like any update.
 *
 * Run against a relay without these limits: no request is DENIED, an expired lease logs 64,000
 * characters of keys, and the commit bomb is applied.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import * as decoding from 'lib0/decoding'
import { MESSAGE_YSS, YSS_ACQUIRE, YSS_COMMIT, YSS_DENIED, YSS_GRANT, decodeYss, encodeYss } from '../protocol/messages.js'
import { eventually, memoryLogger, rawSocket, session, testRelay, updateFrame, within, type RawSocket } from './support/helpers.js'
import { MiB, deleteBomb, roundTrip } from './support/limits-helpers.js'

const replies = (raw: RawSocket, type: number): number => raw.frames.filter((f) => f[0] === MESSAGE_YSS && f[1] === type).length

const acquire = (raw: RawSocket, id: number, keys: string[]) => raw.send(encodeYss({ type: YSS_ACQUIRE, id, keys }))

test('a connection past maxLockRequests is DENIED; another session still gets its lock at once, and after the flood leaves', {
  timeout: 60_000
}, async (t) => {
  const relay = await testRelay({ leaseMs: 60_000 })
  const victim = await session(relay.url, 'locks', { lockTimeout: 2_000 })
  try {
    const raw = rawSocket(relay.url, 'locks')
    await raw.opened
    // 256 keys held, then 100,000 requests queued for one of them.
    for (let i = 0; i < 256; i++) acquire(raw, i + 1, [`hog${i}`])
    for (let i = 0; i < 100_000; i++) acquire(raw, 1_000 + i, ['hog0'])
    await roundTrip(raw, 30_000)
    const granted = replies(raw, YSS_GRANT)
    const denied = replies(raw, YSS_DENIED)
    t.diagnostic(`flood of 100,256 requests: ${granted} granted, ${denied} denied`)
    assert.equal(granted, 256)
    assert.equal(denied, 100_000)
    assert.equal(relay.metrics.hits('maxLockRequests'), 100_000)
    await within(
      victim.lock('mine', (s) => {
        s.mine = 1
      }),
      2_000,
      "the victim's lock while the flood holds 256 keys"
    )
    raw.ws.close()
    await raw.closed
    const started = Date.now()
    await within(
      victim.lock('hog0', (s) => {
        s.hog0 = 1
      }),
      2_000,
      "the victim's lock on a key the flood held, once it left"
    )
    t.diagnostic(`lock granted ${Date.now() - started} ms after the flood left`)
  } finally {
    victim.close()
    await relay.close()
  }
})

test('keys past maxLockKeyChars are DENIED, and an expired lease logs a line of bounded length', { timeout: 30_000 }, async () => {
  const logger = memoryLogger()
  const relay = await testRelay({ leaseMs: 50, logger })
  try {
    const raw = rawSocket(relay.url, 'lock-keys')
    await raw.opened
    acquire(raw, 1, ['k'.repeat(MiB)])
    // 64 keys of 1,000 characters: within the limit, held until the lease expires.
    acquire(
      raw,
      2,
      Array.from({ length: 64 }, (_, i) => `${String(i).padStart(2, '0')}`.padEnd(1_000, 'k'))
    )
    await raw.frame((f) => f[0] === MESSAGE_YSS && f[1] === YSS_DENIED)
    assert.equal(decodeYss(decoding.createDecoder(raw.frames.find((f) => f[1] === YSS_DENIED)!.subarray(1))).id, 1)
    assert.equal(relay.metrics.hits('maxLockKeyChars'), 1)
    await raw.frame((f) => f[0] === MESSAGE_YSS && f[1] === YSS_GRANT)
    await eventually(() => logger.lines.some((l) => l.includes('lock lease expired')), 'the lease to expire')
    const line = logger.lines.find((l) => l.includes('lock lease expired'))!
    assert.ok(line.length < 1_000, `the expiry line is ${line.length} characters`)
    assert.match(line, /keyCount=64/)
    raw.ws.close()
  } finally {
    await relay.close()
  }
})

test('a lock commit over maxUpdateItems closes its connection with 4413, unapplied', { timeout: 30_000 }, async () => {
  const relay = await testRelay()
  try {
    const raw = rawSocket(relay.url, 'lock-bomb')
    await raw.opened
    const src = new Y.Doc()
    src.getText('t').insert(0, 'x'.repeat(400_000))
    raw.send(updateFrame(Y.encodeStateAsUpdate(src)))
    acquire(raw, 1, ['k'])
    await raw.frame((f) => f[0] === MESSAGE_YSS && f[1] === YSS_GRANT)
    raw.send(encodeYss({ type: YSS_COMMIT, id: 1, update: deleteBomb(src.clientID, 150_000) }))
    const { code } = await within(raw.closed, 10_000, 'the commit to be refused')
    assert.equal(code, 4413)
    assert.equal(relay.metrics.hits('maxUpdateItems'), 1)
    const reader = await session(relay.url, 'lock-bomb')
    assert.equal(reader.doc.getText('t').length, 400_000)
    reader.close()
  } finally {
    await relay.close()
  }
})
