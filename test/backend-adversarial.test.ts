/**
 * The room backends (relay/backend/) under the pressure of many requests at once and of a relay
 * that shuts down with leases held and waited for. Each test failed on the code before its fix.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { OverLimitError } from '../relay/backend/errors.js'
import { eventually, testRelay, within } from './support/helpers.js'
import { httpApi } from './support/http-api.js'

test('maxHttpLeases holds for lease requests that arrive together while their room loads', async (t) => {
  const relay = await testRelay({ maxHttpLeases: 2 })
  t.after(() => relay.close())
  const room = relay.backend('cold')
  const asked = await Promise.allSettled([1, 2, 3, 4, 5].map((i) => room.acquire([`k${i}`], { timeoutMs: 1_000 })))
  assert.equal(asked.filter((r) => r.status === 'fulfilled').length, 2, 'more leases than maxHttpLeases were granted')
  for (const r of asked) if (r.status === 'rejected') assert.ok(r.reason instanceof OverLimitError)
})

test('a relay that shuts down answers a waiting lease request 503 with Retry-After, and closes at once', async (t) => {
  const relay = await testRelay()
  let closed: Promise<void> | undefined
  t.after(() => closed ?? relay.close())
  const api = httpApi(relay.httpUrl, 'closing')
  assert.equal((await api('POST', 'leases', { keys: ['k'] })).status, 200)
  const waiting = api('POST', 'leases', { keys: ['k'], timeoutMs: 30_000 })
  // The second request waits behind the first lease: the room's lease table has it queued.
  await eventually(
    async () => /^yss_locks_open 2$/m.test(await (await fetch(`${relay.httpUrl}metrics`)).text()),
    'the second request to wait'
  )
  closed = relay.close()
  const answer = await within(waiting, 5_000, 'the waiting request to be answered')
  assert.deepEqual([answer.status, answer.body.error, answer.headers.get('retry-after')], [503, 'unavailable', '1'])
  await within(closed, 5_000, 'the relay to close')
})
