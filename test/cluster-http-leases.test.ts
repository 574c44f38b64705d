/**
 * The HTTP API on several relays (Redis + PostgreSQL): backend processes taking leases with plain
 * fetch through two relays, and socket sessions taking locks through the third, end at exactly the
 * sum; a lease's fence is the shared table's, and a write through one relay is read through another.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { clusterFixture } from './support/cluster-services.js'
import { fixtureWorker, race, worker, type Worker } from './support/lock-workers.js'
import { httpApi } from './support/http-api.js'

const fixture = clusterFixture()

test('cluster: a write through one relay is read through another; fences of a key grow across relays', async () => {
  const [a, b] = await Promise.all([fixture.relay(), fixture.relay()])
  const [apiA, apiB] = [httpApi(a!.httpUrl, 'shared'), httpApi(b!.httpUrl, 'shared')]
  assert.equal((await apiA('PUT', 'state/x', 1)).status, 200)
  assert.deepEqual((await apiB('GET', 'state/x')).body, { value: 1, version: 0 })
  const first = (await apiA('POST', 'leases', { keys: ['k'] })).body
  const waiting = apiB('POST', 'leases', { keys: ['k'], timeoutMs: 10_000 })
  assert.equal((await apiA('POST', `leases/${first.lease}/commit`, { set: { k: 1 } })).status, 200)
  const second = (await waiting).body
  assert.deepEqual(second.values.k, { value: 1, version: 0 }, 'the grant on B holds the commit made on A')
  assert.ok(second.fence > first.fence, `fences grow: ${first.fence} then ${second.fence}`)
  assert.equal((await apiB('DELETE', `leases/${second.lease}`)).status, 204)
})

test('cluster: HTTP leases through two relays and socket locks through a third end at exactly the sum', async () => {
  const N = 2
  const M = 25
  const relays = await Promise.all([0, 1, 2].map(() => fixture.relay()))
  const workers: Worker[] = []
  try {
    const http = `${relays[0]!.httpUrl},${relays[1]!.httpUrl}`
    for (let i = 0; i < N; i++) workers.push(fixtureWorker('test/fixtures/http-lease-worker.ts', [http, 'mixed', String(M)]))
    for (let i = 0; i < N; i++) workers.push(worker(relays[2]!.url, 'mixed', 'inc', M))
    const results = await race(workers)
    assert.deepEqual(
      results.map((r) => r.done),
      Array(2 * N).fill(M)
    )
    assert.deepEqual((await httpApi(relays[1]!.httpUrl, 'mixed')('GET', 'state/count')).body, { value: 2 * N * M, version: 0 })
  } finally {
    for (const w of workers) w.proc.kill('SIGKILL')
  }
})
