/**
 * Presence (`server.presence`) across real sockets: two of our sessions, a stock y-websocket
 * client, and a socket that dies without a word; bound like a key; removal after a close.
 */
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as awarenessProtocol from 'y-protocols/awareness'
import { counter, rawSocket, sessionPool, stockClient, within } from './support/helpers.js'
import { SessionClosedError, type PresenceEntry } from '../client/index.js'
import { MESSAGE_AWARENESS } from '../protocol/messages.js'
import type { ServerState } from '../client/session.js'

const pool = sessionPool('presence')
after(pool.close)

type List = readonly PresenceEntry[]

/** Resolves with `s`'s presence list once `check` accepts it; waits on the change, bounded. */
const untilPresence = (s: ServerState<any>, check: (list: List) => boolean, what: string, timeout = 5_000): Promise<List> => {
  if (check(s.presence.list())) return Promise.resolve(s.presence.list())
  let stop = () => {}
  return within(
    new Promise<List>((resolve) => {
      stop = s.presence.subscribe((list) => {
        if (check(list)) {
          stop()
          resolve(list)
        }
      })
    }),
    timeout,
    what
  ).finally(() => stop())
}

const of = (list: List, clientId: number) => list.find((p) => p.clientId === clientId)

test('a presence set in one session shows in the other, with self first in each list', async () => {
  const [a, b] = (await pool.sessions(2)) as [ServerState<any>, ServerState<any>]
  a.presence.set({ nickname: 'alice' })
  b.presence.set({ nickname: 'bob' })
  const seenByB = await untilPresence(b, (l) => of(l, a.doc.clientID)?.state.nickname === 'alice', 'alice in b')
  assert.deepEqual(seenByB[0], { clientId: b.doc.clientID, state: { nickname: 'bob' }, self: true }, 'self first')
  assert.equal(of(seenByB, a.doc.clientID)?.self, false)
  const seenByA = await untilPresence(a, (l) => of(l, b.doc.clientID)?.state.nickname === 'bob', 'bob in a')
  assert.deepEqual(
    seenByA.map((p) => p.self),
    [true, false]
  )
  assert.deepEqual(a.presence.mine, { nickname: 'alice' })
  a.presence.update({ typing: true })
  await untilPresence(b, (l) => of(l, a.doc.clientID)?.state.typing === true, 'an update merged in b')
  assert.deepEqual(of(b.presence.list(), a.doc.clientID)?.state, { nickname: 'alice', typing: true })
})

test('the list is a stable, frozen snapshot until something changes', async () => {
  const [a, b] = (await pool.sessions(2)) as [ServerState<any>, ServerState<any>]
  await untilPresence(a, (l) => l.length === 2, 'both sessions in a')
  const list = a.presence.list()
  assert.equal(a.presence.list(), list, 'the same array while nothing changed')
  assert.ok(Object.isFrozen(list) && Object.isFrozen(list[0]) && Object.isFrozen(list[0]!.state))
  b.presence.set({ nickname: 'bob' })
  await untilPresence(a, (l) => l !== list, 'a new list after a change')
  assert.notEqual(a.presence.list(), list)
})

test('presence is bound like a key: a tracker that read the list re-runs on a change, others do not', async () => {
  const [a, b] = (await pool.sessions(2)) as [ServerState<any>, ServerState<any>]
  await untilPresence(a, (l) => l.length === 2, 'both sessions in a')
  const reader = counter(a, () => a.presence.list())
  const other = counter(a, () => a.get('x'))
  b.presence.set({ nickname: 'bob' })
  await untilPresence(a, (l) => of(l, b.doc.clientID)?.state.nickname === 'bob', 'bob in a')
  assert.equal(reader.count, 1, 'the reader re-ran once')
  assert.equal(other.count, 0, 'a tracker that did not read presence did not')
  // A tracker that sets its own presence while it runs is not re-run by it: no loop.
  const setter = counter(a, () => {
    a.presence.list()
    a.presence.set({ nickname: 'alice' })
  })
  assert.equal(setter.count, 0)
  assert.equal(reader.count, 2, 'the reader saw the own change')
  reader.tracker.dispose()
  b.presence.set({ nickname: 'bobby' })
  await untilPresence(a, (l) => of(l, b.doc.clientID)?.state.nickname === 'bobby', 'bobby in a')
  assert.equal(reader.count, 2, 'a disposed tracker is not re-run')
})

test("a stock y-websocket client's awareness shows, and ours shows to it", async () => {
  const [a] = (await pool.sessions(1)) as [ServerState<any>]
  const stock = stockClient((await pool.relay()).url, a.room)
  pool.track({ close: () => stock.destroy() })
  stock.provider.awareness.setLocalStateField('user', { name: 'stock' })
  await stock.synced
  a.presence.set({ nickname: 'alice' })
  const list = await untilPresence(a, (l) => of(l, stock.doc.clientID)?.state.user !== undefined, 'the stock client in a')
  assert.deepEqual(of(list, stock.doc.clientID)?.state, { user: { name: 'stock' } })
  await within(
    new Promise<void>((resolve) => {
      const look = () => {
        if ((stock.provider.awareness.getStates().get(a.doc.clientID) as { nickname?: string } | undefined)?.nickname !== 'alice') return
        stock.provider.awareness.off('change', look)
        resolve()
      }
      stock.provider.awareness.on('change', look)
      look()
    }),
    5_000,
    'alice in the stock client'
  )
  stock.provider.awareness.setLocalState(42 as never) // not an object: left out
  await untilPresence(a, (l) => !of(l, stock.doc.clientID), 'a non-object state left out')
  stock.destroy()
})

test("a closed session leaves the others' lists; its own list is empty and set throws", async () => {
  const [a, b] = (await pool.sessions(2)) as [ServerState<any>, ServerState<any>]
  b.presence.set({ nickname: 'bob' })
  await untilPresence(a, (l) => of(l, b.doc.clientID)?.state.nickname === 'bob', 'bob in a')
  const gone = untilPresence(a, (l) => !of(l, b.doc.clientID), "bob to leave a's list", 2_000)
  b.close()
  await gone
  assert.deepEqual(b.presence.list(), [])
  assert.equal(b.presence.mine, null)
  assert.throws(() => b.presence.set({ nickname: 'late' }), SessionClosedError)
})

test('a socket that dies without a word: the relay drops its awareness state at once', async () => {
  const [a] = (await pool.sessions(1)) as [ServerState<any>]
  const raw = rawSocket((await pool.relay()).url, a.room)
  await raw.opened
  const ghost = new awarenessProtocol.Awareness(new Y.Doc())
  ghost.setLocalState({ nickname: 'ghost' })
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, MESSAGE_AWARENESS)
  encoding.writeVarUint8Array(e, awarenessProtocol.encodeAwarenessUpdate(ghost, [ghost.clientID]))
  raw.send(encoding.toUint8Array(e))
  await untilPresence(a, (l) => of(l, ghost.clientID)?.state.nickname === 'ghost', 'the ghost in a')
  const gone = untilPresence(a, (l) => !of(l, ghost.clientID), 'the ghost to leave', 2_000)
  raw.ws.terminate() // no null state sent, no close frame
  await gone
  ghost.destroy()
})

test('clear() hides this session from the others; set checks JSON; an equal set sends nothing', async () => {
  const [a, b] = (await pool.sessions(2)) as [ServerState<any>, ServerState<any>]
  a.presence.set({ nickname: 'alice' })
  await untilPresence(b, (l) => of(l, a.doc.clientID)?.state.nickname === 'alice', 'alice in b')
  a.presence.clear()
  await untilPresence(b, (l) => !of(l, a.doc.clientID), 'alice hidden')
  assert.equal(a.presence.mine, null)
  assert.throws(() => a.presence.set({ bad: () => 1 } as never), /server state "presence": bad is a function/)
  assert.throws(() => a.presence.set([1] as never), /not a JSON object/)
  a.presence.set({ nickname: 'alice' })
  const awareness = a.provider.awareness
  const clock = awareness.meta.get(a.doc.clientID)!.clock
  a.presence.set({ nickname: 'alice' })
  a.presence.update({ nickname: 'alice' })
  assert.equal(awareness.meta.get(a.doc.clientID)!.clock, clock, 'no awareness update for an equal state')
})
