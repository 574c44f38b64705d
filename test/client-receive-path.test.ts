/**
 * The receive path's savings (client/connection.ts): a received update is not encoded again for
 * the provider, which sends only local changes, and a Node `ws` socket hands messages over as
 * views of what it read. Neither may lose a write: what a listener writes while a received update
 * is being applied still goes out.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import type * as Y from 'yjs'
import { sessionPool, untilKey } from './support/helpers.js'
import { connect } from '../client/index.js'
import type { ServerState } from '../client/session.js'

const pool = sessionPool('receive')
before(async () => {
  await pool.relay()
})
after(pool.close)

/** Whether the doc has an `update` listener as each transaction's update would be encoded, by origin. */
const encodingOf = (s: ServerState<any>) => {
  const seen: Array<{ received: boolean; encoded: boolean }> = []
  // Registered after the session's own listener, so it sees what Yjs sees next.
  s.doc.on('afterTransactionCleanup', (tr: Y.Transaction) => {
    seen.push({
      received: tr.origin === s.provider,
      encoded: (s.doc as unknown as { _observers: Map<string, unknown> })._observers.has('update')
    })
  })
  return seen
}

test('a received update is not encoded again, and a local write still is', async () => {
  const [writer, reader] = (await pool.sessions(2)) as [ServerState<any>, ServerState<any>]
  const seen = encodingOf(reader)
  writer.set('a', 1)
  await untilKey(reader.doc.getMap('state'), 'a', 1)
  reader.set('b', 2)
  await untilKey(writer.doc.getMap('state'), 'b', 2)
  assert.deepEqual(seen, [
    { received: true, encoded: false },
    { received: false, encoded: true }
  ])
})

test('what a listener writes while a received update is applied reaches the others', async () => {
  const [writer, reader] = (await pool.sessions(2)) as [ServerState<any>, ServerState<any>]
  // The tracker is notified inside the received transaction's cleanup; its write is a
  // transaction of its own, cleaned up right after, and must be sent.
  const t = reader.tracker(() => {
    reader.set('echo', reader.get('ping'))
  })
  t.run(() => reader.get('ping'))
  for (let i = 1; i <= 3; i++) {
    writer.set('ping', i)
    await untilKey(writer.doc.getMap('state'), 'echo', i)
  }
  // And a user's own `update` listener still hears received updates.
  const heard: unknown[] = []
  reader.doc.on('update', (_u: Uint8Array, origin: unknown) => heard.push(origin))
  writer.set('ping', 4)
  await untilKey(writer.doc.getMap('state'), 'echo', 4)
  assert.ok(heard.includes(reader.provider), 'the received update was emitted to the user listener')
  t.dispose()
})

test('a ws socket receives buffers; a socket that refuses them keeps ArrayBuffers', async () => {
  const [s] = (await pool.sessions(1)) as [ServerState<any>]
  assert.equal((s.provider.ws as unknown as { binaryType: string }).binaryType, 'nodebuffer')
  /** A socket whose binaryType falls back to blobs for a value it does not know, as some do. */
  class StrictSocket {
    static readonly OPEN = 1
    readonly OPEN = 1
    readyState = 0
    private type = 'blob'
    onopen = null
    onmessage = null
    onclose = null
    onerror = null
    get binaryType(): string {
      return this.type
    }
    set binaryType(v: string) {
      this.type = v === 'arraybuffer' ? v : 'blob'
    }
    send(): void {}
    close(): void {}
  }
  const strict = connect({ url: 'ws://127.0.0.1:9', room: 'strict', WebSocketPolyfill: StrictSocket, broadcastChannel: false })
  try {
    assert.equal((strict.provider.ws as unknown as StrictSocket).binaryType, 'arraybuffer')
  } finally {
    strict.close()
  }
})

test("change detection from the transaction: a list's key re-runs its readers, keys() only when a key comes or goes", async () => {
  const [writer, reader] = (await pool.sessions(2)) as [ServerState<any>, ServerState<any>]
  let listed = 0
  const keys = reader.tracker(() => {
    listed++
  })
  keys.run(() => reader.keys())
  let logged = 0
  const log = reader.tracker(() => {
    logged++
  })
  log.run(() => reader.get('log'))
  await writer.append('log', 'a') // creates the key: both re-run
  await untilKey(reader.doc.getMap('state'), 'log')
  assert.deepEqual([listed, logged], [1, 1])
  log.run(() => reader.get('log'))
  keys.run(() => reader.keys())
  await writer.append('log', 'b') // inside the list: the key's reader only
  const state = reader.doc.getMap('state')
  await new Promise<void>((resolve) => {
    const check = () => {
      if ((state.get('log') as Y.Array<unknown>).length === 2) {
        state.unobserveDeep(check)
        resolve()
      }
    }
    state.observeDeep(check)
    check()
  })
  assert.deepEqual([listed, logged], [1, 2])
  assert.deepEqual(reader.get('log'), ['a', 'b'], 'the cached snapshot was forgotten')
  keys.dispose()
  log.dispose()
})
