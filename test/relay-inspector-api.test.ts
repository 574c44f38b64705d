/**
 * The inspector's HTTP API against real relays: the rooms in memory with their connections, each
 * room's connections and locks (held by raw sockets that ACQUIRE and never commit), the metrics;
 * and who may ask: anyone with no access control, an inspector token (query or Bearer) or a hook's
 * `inspect` grant with it, and nobody else.
 */
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import * as decoding from 'lib0/decoding'
import { SignJWT } from 'jose'
import { eventually, rawSocket, session, testRelay, type RawSocket } from './support/helpers.js'
import type { Relay, RelayOptions } from '../relay/server.js'
import { signToken, type AuthResult } from '../relay/index.js'
import { parseTokenCli } from '../relay/cli-options.js'
import { MESSAGE_YSS, YSS_ACQUIRE, YSS_GRANT, decodeYss, encodeYss } from '../protocol/messages.js'
import { roomPath } from '../protocol/room-names.js'
import { ROOMS_API, roomApiPath, type InspectedRoom, type InspectorOverview } from '../protocol/inspector.js'
import type { ServerState } from '../client/index.js'

const SECRET = 'an inspector test secret, 32 bytes!'

const closers: Array<() => unknown> = []
after(async () => {
  for (const close of closers.splice(0).reverse()) await close()
})

const relayWith = async (options: RelayOptions = {}): Promise<Relay> => {
  const relay = await testRelay({ leaseMs: 60_000, refusalDelayMs: 20, ...options })
  closers.push(() => relay.close())
  return relay
}

const raw = async (relay: Relay, room: string, token?: string): Promise<RawSocket> => {
  const socket = rawSocket(relay.url, roomPath(room) + (token ? `?token=${token}` : ''))
  closers.push(() => socket.ws.close())
  await socket.opened
  return socket
}

const open = async (relay: Relay, room: string, token?: string): Promise<ServerState> => {
  const s = await session(relay.url, room, token ? { token } : {})
  closers.push(() => s.close())
  return s
}

/** Sends ACQUIRE on a raw socket, which then holds or waits and never commits. */
const acquire = (socket: RawSocket, id: number, keys: string[]): void => socket.send(encodeYss({ type: YSS_ACQUIRE, id, keys }))

const granted = (socket: RawSocket, id: number): Promise<Uint8Array> =>
  socket.frame((f) => {
    if (f[0] !== MESSAGE_YSS) return false
    const m = decodeYss(decoding.createDecoder(f.subarray(1)))
    return m.type === YSS_GRANT && m.id === id
  })

const get = (relay: Relay, path: string, init: RequestInit = {}) => fetch(new URL(path, relay.httpUrl), init)

const json = async <T>(relay: Relay, path: string, init: RequestInit = {}): Promise<T> => {
  const res = await get(relay, path, init)
  assert.equal(res.status, 200, `${path}: ${await res.clone().text()}`)
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/)
  return (await res.json()) as T
}

const roomOf = (relay: Relay, room: string, init?: RequestInit) => json<InspectedRoom>(relay, roomApiPath(room), init)

test('the overview lists the rooms in memory with their connections and locks, and the relay metrics', async () => {
  const relay = await relayWith()
  const room = 'team/a b'
  await open(relay, room)
  await open(relay, 'other')
  const holder = await raw(relay, room)
  const waiter = await raw(relay, room)
  acquire(holder, 1, ['count'])
  await granted(holder, 1)
  acquire(waiter, 1, ['count'])
  await eventually(async () => (await roomOf(relay, room)).locks[0]?.waiting.length === 1, 'the second request to wait')

  const overview = await json<InspectorOverview>(relay, ROOMS_API)
  assert.deepEqual(overview.rooms, [
    { name: 'other', loaded: true, connections: 1, locks: { held: 0, waiting: 0 } },
    { name: room, loaded: true, connections: 3, locks: { held: 1, waiting: 1 } }
  ])
  assert.equal(overview.metrics.connections, 4)
  assert.equal(overview.metrics.rooms_loaded, 2)
  assert.equal(overview.metrics.locks_open, 2)
  assert.equal(overview.metrics.locks_granted_total, 1)
  assert.equal(overview.metrics['refused_total{code="4401"}'], 0)
  assert.ok(overview.metrics.messages_in_total! > 0)
  assert.ok(Math.abs(overview.at - Date.now()) < 5_000)
})

test('a room: its connections (id, user, access, since) and, for each key, who holds its lock and who waits, since when', async () => {
  const relay = await relayWith()
  const room = 'locks/é?#%41'
  const before = Date.now()
  const a = await raw(relay, room)
  const b = await raw(relay, room)
  const c = await raw(relay, room)
  acquire(a, 1, ['y'])
  await granted(a, 1)
  acquire(b, 7, ['x', 'y']) // takes x, then waits for y
  acquire(c, 2, ['y'])
  await eventually(
    async () => (await roomOf(relay, room)).locks.find((l) => l.key === 'y')?.waiting.length === 2,
    'two requests to wait for y'
  )

  const details = await roomOf(relay, room)
  assert.equal(details.name, room)
  assert.equal(details.loaded, true)
  assert.equal(details.connections.length, 3)
  const ids = details.connections.map((conn) => conn.id)
  assert.equal(new Set(ids).size, 3)
  for (const conn of details.connections) {
    assert.equal(conn.user, null)
    assert.equal(conn.access, 'write')
    assert.ok(conn.since >= before && conn.since <= details.at, 'accepted during the test')
  }
  const [idA, idB, idC] = [...ids].sort((p, q) => p - q) as [number, number, number]
  const [x, y] = details.locks
  assert.deepEqual(
    details.locks.map((l) => l.key),
    ['x', 'y']
  )
  assert.equal(x!.holder?.connection, idB)
  assert.equal(x!.holder?.request, 7)
  assert.deepEqual(x!.holder?.keys, ['x', 'y'])
  assert.equal(x!.holder?.grantedAt, null, 'it holds x but still waits for y')
  assert.deepEqual(x!.waiting, [])
  assert.equal(y!.holder?.connection, idA)
  assert.ok(y!.holder!.grantedAt! >= y!.holder!.requestedAt && y!.holder!.grantedAt! <= details.at)
  assert.deepEqual(
    y!.waiting.map((w) => [w.connection, w.request, w.grantedAt]),
    [
      [idB, 7, null],
      [idC, 2, null]
    ],
    'first come, first in line'
  )

  // The holder goes: the next in line takes y, and so holds both its keys.
  a.ws.close()
  await eventually(async () => (await roomOf(relay, room)).locks.find((l) => l.key === 'y')?.holder?.connection === idB, 'b to take y')
  const later = await roomOf(relay, room)
  assert.equal(later.connections.length, 2)
  assert.notEqual(later.locks[0]!.holder!.grantedAt, null)
  assert.deepEqual(
    later.locks[1]!.waiting.map((w) => w.connection),
    [idC]
  )
})

test('a room not in memory has no connections and no locks; bad paths and methods are refused', async () => {
  const relay = await relayWith()
  const { at, ...nobody } = await roomOf(relay, 'nobody')
  assert.equal(typeof at, 'number')
  assert.deepEqual(nobody, { name: 'nobody', loaded: false, connections: [], locks: [] })
  assert.deepEqual(relay.loadedRooms(), [], 'asking loads nothing')
  assert.equal((await get(relay, '/api/rooms/')).status, 400)
  assert.equal((await json<InspectedRoom>(relay, '/api/rooms/a%2Fb%20c')).name, 'a/b c', 'decoded as a WebSocket path is')
  assert.equal((await get(relay, '/api/rooms/a%00b')).status, 400)
  const post = await get(relay, ROOMS_API, { method: 'POST' })
  assert.equal(post.status, 405)
  assert.equal(post.headers.get('allow'), 'GET, HEAD')
  assert.equal((await get(relay, '/api/nothing')).status, 404)
  const head = await get(relay, ROOMS_API, { method: 'HEAD' })
  assert.equal(head.status, 200)
  assert.equal(await head.text(), '')
})

test('with tokens: none or a bad one is 401, one without "inspect" or for other rooms 403; an inspector token opens what it covers', async () => {
  const relay = await relayWith({ authSecret: SECRET })
  const room = 'team/board'
  const ann = await signToken({ secret: SECRET, rooms: ['team/*'], sub: 'ann' })
  const viewer = await signToken({ secret: SECRET, rooms: ['team/*'], access: 'read', sub: 'vic' })
  const teamInspector = await signToken({ secret: SECRET, rooms: ['team/*'], access: 'read', sub: 'ops', inspect: true })
  const allInspector = await signToken({ secret: SECRET, rooms: ['*'], access: 'read', sub: 'root', inspect: true })
  const expired = await new SignJWT({ rooms: ['*'], inspect: true })
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime(Math.floor(Date.now() / 1000) - 5)
    .sign(new TextEncoder().encode(SECRET))
  await open(relay, room, ann)
  await open(relay, room, viewer)

  for (const path of [ROOMS_API, roomApiPath(room)]) {
    const none = await get(relay, path)
    assert.equal(none.status, 401, path)
    assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/)
    assert.match(((await none.json()) as { error: string }).error, /token missing/)
    assert.equal((await get(relay, `${path}?token=${expired}`)).status, 401)
    assert.equal((await get(relay, `${path}?token=not.a.jwt`)).status, 401)
    assert.equal((await get(relay, `${path}?token=${ann}`)).status, 403, 'a token to join is not a token to inspect')
  }
  const member = await get(relay, `${roomApiPath(room)}?token=${ann}`)
  assert.match(((await member.json()) as { error: string }).error, /"inspect": true/)
  const everyRoom = await get(relay, `${ROOMS_API}?token=${teamInspector}`)
  assert.equal(everyRoom.status, 403, 'the overview needs every room')
  assert.match(((await everyRoom.json()) as { error: string }).error, /rooms \["\*"\]/)
  assert.equal((await get(relay, `${roomApiPath('lobby')}?token=${teamInspector}`)).status, 403, 'a room the token does not cover')

  const details = await roomOf(relay, room, { headers: { authorization: `Bearer ${teamInspector}` } })
  assert.deepEqual(details.connections.map((c) => [c.user, c.access]).sort(), [
    ['ann', 'write'],
    ['vic', 'read']
  ])
  const overview = await json<InspectorOverview>(relay, `${ROOMS_API}?token=${allInspector}`)
  assert.deepEqual(
    overview.rooms.map((r) => [r.name, r.connections]),
    [[room, 2]]
  )
  assert.equal(overview.metrics['refused_total{code="4401"}'], 0, 'API refusals are not connection refusals')
})

test('a token in an Authorization: Bearer header is accepted at the WebSocket upgrade too', async () => {
  const relay = await relayWith({ authSecret: SECRET })
  const token = await signToken({ secret: SECRET, rooms: ['team/*'], sub: 'ann' })
  const bearer = rawSocket(relay.url, 'team/x', { headers: { authorization: `Bearer ${token}` } })
  const none = rawSocket(relay.url, 'team/x')
  closers.push(
    () => bearer.ws.close(),
    () => none.ws.close()
  )
  await bearer.frame((f) => f[0] === 0, 5_000) // the relay's sync step 1: admitted
  assert.equal((await none.closed).code, 4401)
  assert.deepEqual(
    (
      await roomOf(relay, 'team/x', {
        headers: { authorization: `Bearer ${await signToken({ secret: SECRET, rooms: ['*'], inspect: true })}` }
      })
    ).connections.map((c) => c.user),
    ['ann']
  )
})

test('with a hook: it is asked with the request and the room ("*" for the overview), and its `inspect` grant decides', async () => {
  const asked: string[] = []
  const relay = await relayWith({
    authenticate: (req, room): AuthResult => {
      asked.push(room)
      const role = req.headers['x-role']
      if (role === undefined) throw Object.assign(new Error('not signed in'), { code: 4401 })
      if (role === 'broken') return { access: 'read', inspect: 'yes' as never }
      return { access: 'read', user: String(role), inspect: role === 'admin' }
    }
  })
  assert.equal((await get(relay, ROOMS_API)).status, 401)
  assert.equal((await get(relay, ROOMS_API, { headers: { 'x-role': 'member' } })).status, 403)
  assert.equal((await get(relay, ROOMS_API, { headers: { 'x-role': 'broken' } })).status, 500)
  await json<InspectorOverview>(relay, ROOMS_API, { headers: { 'x-role': 'admin' } })
  await roomOf(relay, 'any/room', { headers: { 'x-role': 'admin' } })
  assert.deepEqual(asked, ['*', '*', '*', '*', 'any/room'])
})

test('`token --inspect` prints a token the API accepts', async () => {
  const relay = await relayWith({ authSecret: SECRET })
  const options = parseTokenCli(['--room', '*', '--read', '--inspect', '--sub', 'ops'], { AUTH_SECRET: SECRET })
  assert.notEqual(options, 'help')
  if (options === 'help') return
  assert.equal(options.inspect, true)
  await json<InspectorOverview>(relay, `${ROOMS_API}?token=${await signToken(options)}`)
  const plain = parseTokenCli(['--room', '*'], { AUTH_SECRET: SECRET })
  assert.equal((plain as { inspect?: boolean }).inspect, undefined)
})
