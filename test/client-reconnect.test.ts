/**
 * Sessions across relay restarts: offline writes, reconnection, re-sync and flush, against the
 * relay's CLI in a child process that is killed with SIGKILL.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnRelay, tempDir, session, counter, eventually, within } from './support/helpers.js'
import { LockTimeoutError, type ServerState, type Status } from '../client/index.js'

const untilStatus = (s: ServerState<any>, status: Status, what: string) =>
  eventually(() => s.status === status, `${what} to be ${status}`, 10_000)

test('writes made offline are kept, synced on reconnect, and re-run the sessions bound to them', async () => {
  const data = tempDir('reconnect')
  let relay = await spawnRelay(['--port', '0', '--data', data.path, '--log-level', 'warn'])
  const port = new URL(relay.url).port
  const opts = { maxBackoffMs: 200 }
  const writer = await session(relay.url, 'offline', opts)
  const reader = await session(relay.url, 'offline', opts)
  try {
    const bound = counter(reader, () => reader.get('offline'))
    writer.set('before', 1)
    await writer.flush()
    await relay.kill('SIGKILL')
    await untilStatus(writer, 'disconnected', 'the writer')
    await untilStatus(reader, 'disconnected', 'the reader')

    writer.set('offline', 'written while the relay was down')
    assert.equal(writer.get('offline'), 'written while the relay was down')
    await assert.rejects(
      writer.lock('count', () => 1),
      LockTimeoutError
    )
    const flushed = writer.flush() // waits for the reconnection

    relay = await spawnRelay(['--port', port, '--data', data.path, '--log-level', 'warn'])
    await within(flushed, 10_000, 'the flush after reconnecting')
    await eventually(() => bound.count === 1, 'the reader to be re-run by the offline write', 10_000)
    assert.equal(reader.get('offline'), 'written while the relay was down')
    assert.equal(reader.status, 'connected')

    // flush() means stored: what it covered survives another SIGKILL.
    writer.set('flushed', true)
    await writer.flush()
    await relay.kill('SIGKILL')
    relay = await spawnRelay(['--port', port, '--data', data.path, '--log-level', 'warn'])
    const late = await session(relay.url, 'offline')
    try {
      assert.deepEqual(late.keys().sort(), ['before', 'flushed', 'offline'])
    } finally {
      late.close()
    }
  } finally {
    writer.close()
    reader.close()
    await relay.kill('SIGTERM')
    data.remove()
  }
})
