/**
 * A session that waits for a lock gets others' writes held back and merged (relay/room/outbox.ts,
 * issue 11: every commit woke every waiting process): at the latest right before its GRANT, in
 * the same write; before any other frame the relay sends it; or once the bound passes. A session
 * that does not wait gets each write at once. Deterministic, on the in-process harness, with the
 * bound's timer in the test's hands.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as awarenessProtocol from 'y-protocols/awareness'
import * as syncProtocol from 'y-protocols/sync'
import { Network, type Link } from './harness/index.js'
import { updateOf, within, yssMessages } from './support/helpers.js'
import { MESSAGE_AWARENESS, MESSAGE_SYNC, YSS_ACQUIRE, YSS_CANCEL, YSS_GRANT, encodeYss } from '../protocol/messages.js'
import type { Schedule } from '../relay/room/outbox.js'
import type { ServerState } from '../client/index.js'

/** A timer the test fires by hand. */
const manualClock = () => {
  const pending = new Set<() => void>()
  const schedule: Schedule = (fn) => {
    pending.add(fn)
    return () => {
      pending.delete(fn)
    }
  }
  return {
    schedule,
    get pending() {
      return pending.size
    },
    fire() {
      const due = [...pending]
      pending.clear()
      for (const fn of due) fn()
    }
  }
}

/** The frames queued for a link's client, with the write each went in. */
const downFrames = (link: Link) => link.down.flatMap((e) => (e.kind === 'frame' ? [{ frame: e.frame, write: e.write }] : []))
const updateCount = (link: Link) => link.queued('down').filter((f) => updateOf(f) !== null).length

/**
 * H holds lock 'k' (its COMMIT is kept on its link), W waits for 'k', R only reads, A writes.
 * Returns W's request id.
 */
const setup = async (net: Network, room: string) => {
  const a = await net.session('A', room)
  const h = await net.session('H', room)
  const w = await net.session('W', room)
  const r = await net.session('R', room)
  const held = h.lock('k', (s) => {
    s.k = 'H'
  })
  await net.settle()
  await net.deliver(net.link('H'), 'up') // its ACQUIRE: granted
  net.hold(net.link('H'), 'up') // its COMMIT waits
  await net.flushAll()
  assert.ok(
    yssMessages(net.link('H').delivered.down).some((m) => m.type === YSS_GRANT),
    'H holds the lock'
  )
  const wLock = w.lock('k', (s) => {
    s.seen = s.a ?? 0
  })
  await net.flushAll()
  const acquire = yssMessages(net.link('W').delivered.up).find((m) => m.type === YSS_ACQUIRE)
  assert.ok(acquire, 'W asked for the lock')
  for (const name of ['W', 'R']) net.hold(net.link(name), 'down')
  return { a, h, w, r, held, wLock, wId: acquire.id }
}

/** Lets every link go and waits for H's and W's locks. */
const finish = async (net: Network, ...locks: Array<Promise<unknown>>) => {
  for (const name of ['H', 'W', 'R']) net.release(net.link(name))
  await net.flushAll()
  await within(Promise.all(locks), 5_000, 'the locks')
}

/** A writes `n` times, each its own batch of the room. */
const writes = async (net: Network, a: ServerState<any>, n: number) => {
  for (let i = 1; i <= n; i++) {
    a.set('a', ((a.get('a') as number | undefined) ?? 0) + 1)
    await net.deliver(net.link('A'), 'up')
  }
}

test('a waiting session gets N writes as one merged update right before its GRANT, in the same write; a reader gets each at once', async (t) => {
  const clock = manualClock()
  const net = new Network({ schedule: clock.schedule })
  t.after(() => net.close())
  const { a, h, w, r, held, wLock } = await setup(net, 'grant')
  await writes(net, a, 3)
  assert.equal(updateCount(net.link('R')), 3, 'the reader got each write at once')
  assert.equal(updateCount(net.link('W')), 0, 'the waiter was sent writes while it waited')
  assert.equal(clock.pending, 1, 'the bound is armed')

  net.release(net.link('H'), 'up')
  await net.deliver(net.link('H'), 'up') // H's COMMIT: DONE to H, GRANT to W
  const frames = downFrames(net.link('W'))
  assert.equal(frames.length, 2, 'W gets one update frame and its GRANT')
  const [update, grant] = frames as [(typeof frames)[0], (typeof frames)[0]]
  assert.equal(yssMessages([grant.frame])[0]?.type, YSS_GRANT)
  const doc = new Y.Doc()
  Y.applyUpdate(doc, updateOf(update.frame)!)
  assert.deepEqual(
    [doc.getMap('state').get('a'), doc.getMap('state').get('k')],
    [3, 'H'],
    "the merged update holds A's writes and H's commit"
  )
  assert.equal(update.write, grant.write, 'the update and the GRANT leave in one write')
  assert.equal(clock.pending, 0, 'nothing held, no timer')

  await finish(net, held, wLock)
  assert.equal(w.get('seen'), 3, 'W ran on every write before its grant')
  assert.deepEqual([r.get('a'), h.get('seen')], [3, 3])
})

test('the bound sends what a waiting session holds, merged, without a GRANT', async (t) => {
  const clock = manualClock()
  const net = new Network({ schedule: clock.schedule })
  t.after(() => net.close())
  const { a, held, wLock } = await setup(net, 'bound')
  await writes(net, a, 2)
  assert.equal(updateCount(net.link('W')), 0)
  clock.fire()
  const frames = downFrames(net.link('W'))
  assert.equal(frames.length, 1, 'one frame once the bound passed')
  assert.equal(yssMessages(frames.map((f) => f.frame)).length, 0, 'and no GRANT')
  const doc = new Y.Doc()
  Y.applyUpdate(doc, updateOf(frames[0]!.frame)!)
  assert.equal(doc.getMap('state').get('a'), 2)
  await finish(net, held, wLock)
})

test('a sync step 1 or an awareness frame to a waiting session comes after its held writes', async (t) => {
  const clock = manualClock()
  const net = new Network({ schedule: clock.schedule })
  t.after(() => net.close())
  const { a, held, wLock } = await setup(net, 'other-frames')
  const room = await net.room('other-frames')
  const wPeer = net.link('W').peer!
  await writes(net, a, 2)
  const step1 = encoding.createEncoder()
  encoding.writeVarUint(step1, MESSAGE_SYNC)
  syncProtocol.writeSyncStep1(step1, new Y.Doc())
  room.receive(wPeer, encoding.toUint8Array(step1))
  await net.idle()
  let frames = downFrames(net.link('W'))
  assert.equal(frames.length, 2, 'held writes, then the sync step 2')
  assert.equal(Y.decodeUpdate(updateOf(frames[0]!.frame)!).structs.length, 2, 'first the two held writes, merged')
  assert.equal(frames[0]!.write, frames[1]!.write, 'in one write')

  await writes(net, a, 1)
  const other = new awarenessProtocol.Awareness(new Y.Doc())
  other.setLocalState({ name: 'A' })
  const aw = encoding.createEncoder()
  encoding.writeVarUint(aw, MESSAGE_AWARENESS)
  encoding.writeVarUint8Array(aw, awarenessProtocol.encodeAwarenessUpdate(other, [other.clientID]))
  room.receive(net.link('A').peer!, encoding.toUint8Array(aw))
  await net.idle()
  frames = downFrames(net.link('W')).slice(2)
  assert.equal(frames.length, 2, 'the held write, then the awareness')
  assert.notEqual(updateOf(frames[0]!.frame), null)
  assert.equal(frames[1]!.frame[0], MESSAGE_AWARENESS)
  other.destroy()
  await finish(net, held, wLock)
})

test("a cancelled wait sends what was held; a closed waiter's held writes are dropped", async (t) => {
  const clock = manualClock()
  const net = new Network({ schedule: clock.schedule })
  t.after(() => net.close())
  const { a, held, wLock, wId } = await setup(net, 'cancel')
  const room = await net.room('cancel')
  await writes(net, a, 2)
  room.receive(net.link('W').peer!, encodeYss({ type: YSS_CANCEL, id: wId }))
  await net.idle()
  assert.equal(updateCount(net.link('W')), 1, 'the cancel sent the held writes')
  assert.equal(clock.pending, 0)
  await writes(net, a, 1)
  assert.equal(updateCount(net.link('W')), 2, 'no longer waiting: each write at once')

  // A second waiter that goes away: what it held is forgotten, and the timer with it.
  const x = await net.session('X', 'cancel')
  const xLock = x.lock('k', () => {}).catch(() => 'closed')
  await net.flushAll()
  net.hold(net.link('X'), 'down')
  await writes(net, a, 1)
  assert.equal(updateCount(net.link('X')), 0, 'X waits: held')
  assert.equal(clock.pending, 1)
  net.drop(net.link('X'))
  assert.equal(clock.pending, 0, 'the held writes of a closed waiter are dropped')
  x.close()
  await xLock
  await finish(net, held)
  void wLock.catch(() => {})
})

test('waiterHoldMs 0 sends every write to a waiting session at once', async (t) => {
  const clock = manualClock()
  const net = new Network({ schedule: clock.schedule, waiterHoldMs: 0 })
  t.after(() => net.close())
  const { a, held, wLock } = await setup(net, 'off')
  await writes(net, a, 3)
  assert.equal(updateCount(net.link('W')), 3)
  assert.equal(clock.pending, 0)
  await finish(net, held, wLock)
})

/** `sessions` sessions doing `m` locked increments each; returns the count and the update frames they were sent. */
const increments = async (options: { waiterHoldMs?: number }, sessions: number, m: number) => {
  const clock = manualClock()
  const net = new Network({ schedule: clock.schedule, ...options })
  try {
    const all = []
    for (let i = 0; i < sessions; i++) all.push(await net.session(`S${i}`, 'count'))
    const before = all.map((_, i) => net.link(`S${i}`).delivered.down.length)
    let done = 0
    const runs = all.map(async (s) => {
      for (let j = 0; j < m; j++)
        await s.lock('n', (st) => {
          st.n = ((st.n as number | undefined) ?? 0) + 1
        })
      done++
    })
    for (let round = 0; done < sessions && round < 1_000; round++) await net.flushAll()
    await within(Promise.all(runs), 5_000, 'every increment')
    await net.flushAll()
    const frames = all.reduce(
      (n, _, i) =>
        n +
        net
          .link(`S${i}`)
          .delivered.down.slice(before[i])
          .filter((f) => updateOf(f) !== null).length,
      0
    )
    return { counts: all.map((s) => s.get('n')), stored: (await net.storedDoc('count')).getMap('state').get('n'), frames }
  } finally {
    await net.close()
  }
}

test('8 sessions × 5 locked increments end exact with writes held for the waiters, in fewer update frames than without', async () => {
  const held = await increments({}, 8, 5)
  const off = await increments({ waiterHoldMs: 0 }, 8, 5)
  for (const run of [held, off]) {
    assert.equal(run.stored, 40)
    assert.deepEqual(run.counts, Array(8).fill(40))
  }
  assert.ok(held.frames < off.frames, `update frames: ${held.frames} with the hold, ${off.frames} without`)
})
