/**
 * Server mutations from our client (docs/mutations.md): `server.call` resolves with the result
 * once the writes are stored and already in the caller's doc; refusals reject with a
 * MutationError and apply nothing; a write of a mutation-only key throws MutationOnlyError at
 * once and sends nothing.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import WebSocket from 'ws'
import { connect, MutationError, MutationOnlyError } from '../client/index.js'
import type { Mutations } from '../relay/mutations/mutation.js'
import { session, testRelay, untilStatus, within } from './support/helpers.js'

const mutations: Mutations = {
  increment: {
    keys: ['count'],
    run(state, args: { by?: number } | null) {
      state.count = ((state.count as number | undefined) ?? 0) + (args?.by ?? 1)
      return state.count
    }
  },
  transfer: {
    keys: (args: { from: string; to: string; amount: number }) => [`balance:${args.from}`, `balance:${args.to}`],
    validate: (args) => {
      const a = args as { from?: unknown; to?: unknown; amount?: unknown }
      if (typeof a?.from !== 'string' || typeof a.to !== 'string' || typeof a.amount !== 'number' || !(a.amount > 0))
        throw new Error('transfer needs { from, to, amount > 0 }')
      return a as { from: string; to: string; amount: number }
    },
    run(state, { from, to, amount }, who) {
      const have = (state[`balance:${from}`] as number | undefined) ?? 0
      state[`balance:${to}`] = ((state[`balance:${to}`] as number | undefined) ?? 0) + amount
      if (have < amount) throw new Error(`insufficient funds: ${have}`)
      state[`balance:${from}`] = have - amount
      return { by: who.user ?? null, via: who.via }
    }
  },
  mint: {
    keys: (args: { to: string }) => [`balance:${args.to}`],
    run(state, { to }: { to: string }) {
      state[`balance:${to}`] = 100
    }
  },
  sneaky: { keys: ['count'], run: (state) => state.other },
  later: { keys: ['count'], run: async () => 1 }
}

test('call resolves with the result once stored, with the writes already in the caller’s doc', async () => {
  const relay = await testRelay({ mutations, mutationOnlyKeys: ['balance:*'] })
  const a = await session(relay.url, 'm')
  const b = await session(relay.url, 'm')
  try {
    assert.equal(await a.call('increment'), 1)
    assert.equal(a.get('count'), 1, 'the caller reads it as the call resolves')
    assert.equal(await b.call('increment', { by: 5 }), 6)
    assert.equal(b.get('count'), 6)
    await a.call('mint', { to: 'ann' })
    assert.equal(a.get('balance:ann'), 100)
    assert.deepEqual(await a.call('transfer', { from: 'ann', to: 'bob', amount: 30 }), { by: null, via: 'socket' })
    assert.equal(a.get('balance:ann'), 70)
    assert.equal(a.get('balance:bob'), 30)
  } finally {
    a.close()
    b.close()
    await relay.close()
  }
})

test('refusals reject with MutationError and apply nothing', async () => {
  const relay = await testRelay({ mutations, mutationOnlyKeys: ['balance:*'] })
  const s = await session(relay.url, 'm')
  try {
    await s.call('mint', { to: 'ann' })
    const code = async (p: Promise<unknown>): Promise<string> => {
      const err = await p.then(
        () => assert.fail('it resolved'),
        (e: unknown) => e
      )
      assert.ok(err instanceof MutationError, String(err))
      return `${err.code}: ${err.message}`
    }
    assert.match(await code(s.call('nope')), /^no_such_mutation/)
    assert.match(await code(s.call('transfer', { from: 'ann' })), /^invalid_args: .*transfer needs/)
    // It wrote bob's balance before it threw: nothing of it may land.
    assert.match(await code(s.call('transfer', { from: 'ann', to: 'bob', amount: 500 })), /^mutation_failed: .*insufficient funds: 100/)
    assert.match(await code(s.call('sneaky')), /^mutation_failed: .*"other".*not among its keys/)
    assert.match(await code(s.call('later')), /^mutation_failed: .*promise/)
    await s.flush()
    assert.equal(s.get('balance:ann'), 100)
    assert.equal(s.get('balance:bob'), undefined)
    assert.equal(await s.call('increment'), 1, 'the leases were released')
  } finally {
    s.close()
    await relay.close()
  }
})

test('a write of a mutation-only key throws MutationOnlyError at once and sends nothing', async () => {
  const relay = await testRelay({ mutations, mutationOnlyKeys: ['balance:*'] })
  const s = await session(relay.url, 'm')
  const other = await session(relay.url, 'm')
  try {
    await s.call('mint', { to: 'ann' })
    for (const write of [
      () => s.set('balance:ann', 1),
      () => s.delete('balance:ann'),
      () => {
        s.state['balance:ann'] = 2
      },
      () => s.forceRerunBoundSessions('balance:ann'),
      () => s.append('balance:log', 1)
    ]) {
      assert.throws(write, (e: unknown) => e instanceof MutationOnlyError && /balance:/.test(e.message))
    }
    await assert.rejects(
      s.lock('balance:ann', (st) => {
        st['balance:ann'] = 0
      }),
      MutationOnlyError
    )
    // Reading under a lock is fine.
    assert.equal(await s.lock('balance:ann', (st) => st['balance:ann']), 100)
    s.set('free', 1)
    await s.flush()
    // The socket is still open (the relay would have closed it with 4423), and nothing changed.
    assert.equal(s.status, 'connected')
    assert.equal(s.get('balance:ann'), 100)
    assert.equal(other.get('balance:ann'), 100)
  } finally {
    s.close()
    other.close()
    await relay.close()
  }
})

test('offline, call rejects at once with unavailable', async () => {
  const relay = await testRelay({ mutations })
  const s = await session(relay.url, 'm', { maxBackoffMs: 60_000 })
  try {
    await relay.close()
    await untilStatus(s, 'disconnected')
    const err = await within(
      s.call('increment').catch((e: unknown) => e),
      1_000,
      'the call to reject'
    )
    assert.ok(err instanceof MutationError && err.code === 'unavailable', String(err))
  } finally {
    s.close()
  }
})

test('a write made before the relay said its mutation-only keys is rolled back, and flush() rejects with MutationOnlyError', async () => {
  const relay = await testRelay({ mutations, mutationOnlyKeys: ['balance:*'] })
  const s = connect({ url: relay.url, room: 'm', WebSocketPolyfill: WebSocket, broadcastChannel: false })
  try {
    s.set('free', 1)
    s.set('balance:ann', 1_000)
    assert.equal(s.get('balance:ann'), 1_000, 'held: its own reads see it until the relay answers')
    await assert.rejects(s.flush(), MutationOnlyError)
    assert.equal(s.get('balance:ann'), undefined)
    await s.flush()
    assert.equal(s.get('free'), 1, 'the other held write went through')
  } finally {
    s.close()
    await relay.close()
  }
})
