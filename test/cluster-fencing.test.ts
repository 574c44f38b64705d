/**
 * Fencing across relays (SEMANTICS §2.2 "Exactness", §2.5): a session's old connection holds a
 * lease through one relay, the session reconnects through another, and the old connection's
 * COMMIT arrives after that. The new HELLO records the session's socket in Redis, so the commit
 * script refuses the late COMMIT on any relay, and the fate answer (DENIED) is final. Spoken
 * frame by frame over raw sockets, against two relays on the test's own Redis and PostgreSQL.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import * as decoding from 'lib0/decoding'
import { clusterFixture } from './support/cluster-services.js'
import { rawSocket, relayStateAfter, type RawSocket } from './support/helpers.js'
import {
  HELLO_FENCES,
  MESSAGE_YSS,
  YSS_ACCESS,
  YSS_ACQUIRE,
  YSS_COMMIT,
  YSS_DENIED,
  YSS_DONE,
  YSS_GRANT,
  YSS_HELLO,
  decodeYss,
  encodeYss,
  type FateQuestion,
  type YssMessage
} from '../protocol/messages.js'

const fixture = clusterFixture()

/** The next message 100 on `socket` that `match` accepts. */
const reply = async (socket: RawSocket, match: (m: YssMessage) => boolean): Promise<YssMessage> => {
  const decode = (f: Uint8Array) => decodeYss(decoding.createDecoder(f.subarray(1)))
  return decode(await socket.frame((f) => f[0] === MESSAGE_YSS && match(decode(f))))
}

const hello = (session: string, socket: number, commits: FateQuestion[] = []) =>
  encodeYss({ type: YSS_HELLO, id: HELLO_FENCES, fence: { session, socket, commits } })

test("a COMMIT from a session's old connection on one relay, after the session reconnected through another, is refused and applied never", async () => {
  const [r0, r1] = await Promise.all([fixture.relay(), fixture.relay()])
  const room = 'fence-across'
  const old = rawSocket(r0.url, room)
  await old.opened
  old.send(hello('session-1', 1))
  await reply(old, (m) => m.type === YSS_ACCESS)
  old.send(encodeYss({ type: YSS_ACQUIRE, id: 1, keys: ['k'] }))
  await reply(old, (m) => m.type === YSS_GRANT && m.id === 1)

  // The commit the old connection will send late: k = 'late', under a client id of its own.
  const writer = new Y.Doc()
  writer.getMap('state').set('k', 'late')
  const update = Y.encodeStateAsUpdate(writer)
  const question: FateQuestion = { id: 1, socket: 1, index: 1, client: writer.clientID, end: 1, deletions: new Uint8Array(0) }

  const fresh = rawSocket(r1.url, room)
  await fresh.opened
  fresh.send(hello('session-1', 2, [question]))
  const fate = await reply(fresh, (m) => m.id === 1 && (m.type === YSS_DONE || m.type === YSS_DENIED))
  assert.equal(fate.type, YSS_DENIED, 'the commit was not applied before the fence')

  old.send(encodeYss({ type: YSS_COMMIT, id: 1, update }))
  const late = await reply(old, (m) => m.id === 1 && (m.type === YSS_DONE || m.type === YSS_DENIED))
  assert.equal(late.type, YSS_DENIED, 'the late COMMIT is refused')
  assert.match((late as { reason: string }).reason, /abandoned/)
  for (const socket of [old, fresh]) {
    const state = await relayStateAfter(socket.ws)
    assert.equal(state.getMap('state').has('k'), false, 'applied never, on either relay')
  }
  old.ws.close()
  fresh.ws.close()
})
