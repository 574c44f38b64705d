/**
 * Log lines a client can cause over and over are limited per kind of line, never per value the
 * client picks: 100 distinct bad paths log one refusal, and 40 rooms whose clients pass a limit
 * log one line, each with its path or room as a field and the repeats counted.
 *
 * Run against the relay before, both fail: the cause was per path, and per room and limit.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import { memoryLogger, rawSocket, testRelay, updateFrame, within } from './support/helpers.js'

test('distinct bad paths and distinct rooms over a limit log one line per kind a minute', async () => {
  const logger = memoryLogger()
  const relay = await testRelay({ logger, refusalDelayMs: 10, maxUpdateItems: 1 })
  try {
    const bad = Array.from({ length: 100 }, (_, i) => rawSocket(relay.url, `${i}-${'x'.repeat(2_100)}`))
    for (const raw of bad) assert.equal((await within(raw.closed, 10_000, 'the refusal')).code, 4400)
    const refusals = logger.lines.filter((l) => l.includes('connection refused'))
    assert.equal(refusals.length, 1, refusals.join('\n'))
    assert.match(refusals[0]!, /path=/)

    const docs = [new Y.Doc(), new Y.Doc()]
    for (const doc of docs) doc.getArray('a').push([1])
    const update = Y.mergeUpdates(docs.map((d) => Y.encodeStateAsUpdate(d))) // two structs, over one
    const rooms = Array.from({ length: 40 }, (_, i) => rawSocket(relay.url, `room-${i}`))
    for (const raw of rooms) {
      await raw.opened
      raw.send(updateFrame(update))
    }
    for (const raw of rooms) assert.equal((await within(raw.closed, 10_000, 'the close')).code, 4413)
    const limits = logger.lines.filter((l) => l.includes('over a limit'))
    assert.equal(limits.length, 1, limits.join('\n'))
    assert.match(limits[0]!, /room=room-0/)
  } finally {
    await relay.close()
  }
})
