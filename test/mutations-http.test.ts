/**
 * Server mutations over HTTP (docs/http-api.md, "Server mutations"): `POST
 * /rooms/<room>/mutations/<name>` answers `{ result }` once stored, each refusal its status and
 * code with nothing applied; raw writes of a mutation-only key answer 403 `mutation_only`.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { signToken } from '../relay/access/tokens.js'
import type { Mutations } from '../relay/mutations/mutation.js'
import { session, testRelay } from './support/helpers.js'
import { httpApi } from './support/http-api.js'

const SECRET = 'a-secret-of-at-least-32-bytes-for-hs256!'

const mutations: Mutations = {
  deposit: {
    keys: (args: { to: string }) => [`balance:${args.to}`],
    validate: (args) => {
      const a = args as { to?: unknown; amount?: unknown }
      if (typeof a?.to !== 'string' || typeof a.amount !== 'number') throw new Error('deposit needs { to, amount }')
      return a as { to: string; amount: number }
    },
    run(state, { to, amount }: { to: string; amount: number }, who) {
      const key = `balance:${to}`
      state[key] = ((state[key] as number | undefined) ?? 0) + amount
      if ((state[key] as number) > 1_000) throw new Error('over the cap')
      return { balance: state[key], by: who.user ?? null, via: who.via }
    }
  }
}

test('POST /mutations/<name>: the result once stored, visible to a session; refusals apply nothing', async () => {
  const relay = await testRelay({ mutations, mutationOnlyKeys: ['balance:*'] })
  const api = httpApi(relay.httpUrl, 'bank/1')
  const s = await session(relay.url, 'bank/1')
  try {
    const ok = await api('POST', 'mutations/deposit', { to: 'ann', amount: 5 })
    assert.deepEqual([ok.status, ok.body], [200, { result: { balance: 5, by: null, via: 'http' } }])
    await s.flush()
    assert.equal(s.get('balance:ann'), 5)
    const refused = async (path: string, body: unknown) => {
      const r = await api('POST', path, body)
      return [r.status, r.body.error]
    }
    assert.deepEqual(await refused('mutations/nope', {}), [404, 'not_found'])
    assert.deepEqual(await refused('mutations/deposit', { to: 'ann' }), [422, 'invalid_args'])
    assert.deepEqual(await refused('mutations/deposit', { to: 'ann', amount: 5_000 }), [422, 'mutation_failed'])
    assert.deepEqual([(await api('GET', 'mutations/deposit')).status], [405])
    assert.deepEqual(await refused('mutations/deposit', undefined), [422, 'invalid_args'])
    // Raw writes of the key: 403, over every route that writes.
    assert.deepEqual([(await api('PUT', 'state/balance%3Aann', 1)).body.error], ['mutation_only'])
    assert.deepEqual([(await api('PATCH', 'state', { set: { 'balance:ann': 1 } })).status], [403])
    assert.deepEqual([(await api('DELETE', 'state/balance%3Aann')).status], [403])
    assert.deepEqual([(await api('PUT', 'state/free', 1)).status], [200])
    const state = await api('GET', 'state/balance%3Aann')
    assert.equal(state.body.value, 5)
  } finally {
    s.close()
    await relay.close()
  }
})

test('POST /mutations/<name> with a read-only token is 403; the caller is the token’s sub', async () => {
  const relay = await testRelay({ mutations, authSecret: SECRET })
  const api = httpApi(relay.httpUrl, 'bank/1')
  try {
    const read = await signToken({ secret: SECRET, rooms: ['bank/*'], access: 'read', sub: 'bob' })
    const write = await signToken({ secret: SECRET, rooms: ['bank/*'], sub: 'ann' })
    const denied = await api('POST', 'mutations/deposit', { to: 'ann', amount: 1 }, { token: read })
    assert.deepEqual([denied.status, denied.body.error], [403, 'forbidden'])
    const ok = await api('POST', 'mutations/deposit', { to: 'ann', amount: 1 }, { token: write })
    assert.deepEqual(ok.body, { result: { balance: 1, by: 'ann', via: 'http' } })
  } finally {
    await relay.close()
  }
})

test('a relay without mutations answers 404', async () => {
  const relay = await testRelay()
  try {
    const r = await httpApi(relay.httpUrl, 'x')('POST', 'mutations/deposit', {})
    assert.deepEqual([r.status, r.body.error], [404, 'not_found'])
  } finally {
    await relay.close()
  }
})
