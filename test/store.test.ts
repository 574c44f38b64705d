/**
 * The store under the relay: a data directory held by one relay at a time, and stored history
 * that is served whole or not at all.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { resolve } from 'node:path'
import type { Relay } from '../relay/server.js'
import { testRelay, stockClient, untilKey, spawnRelay, tempDir, within } from './helpers.js'

/** The message a start failed with; a relay that started anyway is closed and fails the test. */
const refusal = (start: Promise<Relay>): Promise<string> =>
  start.then(
    async (relay) => { await relay.close(); return assert.fail('the relay started') },
    (err: Error) => err.message
  )

test('a second relay on a data directory in use refuses to start, naming the directory', async () => {
  const dir = tempDir('yss-lock')
  const first = await spawnRelay(['--port', '0', '--data', dir.path, '--log-level', 'warn'])
  try {
    // spawnRelay rejects if the process exits before printing its URL.
    const refused = await spawnRelay(['--port', '0', '--data', dir.path, '--log-level', 'warn']).then(
      (second) => { second.proc.kill('SIGKILL'); return null },
      (err: Error) => err.message
    )
    assert.ok(refused !== null, 'the second relay started')
    assert.match(refused, /relay exited with 1/)
    assert.ok(refused.includes(resolve(dir.path)), refused)
    assert.match(refused, /in use by another relay/)
    const inProcess = await refusal(testRelay({ dataDir: dir.path }))
    assert.ok(inProcess.includes(resolve(dir.path)) && /in use by another relay/.test(inProcess), inProcess)
    // The first relay was not disturbed.
    const a = stockClient(first.url, 'shared')
    const b = stockClient(first.url, 'shared')
    await Promise.all([a.synced, b.synced])
    a.state.set('still', 'served')
    await untilKey(b.state, 'still', 'served')
    a.destroy(); b.destroy()
  } finally {
    await first.kill('SIGKILL')
    dir.remove()
  }
})

test('a start that fails to listen releases the data directory', async () => {
  const dir = tempDir('yss-listen')
  const busy = createServer()
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()))
  const port = (busy.address() as { port: number }).port
  try {
    assert.match(await refusal(testRelay({ dataDir: dir.path, port })), /EADDRINUSE/)
    const relay = await testRelay({ dataDir: dir.path })
    try {
      const a = stockClient(relay.url, 'after')
      await within(a.synced, 5_000, 'the room to be served')
      a.destroy()
    } finally {
      await relay.close()
    }
  } finally {
    busy.close()
    dir.remove()
  }
})
