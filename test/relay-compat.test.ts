/**
 * Compatibility with stock y-websocket clients of every major, over real sockets: 1.x and 2.x
 * (the aliased devDependencies `y-websocket-v1` 1.5.4 and `y-websocket-v2` 2.1.0) and 3.x
 * (`y-websocket` 3.1.0), all on the project's one yjs. y-websocket 4.0 (`@y/websocket`
 * 4.0.0-x, prerelease) on yjs 14 shares rooms with them too: test/relay-compat-y14.test.ts, in a
 * process of its own.
 *
 * Stock clients append the room to the URL as it is (`ws://host/my room`); the WebSocket URL
 * parser escapes it (`/my%20room`) and our relay decodes it. Ours sends the same path
 * (`roomPath`), so both land in the same room, named as the application named it, on our relay
 * and on the reference relay, which takes the raw path as the name.
 *
 * Every client of a test is created before its first await, so that a failing test still
 * closes all of them.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import WebSocket from 'ws'
import { WebsocketProvider as ProviderV1 } from 'y-websocket-v1'
import { WebsocketProvider as ProviderV2 } from 'y-websocket-v2'
import { WebsocketProvider as ProviderV3 } from 'y-websocket'
import {
  testRelay,
  referenceRelay,
  stockClient,
  socketHistory,
  untilKey,
  rawSocket,
  memoryLogger,
  within,
  type StockProviderClass
} from './support/helpers.js'
import { connect, type ServerState } from '../client/index.js'
import { CLOSE } from '../protocol/close-codes.js'

const MiB = 1024 * 1024

const MAJORS: Array<{ major: string; Provider: StockProviderClass }> = [
  { major: '1.x', Provider: ProviderV1 },
  { major: '2.x', Provider: ProviderV2 },
  { major: '3.x', Provider: ProviderV3 }
]

/** 200 characters (212 UTF-8 bytes), with a slash and a space. */
const LONG_ROOM = `long/${'ü'.repeat(12)} ${'abcdefghij'.repeat(18)}xx`
assert.equal(LONG_ROOM.length, 200)

const ROOMS = ['org/doc-1', 'my room', 'café', 'doc:123', 'a@b', LONG_ROOM]

/** Our client, as an application opens it in Node. */
const ourSession = (url: string, room: string): ServerState<any> =>
  connect({ url, room, WebSocketPolyfill: WebSocket, broadcastChannel: false })

/** Resolves once our session holds `key` = `value`. */
const ourKey = (s: ServerState<any>, key: string, value: unknown): Promise<void> => untilKey(s.doc.getMap('state'), key, value)

for (const { major, Provider } of MAJORS) {
  test(`y-websocket ${major}: two stock clients and ours sync in rooms named as the reference relay takes them`, async () => {
    const relay = await testRelay()
    const rooms = ROOMS.map((room) => ({
      room,
      a: stockClient(relay.url, room, Provider),
      b: stockClient(relay.url, room, Provider),
      ours: ourSession(relay.url, room)
    }))
    try {
      await within(
        Promise.all(
          rooms.map(async ({ room, a, b, ours }) => {
            await Promise.all([a.synced, b.synced, ours.ready])
            a.state.set('from-a', room)
            await untilKey(b.state, 'from-a', room)
            b.state.set('from-b', major)
            await Promise.all([untilKey(a.state, 'from-b', major), ourKey(ours, 'from-b', major)])
            // Ours escapes the name itself: it must be in the stock clients' room.
            assert.equal(ours.get('from-a'), room, `${room}: our session reads the stock clients' keys`)
            ours.set('from-ours', room)
            await Promise.all([untilKey(a.state, 'from-ours', room), untilKey(b.state, 'from-ours', room)])
          })
        ),
        15_000,
        `${major} clients in every room`
      )
      // One room a name, named as the application named it (not `my%20room`).
      assert.deepEqual(relay.loadedRooms().sort(), [...ROOMS].sort())
    } finally {
      for (const { a, b, ours } of rooms) {
        a.destroy()
        b.destroy()
        ours.close()
      }
      await relay.close()
    }
  })
}

test('stock clients of every major and ours share one room', async () => {
  const relay = await testRelay()
  const room = 'org/mixed room é'
  const stock = MAJORS.map(({ Provider }) => stockClient(relay.url, room, Provider))
  const ours = ourSession(relay.url, room)
  try {
    await within(Promise.all([...stock.map((c) => c.synced), ours.ready]), 10_000, 'every client to sync')
    stock.forEach((c, i) => {
      c.state.set(`from-${MAJORS[i]!.major}`, i)
    })
    ours.set('from-ours', 'ours')
    await within(
      Promise.all([
        ...stock.flatMap((c) => [
          ...MAJORS.map(({ major }, i) => untilKey(c.state, `from-${major}`, i)),
          untilKey(c.state, 'from-ours', 'ours')
        ]),
        ...MAJORS.map(({ major }, i) => ourKey(ours, `from-${major}`, i))
      ]),
      10_000,
      'every key in every client'
    )
  } finally {
    for (const c of stock) c.destroy()
    ours.close()
    await relay.close()
  }
})

test('through the reference relay too, ours and stock clients share every room: ours sends the path a stock client sends', async () => {
  // @y/websocket-server 0.1.1 names a room by the raw path: `doc%3A123` and `doc:123` would be two.
  const relay = await referenceRelay()
  const rooms = [...ROOMS, 'x+y', 'a,b;c=d&e$', '100%'].map((room) => ({
    room,
    stock: stockClient(relay.url, room, ProviderV1),
    ours: ourSession(relay.url, room)
  }))
  try {
    await within(
      Promise.all(
        rooms.map(async ({ room, stock, ours }) => {
          await Promise.all([stock.synced, ours.ready])
          stock.state.set('stock', room)
          ours.set('ours', room)
          await Promise.all([ourKey(ours, 'stock', room), untilKey(stock.state, 'ours', room)])
        })
      ),
      10_000,
      'ours and a stock client in every room of the reference relay'
    )
    assert.equal(relay.rooms().length, rooms.length, `one doc a room: ${JSON.stringify(relay.rooms())}`)
  } finally {
    for (const { stock, ours } of rooms) {
      stock.destroy()
      ours.close()
    }
    await relay.close()
  }
})

test('refused room: 1.x and 2.x clients retry about once a refusal delay, 3.x stops, the relay logs it once', async () => {
  const WINDOW_MS = 3_000
  const logger = memoryLogger()
  // The default refusal delay (1 s) is the behaviour under test.
  const relay = await testRelay({ logger })
  // Room '' is the path `/`: no room name.
  const clients = MAJORS.map(({ Provider }) => stockClient(relay.url, '', Provider, { connect: false }))
  const [v1, v2, v3] = clients.map((c) => socketHistory(c.provider)) as [
    ReturnType<typeof socketHistory>,
    ReturnType<typeof socketHistory>,
    ReturnType<typeof socketHistory>
  ]
  try {
    const start = Date.now()
    for (const c of clients) c.provider.connect()
    // The window ends at each retrying client's first attempt after it; 3.x stops at its refusal.
    await within(
      Promise.all([
        v1.until(() => v1.attempts.some((t) => t - start > WINDOW_MS)),
        v2.until(() => v2.attempts.some((t) => t - start > WINDOW_MS)),
        v3.until(() => v3.closes.length > 0)
      ]),
      WINDOW_MS + 5_000,
      'attempts past the window'
    )
    for (const [name, h] of [
      ['1.x', v1],
      ['2.x', v2]
    ] as const) {
      const n = h.attempts.filter((t) => t - start <= WINDOW_MS).length
      assert.ok(n >= 2, `${name} retried after the refusal (${n} attempts)`)
      assert.ok(n <= 5, `${name}: at most 5 attempts in ${WINDOW_MS} ms, saw ${n}`)
      assert.ok(
        h.closes.length > 0 && h.closes.every((c) => c.code === CLOSE.badRoom),
        `${name}: closed with 4400: ${JSON.stringify(h.closes)}`
      )
      // Each refused socket was held open for about the refusal delay.
      h.closes.forEach((c, i) => void assert.ok(c.at - h.opens[i]! >= 900, `${name}: refusal ${i} held only ${c.at - h.opens[i]!} ms`))
    }
    // 3.x takes a 44xx close as final: one attempt, no retry.
    assert.equal(v3.attempts.length, 1, '3.x made one attempt')
    assert.deepEqual(
      v3.closes.map((c) => c.code),
      [CLOSE.badRoom]
    )
    const attempts = v1.attempts.length + v2.attempts.length + v3.attempts.length
    const refused = relay.metrics.get('errors_total')
    assert.ok(refused >= 5 && refused <= attempts, `the relay refused ${refused} connections of ${attempts} attempts`)
    const lines = logger.lines.filter((l) => l.includes('connection refused'))
    assert.equal(lines.length, 1, `one refusal line for ${refused} refusals:\n${lines.join('\n')}`)
    assert.match(lines[0]!, / path=\/( |$)/)
  } finally {
    for (const c of clients) c.destroy()
    await relay.close()
  }
})

test('a stock 3.x client with a 17 MiB document syncs it to another client through the relay', async () => {
  const relay = await testRelay()
  const BIG = 17 * MiB // over the old 16 MiB frame limit
  const writer = stockClient(relay.url, 'big', ProviderV3, { connect: false })
  const history = socketHistory(writer.provider)
  const reader = stockClient(relay.url, 'big', ProviderV3, { connect: false })
  try {
    writer.state.set('blob', 'x'.repeat(BIG))
    writer.provider.connect()
    await within(writer.synced, 10_000, 'the writer to sync')
    reader.provider.connect()
    // Fails at once if the relay closes the writer (as it did with 1009 at 16 MiB).
    await within(
      Promise.race([
        untilKey(reader.state, 'blob', undefined, 20_000),
        history
          .until(() => history.closes.length > 0)
          .then(() => {
            throw new Error(`the writer was closed: ${JSON.stringify(history.closes)}`)
          })
      ]),
      20_000,
      'the blob at the reader'
    )
    assert.equal((reader.state.get('blob') as string).length, BIG)
    assert.deepEqual(history.closes, [], 'the writer was never disconnected')
    assert.equal(relay.metrics.get('errors_total'), 0)
    // Still alive and serving: a small write goes both ways.
    reader.state.set('after', 1)
    await untilKey(writer.state, 'after', 1)
    assert.equal((await fetch(`${relay.httpUrl}healthz`)).status, 200)
  } finally {
    writer.destroy()
    reader.destroy()
    await relay.close()
  }
})

test('maxMessageBytes 1 MiB: a 2 MiB client is closed with 1009 at each retry, logged once', async () => {
  const logger = memoryLogger()
  const relay = await testRelay({ logger, maxMessageBytes: MiB })
  const big = stockClient(relay.url, 'too-big', ProviderV3, { connect: false })
  const history = socketHistory(big.provider)
  const small = stockClient(relay.url, 'too-big')
  try {
    big.state.set('blob', 'x'.repeat(2 * MiB))
    big.provider.connect()
    await within(
      history.until(() => history.closes.length >= 4),
      10_000,
      'four closes of the big client'
    )
    assert.ok(
      history.closes.every((c) => c.code === CLOSE.tooBig),
      JSON.stringify(history.closes)
    )
    const lines = logger.lines.filter((l) => l.includes('over the size limit'))
    assert.equal(lines.length, 1, `one size-limit line for ${history.closes.length} closes:\n${lines.join('\n')}`)
    assert.match(lines[0]!, / limit=1048576( |$)/)
    // The relay never took the blob, and still serves the room.
    await within(small.synced, 5_000, 'a small client to sync')
    small.state.set('ok', true)
    await untilKey(big.state, 'ok', true)
    assert.equal(small.state.has('blob'), false)
  } finally {
    big.destroy()
    small.destroy()
    await relay.close()
  }
})

test('pathPrefix /collab: stock clients of every major and ours sync under it; other paths are refused with 4400', async () => {
  const relay = await testRelay({ pathPrefix: '/collab' })
  const base = `${relay.url}/collab`
  const room = 'team/doc 1'
  const stock = MAJORS.map(({ Provider }) => stockClient(base, room, Provider))
  const ours = ourSession(base, room)
  const refused = ['other/room', 'room', 'collab', 'collab/', 'collabx/room'].map((path) => ({ path, raw: rawSocket(relay.url, path) }))
  try {
    await within(Promise.all([...stock.map((c) => c.synced), ours.ready]), 10_000, 'clients under /collab to sync')
    stock[0]!.state.set('stock', '1.x')
    ours.set('ours', 'yes')
    await within(
      Promise.all([
        ourKey(ours, 'stock', '1.x'),
        ...stock.map((c) => untilKey(c.state, 'ours', 'yes')),
        ...stock.map((c) => untilKey(c.state, 'stock', '1.x'))
      ]),
      10_000,
      'keys under /collab'
    )
    assert.deepEqual(relay.loadedRooms(), [room])
    const codes = await within(Promise.all(refused.map(({ raw }) => raw.closed)), 5_000, 'the refusals')
    assert.deepEqual(
      codes.map((c, i) => [refused[i]!.path, c.code]),
      refused.map(({ path }) => [path, CLOSE.badRoom])
    )
  } finally {
    for (const c of stock) c.destroy()
    ours.close()
    for (const { raw } of refused) raw.ws.terminate()
    await relay.close()
  }
})
