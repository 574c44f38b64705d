/**
 * The HTTP API's keys and leases (docs/http-api.md) on a real relay over real HTTP: every route,
 * every error status they answer, credentials (a JWT, a read-only one), and the metrics by route.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MemoryStore } from '../relay/store/memory-store.js'
import type { LoadedRoom, StorePosition } from '../relay/store/room-store.js'
import { UnavailableError } from '../relay/store/unavailable.js'
import { signToken } from '../relay/access/tokens.js'
import { counter, eventually, session, testRelay, untilKey, within } from './support/helpers.js'
import { httpApi } from './support/http-api.js'
import { fixtureWorker, race, worker, type Worker } from './support/lock-workers.js'

const SECRET = 'a-test-secret-of-at-least-32-bytes!!'

const locksOpen = async (httpUrl: string): Promise<number> =>
  Number(/^yss_locks_open (\d+)$/m.exec(await (await fetch(`${httpUrl}metrics`)).text())?.[1])

test('keys: PUT, GET one and all, 404 with the version, DELETE, force, PATCH in one transaction', async () => {
  const relay = await testRelay()
  try {
    const api = httpApi(relay.httpUrl, 'org/doc-1')
    assert.deepEqual(await api('PUT', 'state/count', 5).then((a) => [a.status, a.body]), [200, { version: 0 }])
    assert.deepEqual((await api('GET', 'state/count')).body, { value: 5, version: 0 })
    const missing = await api('GET', 'state/nope')
    assert.deepEqual([missing.status, missing.body.error, missing.body.version], [404, 'not_found', 0])
    assert.deepEqual((await api('PUT', `state/${encodeURIComponent('a/b c')}`, { deep: [null, true, 'é'] })).body, { version: 0 })
    assert.deepEqual((await api('GET', 'state')).body, {
      keys: { 'a/b c': { value: { deep: [null, true, 'é'] }, version: 0 }, count: { value: 5, version: 0 } }
    })
    assert.deepEqual((await api('POST', 'state/count/force')).body, { version: 1 })
    assert.deepEqual((await api('DELETE', 'state/count')).body, { version: 1 })
    assert.equal((await api('GET', 'state/count')).status, 404)
    const patch = await api('PATCH', 'state', { set: { x: 1, y: [2] }, delete: ['a/b c'], force: ['x'] })
    assert.deepEqual([patch.status, patch.body], [200, { versions: { x: 1, y: 0, 'a/b c': 0 } }])
    assert.deepEqual(Object.keys((await api('GET', 'state')).body.keys), ['x', 'y'])
    // The socket sessions see it all: a room served over HTTP is the same room.
    const s = await session(relay.url, 'org/doc-1')
    assert.deepEqual([s.get('x'), s.get('y'), s.version('x')], [1, [2], 1])
    s.close()
  } finally {
    await relay.close()
  }
})

test('?quiet=1 re-runs no other session, the value still arrives; a deep-equal PUT stores nothing', async () => {
  const relay = await testRelay()
  const reader = await session(relay.url, 'quiet')
  try {
    const api = httpApi(relay.httpUrl, 'quiet')
    const bound = counter(reader, () => reader.get('q'))
    assert.equal((await api('PUT', 'state/q?quiet=1', 'hush')).status, 200)
    await api('PUT', 'state/after', 1)
    await untilKey(reader.doc.getMap('state'), 'after', 1)
    assert.equal(reader.get('q'), 'hush')
    assert.equal(bound.count, 0, 'the quiet write re-ran a session')
    const writes = relay.metrics.get('store_writes_total')
    assert.deepEqual((await api('PUT', 'state/q', 'hush')).body, { version: 0 })
    assert.equal(relay.metrics.get('store_writes_total'), writes, 'a deep-equal write stored something')
    assert.equal((await api('POST', 'state/q/force?quiet=1')).status, 400, 'a quiet force is refused')
    await api('PUT', 'state/q', 'loud')
    await eventually(() => bound.count === 1, 'the loud write re-runs the reader')
  } finally {
    reader.close()
    await relay.close()
  }
})

test('leases: grant with values and fence, commit once, release, FIFO with a session, of another room 404', async () => {
  const relay = await testRelay()
  const s = await session(relay.url, 'leases')
  try {
    const api = httpApi(relay.httpUrl, 'leases')
    await api('PUT', 'state/count', 1)
    const granted = await api('POST', 'leases', { keys: ['count', 'other'], timeoutMs: 5_000 })
    assert.equal(granted.status, 200)
    const { lease, fence, keys, values, expiresAt, leaseMs } = granted.body
    assert.equal(typeof lease, 'string')
    assert.ok(lease.length >= 22, 'a lease id carries 128 random bits')
    assert.deepEqual([keys, values, leaseMs], [['count', 'other'], { count: { value: 1, version: 0 }, other: { version: 0 } }, 10_000])
    assert.ok(Number.isSafeInteger(fence) && fence > 0)
    assert.ok(expiresAt > Date.now() && expiresAt <= Date.now() + 10_000)
    // A session's lock waits behind the lease.
    const locked = s.lock('count', (st) => {
      st.count += 10
    })
    await eventually(async () => (await locksOpen(relay.httpUrl)) === 2, "the session's request queued")
    assert.equal((await httpApi(relay.httpUrl, 'elsewhere')('POST', `leases/${lease}/commit`, { set: { count: 0 } })).status, 404)
    const notMine = await api('POST', `leases/${lease}/commit`, { set: { third: 1 } })
    assert.deepEqual([notMine.status, notMine.body.error], [400, 'bad_request'])
    const committed = await api('POST', `leases/${lease}/commit`, { set: { count: 2 }, force: ['other'] })
    assert.deepEqual([committed.status, committed.body], [200, { versions: { count: 0, other: 1 } }])
    await within(locked, 5_000, "the session's lock")
    assert.equal(s.get('count'), 12)
    const again = await api('POST', `leases/${lease}/commit`, { set: { count: 3 } })
    assert.deepEqual([again.status, again.body.error], [409, 'lease_ended'])
    assert.deepEqual((await api('DELETE', `leases/${lease}`)).status, 409)
    const next = await api('POST', 'leases', { keys: ['count'] })
    assert.ok(next.body.fence > fence, 'fences grow')
    assert.equal((await api('DELETE', `leases/${next.body.lease}`)).status, 204)
    assert.equal((await api('DELETE', 'leases/no-such-lease')).status, 404)
    assert.equal(s.get('count'), 12, 'a released lease applied nothing')
  } finally {
    s.close()
    await relay.close()
  }
})

test('a commit after the lease expired: 409 lease_ended, nothing applied, and a session locked the key meanwhile', async () => {
  const relay = await testRelay({ leaseMs: 300 })
  const s = await session(relay.url, 'expire')
  try {
    const api = httpApi(relay.httpUrl, 'expire')
    await api('PUT', 'state/count', 1)
    const { lease } = (await api('POST', 'leases', { keys: ['count'] })).body
    await within(
      s.lock('count', (st) => {
        st.count += 100
      }),
      5_000,
      "the session's lock after the expiry"
    )
    const late = await api('POST', `leases/${lease}/commit`, { set: { count: 2 } })
    assert.deepEqual([late.status, late.body.error], [409, 'lease_ended'])
    assert.deepEqual((await api('GET', 'state/count')).body, { value: 101, version: 0 })
  } finally {
    s.close()
    await relay.close()
  }
})

test('a lease request: 409 lock_timeout when not granted in time; withdrawn when its client goes away', async () => {
  const relay = await testRelay()
  try {
    const api = httpApi(relay.httpUrl, 'poll')
    const held = (await api('POST', 'leases', { keys: ['k'] })).body.lease
    const timedOut = await api('POST', 'leases', { keys: ['k'], timeoutMs: 100 })
    assert.deepEqual([timedOut.status, timedOut.body.error], [409, 'lock_timeout'])
    const abort = new AbortController()
    const gone = api('POST', 'leases', { keys: ['k'], timeoutMs: 60_000 }, { signal: abort.signal }).catch(() => 'aborted')
    await eventually(async () => (await locksOpen(relay.httpUrl)) === 2, 'the long poll queued')
    abort.abort()
    assert.equal(await gone, 'aborted')
    await eventually(async () => (await locksOpen(relay.httpUrl)) === 1, 'the request withdrawn')
    assert.equal((await api('DELETE', `leases/${held}`)).status, 204)
    const next = await api('POST', 'leases', { keys: ['k'], timeoutMs: 0 })
    assert.equal(next.status, 200, 'granted at once: nobody waits before it')
  } finally {
    await relay.close()
  }
})

test('bad requests: 400, 404, 405, 413, 415, and 429 past maxHttpRequests', async () => {
  const relay = await testRelay({ maxHttpBodyBytes: 1_000, maxHttpRequests: 2 })
  try {
    const api = httpApi(relay.httpUrl, 'bad')
    const expect = async (call: Promise<{ status: number; body: { error: string } }>, status: number, error: string) => {
      const a = await call
      assert.deepEqual([a.status, a.body?.error], [status, error], JSON.stringify(a.body))
    }
    await expect(api('PUT', 'state/x', undefined, { raw: '{"a":' }), 400, 'bad_request')
    await expect(api('PUT', 'state/x'), 400, 'bad_request')
    await expect(api('PUT', 'state/x', { ['__proto__']: 1 }, { raw: '{"__proto__": 1}' }), 400, 'bad_request')
    await expect(api('PATCH', 'state', { set: { a: 1 }, nope: [] }), 400, 'bad_request')
    await expect(api('PATCH', 'state', { set: { a: 1 }, delete: ['a'] }), 400, 'bad_request')
    await expect(api('PUT', 'state/x?quiet=maybe', 1), 400, 'bad_request')
    await expect(api('POST', 'leases', { keys: [] }), 400, 'bad_request')
    await expect(api('POST', 'leases', { keys: ['a'], timeoutMs: 600_000 }), 400, 'bad_request')
    await expect(httpApi(relay.httpUrl, 'nul\u0000')('GET', 'state'), 400, 'bad_request')
    await expect(api('GET', 'nothing-here'), 404, 'not_found')
    await expect(api('GET', 'state/x/y'), 404, 'not_found')
    const wrong = await api('POST', 'state/x')
    assert.deepEqual([wrong.status, wrong.headers.get('allow')], [405, 'GET, PUT, DELETE'])
    await expect(api('PUT', 'state/x', 'y'.repeat(2_000)), 413, 'too_large')
    assert.equal(relay.metrics.hits('maxHttpBodyBytes'), 1, 'a body over the limit is a hit of maxHttpBodyBytes in /metrics')
    await expect(api('PUT', 'state/x', undefined, { raw: '1', headers: { 'content-type': 'text/plain' } }), 415, 'unsupported_media_type')
    // Two long polls hold both request slots: a third request is refused at once.
    assert.equal((await api('POST', 'leases', { keys: ['k'] })).status, 200)
    const polls = [1, 2].map(() => api('POST', 'leases', { keys: ['k'], timeoutMs: 2_000 }))
    await eventually(async () => (await locksOpen(relay.httpUrl)) === 3, 'both long polls queued')
    const over = await api('GET', 'state')
    assert.deepEqual([over.status, over.body.error, over.headers.get('retry-after')], [429, 'over_limit', '1'])
    await Promise.all(polls)
    assert.equal(relay.metrics.hits('maxHttpRequests'), 1)
    const metrics = await (await fetch(`${relay.httpUrl}metrics`)).text()
    assert.match(metrics, /yss_http_requests_total\{route="PUT \/state\/:key",status="413"\} 1/)
    assert.match(metrics, /yss_http_requests_total\{route="POST \/leases",status="409"\} 2/)
  } finally {
    await relay.close()
  }
})

test('credentials: 401 without a token, 403 for another room, a read-only token reads but may not write', async () => {
  const relay = await testRelay({ authSecret: SECRET })
  try {
    const api = httpApi(relay.httpUrl, 'team/a')
    const write = await signToken({ secret: SECRET, rooms: ['team/*'], sub: 'ann' })
    const read = await signToken({ secret: SECRET, rooms: ['team/*'], access: 'read', sub: 'bob' })
    const other = await signToken({ secret: SECRET, rooms: ['other/*'], sub: 'eve' })
    const none = await api('GET', 'state')
    assert.deepEqual([none.status, none.body.error, none.headers.get('www-authenticate')], [401, 'unauthorized', 'Bearer'])
    assert.equal((await api('GET', 'state', undefined, { token: 'not.a.jwt' })).status, 401)
    assert.deepEqual((await api('GET', 'state', undefined, { token: other })).body.error, 'forbidden')
    assert.equal((await api('PUT', 'state/x', 1, { token: write })).status, 200)
    assert.deepEqual((await api('GET', 'state/x', undefined, { token: read })).body, { value: 1, version: 0 })
    for (const [method, path, body] of [
      ['PUT', 'state/x', 2],
      ['DELETE', 'state/x', undefined],
      ['POST', 'state/x/force', undefined],
      ['PATCH', 'state', { set: { x: 3 } }],
      ['POST', 'leases', { keys: ['x'] }]
    ] as const) {
      const refused = await api(method, path, body, { token: read })
      assert.deepEqual([refused.status, refused.body.error], [403, 'forbidden'], `${method} ${path}`)
    }
    const viaQuery = await fetch(`${relay.httpUrl}rooms/team%2Fa/state/x?token=${read}`)
    assert.equal(viaQuery.status, 200)
    assert.deepEqual((await api('GET', 'state/x', undefined, { token: write })).body, { value: 1, version: 0 })
  } finally {
    await relay.close()
  }
})

/** A store that, once `down`, fails as an unreachable shared store does. */
class FlakyStore extends MemoryStore {
  down = false
  override async load(room: string): Promise<LoadedRoom> {
    if (this.down) throw new UnavailableError('the store is down')
    return super.load(room)
  }
  override async append(room: string, update: Uint8Array): Promise<StorePosition> {
    if (this.down) throw new UnavailableError('the store is down')
    return super.append(room, update)
  }
}

test('503 with Retry-After while the store is unreachable, and served again once it is back', async () => {
  const store = new FlakyStore()
  const relay = await testRelay({ store })
  try {
    const api = httpApi(relay.httpUrl, 'flaky')
    await api('PUT', 'state/x', 1)
    store.down = true
    const failed = await api('PUT', 'state/x', 2)
    assert.deepEqual([failed.status, failed.body.error, failed.headers.get('retry-after')], [503, 'unavailable', '1'])
    const reload = await api('GET', 'state/x')
    assert.deepEqual([reload.status, reload.body.error], [503, 'unavailable'])
    store.down = false
    assert.deepEqual((await api('GET', 'state/x')).body, { value: 1, version: 0 })
    assert.equal((await api('PUT', 'state/x', 3)).status, 200)
  } finally {
    await relay.close()
  }
})

test('backend processes (HTTP leases) and socket sessions (locks) doing locked increments end at exactly the sum', async () => {
  const N = 3
  const M = 40
  const relay = await testRelay()
  const workers: Worker[] = []
  try {
    for (let i = 0; i < N; i++) workers.push(fixtureWorker('test/fixtures/http-lease-worker.ts', [relay.httpUrl, 'mixed', String(M)]))
    for (let i = 0; i < N; i++) workers.push(worker(relay.url, 'mixed', 'inc', M))
    const results = await race(workers)
    assert.deepEqual(
      results.map((r) => r.done),
      Array(2 * N).fill(M)
    )
    assert.deepEqual((await httpApi(relay.httpUrl, 'mixed')('GET', 'state/count')).body, { value: 2 * N * M, version: 0 })
  } finally {
    for (const w of workers) w.proc.kill('SIGKILL')
    await relay.close()
  }
})
