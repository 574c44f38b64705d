/**
 * The rooms' pipelines are independent: a room waits for its own store writes only. With a
 * thousand busy rooms, a write in a quiet room must not queue behind the others' writes (issue
 * 11); store before echo still holds in the room whose write is slow. Deterministic, on the
 * in-process harness, with a store whose writes for one room wait until the test lets them go.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Network } from './harness/index.js'
import { updateOf } from './support/helpers.js'
import { HeldStore } from './support/store-helpers.js'

const updates = (frames: Uint8Array[]): number => frames.filter((f) => updateOf(f) !== null).length

test("a write in a quiet room is stored and echoed while another room's store write waits; the waiting room echoes nothing until stored", async (t) => {
  const store = new HeldStore()
  const net = new Network({ store })
  // A failed assertion must not leave a write waiting: closing waits for every room.
  t.after(() => {
    store.releaseAll()
    return net.close()
  })
  const writer = await net.session('A', 'busy')
  const busyReader = await net.session('D', 'busy')
  const quietWriter = await net.session('B', 'quiet')
  const quietReader = await net.session('C', 'quiet')

  store.hold('busy')
  writer.set('x', 1)
  // Not awaited: a delivery ends once every room is idle, and 'busy' is not until released.
  const busyDelivered = net.deliver(net.link('A'), 'up')
  await net.settle()
  assert.equal(store.waiting('busy'), 1, "the busy room's write is with the store")

  quietWriter.set('y', 2)
  const quietDelivered = net.deliver(net.link('B'), 'up')
  await net.settle()
  assert.equal(
    updates(net.link('C').queued('down')),
    1,
    "the quiet room's reader was sent the write while the busy room's store write waited"
  )
  assert.equal(updates(net.link('B').queued('down')), 1, "the quiet room's writer got its echo")
  assert.equal((await net.storedDoc('quiet')).getMap('state').get('y'), 2, 'stored before it was echoed')
  await net.deliver(net.link('C'), 'down')
  assert.equal(quietReader.get('y'), 2)

  assert.equal(updates(net.link('A').queued('down')), 0, 'the busy room echoed a write before it was stored')
  assert.equal(updates(net.link('D').queued('down')), 0, 'the busy room broadcast a write before it was stored')
  assert.equal(busyReader.get('x'), undefined)

  store.release('busy')
  await busyDelivered
  await quietDelivered
  await net.flushAll()
  assert.equal(busyReader.get('x'), 1)
  assert.equal((await net.storedDoc('busy')).getMap('state').get('x'), 1)
})

test('frames a room receives while its store write waits are stored after it, as one write, and echoed in order', async (t) => {
  const store = new HeldStore()
  const net = new Network({ store })
  t.after(() => {
    store.releaseAll()
    return net.close()
  })
  const writer = await net.session('A', 'backlog')
  const reader = await net.session('B', 'backlog')
  net.hold(net.link('B'), 'down')

  store.hold('backlog')
  writer.set('k', 1)
  const first = net.deliver(net.link('A'), 'up')
  await net.settle()
  for (let i = 2; i <= 5; i++) writer.set('k', i)
  const rest = net.deliver(net.link('A'), 'up')
  await net.settle()
  assert.equal(store.waiting('backlog'), 1, 'one write at a time per room: the backlog waits for the first')
  assert.equal(updates(net.link('B').queued('down')), 0)

  store.release('backlog')
  await first
  await rest
  // The first write, then the four that came while it was stored, merged into one broadcast.
  assert.equal(updates(net.link('B').queued('down')), 2)
  net.release(net.link('B'))
  await net.flushAll()
  assert.equal(reader.get('k'), 5)
  assert.equal((await store.load('backlog')).updates.length, 2, 'the backlog was one store write')
})
