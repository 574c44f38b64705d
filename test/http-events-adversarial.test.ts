/**
 * Event streams asked for many at once: `maxEventStreams` holds while their room loads, and a
 * refusal says when to retry, as every 429 of the HTTP API does. Failed on the code before its fix.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MemoryStore } from '../relay/store/memory-store.js'
import type { LoadedRoom } from '../relay/store/room-store.js'
import { eventually, testRelay } from './support/helpers.js'
import { sse } from './support/sse.js'

/** A store whose room loads wait until `letIn()`: requests pile up while their room loads. */
class GatedStore extends MemoryStore {
  letIn: () => void = () => {}
  private readonly gate = new Promise<void>((resolve) => (this.letIn = resolve))
  override async load(room: string): Promise<LoadedRoom> {
    await this.gate
    return super.load(room)
  }
}

test('maxEventStreams holds for streams asked for together while their room loads; a refusal has Retry-After', async (t) => {
  const store = new GatedStore()
  const relay = await testRelay({ store, maxEventStreams: 2 })
  t.after(() => {
    store.letIn() // a relay closes once its rooms have loaded
    return relay.close()
  })
  const url = `${relay.httpUrl}rooms/cold/events`
  const asked = Promise.all([1, 2, 3, 4, 5].map(() => sse(url)))
  // Three are refused while the room loads (on the old code, none was: all five waited for it).
  await eventually(
    async () => /^yss_limit_hits_total\{limit="event_streams"\} 3$/m.test(await (await fetch(`${relay.httpUrl}metrics`)).text()),
    'three of the five to be refused'
  )
  store.letIn()
  const streams = await asked
  t.after(() => {
    for (const s of streams) s.close()
  })
  assert.equal(streams.filter((s) => s.status === 200).length, 2, 'more streams than maxEventStreams were opened')
  const refused = streams.find((s) => s.status === 429)!
  assert.equal(refused.body.error, 'over_limit')
  assert.equal(refused.headers['retry-after'], '1')
})
