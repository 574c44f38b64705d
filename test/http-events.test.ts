/**
 * `GET /rooms/<room>/events` (docs/http-api.md, "Watching"), on a real relay with our client
 * writing: a snapshot, then one change event per changed key in commit order with the quiet,
 * forced and deleted flags; the `keys` filter; a resume with `Last-Event-ID` that gets exactly
 * the missed events, and a new snapshot for an id the relay cannot resume from; access as for
 * a socket; the stream limits (429 JSON, a slow reader cut); a stream keeps its room loaded.
 * In a cluster: test/cluster-feed.test.ts.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect as tcpConnect } from 'node:net'
import { signToken } from '../relay/access/tokens.js'
import { eventually, session, testRelay } from './support/helpers.js'
import { sse, type SseEvent } from './support/sse.js'

const SECRET = 'a test secret of at least 32 bytes!!'

const eventsUrl = (httpUrl: string, room: string, query = ''): string =>
  `${httpUrl}rooms/${encodeURIComponent(room)}/events${query === '' ? '' : `?${query}`}`

/** A change event's data without the parts a test does not name. */
const change = (e: SseEvent) => {
  assert.equal(e.event, 'change')
  return e.data
}

test('a snapshot, then one change per key per commit in commit order, with quiet, forced and deleted', async (t) => {
  const relay = await testRelay()
  t.after(() => relay.close())
  const a = await session(relay.url, 'org/doc-1')
  t.after(() => a.close())
  a.set('count', 1)
  await a.flush()

  const watcher = await sse(eventsUrl(relay.httpUrl, 'org/doc-1'))
  t.after(() => watcher.close())
  assert.equal(watcher.status, 200)
  assert.match(String(watcher.headers['content-type']), /^text\/event-stream/)
  const [snapshot] = await watcher.take(1)
  assert.equal(snapshot!.event, 'snapshot')
  assert.deepEqual(snapshot!.data, { keys: { count: { value: 1, version: 0 } } })

  a.set('count', 2)
  a.noRerun(() => a.set('count', 3))
  a.forceRerunBoundSessions('count')
  a.set('chat', ['hi'])
  a.delete('count')
  await a.flush()
  const events = (await watcher.take(6)).slice(1)
  assert.deepEqual(events.map(change), [
    { key: 'count', value: 2, version: 0, deleted: false, quiet: false, forced: false },
    { key: 'count', value: 3, version: 0, deleted: false, quiet: true, forced: false },
    { key: 'count', value: 3, version: 1, deleted: false, quiet: false, forced: true },
    { key: 'chat', value: ['hi'], version: 0, deleted: false, quiet: false, forced: false },
    { key: 'count', value: null, version: 1, deleted: true, quiet: false, forced: false }
  ])
  const seqs = [snapshot!, ...events].map((e) => Number(e.id.split('-').at(-1)))
  assert.deepEqual(seqs, [0, 1, 2, 3, 4, 5], 'ids number the events in order, after the snapshot')
})

test('?keys= watches only the keys named: in the snapshot and in the changes', async (t) => {
  const relay = await testRelay()
  t.after(() => relay.close())
  const a = await session(relay.url, 'filter')
  t.after(() => a.close())
  a.set('a', 1)
  a.set('b', 1)
  a.set('c,d', 1)
  await a.flush()
  const watcher = await sse(eventsUrl(relay.httpUrl, 'filter', 'keys=a,x&key=c%2Cd'))
  t.after(() => watcher.close())
  const [snapshot] = await watcher.take(1)
  assert.deepEqual(Object.keys(snapshot!.data.keys).sort(), ['a', 'c,d'])
  a.set('b', 2)
  a.set('x', 2)
  a.set('a', 2)
  await a.flush()
  const events = (await watcher.take(3)).slice(1)
  assert.deepEqual(
    events.map((e) => [e.data.key, e.data.value]),
    [
      ['x', 2],
      ['a', 2]
    ]
  )
})

test('Last-Event-ID resumes with exactly the missed events; an unknown id gets a new snapshot', async (t) => {
  const relay = await testRelay()
  t.after(() => relay.close())
  const a = await session(relay.url, 'resume')
  t.after(() => a.close())
  const first = await sse(eventsUrl(relay.httpUrl, 'resume'))
  a.set('k', 1)
  await a.flush()
  const [, seen] = await first.take(2)
  first.close()
  a.set('k', 2)
  a.set('j', 'x')
  await a.flush()

  const resumed = await sse(eventsUrl(relay.httpUrl, 'resume'), { 'last-event-id': seen!.id })
  t.after(() => resumed.close())
  a.set('k', 3)
  await a.flush()
  const got = await resumed.take(3)
  assert.deepEqual(
    got.map((e) => [e.event, e.data.key, e.data.value]),
    [
      ['change', 'k', 2],
      ['change', 'j', 'x'],
      ['change', 'k', 3]
    ],
    'no snapshot, the two missed changes, then the live one'
  )

  const byQuery = await sse(eventsUrl(relay.httpUrl, 'resume', `lastEventId=${encodeURIComponent(got[1]!.id)}`))
  t.after(() => byQuery.close())
  assert.deepEqual(
    (await byQuery.take(1)).map((e) => [e.event, e.data.value]),
    [['change', 3]]
  )

  for (const id of ['stale-epoch-5', 'garbage', `${seen!.id.split('-')[0]}-999`]) {
    const fresh = await sse(eventsUrl(relay.httpUrl, 'resume'), { 'last-event-id': id })
    const [e] = await fresh.take(1)
    fresh.close()
    assert.equal(e!.event, 'snapshot', `id ${id}: a new snapshot`)
    assert.deepEqual(e!.data.keys, { k: { value: 3, version: 0 }, j: { value: 'x', version: 0 } })
  }
})

test('a read-only token may watch; no token is 401 JSON; a token for another room is 403', async (t) => {
  const relay = await testRelay({ authSecret: SECRET, refusalDelayMs: 20 })
  t.after(() => relay.close())
  const writer = await session(relay.url, 'team/a', { token: await signToken({ secret: SECRET, rooms: ['team/*'] }) })
  t.after(() => writer.close())
  const none = await sse(eventsUrl(relay.httpUrl, 'team/a'))
  assert.equal(none.status, 401)
  assert.equal(none.body.error, 'unauthorized')
  assert.equal(none.headers['www-authenticate'], 'Bearer')
  const elsewhere = await sse(eventsUrl(relay.httpUrl, 'team/a'), {
    authorization: `Bearer ${await signToken({ secret: SECRET, rooms: ['other'], access: 'read' })}`
  })
  assert.equal(elsewhere.status, 403)

  const read = await signToken({ secret: SECRET, rooms: ['team/a'], access: 'read' })
  const watcher = await sse(eventsUrl(relay.httpUrl, 'team/a', `token=${read}`))
  t.after(() => watcher.close())
  assert.equal(watcher.status, 200)
  await watcher.take(1)
  writer.set('k', 'v')
  const [, e] = await watcher.take(2)
  assert.deepEqual([e!.data.key, e!.data.value], ['k', 'v'])
})

test('past maxEventStreams a stream is refused 429 JSON; a closed stream frees its place; /metrics counts them', async (t) => {
  const relay = await testRelay({ maxEventStreams: 1 })
  t.after(() => relay.close())
  const one = await sse(eventsUrl(relay.httpUrl, 'full'))
  await one.take(1)
  const two = await sse(eventsUrl(relay.httpUrl, 'full'))
  assert.equal(two.status, 429)
  assert.equal(two.body.error, 'over_limit')
  assert.match(two.body.message, /maxEventStreams/)
  const metrics = await (await fetch(`${relay.httpUrl}metrics`)).text()
  assert.match(metrics, /^yss_event_streams 1$/m)
  assert.match(metrics, /^yss_limit_hits_total\{limit="event_streams"\} 1$/m)
  one.close()
  await eventually(async () => /^yss_event_streams 0$/m.test(await (await fetch(`${relay.httpUrl}metrics`)).text()), 'the stream to close')
  const three = await sse(eventsUrl(relay.httpUrl, 'full'))
  t.after(() => three.close())
  assert.equal(three.status, 200)
  const bad = await fetch(eventsUrl(relay.httpUrl, 'full'), { method: 'POST' })
  assert.equal(bad.status, 405)
  assert.equal(((await bad.json()) as { error: string }).error, 'method_not_allowed')
})

test('a stream keeps its room loaded while open', async (t) => {
  const relay = await testRelay({ idleUnloadMs: 20 })
  t.after(() => relay.close())
  const watcher = await sse(eventsUrl(relay.httpUrl, 'kept'))
  await watcher.take(1)
  const a = await session(relay.url, 'kept')
  a.close()
  // The room would unload 20 ms after its last socket left; the stream keeps it, and its feed's ids.
  const b = await session(relay.url, 'kept')
  b.set('k', 1)
  await b.flush()
  b.close()
  const [, e] = await watcher.take(2)
  assert.equal(e!.id.split('-')[0], watcher.events[0]!.id.split('-')[0], 'one feed: the room never reloaded')
  assert.deepEqual(relay.loadedRooms(), ['kept'])
  watcher.close()
  await eventually(() => relay.loadedRooms().length === 0, 'the room to unload once the stream closed')
})

test('a stream that does not read is cut by maxQueuedBytes, as a socket is', async (t) => {
  const relay = await testRelay({ maxQueuedBytes: 64 * 1024 })
  t.after(() => relay.close())
  const writer = await session(relay.url, 'slow')
  t.after(() => writer.close())
  // A reader that sends its request and never reads what comes back.
  const socket = tcpConnect(relay.port, '127.0.0.1')
  t.after(() => socket.destroy())
  socket.on('error', () => {})
  socket.write(`GET /rooms/slow/events HTTP/1.1\r\nHost: 127.0.0.1:${relay.port}\r\n\r\n`)
  socket.pause()
  await eventually(async () => /^yss_event_streams 1$/m.test(await (await fetch(`${relay.httpUrl}metrics`)).text()), 'the stream to open')
  const big = 'x'.repeat(512 * 1024)
  // The kernel's buffers take the first megabytes; then the stream's queue grows, and it is cut.
  for (let i = 0; i < 200 && relay.metrics.hits('maxQueuedBytes') === 0; i++) {
    writer.set('big', `${i}${big}`)
    await writer.flush()
  }
  assert.equal(relay.metrics.hits('maxQueuedBytes'), 1, 'the stream was cut')
  await eventually(
    async () => /^yss_event_streams 0$/m.test(await (await fetch(`${relay.httpUrl}metrics`)).text()),
    'the stream to be gone'
  )
  // The writer's session was never held up: its writes are still echoed.
  writer.set('after', 1)
  await writer.flush()
})
