/**
 * A room's change feed (relay/feed/): its events leave only once their changes are stored, in
 * commit order, with the quiet, forced and deleted flags; a snapshot never shows what is not
 * stored; a watcher resumes from the id of its last event, and gets a snapshot instead when it
 * cannot. On the in-process harness, with a store whose writes wait until the test lets them go.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Network } from './harness/index.js'
import { HeldStore } from './support/store-helpers.js'
import { eventually } from './support/helpers.js'
import { Feeds, DEFAULT_FEED_OPTIONS } from '../relay/feed/feeds.js'
import type { FeedEvent, FeedStart, RoomFeed } from '../relay/feed/room-feed.js'
import { createLogger } from '../relay/log.js'
import type { Json } from '../protocol/json.js'

const log = createLogger('silent')

/** A watcher that records what it is given. */
const recorder = (feed: RoomFeed, start: FeedStart = { snapshot: true }) => {
  const r = {
    snapshots: [] as Array<{ id: string; keys: Record<string, { value: Json; version: number }> }>,
    events: [] as FeedEvent[],
    ended: false,
    stop: () => {}
  }
  r.stop = feed.watch(
    {
      snapshot: (id) => r.snapshots.push({ id, keys: feed.state() }),
      events: (events) => r.events.push(...events),
      ended: () => {
        r.ended = true
      }
    },
    start
  )
  return r
}

const changes = (events: FeedEvent[]) => events.map((e) => e.change)

test('no event leaves before its change is stored; a snapshot asked meanwhile waits for the store too', async (t) => {
  const store = new HeldStore()
  const net = new Network({ store })
  t.after(() => {
    store.releaseAll()
    return net.close()
  })
  const a = await net.session('A', 'held')
  const feeds = new Feeds({ ...DEFAULT_FEED_OPTIONS, log })
  const feed = feeds.of(await net.room('held'))
  const early = recorder(feed)
  assert.deepEqual(early.snapshots, [{ id: `${feed.epoch}-0`, keys: {} }], 'an idle room gives its snapshot at once')

  store.hold('held')
  a.set('x', 1)
  const delivered = net.deliver(net.link('A'), 'up')
  await net.settle()
  assert.equal(store.waiting('held'), 1, 'the write is applied and with the store')
  assert.equal((await net.room('held')).doc.getMap('state').get('x'), 1, 'the room applied it')
  const late = recorder(feed)
  assert.equal(early.events.length, 0, 'an event left before its change was stored')
  assert.deepEqual(late.snapshots, [], 'a snapshot showed a change before it was stored')

  store.release('held')
  await delivered
  assert.deepEqual(changes(early.events), [{ key: 'x', value: 1, version: 0, deleted: false, quiet: false, forced: false }])
  assert.equal(early.events[0]!.id, `${feed.epoch}-1`)
  assert.equal(early.events[0]!.origin, 'local')
  assert.deepEqual(late.snapshots, [{ id: `${feed.epoch}-1`, keys: { x: { value: 1, version: 0 } } }])
  assert.deepEqual(late.events, [], 'what the snapshot holds does not come again as an event')
  feeds.close()
  assert.ok(early.ended && late.ended)
})

test('changes in commit order, with quiet, forced and deleted, and a list as its JSON array', async (t) => {
  const net = new Network()
  t.after(() => net.close())
  const a = await net.session('A', 'flags')
  const b = await net.session('B', 'flags')
  const feeds = new Feeds({ ...DEFAULT_FEED_OPTIONS, log })
  t.after(() => feeds.close())
  const w = recorder(feeds.of(await net.room('flags')))

  a.set('k', 1)
  await net.flushAll()
  b.noRerun(() => b.set('k', 2))
  await net.flushAll()
  a.forceRerunBoundSessions('k')
  await net.flushAll()
  const created = a.append('list', 'one') // under the key's lock: it waits for the harness to deliver
  await net.flushAll()
  await created
  a.noRerun(() => void a.append('list', 'two'))
  await net.flushAll()
  b.delete('k')
  await net.flushAll()
  b.noRerun(() => b.delete('list'))
  await net.flushAll()

  assert.deepEqual(changes(w.events), [
    { key: 'k', value: 1, version: 0, deleted: false, quiet: false, forced: false },
    { key: 'k', value: 2, version: 0, deleted: false, quiet: true, forced: false },
    { key: 'k', value: 2, version: 1, deleted: false, quiet: false, forced: true },
    { key: 'list', value: ['one'], version: 0, deleted: false, quiet: false, forced: false },
    { key: 'list', value: ['one', 'two'], version: 0, deleted: false, quiet: true, forced: false },
    { key: 'k', value: null, version: 1, deleted: true, quiet: false, forced: false },
    { key: 'list', value: null, version: 0, deleted: true, quiet: true, forced: false }
  ])
  assert.deepEqual(
    w.events.map((e) => e.seq),
    [1, 2, 3, 4, 5, 6, 7]
  )
})

test('a watcher resumes after its last event id with exactly what it missed; an unknown or dropped id gets a snapshot', async (t) => {
  const net = new Network()
  t.after(() => net.close())
  const a = await net.session('A', 'resume')
  const feeds = new Feeds({ ...DEFAULT_FEED_OPTIONS, maxEvents: 4, log })
  t.after(() => feeds.close())
  const feed = feeds.of(await net.room('resume'))
  const first = recorder(feed)
  a.set('n', 1)
  await net.flushAll()
  const last = first.events.at(-1)!.id
  first.stop()
  a.set('n', 2)
  a.set('m', 'x')
  await net.flushAll()

  const again = recorder(feed, { snapshot: true, after: last })
  assert.deepEqual(again.snapshots, [], 'a resume gets no snapshot')
  assert.deepEqual(
    changes(again.events).map((c) => [c.key, c.value]),
    [
      ['n', 2],
      ['m', 'x']
    ]
  )

  const stranger = recorder(feed, { snapshot: true, after: 'otherepoch-1' })
  assert.equal(stranger.snapshots.length, 1, "another feed's id (a reload, a restart) gets a snapshot")
  assert.deepEqual(stranger.snapshots[0]!.keys, { n: { value: 2, version: 0 }, m: { value: 'x', version: 0 } })
  const ahead = recorder(feed, { snapshot: true, after: `${feed.epoch}-99` })
  assert.equal(ahead.snapshots.length, 1, 'an id past the last event gets a snapshot')

  for (let i = 3; i <= 8; i++) a.set('n', i)
  await net.flushAll()
  const dropped = recorder(feed, { snapshot: true, after: last })
  assert.equal(dropped.snapshots.length, 1, 'an id whose followers were dropped from the ring gets a snapshot')
  assert.deepEqual(dropped.events, [])
})

test('a feed nobody watches detaches after its linger time; an unloaded room ends its watchers', async (t) => {
  const net = new Network()
  t.after(() => net.close())
  await net.session('A', 'linger')
  const feeds = new Feeds({ ...DEFAULT_FEED_OPTIONS, lingerMs: 20, log })
  t.after(() => feeds.close())
  const room = await net.room('linger')
  const w = recorder(feeds.of(room))
  assert.equal(feeds.size, 1)
  w.stop()
  await eventually(() => feeds.size === 0, 'the feed to detach')

  const watched = recorder(feeds.of(room))
  room.destroy()
  assert.equal(watched.ended, true, "the room's end ends its feed")
  assert.equal(feeds.size, 0)
})

// A room whose doc has not yet seen a quiet marker holds `yss:quiet` as a bare placeholder type
// until something asks for it as a map; asked for only inside the transaction, the marker's change
// was looked up under the new map and the room's first quiet write was announced loud.
test("a room's first quiet write is announced quiet", async (t) => {
  const net = new Network()
  t.after(() => net.close())
  const a = await net.session('A', 'first-quiet')
  const feeds = new Feeds({ ...DEFAULT_FEED_OPTIONS, log })
  t.after(() => feeds.close())
  const w = recorder(feeds.of(await net.room('first-quiet')))

  a.noRerun(() => a.set('x', 1))
  await net.flushAll()
  a.noRerun(() => a.set('y', 1))
  await net.flushAll()

  assert.deepEqual(
    changes(w.events).map((c) => [c.key, c.quiet]),
    [
      ['x', true],
      ['y', true]
    ]
  )
})
