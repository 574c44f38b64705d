/**
 * Lock replies that carry the room's state vector (GRANT, RETAINED) cost what the room's client
 * ids cost, so the relay encodes it once per batch (again only once the doc changed), never for
 * a closed peer, and a connection's COMMITs count as open requests: past `maxLockRequests` in one
 * batch they are DENIED, also on a retained lease, which otherwise needs no ACQUIRE.
 *
 * Run against the relay before: 256 GRANTs in one batch encode the state vector 256 times, and
 * 1,000 COMMITs on one retained lease are each answered RETAINED.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import * as decoding from 'lib0/decoding'
import {
  HELLO_RETAINS,
  YSS_ACQUIRE,
  YSS_COMMIT,
  YSS_DENIED,
  YSS_GRANT,
  YSS_HELLO,
  YSS_RETAINED,
  decodeYss,
  encodeYss,
  type YssMessage
} from '../protocol/messages.js'
import { RoomRegistry } from '../relay/room/registry.js'
import { MemoryStore } from '../relay/store/memory-store.js'
import { localBus } from '../relay/room/bus.js'
import { Metrics } from '../relay/metrics.js'
import { LogLimiter } from '../relay/log-limiter.js'
import { resolveLimits } from '../relay/limits.js'
import type { Peer } from '../relay/peer.js'
import type { Room } from '../relay/room/room.js'
import { memoryLogger, updateFrame } from './support/helpers.js'

/** A peer that keeps the lock replies it is sent. */
const recorder = (id: number): Peer & { replies: YssMessage[]; closed: boolean } => {
  const replies: YssMessage[] = []
  return {
    id,
    closed: false,
    replies,
    send: (frame) => {
      if (frame[0] === 100) replies.push(decodeYss(decoding.createDecoder(frame.subarray(1))))
    },
    reserve: () => true,
    fail: () => {},
    overLimit: () => {}
  }
}

const setup = async () => {
  const log = memoryLogger()
  const metrics = new Metrics()
  const rooms = new RoomRegistry(
    {
      store: new MemoryStore(),
      bus: localBus,
      metrics,
      log,
      leaseMs: 60_000,
      compactEvery: 500,
      limits: resolveLimits({}),
      limited: new LogLimiter(log, 60_000)
    },
    60_000
  )
  return { rooms, metrics, room: await rooms.open('locks') }
}

/** Counts how often the room's client table is iterated, as encoding a state vector does. */
const countEncodings = (room: Room): { readonly n: number } => {
  const clients = room.doc.store.clients
  const iterate = clients[Symbol.iterator].bind(clients)
  const counter = { n: 0 }
  clients[Symbol.iterator] = () => {
    counter.n++
    return iterate()
  }
  return counter
}

test("256 GRANTs in one batch encode the state vector once; a closed peer's GRANT encodes nothing", async () => {
  const { rooms, room } = await setup()
  try {
    const peer = recorder(1)
    room.join(peer)
    await room.idle()
    const encodings = countEncodings(room)
    for (let i = 0; i < 256; i++) room.receive(peer, encodeYss({ type: YSS_ACQUIRE, id: i + 1, keys: [`k${i}`] }))
    await room.idle()
    assert.equal(peer.replies.filter((m) => m.type === YSS_GRANT).length, 256)
    assert.ok(encodings.n <= 2, `the state vector was encoded ${encodings.n} times`)

    const gone = recorder(2)
    room.join(gone)
    const before = encodings.n
    const doc = new Y.Doc()
    doc.getMap('m').set('changed', 1)
    room.receive(gone, updateFrame(Y.encodeStateAsUpdate(doc))) // the doc changes: a cached state vector would not do
    room.receive(gone, encodeYss({ type: YSS_ACQUIRE, id: 1, keys: ['other'] }))
    gone.closed = true
    await room.idle()
    assert.equal(encodings.n, before, 'no state vector encoded for a closed peer')
  } finally {
    await rooms.close()
  }
})

test('COMMITs on one retained lease past maxLockRequests in one batch are DENIED and counted', async () => {
  const { rooms, room, metrics } = await setup()
  try {
    const peer = recorder(1)
    room.join(peer)
    room.receive(peer, encodeYss({ type: YSS_HELLO, id: HELLO_RETAINS }))
    room.receive(peer, encodeYss({ type: YSS_ACQUIRE, id: 7, keys: ['k'] }))
    await room.idle()
    room.receive(peer, encodeYss({ type: YSS_COMMIT, id: 7, update: new Uint8Array(0) }))
    await room.idle()
    assert.equal(peer.replies.at(-1)?.type, YSS_RETAINED)
    const from = peer.replies.length
    for (let i = 0; i < 1_000; i++) room.receive(peer, encodeYss({ type: YSS_COMMIT, id: 7, update: new Uint8Array(0) }))
    await room.idle()
    const replies = peer.replies.slice(from)
    const retained = replies.filter((m) => m.type === YSS_RETAINED).length
    const denied = replies.filter((m) => m.type === YSS_DENIED).length
    assert.equal(retained + denied, 1_000)
    assert.ok(retained <= 2 * 256, `${retained} RETAINED`)
    assert.equal(metrics.hits('maxLockRequests'), denied)
  } finally {
    await rooms.close()
  }
})
