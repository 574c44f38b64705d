/**
 * Webhooks (docs/http-api.md, "Webhooks"), on a real relay with our client writing and a real
 * HTTP receiver: the body and its signature, the key patterns, one delivery at a time per room
 * in commit order, the debounce that merges a burst, retries with backoff, a receiver that
 * hangs without slowing the room, and the bounded queue that drops the oldest batches and says
 * so in the next delivery.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHmac } from 'node:crypto'
import { eventually, session, testRelay, within } from './support/helpers.js'
import { webhookReceiver } from './support/webhook-receiver.js'
import { resolveWebhook } from '../relay/webhooks/webhook-options.js'

const SECRET = 'whsec-test'

test('a signed POST per batch: room, id, changes in commit order; the signature verifies; only the keys asked for', async (t) => {
  const receiver = await webhookReceiver()
  t.after(() => receiver.close())
  const relay = await testRelay({ webhooks: [{ url: receiver.url, secret: SECRET, keys: ['order:*', 'total'], debounceMs: 500 }] })
  t.after(() => relay.close())
  const a = await session(relay.url, 'shop/1')
  t.after(() => a.close())
  a.set('order:1', { qty: 2 })
  a.set('ignored', true)
  a.noRerun(() => a.set('total', 10))
  a.forceRerunBoundSessions('order:1')
  await a.flush()
  const [hook] = await receiver.until(1)
  const expected = `sha256=${createHmac('sha256', SECRET).update(hook!.raw).digest('hex')}`
  assert.equal(hook!.headers['x-yss-signature'], expected, 'HMAC-SHA256 of the raw body, with the secret')
  assert.equal(hook!.headers['content-type'], 'application/json')
  assert.equal(hook!.body.room, 'shop/1')
  assert.equal(hook!.headers['x-yss-delivery'], hook!.body.id)
  assert.equal(hook!.body.dropped, 0)
  assert.deepEqual(
    hook!.body.changes.map(({ id, ...c }: { id: string }) => {
      assert.match(id, /^[\w-]+-\d+$/)
      return c
    }),
    [
      { key: 'order:1', value: { qty: 2 }, version: 0, deleted: false, quiet: false, forced: false },
      { key: 'total', value: 10, version: 0, deleted: false, quiet: true, forced: false },
      { key: 'order:1', value: { qty: 2 }, version: 1, deleted: false, quiet: false, forced: true }
    ]
  )
  await eventually(() => relay.metrics.get('webhook_deliveries_total') === 1, 'the delivery to count')
})

test("the debounce merges a burst into one POST; a room's batches go one at a time, in commit order", async (t) => {
  const receiver = await webhookReceiver()
  t.after(() => receiver.close())
  const relay = await testRelay({ webhooks: [{ url: receiver.url, debounceMs: 1_000 }] })
  t.after(() => relay.close())
  const a = await session(relay.url, 'burst')
  t.after(() => a.close())
  for (let i = 1; i <= 5; i++) {
    a.set('n', i)
    await a.flush() // five stored batches, inside one debounce window
  }
  const [one] = await receiver.until(1)
  assert.deepEqual(
    one!.body.changes.map((c: { value: number }) => c.value),
    [1, 2, 3, 4, 5]
  )
  await relay.close()

  // With no debounce and a slow receiver, batches queue up and go one after another.
  const slow = await testRelay({ webhooks: [{ url: receiver.url, debounceMs: 0 }] })
  t.after(() => slow.close())
  receiver.requests.length = 0
  receiver.answer = () => 'hold'
  const b = await session(slow.url, 'ordered')
  t.after(() => b.close())
  for (let i = 1; i <= 6; i++) {
    b.set('n', i)
    await b.flush()
  }
  await receiver.until(1)
  receiver.answer = () => 200
  receiver.answerHeld()
  await eventually(
    () => receiver.requests.flatMap((r) => r.body.changes.map((c: { value: number }) => c.value)).length === 6,
    'every change delivered'
  )
  assert.deepEqual(
    receiver.requests.flatMap((r) => r.body.changes.map((c: { value: number }) => c.value)),
    [1, 2, 3, 4, 5, 6]
  )
  assert.ok(receiver.requests.length >= 2, 'the changes made while the first POST waited went in a later one')
  assert.equal(receiver.maxInFlight, 1, 'one delivery at a time per room')
})

test('a receiver that fails twice gets the batch on the third attempt, with the same delivery id', async (t) => {
  const receiver = await webhookReceiver()
  t.after(() => receiver.close())
  receiver.answer = (n) => (n < 2 ? 500 : 200)
  const relay = await testRelay({ webhooks: [{ url: receiver.url, debounceMs: 0, retry: { firstMs: 20, maxMs: 100 } }] })
  t.after(() => relay.close())
  const a = await session(relay.url, 'retry')
  t.after(() => a.close())
  a.set('k', 'v')
  await a.flush()
  const attempts = await receiver.until(3)
  assert.deepEqual(
    attempts.map((r) => r.status),
    [500, 500, 200]
  )
  assert.equal(new Set(attempts.map((r) => r.body.id)).size, 1, 'a retry is the same delivery')
  assert.deepEqual(attempts[2]!.raw, attempts[0]!.raw)
  assert.equal(relay.metrics.get('webhook_attempts_failed_total'), 2)
  await eventually(() => relay.metrics.get('webhook_deliveries_total') === 1, 'the delivery to count')
})

test('a receiver that hangs does not slow the room: writes are still echoed and seen at once', async (t) => {
  const receiver = await webhookReceiver()
  t.after(() => receiver.close())
  receiver.answer = () => 'hold'
  const relay = await testRelay({ webhooks: [{ url: receiver.url, debounceMs: 0, timeoutMs: 60_000 }] })
  t.after(() => relay.close())
  const a = await session(relay.url, 'hang')
  const b = await session(relay.url, 'hang')
  t.after(() => {
    a.close()
    b.close()
  })
  a.set('k', 0)
  await a.flush()
  await receiver.until(1)
  for (let i = 1; i <= 20; i++) {
    a.set('k', i)
    await within(a.flush(), 2_000, `write ${i} to be stored and acknowledged while the receiver hangs`)
  }
  await eventually(() => b.get('k') === 20, "B to see A's writes")
  assert.equal(receiver.requests.length, 1, 'the next batch waits for the hanging delivery')
  // Closing the relay aborts the hanging delivery rather than waiting for it.
  await within(relay.close(), 5_000, 'the relay to close')
})

test('past maxWebhookBatchesPerRoom the oldest waiting batches are dropped, and the next delivery says how many changes', async (t) => {
  const receiver = await webhookReceiver()
  t.after(() => receiver.close())
  receiver.answer = () => 'hold'
  const relay = await testRelay({ maxWebhookBatchesPerRoom: 2, webhooks: [{ url: receiver.url, debounceMs: 0 }] })
  t.after(() => relay.close())
  const a = await session(relay.url, 'bounded')
  t.after(() => a.close())
  a.set('k', 0)
  await a.flush()
  await receiver.until(1)
  const waiting = async () => Number(/^yss_webhook_batches_waiting (\d+)$/m.exec(await (await fetch(`${relay.httpUrl}metrics`)).text())![1])
  // One batch a write (each waits to be sealed before the next write): two wait, the older ones go.
  for (let i = 1; i <= 6; i++) {
    a.set('k', i)
    await a.flush()
    await eventually(
      async () => (i <= 2 ? (await waiting()) === i : relay.metrics.hits('maxWebhookBatchesPerRoom') === i - 2),
      `batch ${i} to wait (or an older one to be dropped)`
    )
  }
  assert.equal(await waiting(), 2)
  assert.equal(relay.metrics.get('webhook_changes_dropped_total'), 4, 'the changes of the four oldest waiting batches')
  receiver.answer = () => 200
  receiver.answerHeld()
  const [, next, last] = await receiver.until(3)
  assert.deepEqual(
    [next!.body.dropped, next!.body.changes.map((c: { value: number }) => c.value)],
    [4, [5]],
    'the next delivery says how many changes were dropped; the newest were kept'
  )
  assert.deepEqual([last!.body.dropped, last!.body.changes.map((c: { value: number }) => c.value)], [0, [6]])
})

test('webhook options are checked before the relay starts', () => {
  assert.throws(() => resolveWebhook({ url: 'ftp://example.test/' }), /http: or https: URL/)
  assert.throws(() => resolveWebhook({ url: 'not a url' }), /http: or https: URL/)
  assert.throws(() => resolveWebhook({ url: 'http://127.0.0.1/', debounceMs: -1 }), /debounceMs/)
  assert.throws(() => resolveWebhook({ url: 'http://127.0.0.1/', keys: [''] }), /key patterns/)
  assert.equal(resolveWebhook({ url: 'http://127.0.0.1/h' }).debounceMs, 100)
})
