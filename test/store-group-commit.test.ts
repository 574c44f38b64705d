/**
 * The embedded store writes the appends of every room that wrote meanwhile as one LevelDB
 * batch (issue 11: "one batched disk append for all the rooms that wrote in that tick"), and
 * keeps every promise of a write one at a time: per-room order, positions, integrity records,
 * a failed batch acknowledging nothing, and what was acknowledged surviving a SIGKILL.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import * as Y from 'yjs'
import * as decoding from 'lib0/decoding'
import { LeveldbPersistence } from 'y-leveldb'
import type { RoomStore } from '../relay/store/room-store.js'
import { LevelStore } from '../relay/store/level-store.js'
import { MemoryStore } from '../relay/store/memory-store.js'
import { UnavailableError } from '../relay/store/unavailable.js'
import { eventually, stockClient, tempDir, testRelay, untilKey, within } from './support/helpers.js'
import { stateOf, write } from './support/store-helpers.js'

/** The store's count of writes (batches), as stored; read with the store closed. */
const headOf = async (dir: string): Promise<number> => {
  const db = new LeveldbPersistence(dir)
  const head = await db._transact((level) => level.get(['y-server-state', 'head']))
  await db.destroy()
  return head === null ? 0 : decoding.readVarUint(decoding.createDecoder(head))
}

const names = (n: number, prefix = 'room'): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${i}`)

/** A store on `dir` with `n` rooms loaded (their records known), and a doc for each room. */
const loadedStore = async (dir: string, n: number): Promise<{ store: LevelStore; rooms: string[]; docs: Y.Doc[] }> => {
  const store = new LevelStore(dir)
  await store.open()
  const rooms = names(n)
  await Promise.all(rooms.map((r) => store.load(r)))
  return { store, rooms, docs: rooms.map(() => new Y.Doc()) }
}

/**
 * A hand on every LevelDB batch of this process (classic-level's `_batch`, found through a
 * probe database): counts them, and can hold the next one until told how it ends.
 */
const batches = async (): Promise<{
  count: number
  inFlight: number
  maxInFlight: number
  /** Holds the next batch; resolves once it is called, with the way to end it. */
  holdNext(): Promise<(error?: Error) => void>
  restore(): void
}> => {
  const probeDir = tempDir('yss-probe')
  const probe = new LeveldbPersistence(probeDir.path)
  const db = await probe._transact(async (level) => level)
  await probe.destroy()
  probeDir.remove()
  let proto = Object.getPrototypeOf(db) as Record<string, unknown> | null
  while (proto && !Object.hasOwn(proto, '_batch')) proto = Object.getPrototypeOf(proto) as Record<string, unknown> | null
  assert.ok(proto, 'a LevelDB class with _batch')
  type Batch = (this: unknown, ops: unknown, options: unknown, callback: (err?: Error | null) => void) => void
  const original = proto._batch as Batch
  let held: ((end: (error?: Error) => void) => void) | null = null
  const hand = {
    count: 0,
    inFlight: 0,
    maxInFlight: 0,
    holdNext: () =>
      new Promise<(error?: Error) => void>((resolve) => {
        held = resolve
      }),
    restore: () => {
      proto!._batch = original
    }
  }
  proto._batch = function (this: unknown, ops: unknown, options: unknown, callback: (err?: Error | null) => void): void {
    hand.count++
    hand.maxInFlight = Math.max(hand.maxInFlight, ++hand.inFlight)
    const done = (err?: Error | null): void => {
      hand.inFlight--
      callback(err)
    }
    const hold = held
    held = null
    if (!hold) {
      original.call(this, ops, options, done)
      return
    }
    hold((error) => (error ? done(error) : original.call(this, ops, options, done)))
  }
  return hand
}

test('the appends of many rooms in one tick are one batch, with one count of writes', async () => {
  const dir = tempDir('yss-group')
  try {
    const { store, rooms, docs } = await loadedStore(dir.path, 300)
    // Some rooms append twice in the tick: each keeps its own order.
    const positions = await Promise.all(
      rooms.flatMap((r, i) =>
        i % 3 === 0
          ? [store.append(r, write(docs[i]!, 'a', i)), store.append(r, write(docs[i]!, 'b', i))]
          : [store.append(r, write(docs[i]!, 'a', i))]
      )
    )
    assert.deepEqual(
      positions,
      rooms.flatMap((_, i) => (i % 3 === 0 ? [1, 2] : [1]))
    )
    await store.close()
    assert.equal(await headOf(dir.path), 1, 'one batch for the tick')
    const again = new LevelStore(dir.path)
    for (const [i, r] of rooms.entries()) {
      const { position, updates } = await again.load(r)
      assert.equal(position, i % 3 === 0 ? 2 : 1)
      assert.deepEqual(stateOf(updates), i % 3 === 0 ? { a: i, b: i } : { a: i })
    }
    await again.close()
  } finally {
    dir.remove()
  }
})

test('while a batch is written, the next gathers the appends of every later tick: one batch in flight at a time', async () => {
  const dir = tempDir('yss-gather')
  const hand = await batches()
  try {
    const { store, rooms, docs } = await loadedStore(dir.path, 100)
    const before = hand.count
    const held = hand.holdNext()
    const first = rooms.map((r, i) => store.append(r, write(docs[i]!, 'first', i)))
    const release = await within(held, 5_000, 'the first batch')
    // Three more ticks while it is held: they wait, and gather.
    const later: Array<Promise<number>> = []
    for (let tick = 0; tick < 3; tick++) {
      await new Promise((r) => setImmediate(r))
      rooms.forEach((r, i) => {
        later.push(store.append(r, write(docs[i]!, `t${tick}`, tick)))
      })
    }
    assert.equal(hand.count - before, 1, 'nothing else written while the batch is in flight')
    release()
    assert.deepEqual(
      await Promise.all(first),
      rooms.map(() => 1)
    )
    assert.deepEqual(
      await Promise.all(later),
      [2, 3, 4].flatMap((p) => rooms.map(() => p))
    )
    assert.equal(hand.count - before, 2, 'the three later ticks went in one batch')
    assert.equal(hand.maxInFlight, 1)
    await store.close()
    const again = new LevelStore(dir.path)
    const room7 = await again.load('room-7')
    assert.equal(room7.position, 4)
    assert.deepEqual(stateOf(room7.updates), { first: 7, t0: 0, t1: 1, t2: 2 })
    await again.close()
  } finally {
    hand.restore()
    dir.remove()
  }
})

test('per room, appends keep their order and positions, also for rooms not read yet and past the bound of rooms kept', async () => {
  const dir = tempDir('yss-order')
  try {
    // Remembers 5 rooms: most of these are read again at their next call.
    const store = new LevelStore(dir.path, undefined, { maxRooms: 5 })
    await store.open()
    const loaded = names(20, 'loaded')
    const unread = names(20, 'unread') // never loaded: their first append reads their record
    await Promise.all(loaded.map((r) => store.load(r)))
    const all = [...loaded, ...unread]
    const sent = new Map<string, Uint8Array[]>(all.map((r) => [r, []]))
    const docs = new Map(all.map((r) => [r, new Y.Doc()]))
    const calls: Array<Promise<[string, number]>> = []
    for (let round = 0; round < 3; round++) {
      // Five appends per room in the tick, rooms interleaved.
      for (let i = 0; i < 5; i++) {
        for (const r of all) {
          const update = write(docs.get(r)!, 'last', round * 5 + i)
          sent.get(r)!.push(update)
          calls.push(store.append(r, update).then((p) => [r, p]))
        }
      }
      if (round === 1) for (const r of loaded.slice(0, 10)) store.forget(r)
      await new Promise((r) => setImmediate(r))
    }
    const positions = new Map<string, number[]>(all.map((r) => [r, []]))
    for (const [r, p] of await Promise.all(calls)) positions.get(r)!.push(p)
    for (const r of all)
      assert.deepEqual(
        positions.get(r),
        Array.from({ length: 15 }, (_, i) => i + 1),
        r
      )
    await store.close()
    const again = new LevelStore(dir.path)
    for (const r of all) {
      const { position, updates } = await again.load(r)
      assert.equal(position, 15, r)
      assert.deepEqual(
        updates.map((u) => Buffer.from(u)),
        sent.get(r)!.map((u) => Buffer.from(u)),
        `${r}: stored in the order appended`
      )
    }
    await again.close()
  } finally {
    dir.remove()
  }
})

test('a failed batch rejects every append in it and every one gathered behind it; the store writes again once reopened', async () => {
  const dir = tempDir('yss-failgroup')
  const hand = await batches()
  try {
    const { store, rooms, docs } = await loadedStore(dir.path, 50)
    assert.deepEqual(
      await Promise.all(rooms.map((r, i) => store.append(r, write(docs[i]!, 'kept', i)))),
      rooms.map(() => 1)
    )

    const held = hand.holdNext()
    const failing = rooms.map((r, i) =>
      store.append(r, write(docs[i]!, 'lost', i)).then(
        () => null,
        (err: Error) => err
      )
    )
    const fail = await within(held, 5_000, 'the batch')
    await new Promise((r) => setImmediate(r))
    const behind = rooms.map((r, i) =>
      store.append(r, write(docs[i]!, 'behind', i)).then(
        () => null,
        (err: Error) => err
      )
    )
    const written = hand.count
    fail(Object.assign(new Error('IO error: 000003.log: No space left on device'), { code: 'LEVEL_IO_ERROR' }))
    for (const [i, err] of [...(await Promise.all(failing)), ...(await Promise.all(behind))].entries()) {
      assert.ok(err instanceof UnavailableError, `append ${i} rejected with an UnavailableError: ${err}`)
      assert.ok(err.message.includes(`room "${rooms[i % rooms.length]}"`), err.message)
    }
    assert.equal(hand.count, written, 'nothing written after the failed batch')

    // The next call reopens LevelDB; the rooms are read again, from what is stored.
    const fresh = rooms.map(() => new Y.Doc())
    for (const [i, d] of fresh.entries()) Y.applyUpdate(d, Y.encodeStateAsUpdate(docs[i]!))
    assert.deepEqual(
      await Promise.all(rooms.map((r, i) => store.append(r, write(fresh[i]!, 'after', i)))),
      rooms.map(() => 2)
    )
    await store.close()
    const again = new LevelStore(dir.path)
    for (const [i, r] of rooms.entries()) {
      const { position, updates } = await again.load(r)
      assert.equal(position, 2)
      assert.deepEqual(Object.keys(stateOf(updates)).sort(), ['after', 'kept'], `${r} holds no rejected append`)
      assert.equal(stateOf(updates).after, i)
    }
    await again.close()
  } finally {
    hand.restore()
    dir.remove()
  }
})

test('compactions interleaved with appends of the same room, in one tick, keep its order and history', async () => {
  const dir = tempDir('yss-compact-order')
  try {
    const store = new LevelStore(dir.path)
    await store.open()
    await store.load('c')
    const doc = new Y.Doc()
    const u = Array.from({ length: 8 }, (_, i) => write(doc, `k${i}`, i))
    const snapshot = (n: number): Uint8Array => {
      const d = new Y.Doc()
      for (const x of u.slice(0, n)) Y.applyUpdate(d, x)
      return Y.encodeStateAsUpdate(d)
    }
    const other = new Y.Doc()
    // One tick: four appends, a compaction up to the second (it reads the two after it once
    // they are stored), and two appends that must follow it; another room writes meanwhile.
    const calls: Array<Promise<unknown>> = [
      ...u.slice(0, 4).map((x) => store.append('c', x)),
      store.compact('c', snapshot(2), 2),
      store.append('c', u[4]!),
      store.append('other', write(other, 'x', 1)),
      store.append('c', u[5]!)
    ]
    assert.deepEqual(await Promise.all(calls), [1, 2, 3, 4, undefined, 5, 1, 6])
    let loaded = await store.load('c')
    assert.equal(loaded.position, 6)
    assert.deepEqual(
      loaded.updates.map((x) => Buffer.from(x)),
      [snapshot(2), ...u.slice(2, 6)].map((x) => Buffer.from(x))
    )

    // One tick again: an append, a compaction up to it (nothing after it to read), an append.
    const more = await Promise.all([store.append('c', u[6]!), store.compact('c', snapshot(7), 7), store.append('c', u[7]!)])
    assert.deepEqual(more, [7, undefined, 8])
    loaded = await store.load('c')
    assert.equal(loaded.position, 8)
    assert.deepEqual(
      loaded.updates.map((x) => Buffer.from(x)),
      [snapshot(7), u[7]!].map((x) => Buffer.from(x))
    )

    // A compaction that reads the updates after it, and appends in each of the ticks that
    // follow, some while it reads: they wait for it, or its record would miss them.
    assert.equal(await store.append('c', write(doc, 'late', 0)), 9)
    const upTo9 = Y.encodeStateAsUpdate(doc)
    assert.equal(await store.append('c', write(doc, 'late', 1)), 10)
    const compacted = store.compact('c', upTo9, 9)
    const after: Array<Promise<number>> = []
    for (let i = 0; i < 20; i++) {
      await new Promise((r) => setImmediate(r))
      after.push(store.append('c', write(doc, `late${i}`, i)))
    }
    await compacted
    assert.deepEqual(
      await Promise.all(after),
      Array.from({ length: 20 }, (_, i) => 11 + i)
    )
    loaded = await store.load('c') // rejects if the compaction's record missed an append
    assert.equal(loaded.position, 30)
    assert.equal(loaded.updates.length, 22)
    await store.close()

    const again = new LevelStore(dir.path)
    const reloaded = await again.load('c')
    assert.equal(reloaded.position, 30)
    assert.deepEqual(stateOf(reloaded.updates), {
      late: 1,
      ...Object.fromEntries(u.map((_, i) => [`k${i}`, i])),
      ...Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`late${i}`, i]))
    })
    await again.close()
  } finally {
    dir.remove()
  }
})

test('many rooms appending and compacting over many ticks: every room loads whole, in order', async () => {
  const dir = tempDir('yss-churn')
  try {
    const store = new LevelStore(dir.path)
    await store.open()
    const rooms = names(40)
    await Promise.all(rooms.map((r) => store.load(r)))
    const sent = new Map<string, Uint8Array[]>(rooms.map((r) => [r, []]))
    let seed = 7
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      return seed % n
    }
    const calls: Array<Promise<unknown>> = []
    for (let tick = 0; tick < 40; tick++) {
      for (const r of rooms) {
        const updates = sent.get(r)!
        for (let i = random(3); i > 0; i--) {
          const doc = new Y.Doc()
          const update = write(doc, `${r}-${updates.length}`, updates.length)
          updates.push(update)
          calls.push(store.append(r, update))
        }
        // Now and then a compaction up to an earlier append: it reads the updates after it,
        // while later appends of the room arrive in this tick and the next ones. None in the
        // last ticks: a later compaction would hide a record an earlier one got wrong.
        if (tick < 30 && updates.length > 2 && random(4) === 0) {
          const upTo = 1 + random(updates.length)
          const d = new Y.Doc()
          for (const u of updates.slice(0, upTo)) Y.applyUpdate(d, u)
          calls.push(store.compact(r, Y.encodeStateAsUpdate(d), upTo))
        }
      }
      await new Promise((r) => setImmediate(r))
    }
    await Promise.all(calls)
    await store.close()
    const again = new LevelStore(dir.path)
    for (const r of rooms) {
      const { position, updates } = await again.load(r) // rejects if a record does not match
      const expected = sent.get(r)!
      assert.equal(position, expected.length, r)
      assert.deepEqual(stateOf(updates), stateOf(expected), r)
    }
    await again.close()
  } finally {
    dir.remove()
  }
})

test('after a SIGKILL of a process writing to many rooms at once, every acknowledged append is stored', { timeout: 60_000 }, async () => {
  const dir = tempDir('yss-kill-group')
  try {
    const rooms = 200
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, 'fixtures/store-writer.ts'), dir.path, String(rooms)],
      { stdio: ['ignore', 'pipe', 'pipe'] }
    )
    const acknowledged = new Map<string, number>()
    let acks = 0
    let rest = ''
    let errors = ''
    child.stderr.on('data', (d: Buffer) => {
      errors += d
    })
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_, signal) => resolve(signal)))
    const enough = new Promise<void>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        const lines = (rest + d).split('\n')
        rest = lines.pop()!
        for (const line of lines) {
          const [room, i] = line.split(' ')
          if (i === undefined) continue
          acknowledged.set(room!, Number(i))
          if (++acks === 20_000) resolve()
        }
      })
    })
    await within(
      Promise.race([
        enough,
        exited.then(() => {
          throw new Error(`the writer exited: ${errors}`)
        })
      ]),
      45_000,
      '20,000 acknowledged appends'
    )
    child.kill('SIGKILL')
    assert.equal(await exited, 'SIGKILL')
    assert.equal(acknowledged.size, rooms, 'every room wrote')

    const store = new LevelStore(dir.path)
    await store.open() // not damaged
    for (const [room, last] of acknowledged) {
      const { updates, position } = await store.load(room)
      assert.ok(position >= last + 1, `${room}: position ${position}, ${last + 1} acknowledged`)
      const state = stateOf(updates)
      for (let i = 0; i <= last; i++) assert.equal(state[`k${i}`], i, `${room}: k${i} acknowledged, not stored`)
    }
    await store.close()
  } finally {
    dir.remove()
  }
})

test('the relay tells the store when it unloads a room', async () => {
  const forgotten: string[] = []
  const inner = new MemoryStore()
  const store: RoomStore = {
    load: (r) => inner.load(r),
    append: (r, u) => inner.append(r, u),
    compact: (r, s, p) => inner.compact(r, s, p),
    forget: (r) => {
      forgotten.push(r)
    },
    close: () => inner.close()
  }
  const relay = await testRelay({ store, idleUnloadMs: 20 })
  try {
    const a = stockClient(relay.url, 'leaving')
    const b = stockClient(relay.url, 'leaving')
    await Promise.all([a.synced, b.synced])
    a.state.set('n', 1)
    await untilKey(b.state, 'n', 1)
    assert.deepEqual(forgotten, [])
    a.destroy()
    b.destroy()
    await eventually(() => relay.loadedRooms().length === 0, 'the room to unload')
    assert.deepEqual(forgotten, ['leaving'])
  } finally {
    await relay.close()
  }
})
