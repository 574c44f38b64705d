/**
 * Server mutations across separate Node processes (docs/mutations.md): socket sessions calling
 * `server.call('increment')`, backends calling it over HTTP, and sessions taking plain locks on
 * the same key, all on one relay, end at exactly the sum.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Mutations } from '../relay/mutations/mutation.js'
import { session, testRelay } from './support/helpers.js'
import { fixtureWorker, race, worker, type Worker } from './support/lock-workers.js'

const mutations: Mutations = {
  increment: {
    keys: ['count'],
    run(state) {
      state.count = ((state.count as number | undefined) ?? 0) + 1
      return state.count
    }
  }
}

const M = 40

test(`2 processes calling over the socket, 2 over HTTP and 2 taking locks, ${M} increments each, end at exactly ${6 * M}`, async () => {
  const relay = await testRelay({ mutations })
  const workers: Worker[] = []
  try {
    const mutationWorker = (url: string, mode: string) => fixtureWorker('test/fixtures/mutation-worker.ts', [url, 'exact', mode, String(M)])
    workers.push(mutationWorker(relay.url, 'socket'), mutationWorker(relay.url, 'socket'))
    workers.push(mutationWorker(relay.httpUrl, 'http'), mutationWorker(relay.httpUrl, 'http'))
    workers.push(worker(relay.url, 'exact', 'inc', M), worker(relay.url, 'exact', 'inc', M))
    const results = await race(workers)
    assert.deepEqual(
      results.map((r) => [r.done, r.failed]),
      Array(6).fill([M, 0])
    )
    const check = await session(relay.url, 'exact')
    assert.equal(check.get('count'), 6 * M)
    check.close()
  } finally {
    for (const w of workers) w.proc.kill('SIGKILL')
    await relay.close()
  }
})
