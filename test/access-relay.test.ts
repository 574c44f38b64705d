/**
 * Access control at the relay, over real sockets: tokens of each kind for stock y-websocket 3.x
 * clients and raw sockets, read-only connections, expiry, the authenticate hook, origins, the
 * refusal to serve a public host anonymously, and what /metrics and the log show of it.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import * as awarenessProtocol from 'y-protocols/awareness'
import {
  testRelay,
  stockClient,
  rawSocket,
  within,
  memoryLogger,
  untilKey,
  updateFrame,
  relayStateAfter,
  webSocketWith,
  type StockClient
} from './support/helpers.js'
import { startRelay, type Relay, type RelayOptions } from '../relay/server.js'
import { AuthError, signToken, jwtAuthenticator, isLoopbackHost, roomMatches } from '../relay/index.js'
import {
  MESSAGE_YSS,
  YSS_ACCESS,
  YSS_ACQUIRE,
  YSS_COMMIT,
  YSS_DENIED,
  YSS_HELLO,
  decodeYss,
  encodeYss,
  type YssMessage
} from '../protocol/messages.js'

const SECRET = 'a test secret of at least 32 bytes!!'
const OTHER_SECRET = 'another secret, also 32 bytes long.'

/** A relay that requires tokens signed with {@link SECRET}, refusals held 20 ms. */
const authRelay = (options: RelayOptions = {}): Promise<Relay> => testRelay({ authSecret: SECRET, refusalDelayMs: 20, ...options })

/** A token of each kind for `room`. */
const tokens = async (room: string) => {
  const now = Math.floor(Date.now() / 1000)
  const { SignJWT } = await import('jose')
  const key = new TextEncoder().encode(SECRET)
  return {
    write: await signToken({ secret: SECRET, rooms: [room], sub: 'ann' }),
    read: await signToken({ secret: SECRET, rooms: [`${room.split('/')[0]}/*`], access: 'read', sub: 'bob' }),
    wrongRoom: await signToken({ secret: SECRET, rooms: ['elsewhere', `${room}x`] }),
    expired: await new SignJWT({ rooms: [room] })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime(now - 5)
      .sign(key),
    badSignature: await signToken({ secret: OTHER_SECRET, rooms: [room] }),
    malformed: 'not.a.jwt'
  }
}

/** The close code that ends a stock client's connection, and whether it then stopped retrying. */
const stockRefusal = async (client: StockClient): Promise<{ code: number; retrying: boolean }> => {
  const closed = await within(client.refused, 5_000, 'a refusal')
  return { code: closed.code, retrying: client.provider.shouldConnect }
}

const hello = (raw: ReturnType<typeof rawSocket>): Promise<YssMessage> => {
  raw.send(encodeYss({ type: YSS_HELLO, id: 0 }))
  return raw
    .frame((f) => f[0] === MESSAGE_YSS && f[1] === YSS_ACCESS)
    .then((f) => {
      const d = decoding.createDecoder(f)
      decoding.readVarUint(d)
      return decodeYss(d)
    })
}

test('stock clients: a write token writes, a read token reads, and every bad token is refused with its code, once logged, never retried', async () => {
  const logger = memoryLogger()
  const relay = await authRelay({ logger })
  const room = 'team/tokens'
  const t = await tokens(room)
  const open: StockClient[] = []
  const client = (token?: string, at = room) => {
    const c = stockClient(relay.url, at, token === undefined ? {} : { params: { token } })
    open.push(c)
    return c
  }
  try {
    const writer = client(t.write)
    const reader = client(t.read)
    await Promise.all([writer.synced, reader.synced])
    writer.state.set('k', 'v')
    await untilKey(reader.state, 'k', 'v')

    for (const [kind, token, code] of [
      ['wrong room', t.wrongRoom, 4403],
      ['expired', t.expired, 4401],
      ['bad signature', t.badSignature, 4401],
      ['none', undefined, 4401],
      ['malformed', t.malformed, 4401]
    ] as const) {
      const refused = await stockRefusal(client(token))
      assert.deepEqual(refused, { code, retrying: false }, kind)
    }
    // Refused once more with the same bad token, in another room: still one line for that cause.
    await stockRefusal(client(t.badSignature, 'team/refused'))
    const refusals = logger.lines.filter((l) => l.includes('connection refused'))
    assert.equal(refusals.filter((l) => l.includes('token signature invalid')).length, 1)
    assert.ok(
      refusals.some((l) => /token expired.*room=team\/tokens.*code=4401/.test(l)),
      refusals.join('\n')
    )
    for (const token of Object.values(t)) assert.ok(!logger.lines.some((l) => l.includes(token)), 'no log line carries a token')
    const metrics = await (await fetch(`${relay.httpUrl}metrics`)).text()
    assert.match(metrics, /^yss_refused_total\{code="4401"\} 5$/m)
    assert.match(metrics, /^yss_refused_total\{code="4403"\} 1$/m)
    assert.match(metrics, /^yss_refused_total\{code="4400"\} 0$/m)
    assert.deepEqual(relay.loadedRooms(), [room], 'a refused connection loads no room')
  } finally {
    for (const c of open) c.destroy()
    await relay.close()
  }
})

test('a read-only stock client syncs and stays connected, but the relay never applies, stores or broadcasts its updates', async () => {
  const relay = await authRelay()
  const room = 'team/read-only'
  const t = await tokens(room)
  const writer = stockClient(relay.url, room, { params: { token: t.write } })
  const reader = stockClient(relay.url, room, { params: { token: t.read } })
  try {
    await Promise.all([writer.synced, reader.synced])
    writer.state.set('shared', 1)
    await untilKey(reader.state, 'shared', 1)
    const socket = reader.provider.ws as unknown as import('ws').WebSocket
    reader.state.set('sneaky', 'x')
    reader.state.delete('shared')
    const state = await relayStateAfter(socket)
    assert.deepEqual(state.getMap('state').toJSON(), { shared: 1 }, 'the relay holds none of the read-only writes')
    assert.equal(reader.provider.ws, socket as unknown, 'the read-only client kept its socket')
    assert.equal(reader.provider.wsconnected, true)
    assert.ok(relay.metrics.get('read_only_updates_dropped_total') >= 1)
    // The writer never received them either: its next write arrives after them, and they are not there.
    writer.state.set('after', 2)
    await untilKey(reader.state, 'after', 2)
    assert.equal(writer.state.has('sneaky'), false)
    assert.equal(writer.state.get('shared'), 1)
  } finally {
    writer.destroy()
    reader.destroy()
    await relay.close()
  }
})

test('HELLO is answered with ACCESS; a read-only connection is DENIED locks, and a stock client never receives a message 100', async () => {
  const relay = await authRelay()
  const room = 'team/locks'
  const t = await tokens(room)
  const reader = rawSocket(relay.url, `${room}?token=${t.read}`)
  const writer = rawSocket(relay.url, `${room}?token=${t.write}`)
  const stock = rawSocket(relay.url, `${room}?token=${t.write}`)
  try {
    await Promise.all([reader.opened, writer.opened, stock.opened])
    assert.deepEqual(await hello(reader), { type: YSS_ACCESS, id: 0, access: 'read', user: 'bob' })
    assert.deepEqual(await hello(writer), { type: YSS_ACCESS, id: 0, access: 'write', user: 'ann' })
    reader.send(encodeYss({ type: YSS_ACQUIRE, id: 7, keys: ['count'] }))
    reader.send(encodeYss({ type: YSS_COMMIT, id: 8, update: new Uint8Array() }))
    const denied = (id: number) => reader.frame((f) => f[0] === MESSAGE_YSS && f[1] === YSS_DENIED && f[2] === id)
    const [acquire, commit] = await Promise.all([denied(7), denied(8)])
    for (const f of [acquire, commit]) assert.match(new TextDecoder().decode(f), /read-only/)
    // The read-only request took no lease: a writer is granted the key at once.
    writer.send(encodeYss({ type: YSS_ACQUIRE, id: 1, keys: ['count'] }))
    await writer.frame((f) => f[0] === MESSAGE_YSS && f[1] === 2 /* GRANT */)
    // The stock socket, which sent no message 100, got none, up to its own round trip.
    await relayStateAfter(stock.ws)
    assert.equal(stock.frames.filter((f) => f[0] === MESSAGE_YSS).length, 0)
  } finally {
    for (const s of [reader, writer, stock]) s.ws.close()
    await relay.close()
  }
})

test('presence of read-only connections: dropped by default, applied with readOnlyPresence', async () => {
  for (const readOnlyPresence of [false, true]) {
    const relay = await authRelay({ readOnlyPresence })
    const room = `team/presence-${readOnlyPresence}`
    const t = await tokens(room)
    const reader = rawSocket(relay.url, `${room}?token=${t.read}`)
    try {
      await reader.opened
      const doc = new Y.Doc()
      const awareness = new awarenessProtocol.Awareness(doc)
      awareness.setLocalState({ name: 'bob' })
      const e = encoding.createEncoder()
      encoding.writeVarUint(e, 1)
      encoding.writeVarUint8Array(e, awarenessProtocol.encodeAwarenessUpdate(awareness, [doc.clientID]))
      reader.send(encoding.toUint8Array(e))
      reader.send(new Uint8Array([3])) // query awareness: answered after the update above is handled
      // The first awareness frame is the broadcast of an applied update, or else the answer to the query.
      const answer = await reader.frame((f) => f[0] === 1)
      const seen = new awarenessProtocol.Awareness(new Y.Doc())
      const d = decoding.createDecoder(answer)
      decoding.readVarUint(d)
      awarenessProtocol.applyAwarenessUpdate(seen, decoding.readVarUint8Array(d), null)
      assert.equal(seen.getStates().has(doc.clientID), readOnlyPresence, `readOnlyPresence ${readOnlyPresence}`)
      awareness.destroy()
      seen.destroy()
    } finally {
      reader.ws.close()
      await relay.close()
    }
  }
})

test('a token that expires while its connection is open closes it with 4401 at expiry', async () => {
  const relay = await authRelay()
  const room = 'team/expiry'
  const { SignJWT } = await import('jose')
  // exp is in whole seconds: this one ends in one to two seconds.
  const exp = Math.floor(Date.now() / 1000) + 2
  const token = await new SignJWT({ rooms: [room] })
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime(exp)
    .sign(new TextEncoder().encode(SECRET))
  const client = stockClient(relay.url, room, { params: { token } })
  try {
    await client.synced
    const closed = await within(client.refused, 5_000, 'the expiry')
    assert.equal(closed.code, 4401)
    assert.ok(Date.now() >= exp * 1000, 'not closed before the token expired')
    assert.equal(relay.metrics.get('sessions_expired_total'), 1)
  } finally {
    client.destroy()
    await relay.close()
  }
})

test('the authenticate hook: a cookie decides access, AuthError refuses with its code, a failing hook closes with 1011', async () => {
  const logger = memoryLogger()
  const users: Record<string, { name: string; canEdit: boolean }> = {
    s1: { name: 'ann', canEdit: true },
    s2: { name: 'bob', canEdit: false }
  }
  const relay = await testRelay({
    logger,
    refusalDelayMs: 20,
    authenticate: async (req, room) => {
      const sid = /(?:^|;\s*)sid=([^;]*)/.exec(req.headers.cookie ?? '')?.[1]
      if (sid === 'broken') throw new Error('session store down')
      const user = sid === undefined ? undefined : users[sid]
      if (!user) throw new AuthError(4401, 'not signed in')
      if (!room.startsWith('club/')) throw new AuthError(4403, 'members only')
      return { access: user.canEdit ? 'write' : 'read', user: user.name, expiresAt: Date.now() + 60_000 }
    }
  })
  const open: StockClient[] = []
  const client = (cookie: string | null, room = 'club/a') => {
    const c = stockClient(relay.url, room, cookie === null ? {} : { WebSocketPolyfill: webSocketWith({ cookie }) })
    open.push(c)
    return c
  }
  try {
    const ann = client('theme=dark; sid=s1')
    const bob = client('sid=s2')
    await Promise.all([ann.synced, bob.synced])
    ann.state.set('by', 'ann')
    await untilKey(bob.state, 'by', 'ann')
    bob.state.set('by', 'bob')
    const state = await relayStateAfter(bob.provider.ws as unknown as import('ws').WebSocket)
    assert.equal(state.getMap('state').get('by'), 'ann', "bob's cookie grants read only")

    const raw = rawSocket(relay.url, 'club/a', { headers: { cookie: 'sid=s2' } })
    await raw.opened
    assert.deepEqual(await hello(raw), { type: YSS_ACCESS, id: 0, access: 'read', user: 'bob' })
    raw.ws.close()

    assert.deepEqual(await stockRefusal(client(null)), { code: 4401, retrying: false })
    assert.deepEqual(await stockRefusal(client('sid=nobody')), { code: 4401, retrying: false })
    assert.deepEqual(await stockRefusal(client('sid=s1', 'other')), { code: 4403, retrying: false })
    const broken = rawSocket(relay.url, 'club/a', { headers: { cookie: 'sid=broken' } })
    assert.equal((await within(broken.closed, 5_000, 'the close')).code, 1011)
    assert.ok(
      logger.lines.some((l) => l.includes('session store down')),
      'the hook failure is logged'
    )
  } finally {
    for (const c of open) c.destroy()
    await relay.close()
  }
})

test('an expiresAt from the hook closes the connection with 4401 then', async () => {
  let expiresAt = 0
  const relay = await testRelay({
    authenticate: () => {
      expiresAt = Date.now() + 300
      return { access: 'write', expiresAt }
    }
  })
  const raw = rawSocket(relay.url, 'short')
  try {
    await raw.opened
    await relayStateAfter(raw.ws)
    const { code } = await within(raw.closed, 5_000, 'the expiry')
    assert.equal(code, 4401)
    assert.ok(Date.now() >= expiresAt, 'closed at expiry, not before')
  } finally {
    await relay.close()
  }
})

test('allowedOrigins: a page of another origin is refused with 4403, an allowed one and a client without Origin pass', async () => {
  const relay = await testRelay({ allowedOrigins: ['https://app.example.com', 'http://localhost:8080/'], refusalDelayMs: 20 })
  try {
    const foreign = rawSocket(relay.url, 'o', { headers: { origin: 'https://evil.example.com' } })
    assert.equal((await within(foreign.closed, 5_000, 'the refusal')).code, 4403)
    for (const headers of [{ origin: 'https://app.example.com' }, { origin: 'http://localhost:8080' }, {}] as Array<
      Record<string, string>
    >) {
      const ok = rawSocket(relay.url, 'o', { headers })
      await ok.opened
      await relayStateAfter(ok.ws)
      ok.ws.close()
    }
    assert.equal(relay.metrics.refusedCount(4403), 1)
  } finally {
    await relay.close()
  }
})

test('ES256 and RS256 tokens are checked against the public key; a token of another key is refused', async () => {
  const pairs = [
    ['ES256', () => generateKeyPairSync('ec', { namedCurve: 'P-256' })],
    ['RS256', () => generateKeyPairSync('rsa', { modulusLength: 2048 })]
  ] as const
  for (const [type, pair] of pairs) {
    const { publicKey, privateKey } = pair()
    const relay = await testRelay({ authPublicKey: publicKey.export({ type: 'spki', format: 'pem' }) as string, refusalDelayMs: 20 })
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string
    const other = pair().privateKey.export({ type: 'pkcs8', format: 'pem' }) as string
    const good = stockClient(relay.url, 'k', { params: { token: await signToken({ privateKey: pem, rooms: ['*'] }) } })
    const bad = stockClient(relay.url, 'k', { params: { token: await signToken({ privateKey: other, rooms: ['*'] }) } })
    const hs = stockClient(relay.url, 'k', { params: { token: await signToken({ secret: SECRET, rooms: ['*'] }) } })
    try {
      await good.synced
      assert.equal((await stockRefusal(bad)).code, 4401, type)
      assert.equal((await stockRefusal(hs)).code, 4401, `${type}: an HS256 token is not accepted by a public-key relay`)
    } finally {
      good.destroy()
      bad.destroy()
      hs.destroy()
      await relay.close()
    }
  }
})

test('with no access control the relay serves only loopback hosts, unless anonymous', async () => {
  await assert.rejects(
    startRelay({ host: '0.0.0.0', port: 0, memory: true, logLevel: 'silent' }),
    /refusing to serve 0\.0\.0\.0 with no access control.*--anonymous/
  )
  await assert.rejects(
    startRelay({ host: '0.0.0.0', port: 0, memory: true, anonymous: true, authSecret: SECRET }),
    /anonymous excludes authSecret/
  )
  await assert.rejects(startRelay({ port: 0, memory: true, authSecret: 'short' }), /at least 32/)
  const open = await startRelay({ host: '0.0.0.0', port: 0, memory: true, logLevel: 'silent', anonymous: true })
  await open.close()
  const secured = await startRelay({ host: '0.0.0.0', port: 0, memory: true, logLevel: 'silent', authSecret: SECRET })
  await secured.close()
  for (const host of ['127.0.0.1', '127.8.9.10', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1']) assert.ok(isLoopbackHost(host), host)
  for (const host of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.2', 'example.com', '128.0.0.1']) assert.ok(!isLoopbackHost(host), host)
})

test('room patterns: * matches any run of characters, the rest only itself', () => {
  const cases: Array<[string, string, boolean]> = [
    ['team/*', 'team/a', true],
    ['team/*', 'team/a/b', true],
    ['team/*', 'team/', true],
    ['team/*', 'teams', false],
    ['lobby', 'lobby', true],
    ['lobby', 'lobby2', false],
    ['*', 'anything at all', true],
    ['a*b*c', 'aXbYc', true],
    ['a*b*c', 'aXbY', false],
    ['*.doc', 'x.doc', true],
    ['*.doc', 'xdoc', false],
    ['café/*', 'café/1', true]
  ]
  for (const [pattern, room, expected] of cases) assert.equal(roomMatches(pattern, room), expected, `${pattern} ~ ${room}`)
  const long = 'a'.repeat(2000)
  const started = Date.now()
  assert.equal(roomMatches('*a*a*a*a*a*a*b', long), false)
  assert.ok(Date.now() - started < 500, 'no exponential back-tracking')
})

test('jwtAuthenticator is an authenticate hook of its own: it can be wrapped', async () => {
  const check = jwtAuthenticator({ secret: SECRET })
  const seen: string[] = []
  const relay = await testRelay({
    authenticate: async (req, room) => {
      const grant = await check(req, room)
      seen.push(`${grant.user}@${room}:${grant.access}`)
      return grant
    }
  })
  const c = stockClient(relay.url, 'w/1', {
    params: { token: await signToken({ secret: SECRET, rooms: ['w/*'], sub: 'ann', access: 'read' }) }
  })
  try {
    await c.synced
    assert.deepEqual(seen, ['ann@w/1:read'])
  } finally {
    c.destroy()
    await relay.close()
  }
})

test('an update from a read-only raw socket is dropped without closing it', async () => {
  const relay = await authRelay()
  const room = 'team/raw'
  const t = await tokens(room)
  const raw = rawSocket(relay.url, `${room}?token=${t.read}`)
  try {
    await raw.opened
    const doc = new Y.Doc()
    doc.getMap('state').set('x', 1)
    raw.send(updateFrame(Y.encodeStateAsUpdate(doc)))
    const state = await relayStateAfter(raw.ws)
    assert.equal(state.getMap('state').has('x'), false)
    assert.equal(raw.ws.readyState, raw.ws.OPEN)
  } finally {
    raw.ws.close()
    await relay.close()
  }
})

test('closing the relay ends the sockets it holds open to refuse them, as well as the admitted ones', async () => {
  // The relay tracks both kinds itself (ws's client tracking is off): a refused socket it forgot
  // would hold close() for the whole refusal delay.
  const relay = await authRelay({ refusalDelayMs: 60_000 })
  const room = 'team/closing'
  const t = await tokens(room)
  const refused = rawSocket(relay.url, room)
  const admitted = rawSocket(relay.url, `${room}?token=${t.write}`)
  await Promise.all([refused.opened, admitted.opened])
  await admitted.frame((f) => f[0] === 0) // its sync step 1: it joined the room
  await within(relay.close(), 5_000, 'the relay to close')
  const [r, a] = await within(Promise.all([refused.closed, admitted.closed]), 5_000, 'both sockets to close')
  assert.notEqual(r.code, 4401, 'the refusal never came: the socket was dropped')
  assert.equal(a.code, 1001)
})
