/**
 * Locks across separate Node processes (SEMANTICS.md §2.2): exact counts, conserved sums, and a
 * holder killed with SIGKILL in the middle of its lease.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { testRelay, session, eventually } from './support/helpers.js'
import { race, worker, type Worker } from './support/lock-workers.js'

const locksOpen = async (httpUrl: string): Promise<number> => {
  const text = await (await fetch(`${httpUrl}metrics`)).text()
  return Number(/^yss_locks_open (\d+)$/m.exec(text)?.[1])
}

// Enough processes and operations to interleave on every hand-over; the large runs (8 × 250 and
// more) are in bench/ (\`npm run bench -- locks\`).
const N = 4
const M = 60

test(`${N} processes doing ${M} locked increments each end at exactly ${N * M}`, async () => {
  const relay = await testRelay()
  const workers: Worker[] = []
  try {
    for (let i = 0; i < N; i++) workers.push(worker(relay.url, 'exact', 'inc', M))
    const results = await race(workers)
    assert.deepEqual(
      results.map((r) => r.done),
      Array(N).fill(M)
    )
    const check = await session(relay.url, 'exact')
    assert.equal(check.get('count'), N * M)
    check.close()
  } finally {
    for (const w of workers) w.proc.kill('SIGKILL')
    await relay.close()
  }
})

test(`${N} processes moving value between two keys under one lock conserve the sum`, async () => {
  const relay = await testRelay()
  const workers: Worker[] = []
  try {
    const setup = await session(relay.url, 'transfer')
    setup.set('a', 1_000)
    setup.set('b', 0)
    await setup.flush()
    for (let i = 0; i < N; i++) workers.push(worker(relay.url, 'transfer', 'move', 100))
    const results = await race(workers)
    const net = results.reduce((sum, r) => sum + r.net, 0)
    await eventually(() => setup.get('a') + setup.get('b') === 1_000 && setup.get('b') === net, 'the final values', 10_000)
    assert.equal(setup.get('a'), 1_000 - net)
    setup.close()
  } finally {
    for (const w of workers) w.proc.kill('SIGKILL')
    await relay.close()
  }
})

test('a holder killed with SIGKILL mid-lease: the others proceed, and its increment is not applied', async () => {
  const relay = await testRelay()
  const workers: Worker[] = []
  try {
    const holder = worker(relay.url, 'killed', 'hold', 1)
    workers.push(holder)
    await holder.line((l) => l === 'ready', 'the holder to sync')
    holder.go()
    await holder.line((l) => l === 'holding', 'the holder to hold the lease')
    const others = [worker(relay.url, 'killed', 'inc', 50), worker(relay.url, 'killed', 'inc', 50)]
    workers.push(...others)
    await Promise.all(others.map((w) => w.line((l) => l === 'ready', 'a waiter to sync')))
    for (const w of others) w.go()
    const check = await session(relay.url, 'killed')
    // Kill it only once both others queue behind it, so that they really wait for its lease.
    await eventually(async () => (await locksOpen(relay.httpUrl)) === 3, 'the others to queue behind the holder', 10_000)
    holder.proc.kill('SIGKILL')
    const results = await Promise.all(others.map((w) => w.line((l) => l.startsWith('{'), 'a waiter to finish', 60_000)))
    assert.deepEqual(
      results.map((r) => JSON.parse(r).done),
      [50, 50]
    )
    await eventually(() => check.get('count') === 100, 'the exact count', 10_000)
    check.close()
  } finally {
    for (const w of workers) w.proc.kill('SIGKILL')
    await relay.close()
  }
})
