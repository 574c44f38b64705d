/**
 * Issue 10, "Disk full": a relay whose disk fills refuses writes with 1013 and acknowledges
 * nothing it did not store, and writes again by itself once space is freed, without a restart
 * and without losing what it acknowledged before.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { closeSync, existsSync, openSync, rmSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import type { Relay } from '../relay/server.js'
import { testRelay, stockClient, untilKey, tempDir, within, memoryLogger, nextEvent } from './support/helpers.js'

/** Mounts a 4 MiB tmpfs on a fresh directory; null (with why) where mounting is not allowed. */
const smallDisk = (): { path: string; remove(): void } | string => {
  const dir = tempDir('yss-full')
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir.path], { stdio: 'pipe' })
  } catch (err) {
    dir.remove()
    return `cannot mount a tmpfs (needs root): ${(err as Error).message.split('\n')[0]}`
  }
  return {
    path: dir.path,
    remove: () => {
      execFileSync('umount', [dir.path])
      dir.remove()
    }
  }
}

/** Fills the disk with one file, until ENOSPC. */
const fill = (file: string): void => {
  const fd = openSync(file, 'w')
  const chunk = Buffer.alloc(64 * 1024, 1)
  try {
    for (;;) writeSync(fd, chunk)
  } catch (err) {
    assert.equal((err as { code?: string }).code, 'ENOSPC')
  } finally {
    closeSync(fd)
  }
}

/** A value LevelDB cannot keep in its 64 KiB write buffer: writing it needs the disk. */
const big = (tag: string): string => Array.from({ length: 20_000 }, (_, i) => `${tag}${(i * 7919) % 100003}`).join(',')

const disk = smallDisk()

test('a full disk closes sessions with 1013; once space is freed the relay writes again, unrestarted, and loses nothing acknowledged', {
  skip: typeof disk === 'string' ? disk : false,
  timeout: 60_000
}, async () => {
  if (typeof disk === 'string') return
  const data = join(disk.path, 'data')
  const log = memoryLogger()
  let relay: Relay = await testRelay({ dataDir: data, logger: log })
  try {
    // Acknowledged before the disk fills: the watcher sees each only after it is stored.
    const writer = stockClient(relay.url, 'room')
    const watcher = stockClient(relay.url, 'room')
    await Promise.all([writer.synced, watcher.synced])
    for (let i = 0; i < 20; i++) writer.state.set(`k${i}`, i)
    await untilKey(watcher.state, 'k19', 19)

    fill(join(disk.path, 'big'))
    const closing = nextEvent<{ code: number; reason: string }>(writer.provider as never, 'connection-close', 10_000)
    writer.state.set('unstored', big('u'))
    const closed = await closing
    assert.equal(closed.code, 1013, `closed with ${closed.code} ${closed.reason}`)
    assert.equal(watcher.state.get('unstored'), undefined, 'a write that was not stored was broadcast')
    writer.destroy()
    watcher.destroy()
    // While the disk is full, a new session is turned away with 1013 too, not 1011.
    const early = stockClient(relay.url, 'room')
    assert.equal((await nextEvent<{ code: number }>(early.provider as never, 'connection-close', 10_000)).code, 1013)
    early.destroy()

    rmSync(join(disk.path, 'big'))
    // The same relay, unrestarted: a write is stored and echoed (it retries the store by itself).
    const after = stockClient(relay.url, 'room')
    const reader = stockClient(relay.url, 'room')
    await within(Promise.all([after.synced, reader.synced]), 15_000, 'sessions once space is freed')
    after.state.set('after', big('a'))
    await untilKey(reader.state, 'after', big('a'), 10_000)
    after.destroy()
    reader.destroy()
    const fresh = stockClient(relay.url, 'room')
    await within(fresh.synced, 10_000, 'a fresh session')
    assert.equal(fresh.state.get('after'), big('a'))
    for (let i = 0; i < 20; i++) assert.equal(fresh.state.get(`k${i}`), i)
    fresh.destroy()
    assert.equal(log.lines.filter((l) => l.includes('store write failed: writes stop')).length, 1, log.lines.join('\n'))

    // And after a restart, all of it is still there, and the store is not taken for damaged.
    await relay.close()
    relay = await testRelay({ dataDir: data, logLevel: 'silent' })
    assert.ok(!existsSync(join(data, 'DAMAGED')))
    const restarted = stockClient(relay.url, 'room')
    await within(restarted.synced, 10_000, 'a session after the restart')
    assert.equal(restarted.state.get('after'), big('a'))
    for (let i = 0; i < 20; i++) assert.equal(restarted.state.get(`k${i}`), i)
    restarted.destroy()
  } finally {
    await relay.close()
    disk.remove()
  }
})
