/**
 * Access control as our client sees it, over real sockets: tokens of each kind, the session's
 * access and user, read-only sessions refusing writes at once, a DENIED lock, and token functions
 * called at each (re)connection, refreshing an expired token without a new session.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import WebSocket from 'ws'
import { SignJWT } from 'jose'
import {
  testRelay,
  session,
  within,
  untilKey,
  untilStatus,
  untilClosed,
  holdingProxy,
  relayStateAfter,
  webSocketWith
} from './support/helpers.js'
import { connect, ReadOnlyError, SessionClosedError, LockTimeoutError, type ServerState, type ConnectOptions } from '../client/index.js'
import { AuthError, signToken, type Relay, type RelayOptions } from '../relay/index.js'
import { tokenOf } from '../relay/access/tokens.js'
import { MESSAGE_YSS, YSS_ACCESS } from '../protocol/messages.js'

const SECRET = 'a client-test secret, 32 bytes or more'

const authRelay = (options: RelayOptions = {}): Promise<Relay> => testRelay({ authSecret: SECRET, refusalDelayMs: 20, ...options })

/** A session that may never sync: closed by the caller. */
const open = (url: string, room: string, options: ConnectOptions = {}): ServerState<any> =>
  connect({ url, room, WebSocketPolyfill: WebSocket, broadcastChannel: false, ...options })

const expiredToken = (room: string) =>
  new SignJWT({ rooms: [room] })
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime(Math.floor(Date.now() / 1000) - 5)
    .sign(new TextEncoder().encode(SECRET))

test('our client with a token of each kind: write and read sync, every bad one closes the session with its code', async () => {
  const relay = await authRelay()
  const room = 'team/kinds'
  const sessions: ServerState<any>[] = []
  try {
    const writer = await session(relay.url, room, { token: await signToken({ secret: SECRET, rooms: ['team/*'], sub: 'ann' }) })
    sessions.push(writer)
    assert.equal(writer.access, 'write')
    assert.equal(writer.user, 'ann')
    writer.set('count', 1)
    const read = await signToken({ secret: SECRET, rooms: [room], access: 'read', sub: 'bob' })
    const reader = open(relay.url, room, { token: read })
    sessions.push(reader)
    assert.equal(reader.access, 'read', 'known from the token before connecting')
    await within(reader.ready, 5_000, 'the reader to sync')
    await untilKey(reader.doc.getMap('state'), 'count', 1)
    assert.equal(reader.user, 'bob')

    for (const [kind, token, code] of [
      ['wrong room', await signToken({ secret: SECRET, rooms: ['team/other'] }), 4403],
      ['expired', await expiredToken(room), 4401],
      ['bad signature', await signToken({ secret: 'x'.repeat(40), rooms: [room] }), 4401],
      ['none', undefined, 4401],
      ['malformed', 'abc.def', 4401]
    ] as const) {
      const s = open(relay.url, room, token === undefined ? {} : { token })
      sessions.push(s)
      const err = await within(
        s.ready.then(
          () => null,
          (e: Error) => e
        ),
        5_000,
        `${kind}: the refusal`
      )
      assert.ok(err instanceof SessionClosedError, kind)
      assert.match(err.message, new RegExp(`\\(${code}: `), kind)
      assert.equal(s.closed, true)
      assert.equal(s.status, 'disconnected')
    }
  } finally {
    for (const s of sessions) s.close()
    await relay.close()
  }
})

test('a read-only session refuses set, delete, append, lock and forceRerunBoundSessions at once, and sends nothing', async () => {
  const relay = await authRelay()
  const room = 'ro/writes'
  const writer = await session(relay.url, room, { token: await signToken({ secret: SECRET, rooms: [room] }) })
  const reader = await session(relay.url, room, { token: await signToken({ secret: SECRET, rooms: [room], access: 'read' }) })
  try {
    writer.set('count', 1)
    await writer.append('list', 'a')
    await untilKey(reader.doc.getMap('state'), 'list')
    const sent: Uint8Array[] = []
    reader.provider.ws!.send = ((data: Uint8Array) => {
      sent.push(data)
    }) as never
    for (const [what, write] of [
      ['set', () => reader.set('count', 2)],
      [
        'state proxy',
        () => {
          reader.state.count = 2
        }
      ],
      ['delete', () => reader.delete('count')],
      ['delete missing', () => reader.delete('missing')],
      ['append', () => reader.append('list', 'b')],
      ['force', () => reader.forceRerunBoundSessions('count')]
    ] as const) {
      assert.throws(write, (err: Error) => err instanceof ReadOnlyError && /read-only access to room "ro\/writes"/.test(err.message), what)
    }
    const locked = reader.lock('count', (s) => {
      s.count = 3
    })
    assert.equal(sent.length, 0, 'lock sent nothing')
    await assert.rejects(locked, (err: Error) => err instanceof ReadOnlyError && err.message.startsWith('lock("count")'))
    assert.equal(reader.get('count'), 1)
    assert.deepEqual(reader.get('list'), ['a'])
    assert.equal(sent.length, 0, 'no frame was sent')
    assert.equal(relay.metrics.get('read_only_updates_dropped_total'), 0)
  } finally {
    writer.close()
    reader.close()
    await relay.close()
  }
})

test('access decided by a cookie hook is learnt when connecting, before ready, and observed with onAccess', async () => {
  const relay = await testRelay({
    authenticate: (req) => {
      const sid = /sid=(\w+)/.exec(req.headers.cookie ?? '')?.[1]
      if (!sid) throw new AuthError(4401, 'not signed in')
      return { access: sid === 'viewer' ? 'read' : 'write', user: sid }
    }
  })
  const viewer = open(relay.url, 'cookies', { WebSocketPolyfill: webSocketWith({ cookie: 'sid=viewer' }) })
  const seen: string[] = []
  viewer.onAccess((access) => seen.push(`${access}:${viewer.user}`))
  try {
    assert.equal(viewer.access, 'write', 'not known before connecting: no token to read')
    await within(viewer.ready, 5_000, 'sync')
    assert.equal(viewer.access, 'read')
    assert.equal(viewer.user, 'viewer')
    assert.deepEqual(seen, ['read:viewer'])
    assert.throws(() => viewer.set('x', 1), ReadOnlyError)
  } finally {
    viewer.close()
    await relay.close()
  }
})

test('a lock the relay DENIES (it holds the session read-only; the session missed ACCESS) rejects clearly and applies nothing', async () => {
  const relay = await testRelay({ authenticate: () => ({ access: 'read' }) })
  const room = 'ro/denied'
  const proxy = await holdingProxy(relay.url)
  proxy.drop = (f) => f[0] === MESSAGE_YSS && f[1] === YSS_ACCESS
  const reader = open(proxy.url, room)
  try {
    await within(reader.ready, 5_000, 'sync')
    assert.equal(reader.access, 'write', 'the session believes it may write')
    await assert.rejects(
      reader.lock(
        'count',
        (s) => {
          s.count = 1
        },
        { timeout: 5_000 }
      ),
      (err: Error) => err instanceof LockTimeoutError && /the relay denied the lease: read-only/.test(err.message)
    )
    assert.equal(reader.status, 'connected', 'a denied lock does not close the session')
    const state = await relayStateAfter(reader.provider.ws as unknown as WebSocket)
    assert.equal(state.getMap('state').has('count'), false)
  } finally {
    reader.close()
    proxy.close()
    await relay.close()
  }
})

test('a token function is called at every (re)connection, and the relay sees each token it returns', async () => {
  const seen: Array<string | null> = []
  const relay = await testRelay({
    authenticate: (req) => {
      seen.push(tokenOf(req))
      return { access: 'write' }
    }
  })
  let calls = 0
  const s = await session(relay.url, 'fn', { token: async () => `t${++calls}` })
  try {
    assert.deepEqual(seen, ['t1'])
    s.provider.ws!.close()
    await untilStatus(s, 'disconnected')
    await untilStatus(s, 'connected')
    assert.equal(calls, 2)
    assert.deepEqual(seen, ['t1', 't2'])
    assert.equal(s.closed, false)
  } finally {
    s.close()
    await relay.close()
  }
})

test('a token that expires mid-session: with a function, the session reconnects with a fresh token; with a string, it closes', async () => {
  let calls = 0
  const relay = await testRelay({
    authenticate: (req) => {
      const token = tokenOf(req)
      if (token === 'bad') throw new AuthError(4401, 'token invalid')
      return { access: 'write', ...(token === 't1' || token === 'once' ? { expiresAt: Date.now() + 300 } : {}) }
    }
  })
  const other = await session(relay.url, 'refresh')
  const refreshed = await session(relay.url, 'refresh', { token: () => `t${++calls}` })
  const fixed = await session(relay.url, 'refresh', { token: 'once' })
  try {
    await untilStatus(refreshed, 'disconnected')
    await untilStatus(refreshed, 'connected')
    assert.equal(calls, 2, 'called again after the expiry')
    assert.equal(refreshed.closed, false, 'the same session goes on')
    refreshed.set('after', 'refresh')
    await untilKey(other.doc.getMap('state'), 'after', 'refresh')

    await untilClosed(fixed)
    assert.equal(fixed.status, 'disconnected', 'a string token cannot be refreshed: the session is over')
    assert.throws(() => fixed.set('x', 1), SessionClosedError)
    assert.equal(relay.metrics.get('sessions_expired_total'), 2)
  } finally {
    other.close()
    refreshed.close()
    fixed.close()
    await relay.close()
  }
})

test('a token function whose fresh token is refused closes the session instead of retrying in a loop', async () => {
  const relay = await testRelay({
    refusalDelayMs: 20,
    authenticate: (req) => {
      if (tokenOf(req) !== 'first') throw new AuthError(4401, 'token invalid')
      return { access: 'write', expiresAt: Date.now() + 300 }
    }
  })
  let calls = 0
  const s = await session(relay.url, 'loop', { token: () => (++calls === 1 ? 'first' : 'stale') })
  try {
    await untilClosed(s)
    assert.equal(calls, 2)
    assert.equal(relay.metrics.refusedCount(4401), 1)
  } finally {
    s.close()
    await relay.close()
  }
})

test('a token function that throws is a failed attempt: retried, then connected', async () => {
  const relay = await authRelay()
  let calls = 0
  const token = await signToken({ secret: SECRET, rooms: ['*'] })
  const s = open(relay.url, 'throws', {
    token: async () => {
      if (++calls === 1) throw new Error('backend down')
      return token
    }
  })
  try {
    await within(s.ready, 5_000, 'sync after a retry')
    assert.equal(calls, 2)
  } finally {
    s.close()
    await relay.close()
  }
})
