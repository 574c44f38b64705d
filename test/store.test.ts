/**
 * The store under the relay: a data directory held by one relay at a time, and stored history
 * that is served whole or not at all.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join, resolve } from 'node:path'
import * as Y from 'yjs'
import { LeveldbPersistence } from 'y-leveldb'
import type { Relay } from '../relay/server.js'
import type { RoomStore } from '../relay/store/room-store.js'
import { LevelStore } from '../relay/store/level-store.js'
import { MemoryStore } from '../relay/store/memory-store.js'
import { testRelay, stockClient, untilKey, spawnRelay, tempDir, within, eventually, rawSocket, memoryLogger } from './support/helpers.js'
import { stateOf, write } from './support/store-helpers.js'

/** The message a start failed with; a relay that started anyway is closed and fails the test. */
const refusal = (start: Promise<Relay>): Promise<string> =>
  start.then(
    async (relay) => {
      await relay.close()
      return assert.fail('the relay started')
    },
    (err: Error) => err.message
  )

test('a second relay on a data directory in use refuses to start, naming the directory', async () => {
  const dir = tempDir('yss-lock')
  const first = await spawnRelay(['--port', '0', '--data', dir.path, '--log-level', 'warn'])
  try {
    // spawnRelay rejects if the process exits before printing its URL.
    const refused = await spawnRelay(['--port', '0', '--data', dir.path, '--log-level', 'warn']).then(
      (second) => {
        second.proc.kill('SIGKILL')
        return null
      },
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
    a.destroy()
    b.destroy()
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

for (const [kind, make] of [
  ['MemoryStore', () => ({ store: new MemoryStore(), reopen: null })],
  [
    'LevelStore',
    () => {
      const dir = tempDir('yss-positions')
      return { store: new LevelStore(dir.path), reopen: () => new LevelStore(dir.path), dir }
    }
  ]
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
      assert.equal(after.position, positions[3])
      assert.equal(after.updates.length, 3)
      assert.deepEqual(stateOf(after.updates), { k0: 0, k1: 1, k2: 2, k3: 3 })
      // A compaction already covered by a later one changes nothing.
      await store.compact('p', Y.encodeStateAsUpdate(new Y.Doc()), positions[0]!)
      assert.deepEqual(await store.load('p'), after)
      const next = await store.append('p', write(doc, 'k4', 4))
      assert.ok(next > after.position)
      await store.compact('p', Y.encodeStateAsUpdate(doc), next)
      assert.equal((await store.load('p')).updates.length, 1)
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
    append: async (room) => {
      writes.push(room)
      return 9
    },
    compact: async (room) => {
      writes.push(room)
    },
    close: async () => {}
  }
  const relay = await testRelay({ store, logger })
  try {
    for (const room of ['structs', 'deletes']) {
      const raw = rawSocket(relay.url, room)
      const closed = await within(raw.closed, 5_000, `the close of ${room}`)
      assert.deepEqual(closed, { code: 1011, reason: 'room failed to load' }, room)
      assert.equal(raw.frames.length, 0, `${room}: nothing was served`)
      assert.ok(
        logger.lines.some((l) => l.includes('room failed to load') && l.includes(`room=${room}`) && l.includes('incomplete')),
        room
      )
    }
    const whole = stockClient(relay.url, 'whole')
    await whole.synced
    assert.deepEqual(whole.state.toJSON(), { b: 2 })
    whole.destroy()
    await relay.close() // compacts what it holds: never the refused rooms
    assert.deepEqual(
      writes.filter((r) => r !== 'whole'),
      []
    )
  } finally {
    await relay.close()
  }
})

/** Deterministic bytes that compress badly, so LevelDB stores them as they are. */
const noise = (seed: number, length: number): string => {
  let x = seed * 2654435761 + 1
  let out = ''
  while (out.length < length) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out += (x >>> 0).toString(36)
  }
  return out.slice(0, length)
}

/** Opens and closes the store: LevelDB moves what its log holds into a table file. */
const settle = async (dir: string): Promise<void> => {
  const store = new LevelStore(dir)
  await store.open()
  await store.close()
}

/** Connects to `room` and expects it refused: 1011, nothing served, the reason logged. */
const expectRefused = async (dataDir: string, room: string, reason: RegExp): Promise<void> => {
  const logger = memoryLogger()
  const relay = await testRelay({ dataDir, logger })
  try {
    const raw = rawSocket(relay.url, room)
    const closed = await within(raw.closed, 5_000, `the close of ${room}`)
    assert.deepEqual(closed, { code: 1011, reason: 'room failed to load' })
    assert.equal(raw.frames.length, 0, 'nothing was served')
    const line = logger.lines.find((l) => l.includes('room failed to load') && l.includes(`room=${room}`))
    assert.ok(line && reason.test(line), `logged: ${logger.lines.join('\n')}`)
  } finally {
    await relay.close()
  }
  // Never overwritten: the store still refuses it, for the same reason.
  const store = new LevelStore(dataDir)
  await assert.rejects(store.load(room), reason)
  await store.close()
}

test('a room whose stored bytes were changed on disk is refused', async () => {
  const dir = tempDir('yss-flip')
  try {
    const store = new LevelStore(dir.path)
    const doc = new Y.Doc()
    for (let i = 0; i < 40; i++) await store.append('flipped', write(doc, `k${i}`, (i === 20 ? 'MARKER-' : '') + noise(i, 300)))
    await store.close()
    await settle(dir.path)
    // One changed letter inside a stored string: the update still parses and applies.
    const table = readdirSync(dir.path)
      .filter((f) => f.endsWith('.ldb'))
      .map((f) => join(dir.path, f))
      .find((f) => readFileSync(f).includes('MARKER-'))
    assert.ok(table, 'the marker is stored uncompressed in a table file')
    const bytes = readFileSync(table)
    bytes[bytes.indexOf('MARKER-')] = 'N'.charCodeAt(0)
    writeFileSync(table, bytes)
    await expectRefused(dir.path, 'flipped', /damaged/)
  } finally {
    dir.remove()
  }
})

test('a room that lost a stored update without a trace in Yjs is refused', async () => {
  const dir = tempDir('yss-lost')
  try {
    // Two writers, each on its own keys: no update of one depends on the other's.
    const a = new Y.Doc()
    const b = new Y.Doc()
    const store = new LevelStore(dir.path)
    await store.append('lost', write(a, 'a0', 0))
    await store.append('lost', write(b, 'b0', 0))
    await store.append('lost', write(a, 'a1', 1))
    await store.append('lost', write(b, 'b1', 1))
    await store.close()
    // LevelDB drops records it cannot read back, and says nothing: drop b's last update.
    const db = new LeveldbPersistence(dir.path)
    await db._transact((level) => level.batch([{ type: 'del', key: ['v1', 'lost', 'update', 3] }]))
    await db.destroy()
    await expectRefused(dir.path, 'lost', /incomplete: 1 of its 4 updates/)
    // Nor if the mark that the store's rooms have records is lost too: records are never redone.
    const again = new LeveldbPersistence(dir.path)
    await again._transact((level) => level.batch([{ type: 'del', key: ['y-server-state', 'format'] }]))
    await again.destroy()
    await expectRefused(dir.path, 'lost', /incomplete: 1 of its 4 updates/)
  } finally {
    dir.remove()
  }
})

test('a store whose own keys cannot be read refuses to open, naming the directory', async () => {
  const dir = tempDir('yss-head')
  try {
    const store = new LevelStore(dir.path)
    await store.append('r', write(new Y.Doc(), 'a', 1))
    await store.close()
    const db = new LeveldbPersistence(dir.path)
    await db._transact((level) => level.batch([{ type: 'put', key: ['y-server-state', 'head'], value: Buffer.alloc(0) }]))
    await db.destroy()
    const message = await refusal(testRelay({ dataDir: dir.path }))
    assert.ok(message.startsWith(`cannot open the store in ${resolve(dir.path)}: `), message)
  } finally {
    dir.remove()
  }
})

test('a store written by y-leveldb alone is served, and stays readable by it after our writes and compactions', async () => {
  const dir = tempDir('yss-adopt')
  try {
    const theirs = new LeveldbPersistence(dir.path)
    const doc = new Y.Doc()
    for (let i = 0; i < 3; i++) await theirs.storeUpdate('legacy', write(doc, `old${i}`, i))
    await theirs.storeUpdate('gappy', write(new Y.Doc(), 'x', 1))
    await theirs.storeUpdate('gappy', write(doc, 'never', 0))
    await theirs._transact((level) => level.batch([{ type: 'del', key: ['v1', 'gappy', 'update', 0] }]))
    await theirs.destroy()

    const relay = await testRelay({ dataDir: dir.path, compactEvery: 2 })
    try {
      const client = stockClient(relay.url, 'legacy')
      const watcher = stockClient(relay.url, 'legacy')
      await Promise.all([client.synced, watcher.synced])
      assert.deepEqual(client.state.toJSON(), { old0: 0, old1: 1, old2: 2 })
      for (let i = 0; i < 5; i++) client.state.set(`new${i}`, i)
      await untilKey(watcher.state, 'new4', 4)
      client.destroy()
      watcher.destroy()
      const raw = rawSocket(relay.url, 'gappy')
      assert.equal((await within(raw.closed, 5_000, 'the close of gappy')).code, 1011)
    } finally {
      await relay.close() // compacts
    }
    const again = new LeveldbPersistence(dir.path)
    const read = await again.getYDoc('legacy')
    assert.deepEqual(read?.getMap('state').toJSON(), { old0: 0, old1: 1, old2: 2, new0: 0, new1: 1, new2: 2, new3: 3, new4: 4 })
    await again.destroy()
  } finally {
    dir.remove()
  }
})

const WITNESS = 'y-server-state-head'
const witnessed = (dir: string): number => {
  try {
    return Number(readFileSync(join(dir, WITNESS), 'utf8'))
  } catch {
    return 0
  }
}

/**
 * Writes `n` keys through a relay process on `dir`, then stops it with `signal`; after the
 * witness file caught up with the store if `witness` is set.
 */
const fillAndStop = async (dir: string, n: number, signal: NodeJS.Signals, witness = false): Promise<void> => {
  const relay = await spawnRelay(['--port', '0', '--data', dir, '--log-level', 'warn'])
  try {
    const writer = stockClient(relay.url, 'r')
    const watcher = stockClient(relay.url, 'r')
    await Promise.all([writer.synced, watcher.synced])
    for (let i = 0; i < n; i++) writer.state.set(`k${i}`, { i, text: noise(i, 40) })
    // The watcher sees the last key only once the relay stored it.
    await untilKey(watcher.state, `k${n - 1}`, undefined, 20_000)
    if (witness) {
      // The store rewrites its witness file soon after each write: wait for it to catch up.
      const metrics = await (await fetch(`${relay.httpUrl}metrics`)).text()
      const stored = Number(/^yss_store_writes_total (\d+)$/m.exec(metrics)![1])
      await eventually(() => witnessed(dir) >= stored, 'the witness file to follow the store')
    }
    writer.destroy()
    watcher.destroy()
  } finally {
    assert.equal(await relay.kill(signal), signal === 'SIGKILL' ? null : 0)
  }
}

/** Starts a relay process on `dir` that must refuse to start; returns what it printed. */
const refusedProcess = (dir: string): Promise<string> =>
  spawnRelay(['--port', '0', '--data', dir, '--log-level', 'warn']).then(
    async (relay) => {
      const reader = stockClient(relay.url, 'r')
      await within(reader.synced, 5_000, 'a sync').catch(() => {})
      const served = reader.state.size
      reader.destroy()
      await relay.kill('SIGKILL')
      return assert.fail(`the relay started on a damaged store, and served ${served} of the keys`)
    },
    (err: Error) => err.message
  )

const logFile = (dir: string): string => {
  const logs = readdirSync(dir).filter((f) => /^\d+\.log$/.test(f))
  assert.equal(logs.length, 1, `${readdirSync(dir)}`)
  return join(dir, logs[0]!)
}

for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
  test(`a log with flipped bytes, after ${signal}: the relay refuses the store, and keeps refusing it`, async () => {
    const dir = tempDir('yss-logflip')
    try {
      await fillAndStop(dir.path, 1_000, signal)
      const log = logFile(dir.path)
      const bytes = readFileSync(log)
      for (let k = 0; k < 4; k++) bytes[(bytes.length >> 1) + k]! ^= 0x5a
      writeFileSync(log, bytes)

      const first = await refusedProcess(dir.path)
      assert.match(first, /relay exited with 1/)
      assert.ok(first.includes(`the store in ${resolve(dir.path)} is damaged`), first)
      assert.match(first, /LevelDB dropped \d+ bytes of its log \d+\.log while recovering \(Corruption: /)
      // The log LevelDB recovered from is kept as it was.
      assert.deepEqual(readFileSync(join(dir.path, `DAMAGED-${log.split('/').pop()}`)), bytes)
      assert.match(readFileSync(join(dir.path, 'DAMAGED'), 'utf8'), /dropped \d+ bytes/)
      // LevelDB replayed what it could into a table and deleted the log: the next start would
      // see nothing wrong, but DAMAGED keeps the store closed.
      const second = await refusedProcess(dir.path)
      assert.ok(
        second.includes(`the store in ${resolve(dir.path)} is damaged and stays closed: see ${join(resolve(dir.path), 'DAMAGED')}`),
        second
      )
      if (signal === 'SIGKILL') {
        // An operator who accepts the loss deletes DAMAGED.
        rmSync(join(dir.path, 'DAMAGED'))
        const relay = await spawnRelay(['--port', '0', '--data', dir.path, '--log-level', 'warn'])
        await relay.kill('SIGTERM')
      }
    } finally {
      dir.remove()
    }
  })

  test(`a truncated log, after ${signal}: the relay refuses the store`, async () => {
    const dir = tempDir('yss-logcut')
    try {
      // SIGTERM writes the witness as the store closes; after a SIGKILL, it is as recent as the
      // last rewrite, 50 ms after a write at most: a cut within those is not seen.
      await fillAndStop(dir.path, 1_000, signal, signal === 'SIGKILL')
      const log = logFile(dir.path)
      truncateSync(log, statSync(log).size >> 1)
      const refused = await refusedProcess(dir.path)
      assert.ok(refused.includes(`the store in ${resolve(dir.path)} is damaged`), refused)
      assert.match(refused, /it holds \d+ writes, but \d+ had been stored: the last \d+ are lost/)
      assert.ok(existsSync(join(dir.path, 'DAMAGED')))
    } finally {
      dir.remove()
    }
  })
}
