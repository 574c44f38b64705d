import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect as netConnect } from 'node:net'
import { testRelay, stockClient, untilKey, rawSocket, memoryLogger, within, updateFrame } from './support/helpers.js'
import type { Relay } from '../relay/server.js'

/**
 * Each bad input closes its own connection with the fitting code and a log line, while two
 * healthy stock clients in the same room keep syncing over their original sockets.
 */
const withHealthyPair = async (
  what: string,
  room: string,
  attack: (relay: Relay) => Promise<number>,
  expectedCode: number,
  options: Parameters<typeof testRelay>[0] = {}
) => {
  const logger = memoryLogger()
  const relay = await testRelay({ logger, ...options })
  const a = stockClient(relay.url, room)
  const b = stockClient(relay.url, room)
  try {
    await Promise.all([a.synced, b.synced])
    const sockets = [a.provider.ws, b.provider.ws]
    const code = await attack(relay)
    assert.equal(code, expectedCode, `${what}: close code`)
    assert.ok(
      logger.lines.some((l) => l.includes('level=warn')),
      `${what}: a warn line is logged`
    )
    a.state.set('after', what)
    await untilKey(b.state, 'after', what)
    assert.deepEqual([a.provider.ws, b.provider.ws], sockets, `${what}: healthy sockets were never replaced`)
    const health = await fetch(`${relay.url.replace('ws', 'http')}/healthz`)
    assert.equal(health.status, 200)
  } finally {
    a.destroy()
    b.destroy()
    await relay.close()
  }
}

const sendRaw = async (relay: Relay, room: string, data: Uint8Array | string): Promise<number> => {
  const raw = rawSocket(relay.url, room)
  await raw.opened
  raw.send(data)
  return (await within(raw.closed, 5_000, 'the relay to close the socket')).code
}

test('a text frame closes with 1003', () => withHealthyPair('text', 'bad-text', (r) => sendRaw(r, 'bad-text', 'hello'), 1003))

test('a frame that is not a y-websocket message closes with 1002', () =>
  withHealthyPair('garbage', 'bad-garbage', (r) => sendRaw(r, 'bad-garbage', new Uint8Array([0, 7, 1, 2, 3])), 1002))

test('trailing bytes after a message close with 1002', () =>
  withHealthyPair('trailing', 'bad-trailing', (r) => sendRaw(r, 'bad-trailing', new Uint8Array([3, 3, 3])), 1002))

test('a truncated varint closes with 1002', () =>
  withHealthyPair('varint', 'bad-varint', (r) => sendRaw(r, 'bad-varint', new Uint8Array([0x80])), 1002))

test('a truncated sync message closes with 1002', () =>
  withHealthyPair('truncated', 'bad-trunc', (r) => sendRaw(r, 'bad-trunc', new Uint8Array([0, 2, 50, 1, 2])), 1002))

test('an unknown message type closes with 1002', () =>
  withHealthyPair('unknown', 'bad-type', (r) => sendRaw(r, 'bad-type', new Uint8Array([42])), 1002))

test('an update that fails to apply closes with 1007', () =>
  withHealthyPair('update', 'bad-update', (r) => sendRaw(r, 'bad-update', new Uint8Array([0, 2, 4, 1, 200, 200, 200])), 1007))

// Found by fuzzing: it parses (Y.parseUpdateMeta) and throws only half-way through Y.applyUpdate.
const PARSES_THEN_THROWS =
  '010badefcf800800210105737461746501610128010573746174650162017601017875027d017d022701057374617465016c000800adefcf800802017d0181adefcf8008030188adefcf80081e017d0304010174016884adefcf80080602656c84adefcf800808026c6fc6adefcf800806adefcf80080704626f6c640474727565c6adefcf800808adefcf80080904626f6c64046e756c6c01adefcf80080200010401'

test('an update that parses but throws while applying closes only its connection with 1007', () =>
  withHealthyPair(
    'half-applied',
    'bad-half',
    (r) => sendRaw(r, 'bad-half', updateFrame(Uint8Array.from(Buffer.from(PARSES_THEN_THROWS, 'hex')))),
    1007
  ))

test('a frame over --max-message-bytes closes with 1009', () =>
  withHealthyPair('size', 'bad-size', (r) => sendRaw(r, 'bad-size', new Uint8Array(4096)), 1009, { maxMessageBytes: 2048 }))

test('a malformed lock message closes with 1002', () =>
  withHealthyPair('lock', 'bad-lock', (r) => sendRaw(r, 'bad-lock', new Uint8Array([100, 1, 1, 0])), 1002))

test('a socket that errors (a broken WebSocket frame) closes with 1002', () =>
  withHealthyPair(
    'socket',
    'bad-socket',
    async (relay) => {
      // A raw TCP client upgrades properly, then sends an unmasked frame, which RFC 6455 forbids.
      const { port } = new URL(relay.url)
      const socket = netConnect(Number(port), '127.0.0.1')
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
      socket.write(
        'GET /bad-socket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'
      )
      let received = Buffer.alloc(0)
      socket.on('data', (d) => {
        received = Buffer.concat([received, d])
      })
      await within(
        new Promise<void>((resolve) => {
          const check = () => {
            if (received.includes('\r\n\r\n')) {
              socket.off('data', check)
              resolve()
            }
          }
          socket.on('data', check)
        }),
        5_000,
        'the upgrade'
      )
      socket.write(Buffer.from([0x82, 0x02, 0x00, 0x00]))
      await within(new Promise<void>((resolve) => socket.once('close', () => resolve())), 5_000, 'the socket to close')
      // The close frame the relay sent: 0x88, length, then the code.
      const at = received.indexOf(Buffer.from([0x88]), received.indexOf('\r\n\r\n') + 4)
      return received.readUInt16BE(at + 2)
    },
    1002
  ))

test('a path that names no room closes with 4400 and never reaches the store; what the reference accepts is a store key', async () => {
  const logger = memoryLogger()
  const loaded: string[] = []
  const relay = await testRelay({
    logger,
    refusalDelayMs: 20,
    store: {
      load: async (room) => {
        loaded.push(room)
        return { updates: [], position: 0 }
      },
      append: async () => 1,
      compact: async () => {},
      close: async () => {}
    }
  })
  try {
    for (const bad of ['', 'a'.repeat(2049), 'nul%00byte', '..%2F..%2Fetc']) {
      const raw = rawSocket(relay.url, bad)
      const { code } = await within(raw.closed, 5_000, `close of ${bad.slice(0, 20)}`)
      assert.equal(code, 4400, bad.slice(0, 20))
    }
    assert.deepEqual(loaded, [])
    // Logged once a minute per kind of refusal, whatever the path (it is a field of the line).
    assert.equal(logger.lines.filter((l) => l.includes('invalid room name')).length, 1)
    const accepted: Array<[string, string]> = [
      ['..etc%2Fa..', '..etc/a..'],
      ['org/doc-1', 'org/doc-1'],
      ['my%20room', 'my room'],
      ['caf%C3%A9', 'café'],
      ['doc:123', 'doc:123'],
      ['a@b', 'a@b'],
      ['100%', '100%'],
      ['é'.repeat(1024), 'é'.repeat(1024)]
    ]
    for (const [path, name] of accepted) {
      const raw = rawSocket(relay.url, path)
      await raw.frame((f) => f[0] === 0)
      raw.ws.close()
      assert.equal(loaded.at(-1), name)
    }
  } finally {
    await relay.close()
  }
})
