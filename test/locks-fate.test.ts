/**
 * The relay's side of fencing (relay/lock-messages.ts, relay/session-fences.ts), message by
 * message on a room's lock context without sockets: which connections a HELLO fences, and how a
 * fate question is answered, from the session's record or, when the room has none (the relay
 * restarted), from the doc. Also: a HELLO without the fencing bit (our older clients) is served
 * as before.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import { handleLockMessage, type LockContext } from '../relay/locks/lock-messages.js'
import { LeaseTable } from '../relay/locks/lease-table.js'
import { SessionFences } from '../relay/locks/session-fences.js'
import { KeyChanges } from '../relay/locks/key-changes.js'
import type { Peer } from '../relay/peer.js'
import {
  HELLO_FENCES,
  HELLO_RETAINS,
  YSS_ACCESS,
  YSS_COMMIT,
  YSS_DENIED,
  YSS_DONE,
  YSS_HELLO,
  type FateQuestion,
  type YssMessage
} from '../protocol/messages.js'
import { CLOSE } from '../protocol/close-codes.js'

const peer = (id: number, user?: string): Peer & { failed: number | null } => ({
  id,
  ...(user ? { grant: { access: 'write' as const, user, presence: true } } : {}),
  closed: false,
  failed: null,
  send() {},
  reserve: () => true,
  fail(code) {
    this.failed = code
    ;(this as { closed: boolean }).closed = true
  },
  overLimit() {}
})

const context = (doc: Y.Doc) => {
  const replies: Array<{ peer: Peer; m: YssMessage }> = []
  const ctx: LockContext = {
    doc,
    leases: new LeaseTable<Peer>({ leaseMs: 60_000, onGrant() {} }),
    limits: { maxLockRequests: 100, maxLockKeyChars: 10_000 },
    reply: (p, m) => {
      replies.push({ peer: p, m })
    },
    replyRetained() {},
    retainers: new WeakSet(),
    check() {},
    apply: (_p, update) => Y.applyUpdate(doc, update),
    refused() {},
    flush() {},
    fences: new SessionFences<Peer>(),
    keyChanges: new KeyChanges(doc),
    retainedSince: new WeakMap()
  }
  return { ctx, replies }
}

const hello = (session: string, socket: number, commits: FateQuestion[] = []): YssMessage => ({
  type: YSS_HELLO,
  id: HELLO_RETAINS | HELLO_FENCES,
  fence: { session, socket, commits }
})

test("a HELLO fences the session's other connections, not other sessions'", () => {
  const { ctx } = context(new Y.Doc())
  const [old, other, fresh] = [peer(1), peer(2), peer(3)]
  handleLockMessage(ctx, old, hello('s1', 1))
  handleLockMessage(ctx, other, hello('s2', 1))
  ctx.leases.acquire(old, 7, ['k'])
  assert.ok(ctx.leases.isGranted(old, 7))
  handleLockMessage(ctx, fresh, hello('s1', 2))
  assert.equal(old.failed, CLOSE.superseded)
  assert.equal(other.failed, null)
  assert.equal(fresh.failed, null)
  // Another user presenting the same session id closes nothing.
  const mine = peer(4, 'ann')
  handleLockMessage(ctx, mine, hello('s3', 1))
  handleLockMessage(ctx, peer(5, 'bob'), hello('s3', 2))
  assert.equal(mine.failed, null)
})

test('without a record of the session, a fate is read from the doc: items by their clocks, a commit without items by its deletions', () => {
  const doc = new Y.Doc()
  doc.getMap('state').set('a', 1)
  doc.getMap('state').set('b', 2)
  const { ctx, replies } = context(doc)
  const lockClient = 424242
  // A commit with items (clocks 0..2 of lockClient) that the doc does not hold, and one whose clocks it does.
  const writer = new Y.Doc()
  writer.clientID = lockClient
  Y.applyUpdate(writer, Y.encodeStateAsUpdate(doc))
  writer.getMap('state').set('c', 3)
  const held = Y.encodeStateAsUpdate(writer, Y.encodeStateVector(doc))
  Y.applyUpdate(doc, held)
  const end = Y.getState(doc.store, lockClient)
  // A commit that only deletes 'a': its deletions, as the client sends them.
  const deleter = new Y.Doc()
  Y.applyUpdate(deleter, Y.encodeStateAsUpdate(doc))
  const before = Y.encodeStateVector(deleter)
  deleter.getMap('state').delete('a')
  const deletions = Y.encodeStateAsUpdate(deleter, before)
  const q = (id: number, over: Partial<FateQuestion>): FateQuestion => ({
    id,
    socket: 1,
    index: 1,
    client: lockClient,
    end,
    deletions: new Uint8Array(0),
    ...over
  })
  const p = peer(1)
  handleLockMessage(
    ctx,
    p,
    hello('restarted', 2, [
      q(1, {}), // its items are here: applied
      q(2, { end: end + 1 }), // one clock more than the doc holds: not applied
      q(3, { client: 99, end: 0, deletions }) // only deletes 'a', which the doc still has: not applied
    ])
  )
  Y.applyUpdate(doc, deletions)
  handleLockMessage(ctx, peer(2), hello('restarted-2', 2, [q(4, { client: 99, end: 0, deletions })]))
  const answers = replies.filter((r) => r.m.type !== YSS_ACCESS).map((r) => [r.m.id, r.m.type])
  assert.deepEqual(answers, [
    [1, YSS_DONE],
    [2, YSS_DENIED],
    [3, YSS_DENIED],
    [4, YSS_DONE]
  ])
})

test("with a record, a fate is the record's: a commit the session's old socket had applied, or not", () => {
  const doc = new Y.Doc()
  const { ctx, replies } = context(doc)
  const old = peer(1)
  handleLockMessage(ctx, old, hello('s', 1))
  ctx.leases.acquire(old, 5, ['k'])
  const writer = new Y.Doc()
  writer.getMap('state').set('k', 1)
  handleLockMessage(ctx, old, { type: YSS_COMMIT, id: 5, update: Y.encodeStateAsUpdate(writer) })
  assert.equal(doc.getMap('state').get('k'), 1, 'the first commit was applied (and its lease retained)')
  const fresh = peer(2)
  // The doc would say "applied" for any end up to its clock: the record tells commits apart by socket and place.
  const question = (index: number): FateQuestion => ({
    id: 5,
    socket: 1,
    index,
    client: writer.clientID,
    end: 1,
    deletions: new Uint8Array(0)
  })
  replies.length = 0
  handleLockMessage(ctx, fresh, hello('s', 2, [question(1), question(2)]))
  assert.deepEqual(
    replies.filter((r) => r.m.type !== YSS_ACCESS).map((r) => r.m.type),
    [YSS_DONE, YSS_DENIED]
  )
})

test('a HELLO without the fencing bit, as our older clients send it, is answered with ACCESS alone and fences nothing', () => {
  const { ctx, replies } = context(new Y.Doc())
  const a = peer(1)
  const b = peer(2)
  handleLockMessage(ctx, a, { type: YSS_HELLO, id: HELLO_RETAINS })
  handleLockMessage(ctx, b, { type: YSS_HELLO, id: HELLO_RETAINS })
  assert.deepEqual(
    replies.map((r) => r.m.type),
    [YSS_ACCESS, YSS_ACCESS]
  )
  assert.equal(a.failed, null)
})
