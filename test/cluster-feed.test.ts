/**
 * The change feed across relays on one Redis and one PostgreSQL: an event stream on one relay
 * sees a change written through another, and webhooks configured on every relay deliver each
 * change once (by the relay its writer is connected to), a lock commit under a shared lease
 * included (it reaches its own relay back from the stream, and is still that relay's to send).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { eventually, session } from './support/helpers.js'
import { clusterFixture } from './support/cluster-services.js'
import { sse } from './support/sse.js'
import { webhookReceiver } from './support/webhook-receiver.js'

const fixture = clusterFixture()

test('a watcher on relay B sees a change written through relay A', async (t) => {
  const [a, b] = await Promise.all([fixture.relay(), fixture.relay()])
  const writer = await session(a.url, 'shared/doc')
  t.after(() => writer.close())
  const watcher = await sse(`${b.httpUrl}rooms/${encodeURIComponent('shared/doc')}/events`)
  t.after(() => watcher.close())
  const [snapshot] = await watcher.take(1)
  assert.equal(snapshot!.event, 'snapshot')
  writer.set('k', 1)
  writer.noRerun(() => writer.set('q', 2))
  writer.forceRerunBoundSessions('k')
  const events = (await watcher.take(4)).slice(1)
  assert.deepEqual(
    events.map((e) => [e.event, e.data.key, e.data.value, e.data.quiet, e.data.forced]),
    [
      ['change', 'k', 1, false, false],
      ['change', 'q', 2, true, false],
      ['change', 'k', 1, false, true]
    ]
  )
})

test('webhooks on every relay deliver each change once: writes and shared lock commits, each by its own relay', async (t) => {
  const receiver = await webhookReceiver()
  t.after(() => receiver.close())
  const webhooks = [{ url: receiver.url, debounceMs: 0 }]
  const [a, b] = await Promise.all([fixture.relay({ webhooks }), fixture.relay({ webhooks })])
  const sa = await session(a.url, 'hooked')
  const sb = await session(b.url, 'hooked')
  t.after(() => {
    sa.close()
    sb.close()
  })
  sa.set('plain', 'from a')
  await sa.flush()
  await sb.lock('locked', (s) => {
    s.locked = 'from b'
  })
  sb.set('plain', 'from b')
  await sb.flush()
  await eventually(() => receiver.requests.flatMap((r) => r.body.changes).length >= 3, 'three changes delivered')
  // Nothing more comes: the other relay sends nothing of them (a barrier write, then a look).
  sa.set('last', true)
  await sa.flush()
  await eventually(() => receiver.requests.some((r) => r.body.changes.some((c: { key: string }) => c.key === 'last')), 'the last write')
  const changes = receiver.requests.flatMap((r) => r.body.changes.map((c: { key: string; value: unknown }) => [c.key, c.value]))
  assert.deepEqual(
    changes,
    [
      ['plain', 'from a'],
      ['locked', 'from b'],
      ['plain', 'from b'],
      ['last', true]
    ],
    'each change once, the lock commit included'
  )
})
