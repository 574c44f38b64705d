/**
 * The store under the relay: a data directory held by one relay at a time, and stored history
 * that is served whole or not at all.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { resolve } from 'node:path'
import * as Y from 'yjs'
import type { Relay } from '../relay/server.js'
import { LevelStore, MemoryStore, type RoomStore } from '../relay/store.js'
import { testRelay, stockClient, untilKey, spawnRelay, tempDir, within, rawSocket, memoryLogger } from './helpers.js'

/** The message a start failed with; a relay that started anyway is closed and fails the test. */
const refusal = (start: Promise<Relay>): Promise<string> =>
  start.then(
    async (relay) => { await relay.close(); return assert.fail('the relay started') },
    (err: Error) => err.message
  )

test('a second relay on a data directory in use refuses to start, naming the directory', async () => {
  const dir = tempDir('yss-lock')
  const first = await spawnRelay(['--port', '0', '--data', dir.path, '--log-level', 'warn'])
  try {
    // spawnRelay rejects if the process exits before printing its URL.
    const refused = await spawnRelay(['--port', '0', '--data', dir.path, '--log-level', 'warn']).then(
      (second) => { second.proc.kill('SIGKILL'); return null },
      (err: Error) => err.message
    )
    assert.ok(refused !== null, 'the second relay started')
    assert.match(refused, /relay exited with 1/)
    assert.ok(refused.includes(resolve(dir.path)), refused)
    assert.match(refused, /in use by another relay/)
    const inProcess = await refusal(testRelay({ dataDir: dir.path }))
    assert.ok(inProcess.includes(resolve(dir.path)) && /in use by another relay/.test(inProcess), inProcess)
    // The first relay was not disturbed.
    const a = stockClient(first.url, 'shared')
    const b = stockClient(first.url, 'shared')
    await Promise.all([a.synced, b.synced])
    a.state.set('still', 'served')
    await untilKey(b.state, 'still', 'served')
    a.destroy(); b.destroy()
  } finally {
    await first.kill('SIGKILL')
    dir.remove()
  }
})

test('a start that fails to listen releases the data directory', async () => {
  const dir = tempDir('yss-listen')
  const busy = createServer()
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()))
  const port = (busy.address() as { port: number }).port
  try {
    assert.match(await refusal(testRelay({ dataDir: dir.path, port })), /EADDRINUSE/)
    const relay = await testRelay({ dataDir: dir.path })
    try {
      const a = stockClient(relay.url, 'after')
      await within(a.synced, 5_000, 'the room to be served')
      a.destroy()
    } finally {
      await relay.close()
    }
  } finally {
    busy.close()
    dir.remove()
  }
})

/** An update that sets `state[key] = value` on top of `doc`. */
const write = (doc: Y.Doc, key: string, value: unknown): Uint8Array => {
  const before = Y.encodeStateVector(doc)
  doc.getMap('state').set(key, value)
  return Y.encodeStateAsUpdate(doc, before)
}

const stateOf = (updates: Uint8Array[]): Record<string, unknown> => {
  const doc = new Y.Doc()
  for (const u of updates) Y.applyUpdate(doc, u)
  return doc.getMap('state').toJSON()
}

for (const [kind, make] of [
  ['MemoryStore', () => ({ store: new MemoryStore(), reopen: null })],
  ['LevelStore', () => {
    const dir = tempDir('yss-positions')
    return { store: new LevelStore(dir.path), reopen: () => new LevelStore(dir.path), dir }
  }]
] as const) {
  test(`${kind}: positions grow with appends, and a compaction keeps what came after it`, async () => {
    const made: { store: RoomStore; reopen: (() => RoomStore) | null; dir?: { remove(): void } } = make()
    let store = made.store
    try {
      await store.open?.()
      assert.deepEqual(await store.load('p'), { updates: [], position: 0 })
      const doc = new Y.Doc()
      const positions: number[] = []
      for (let i = 0; i < 4; i++) positions.push(await store.append('p', write(doc, `k${i}`, i)))
      for (let i = 1; i < 4; i++) assert.ok(positions[i]! > positions[i - 1]!, `${positions}`)
      assert.ok(positions[0]! > 0)
      assert.equal((await store.load('p')).position, positions[3])
      assert.equal((await store.load('other')).position, 0)

      // A compaction that covers the first two appends only: the later two stay.
      const snapshot = new Y.Doc()
      for (const u of (await store.load('p')).updates.slice(0, 2)) Y.applyUpdate(snapshot, u)
      await store.compact('p', Y.encodeStateAsUpdate(snapshot), positions[1]!)
      const after = await store.load('p')
      assert.ok(after.position >= positions[3]!, `${after.position}`)
      assert.ok(after.updates.length <= 3, `${after.updates.length} updates`)
      assert.deepEqual(stateOf(after.updates), { k0: 0, k1: 1, k2: 2, k3: 3 })
      const next = await store.append('p', write(doc, 'k4', 4))
      assert.ok(next > after.position)
      if (made.reopen) {
        await store.close()
        store = made.reopen()
        await store.open?.()
        const again = await store.load('p')
        assert.equal(again.position, next)
        assert.deepEqual(stateOf(again.updates), { k0: 0, k1: 1, k2: 2, k3: 3, k4: 4 })
      }
    } finally {
      await store.close()
      made.dir?.remove()
    }
  })
}

test('a room whose stored updates wait for missing ones is refused, never served short', async () => {
  const doc = new Y.Doc()
  const first = write(doc, 'a', 1)
  const second = write(doc, 'b', 2) // its struct follows `first`'s
  const before = Y.encodeStateVector(doc)
  doc.getMap('state').delete('a')
  const deletion = Y.encodeStateAsUpdate(doc, before) // only a delete set
  const stored: Record<string, Uint8Array[]> = {
    whole: [first, second, deletion],
    structs: [second], // `first` lost: `b` would wait as a pending struct
    deletes: [deletion] // `first` lost: the delete would wait as a pending delete set
  }
  const writes: string[] = []
  const logger = memoryLogger()
  const store: RoomStore = {
    load: async (room) => ({ updates: stored[room] ?? [], position: (stored[room] ?? []).length }),
    append: async (room) => { writes.push(room); return 9 },
    compact: async (room) => { writes.push(room) },
    close: async () => {}
  }
  const relay = await testRelay({ store, logger })
  try {
    for (const room of ['structs', 'deletes']) {
      const raw = rawSocket(relay.url, room)
      const closed = await within(raw.closed, 5_000, `the close of ${room}`)
      assert.deepEqual(closed, { code: 1011, reason: 'room failed to load' }, room)
      assert.equal(raw.frames.length, 0, `${room}: nothing was served`)
      assert.ok(logger.lines.some((l) => l.includes('room failed to load') && l.includes(`room=${room}`) && l.includes('incomplete')), room)
    }
    const whole = stockClient(relay.url, 'whole')
    await whole.synced
    assert.deepEqual(whole.state.toJSON(), { b: 2 })
    whole.destroy()
    await relay.close() // compacts what it holds: never the refused rooms
    assert.deepEqual(writes.filter((r) => r !== 'whole'), [])
  } finally {
    await relay.close()
  }
})
