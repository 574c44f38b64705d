/**
 * A backend in a room (relay/backend/): its writes answered once stored, quiet and forced writes
 * as our client sees them, its leases FIFO with a socket session's locks, and a commit after its
 * lease ended refused with nothing applied. Through `relay.backend(room)`, on a real relay, with
 * our client's sessions over real sockets.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setImmediate as tick } from 'node:timers/promises'
import { MemoryStore } from '../relay/store/memory-store.js'
import type { StorePosition } from '../relay/store/room-store.js'
import { LeaseEndedError, LockTimeoutError, OverLimitError } from '../relay/backend/errors.js'
import { RoomBackends } from '../relay/backend/backends.js'
import { RoomRegistry } from '../relay/room/registry.js'
import { localBus } from '../relay/room/bus.js'
import { Metrics } from '../relay/metrics.js'
import { LogLimiter } from '../relay/log-limiter.js'
import { resolveLimits } from '../relay/limits.js'
import { counter, eventually, memoryLogger, session, testRelay, untilKey, within } from './support/helpers.js'

const locksOpen = async (httpUrl: string): Promise<number> =>
  Number(/^yss_locks_open (\d+)$/m.exec(await (await fetch(`${httpUrl}metrics`)).text())?.[1])

/** A memory store whose appends, once `hold` is set, wait for `release()`. */
class HeldStore extends MemoryStore {
  hold = false
  private held: Array<() => void> = []
  private reached: Array<() => void> = []

  override async append(room: string, update: Uint8Array): Promise<StorePosition> {
    if (this.hold) {
      for (const r of this.reached.splice(0)) r()
      await new Promise<void>((resolve) => this.held.push(resolve))
    }
    return super.append(room, update)
  }

  /** Resolves once an append is held. */
  appendHeld(): Promise<void> {
    return this.held.length > 0 ? Promise.resolve() : new Promise((resolve) => this.reached.push(resolve))
  }

  release(): void {
    this.hold = false
    for (const r of this.held.splice(0)) r()
  }
}

test('a write is answered only once the store has it', async () => {
  const store = new HeldStore()
  const relay = await testRelay({ store })
  try {
    const room = relay.backend('held')
    await room.write({ set: { warm: 1 } }) // the room loaded and the backend synced
    store.hold = true
    let answered = false
    const write = room.write({ set: { x: 1 } }).then((v) => {
      answered = true
      return v
    })
    await within(store.appendHeld(), 5_000, 'the append of the write')
    for (let i = 0; i < 5; i++) await tick()
    assert.equal(answered, false, 'the write was answered before the store had it')
    store.release()
    assert.deepEqual(await within(write, 5_000, 'the answer'), { x: 0 })
    const stored = await store.load('held')
    assert.ok(stored.updates.length >= 2, 'the write is in the store')
  } finally {
    store.release()
    await relay.close()
  }
})

// Found by the simulation (`npm run fuzz -- --seed 290 --ops core,backend --steps 5 --only 5`):
// the backend peer sent frames to its room from inside the room's batch that had answered it (its
// sync, a FLUSHED, a DENIED). A batch that stores nothing runs to its end without a pause, so the
// room took those frames in a second batch beside the first: a FLUSH was answered while the update
// before it was still being stored, and two batches were stored at once.
test("a backend's first write, and one queued behind a read, are answered only once the store has them", async () => {
  const store = new HeldStore()
  const relay = await testRelay({ store })
  const answered = (p: Promise<unknown>) => {
    const seen = { answered: false }
    p.then(() => {
      seen.answered = true
    })
    return seen
  }
  try {
    store.hold = true
    const first = relay.backend('fresh').write({ set: { x: 1 } }) // the backend syncs first
    const seen = answered(first)
    await within(store.appendHeld(), 5_000, 'the append of the first write')
    for (let i = 0; i < 5; i++) await tick()
    assert.equal(seen.answered, false, 'the first write was answered before the store had it')
    store.release()
    assert.deepEqual(await within(first, 5_000, 'the first answer'), { x: 0 })

    const room = relay.backend('fresh')
    store.hold = true
    const read = room.read(['x'])
    const second = room.write({ set: { y: 1 } }) // queued behind the read's round, sent from its FLUSHED
    const seen2 = answered(second)
    assert.deepEqual(await within(read, 5_000, 'the read'), { x: { value: 1, version: 0 } })
    await within(store.appendHeld(), 5_000, 'the append of the second write')
    for (let i = 0; i < 5; i++) await tick()
    assert.equal(seen2.answered, false, 'the second write was answered before the store had it')
    store.release()
    assert.deepEqual(await within(second, 5_000, 'the second answer'), { y: 0 })
  } finally {
    store.release()
    await relay.close()
  }
})

test('writes: values and versions read back, a deep-equal write changes nothing, a delete, a force bumps the version', async () => {
  const relay = await testRelay()
  try {
    const room = relay.backend('kv')
    assert.deepEqual(await room.write({ set: { a: { n: [1, 2] }, b: 'x' } }), { a: 0, b: 0 })
    assert.deepEqual(await room.read(), { a: { value: { n: [1, 2] }, version: 0 }, b: { value: 'x', version: 0 } })
    const metrics = () => relay.metrics.get('store_writes_total')
    const before = metrics()
    assert.deepEqual(await room.write({ set: { a: { n: [1, 2] } } }), { a: 0 })
    assert.equal(metrics(), before, 'a deep-equal write stored nothing')
    assert.deepEqual(await room.write({ force: ['a'] }), { a: 1 })
    assert.deepEqual(await room.write({ force: ['a'], delete: ['b'] }), { a: 2, b: 0 })
    assert.deepEqual(await room.read(['a', 'b']), { a: { value: { n: [1, 2] }, version: 2 }, b: { value: undefined, version: 0 } })
    await assert.rejects(room.write({ set: { c: Number.NaN } }), /NaN, not a JSON value/)
    await assert.rejects(room.write({ quiet: true, force: ['a'] }), /quiet write cannot force/)
  } finally {
    await relay.close()
  }
})

test("a session sees the backend's writes; a quiet one re-runs no other session, a forced one re-runs it", async () => {
  const relay = await testRelay()
  const reader = await session(relay.url, 'quiet')
  try {
    const room = relay.backend('quiet')
    const bound = counter(reader, () => reader.get('q'))
    await room.write({ set: { q: 1 }, quiet: true })
    await room.write({ set: { loud: 1 } })
    await untilKey(reader.doc.getMap('state'), 'loud', 1)
    assert.equal(reader.get('q'), 1, 'the quiet value arrived')
    assert.equal(bound.count, 0, 'a quiet write re-ran the reader')
    await room.write({ set: { q: 2 } })
    await eventually(() => bound.count === 1, 'a loud write re-runs the reader')
    await room.write({ force: ['q'] })
    await eventually(() => bound.count === 2 && reader.version('q') === 1, 'a forced re-run')
    // And the other way: the session's writes reach the backend's reads.
    reader.set('fromSession', 7)
    await reader.flush()
    assert.deepEqual((await room.read(['fromSession'])).fromSession, { value: 7, version: 0 })
  } finally {
    reader.close()
    await relay.close()
  }
})

test("leases are FIFO with a socket session's locks, and a grant's values include the holder before", async () => {
  const relay = await testRelay()
  const s = await session(relay.url, 'fifo')
  try {
    const room = relay.backend('fifo')
    const first = await room.acquire(['count'], { timeoutMs: 5_000 })
    assert.deepEqual(first.values, { count: { value: undefined, version: 0 } })
    let ran = false
    const locked = s.lock('count', (st) => {
      ran = true
      st.count = (st.count ?? 0) + 10
    })
    // The session waits behind the backend's lease; a second backend lease waits behind it.
    await eventually(async () => (await locksOpen(relay.httpUrl)) === 2, "the session's request queued")
    const second = room.acquire(['count'], { timeoutMs: 5_000 })
    await eventually(async () => (await locksOpen(relay.httpUrl)) === 3, 'the second lease queued')
    assert.equal(ran, false)
    assert.deepEqual(await room.commit(first.id, { set: { count: 1 } }), { count: 0 })
    await within(locked, 5_000, "the session's lock")
    const granted = await within(second, 5_000, 'the second lease')
    assert.deepEqual(granted.values.count, { value: 11, version: 0 }, 'the grant holds the session’s commit')
    assert.ok(granted.fence > first.fence, 'fences grow')
    await room.commit(granted.id, { set: { count: 12 } })
    await eventually(() => s.get('count') === 12, 'the session sees the last commit')
    await assert.rejects(room.commit(granted.id, { set: { count: 13 } }), LeaseEndedError, 'a lease commits once')
    assert.throws(() => room.release(granted.id), LeaseEndedError)
  } finally {
    s.close()
    await relay.close()
  }
})

test('a commit after the lease expired is refused, nothing applied, and a session got the key meanwhile', async () => {
  const relay = await testRelay({ leaseMs: 300 })
  const s = await session(relay.url, 'expiry')
  try {
    const room = relay.backend('expiry')
    await room.write({ set: { count: 5 } })
    const lease = await room.acquire(['count'], { timeoutMs: 5_000 })
    // The session's lock is granted once the relay takes the lease back.
    await within(
      s.lock('count', (st) => {
        st.count += 100
      }),
      5_000,
      "the session's lock after the expiry"
    )
    await assert.rejects(room.commit(lease.id, { set: { count: 6 } }), LeaseEndedError)
    assert.deepEqual((await room.read(['count'])).count, { value: 105, version: 0 })
    // The backend goes on: its next lease and commit work.
    const next = await room.acquire(['count'], { timeoutMs: 5_000 })
    await room.commit(next.id, { set: { count: (next.values.count!.value as number) + 1 } })
    await eventually(() => s.get('count') === 106, 'the next commit')
  } finally {
    s.close()
    await relay.close()
  }
})

test('the relay refuses a commit under a lease it took back (DENIED): nothing applied, and the backend writes on', async () => {
  // The relay's own timer usually ends a lease before the backend's reckoning does: here the
  // room's table takes it back while the backend still counts it held, so the COMMIT reaches the
  // relay and is DENIED there, and the backend's shadow (which holds the commit) is replaced.
  const log = memoryLogger()
  const metrics = new Metrics()
  const limits = resolveLimits({})
  const rooms = new RoomRegistry(
    {
      store: new MemoryStore(),
      bus: localBus,
      metrics,
      log,
      leaseMs: 60_000,
      compactEvery: 500,
      limits,
      limited: new LogLimiter(log, 60_000)
    },
    60_000
  )
  const backends = new RoomBackends({ rooms, leaseMs: 60_000, limits, metrics })
  try {
    const access = backends.room('denied')
    await access.write({ set: { count: 1 } })
    const lease = await access.acquire(['count'], { timeoutMs: 5_000 })
    const room = await rooms.open('denied')
    const [held] = room.leases.snapshot!()
    assert.ok(held?.holder, 'the backend holds the lease')
    room.leases.release(held.holder.holder, held.holder.id)
    await assert.rejects(
      access.commit(lease.id, { set: { count: 50 } }),
      (e: unknown) => e instanceof LeaseEndedError && /refused its commit/.test(e.message)
    )
    assert.equal(room.doc.getMap('state').get('count'), 1, 'nothing of the commit applied')
    assert.deepEqual(await access.write({ set: { other: 2 } }), { other: 0 })
    assert.deepEqual(await access.read(['count', 'other']), { count: { value: 1, version: 0 }, other: { value: 2, version: 0 } })
    assert.equal(room.doc.getMap('state').get('other'), 2)
  } finally {
    await backends.close()
    await rooms.close()
  }
})

test('a lease not granted in time is withdrawn (LockTimeoutError), and one aborted too', async () => {
  const relay = await testRelay()
  try {
    const room = relay.backend('timeout')
    const held = await room.acquire(['k'], { timeoutMs: 5_000 })
    await assert.rejects(room.acquire(['k'], { timeoutMs: 50 }), LockTimeoutError)
    const abort = new AbortController()
    const aborted = room.acquire(['k'], { timeoutMs: 5_000, signal: abort.signal })
    abort.abort(new Error('client went away'))
    await assert.rejects(aborted, /client went away/)
    room.release(held.id)
    // Both withdrawn: the next request is granted at once.
    const next = await within(room.acquire(['k'], { timeoutMs: 5_000 }), 5_000, 'the next lease')
    room.release(next.id)
  } finally {
    await relay.close()
  }
})

test("a room's open leases are capped by maxLockRequests, relay-wide by maxHttpLeases", async () => {
  const relay = await testRelay({ maxLockRequests: 2, maxHttpLeases: 3 })
  try {
    const a = relay.backend('cap-a')
    await a.acquire(['x'], { timeoutMs: 5_000 })
    await a.acquire(['y'], { timeoutMs: 5_000 })
    await assert.rejects(
      a.acquire(['z'], { timeoutMs: 5_000 }),
      (e: unknown) => e instanceof OverLimitError && e.limit === 'maxLockRequests'
    )
    const b = relay.backend('cap-b')
    await b.acquire(['x'], { timeoutMs: 5_000 })
    await assert.rejects(b.acquire(['y'], { timeoutMs: 5_000 }), (e: unknown) => e instanceof OverLimitError && e.limit === 'maxHttpLeases')
    assert.equal(relay.metrics.hits('maxHttpLeases'), 1)
  } finally {
    await relay.close()
  }
})
