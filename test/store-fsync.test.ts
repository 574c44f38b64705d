/**
 * `--fsync`: with `always`, every batch of the embedded store is fsynced before any update in it
 * is echoed; with `never`, batches are written without a sync. A store whose sync is held back
 * must hold back the echo: the test holds it and proves, with a ping answered on the same socket,
 * that the relay had every chance to echo and did not.
 */
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import * as Y from 'yjs'
import type { LevelDb, LevelOp } from 'y-leveldb'
import { LevelStore, type Fsync } from '../relay/store/level-store.js'
import { parseCli } from '../relay/cli-options.js'
import { rawSocket, tempDir, testRelay, updateFrame, updateOf, within } from './support/helpers.js'
import { write } from './support/store-helpers.js'

/** A LevelStore whose synced batches, once `hold` is set, wait for `release()`; it records the sync flag of each batch. */
class HeldSyncStore extends LevelStore {
  readonly syncs: boolean[] = []
  hold = false
  private held: Array<() => void> = []
  private reached: Array<() => void> = []

  protected override async writeBatch(db: LevelDb, ops: LevelOp[], sync: boolean): Promise<void> {
    this.syncs.push(sync)
    await super.writeBatch(db, ops, sync)
    if (!sync || !this.hold) return
    for (const r of this.reached.splice(0)) r()
    await new Promise<void>((resolve) => this.held.push(resolve))
  }

  /** Resolves once a synced batch is being held. */
  syncHeld(): Promise<void> {
    return this.held.length > 0 ? Promise.resolve() : new Promise((resolve) => this.reached.push(resolve))
  }

  release(): void {
    for (const r of this.held.splice(0)) r()
  }
}

const dirs: Array<{ remove(): void }> = []
after(() => {
  for (const d of dirs) d.remove()
})

const relayWith = async (fsync: Fsync) => {
  const dir = tempDir('fsync')
  dirs.push(dir)
  const store = new HeldSyncStore(dir.path, undefined, { fsync })
  const relay = await testRelay({ store })
  return { relay, store }
}

/** Resolves with the first update echoed on `socket` that sets `key`. */
const echoOf = (socket: ReturnType<typeof rawSocket>, key: string) =>
  socket.frame((f) => {
    const update = updateOf(f)
    if (!update) return false
    const doc = new Y.Doc()
    Y.applyUpdate(doc, update)
    return doc.getMap('state').has(key)
  })

test('fsync always: an update is echoed only after its batch was synced', async () => {
  const { relay, store } = await relayWith('always')
  const socket = rawSocket(relay.url, 'room')
  try {
    await socket.opened
    store.hold = true
    let echoed = false
    const echo = echoOf(socket, 'x').then(() => {
      echoed = true
    })
    socket.send(updateFrame(write(new Y.Doc(), 'x', 1)))
    await within(store.syncHeld(), 5_000, 'a synced batch')
    // A ping sent now is answered after anything the relay wrote to this socket before it.
    const pong = new Promise<void>((resolve) => socket.ws.once('pong', () => resolve()))
    socket.ws.ping()
    await within(pong, 5_000, 'the pong')
    assert.equal(echoed, false, 'the relay echoed an update whose batch was not synced yet')
    store.hold = false
    store.release()
    await within(echo, 5_000, 'the echo once synced')
    assert.ok(
      store.syncs.every((s) => s),
      `every batch synced: ${store.syncs}`
    )
  } finally {
    store.hold = false
    store.release()
    socket.ws.close()
    await relay.close()
  }
})

test('fsync never: batches are written without a sync, and echoed', async () => {
  const { relay, store } = await relayWith('never')
  const socket = rawSocket(relay.url, 'room')
  try {
    await socket.opened
    const echo = echoOf(socket, 'x')
    socket.send(updateFrame(write(new Y.Doc(), 'x', 1)))
    await within(echo, 5_000, 'the echo')
    assert.ok(store.syncs.length > 0 && store.syncs.every((s) => !s), `no batch synced: ${store.syncs}`)
  } finally {
    socket.ws.close()
    await relay.close()
  }
})

test('--fsync and FSYNC choose the setting; a bad value, --memory and --redis are refused', () => {
  assert.equal((parseCli(['--fsync', 'never'], {}) as { fsync?: Fsync }).fsync, 'never')
  assert.equal((parseCli([], { FSYNC: 'always' }) as { fsync?: Fsync }).fsync, 'always')
  assert.equal((parseCli(['--fsync', 'always'], { FSYNC: 'never' }) as { fsync?: Fsync }).fsync, 'always')
  assert.equal((parseCli([], {}) as { fsync?: Fsync }).fsync, undefined, "the default is the relay's, not the CLI's")
  assert.throws(() => parseCli(['--fsync', 'sometimes'], {}), /--fsync must be always or never, not "sometimes"/)
  assert.throws(() => parseCli(['--fsync', 'always', '--memory'], {}), /--fsync is for the embedded store/)
  assert.throws(
    () => parseCli(['--fsync', 'never', '--redis', 'redis://127.0.0.1:1', '--postgres', 'postgres://x@127.0.0.1/x'], {}),
    /--fsync is for the embedded store/
  )
})

test("the relay's default store syncs every batch", async () => {
  const dir = tempDir('fsync-default')
  dirs.push(dir)
  assert.equal(new LevelStore(dir.path).fsync, 'always')
})
