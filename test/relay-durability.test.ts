import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import { LeveldbPersistence } from 'y-leveldb'
import {
  testRelay,
  stockClient,
  untilKey,
  spawnRelay,
  tempDir,
  rawSocket,
  within,
  eventually,
  memoryLogger,
  updateFrame
} from './support/helpers.js'
import { RoomRegistry } from '../relay/room/registry.js'
import { localBus } from '../relay/room/bus.js'
import { Metrics } from '../relay/metrics.js'
import { LogLimiter } from '../relay/log-limiter.js'
import { resolveLimits } from '../relay/limits.js'
import type { RoomStore } from '../relay/store/room-store.js'
import { LevelStore } from '../relay/store/level-store.js'
import { MemoryStore } from '../relay/store/memory-store.js'

test('what a client saw echoed survives SIGKILL of the relay', async () => {
  const dir = tempDir('yss-kill')
  let relay = await spawnRelay(['--port', '0', '--data', dir.path, '--log-level', 'warn'])
  try {
    const writer = stockClient(relay.url, 'durable')
    const watcher = stockClient(relay.url, 'durable')
    await Promise.all([writer.synced, watcher.synced])
    for (let i = 0; i < 200; i++) writer.state.set(`k${i}`, { i, text: 'x'.repeat(i % 17) })
    // The watcher sees a broadcast only after the relay stored it.
    await untilKey(watcher.state, 'k199')
    writer.destroy()
    watcher.destroy()
    assert.equal(await relay.kill('SIGKILL'), null)
    relay = await spawnRelay(['--port', '0', '--data', dir.path, '--log-level', 'warn'])
    const reader = stockClient(relay.url, 'durable')
    await reader.synced
    assert.equal(reader.state.size, 200)
    assert.deepEqual(reader.state.get('k150'), { i: 150, text: 'x'.repeat(150 % 17) })
    reader.destroy()
  } finally {
    await relay.kill('SIGKILL')
    dir.remove()
  }
})

test('SIGTERM closes sockets with 1001, exits 0 within seconds, and keeps the room', async () => {
  const dir = tempDir('yss-term')
  const relay = await spawnRelay(['--port', '0', '--data', dir.path, '--log-level', 'warn'])
  try {
    const client = stockClient(relay.url, 'term')
    await client.synced
    const raw = rawSocket(relay.url, 'term')
    await raw.opened
    client.state.set('kept', true)
    // the broadcast reaches the raw socket only once the relay has stored the update
    await raw.frame((f) => f[0] === 0 && f[1] === 2)
    client.provider.shouldConnect = false
    relay.proc.kill('SIGTERM')
    const { code } = await within(raw.closed, 5_000, 'the close frame')
    assert.equal(code, 1001)
    assert.equal(await within(relay.exited, 5_000, 'the relay to exit'), 0)
    client.destroy()
    const again = await spawnRelay(['--port', '0', '--data', dir.path, '--log-level', 'warn'])
    const reader = stockClient(again.url, 'term')
    await reader.synced
    assert.equal(reader.state.get('kept'), true)
    reader.destroy()
    assert.equal(await again.kill('SIGINT'), 0)
  } finally {
    relay.proc.kill('SIGKILL')
    dir.remove()
  }
})

test('an idle room is unloaded after the grace period and reloaded on demand', async () => {
  const store = new MemoryStore()
  const relay = await testRelay({ store, idleUnloadMs: 50 })
  try {
    const a = stockClient(relay.url, 'idle')
    await a.synced
    a.state.set('n', 1)
    const b = stockClient(relay.url, 'idle')
    await untilKey(b.state, 'n', 1)
    assert.deepEqual(relay.loadedRooms(), ['idle'])
    a.destroy()
    b.destroy()
    await eventually(() => relay.loadedRooms().length === 0, 'the room to unload')
    assert.equal(relay.metrics.get('rooms_unloaded_total'), 1)
    const c = stockClient(relay.url, 'idle')
    await c.synced
    assert.equal(c.state.get('n'), 1)
    assert.deepEqual(relay.loadedRooms(), ['idle'])
    assert.equal(relay.metrics.get('rooms_loaded_total'), 2)
    c.destroy()
  } finally {
    await relay.close()
  }
})

test('a room is compacted, so its store does not grow with every update', async () => {
  const store = new MemoryStore()
  const relay = await testRelay({ store, compactEvery: 10 })
  try {
    const a = stockClient(relay.url, 'compact')
    const b = stockClient(relay.url, 'compact')
    await Promise.all([a.synced, b.synced])
    for (let i = 0; i < 100; i++) {
      a.state.set('counter', i)
      await untilKey(b.state, 'counter', i) // one update a batch: 100 appends
    }
    const stored = (await store.load('compact')).updates
    assert.ok(stored.length <= 10, `stored ${stored.length} updates`)
    const doc = new Y.Doc()
    for (const u of stored) Y.applyUpdate(doc, u)
    assert.equal(doc.getMap('state').get('counter'), 99)
    a.destroy()
    b.destroy()
  } finally {
    await relay.close()
  }
})

test('a room that fails to load is never served, and never overwritten', async () => {
  const logger = memoryLogger()
  const writes: string[] = []
  const failing: RoomStore = {
    load: async (room) => {
      if (room === 'broken') throw new Error('disk says no')
      return { updates: [], position: 0 }
    },
    append: async (room) => {
      writes.push(room)
      return 1
    },
    compact: async (room) => {
      writes.push(room)
    },
    close: async () => {}
  }
  const relay = await testRelay({ store: failing, logger })
  try {
    const raw = rawSocket(relay.url, 'broken')
    const { code } = await within(raw.closed, 5_000, 'the close')
    assert.equal(code, 1011)
    assert.ok(raw.frames.length === 0, 'nothing was served')
    assert.deepEqual(writes, [])
    assert.ok(logger.lines.some((l) => l.includes('room failed to load') && l.includes('disk says no')))
    const healthy = stockClient(relay.url, 'fine')
    await healthy.synced
    healthy.destroy()
  } finally {
    await relay.close()
  }
})

test('LevelStore refuses to load a room with a corrupt record', async () => {
  const dir = tempDir('yss-corrupt')
  try {
    const db = new LeveldbPersistence(dir.path)
    const doc = new Y.Doc()
    doc.getMap('state').set('a', 1)
    await db.storeUpdate('room', Y.encodeStateAsUpdate(doc))
    await db.storeUpdate('room', new Uint8Array([1, 200, 200, 200, 7]))
    await db.destroy()
    const store = new LevelStore(dir.path)
    await assert.rejects(store.load('room'), /load failed/)
    await store.close()
  } finally {
    dir.remove()
  }
})

/** A memory store whose appends fail with "disk full" once `failing.on` is set. */
const failingStore = (): { store: RoomStore; failing: { on: boolean } } => {
  const failing = { on: false }
  const inner = new MemoryStore()
  const store: RoomStore = {
    load: (r) => inner.load(r),
    append: async (r, u) => {
      if (failing.on) throw new Error('disk full')
      return inner.append(r, u)
    },
    compact: (r, s, p) => inner.compact(r, s, p),
    close: () => inner.close()
  }
  return { store, failing }
}

test('a failed store write drops the room instead of echoing what was not stored', async () => {
  const { store, failing } = failingStore()
  const relay = await testRelay({ store, logger: memoryLogger() })
  try {
    const raw = rawSocket(relay.url, 'full')
    await raw.opened
    await raw.frame((f) => f[0] === 0)
    failing.on = true
    const doc = new Y.Doc()
    doc.getMap('state').set('lost', 1)
    raw.send(new Uint8Array([0, 2, ...encodeLen(Y.encodeStateAsUpdate(doc))]))
    const { code } = await within(raw.closed, 5_000, 'the close')
    assert.equal(code, 1011)
    assert.ok(!raw.frames.some((f) => f[0] === 0 && f[1] === 2), 'the update was never echoed')
    assert.deepEqual(relay.loadedRooms(), [])
  } finally {
    await relay.close()
  }
})

const encodeLen = (u: Uint8Array): number[] => {
  const out: number[] = []
  let n = u.length
  while (n > 127) {
    out.push((n & 127) | 128)
    n >>>= 7
  }
  out.push(n)
  return [...out, ...u]
}

test('a failed room takes no new peer, and releasing it after the next of its name loaded leaves that one loaded', async () => {
  const { store, failing } = failingStore()
  const log = memoryLogger()
  // No idle room kept: a released room is unloaded at once.
  const rooms = new RoomRegistry(
    {
      store,
      bus: localBus,
      metrics: new Metrics(),
      log,
      leaseMs: 60_000,
      compactEvery: 500,
      limits: resolveLimits({ maxIdleRooms: 0 }),
      limited: new LogLimiter(log, 60_000)
    },
    60_000
  )
  const peer = (id: number) => {
    const p = {
      id,
      closed: false,
      failedWith: 0,
      send: () => {},
      reserve: () => true,
      overLimit: () => {},
      fail: (code: number) => {
        p.failedWith = code
      }
    }
    return p
  }
  try {
    const old = await rooms.open('r')
    const a = peer(1)
    old.join(a)
    failing.on = true
    const doc = new Y.Doc()
    doc.getMap('state').set('lost', 1)
    old.receive(a, updateFrame(Y.encodeStateAsUpdate(doc)))
    await old.idle()
    assert.ok(old.failed && a.failedWith === 1011)
    // A peer that reaches the failed room anyway (its load was failed halfway) is sent away, not kept waiting.
    const late = peer(2)
    old.join(late)
    assert.equal(late.failedWith, 1013)
    failing.on = false
    const next = await rooms.open('r')
    assert.notEqual(next, old)
    // The failed room's peer goes only now (its socket closed late): the new room stays.
    old.leave(a)
    rooms.released(old)
    assert.equal(await rooms.open('r'), next)
  } finally {
    await rooms.close()
  }
})
