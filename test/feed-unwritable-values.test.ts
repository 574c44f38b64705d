/**
 * Values a stock Yjs client may store that JSON.stringify cannot write (our client refuses them):
 * a BigInt, and a list nested deeper than JSON.stringify's recursion. The relay must serve them
 * (a BigInt as its decimal string, a value too deep as null) to event streams, webhooks and the
 * HTTP API, and never throw inside the room's pipeline or a timer: that took the relay process down.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { eventually, stockClient, testRelay } from './support/helpers.js'
import { httpApi } from './support/http-api.js'
import { sse } from './support/sse.js'
import { webhookReceiver } from './support/webhook-receiver.js'

const streamsOpen = async (httpUrl: string): Promise<number> =>
  Number(/^yss_event_streams (\d+)$/m.exec(await (await fetch(`${httpUrl}metrics`)).text())?.[1])

/**
 * A list nested `depth` levels around a BigInt: Yjs stores it, while JSON.stringify throws on the
 * BigInt and, with the replacer that writes it, overflows its stack (about 2,000 levels).
 */
const nested = (depth: number): unknown[] => {
  let v: unknown[] = [1n]
  for (let i = 0; i < depth; i++) v = [v]
  return v
}

test('a BigInt from a stock client: a string in GET, snapshots, changes and webhook bodies; no stream left open', async (t) => {
  const receiver = await webhookReceiver()
  t.after(() => receiver.close())
  const relay = await testRelay({ webhooks: [{ url: receiver.url, debounceMs: 0 }] })
  t.after(() => relay.close())
  const api = httpApi(relay.httpUrl, 'big')
  const watcher = await sse(`${relay.httpUrl}rooms/big/events`)
  t.after(() => watcher.close())
  await watcher.take(1)
  const stock = stockClient(relay.url, 'big')
  t.after(() => stock.destroy())
  await stock.synced
  stock.state.set('big', 10n)
  const [, change] = await watcher.take(2)
  assert.deepEqual(change!.data, { key: 'big', value: '10', version: 0, deleted: false, quiet: false, forced: false })
  const [hook] = await receiver.until(1)
  assert.equal(hook!.body.changes[0].value, '10', 'the webhook body carries the BigInt as a string')
  assert.deepEqual(await api('GET', 'state/big').then((a) => [a.status, a.body]), [200, { value: '10', version: 0 }])
  assert.deepEqual((await api('GET', 'state')).body, { keys: { big: { value: '10', version: 0 } } })
  const late = await sse(`${relay.httpUrl}rooms/big/events`)
  t.after(() => late.close())
  const [snapshot] = await late.take(1)
  assert.deepEqual(snapshot!.data, { keys: { big: { value: '10', version: 0 } } })
  late.close()
  watcher.close()
  await eventually(async () => (await streamsOpen(relay.httpUrl)) === 0, 'the closed streams to give their places back')
})

test('a value nested too deeply for JSON: null in changes, snapshots and webhooks; the relay lives on', async (t) => {
  const receiver = await webhookReceiver()
  t.after(() => receiver.close())
  const relay = await testRelay({ webhooks: [{ url: receiver.url, debounceMs: 0 }] })
  t.after(() => relay.close())
  const api = httpApi(relay.httpUrl, 'deep')
  const watcher = await sse(`${relay.httpUrl}rooms/deep/events`)
  t.after(() => watcher.close())
  await watcher.take(1)
  const stock = stockClient(relay.url, 'deep')
  t.after(() => stock.destroy())
  await stock.synced
  stock.state.set('deep', nested(3_000))
  stock.state.set('after', 1)
  const changes = (await watcher.take(3)).slice(1).map((e) => e.data)
  assert.deepEqual(changes, [
    { key: 'deep', value: null, version: 0, deleted: false, quiet: false, forced: false },
    { key: 'after', value: 1, version: 0, deleted: false, quiet: false, forced: false }
  ])
  const hooks = await receiver.until(1)
  assert.deepEqual(
    hooks.flatMap((h) => h.body.changes.map((c: { key: string; value: unknown }) => [c.key, c.value])),
    [
      ['deep', null],
      ['after', 1]
    ]
  )
  const late = await sse(`${relay.httpUrl}rooms/deep/events`)
  t.after(() => late.close())
  const [snapshot] = await late.take(1)
  assert.deepEqual(snapshot!.data, { keys: { after: { value: 1, version: 0 }, deep: { value: null, version: 0 } } })
  assert.equal((await api('GET', 'state/deep')).status, 500, 'a read of it is refused, not crashed')
  assert.deepEqual((await api('PUT', 'state/after', 2)).body, { version: 0 }, 'the room still serves writes')
})
