/**
 * Many busy rooms and one quiet room on one relay: the harness of the `rooms` scenario.
 *
 * Each busy room has a writer and a reader, both raw sockets. The writers send pre-encoded small
 * map sets (the same bytes in every room: a y-websocket frame does not name its room), each
 * writer once an interval, staggered so that the relay is offered a steady stream. Meanwhile one
 * quiet room gets a write now and then, whose latency (writer send → its reader holds it) says
 * what a user of an unrelated room feels while the others are busy.
 *
 * Progress is read from the updates (the writer's clock), not from a count of frames, so a relay
 * that merges a room's backlog into one broadcast is counted right. Writers do not read their
 * echoes (their sockets are paused; the kernel holds the few KB): the readers count, and the load
 * generator spends its CPU on sending and on one reader a room only.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as Y from 'yjs'
import { launchRelay, type LaunchedRelay } from './relay.js'
import { RawClient, openMany } from './raw-client.js'
import { WRITER, writerUpdates } from './fanout.js'
import { percentile } from './stats.js'
import { spinCore } from './children.js'
import { within } from '../../test/support/helpers.js'

/**
 * The relays compared: ours and the reference, each with its LevelDB store and without; ours on
 * LevelDB at both `--fsync` settings (`ours-leveldb` is the default, `always`).
 */
export const ROOMS_SYSTEMS = ['ours-leveldb', 'ours-leveldb-nofsync', 'reference-leveldb', 'ours-memory', 'reference-memory'] as const
export type RoomsSystem = (typeof ROOMS_SYSTEMS)[number]

export const ROOMS_LABEL: Record<RoomsSystem, string> = {
  'ours-leveldb': 'y-server-state, LevelDB, --fsync always (default)',
  'ours-leveldb-nofsync': 'y-server-state, LevelDB, --fsync never',
  'reference-leveldb': 'y-websocket-server 0.1.1, LevelDB (YPERSISTENCE)',
  'ours-memory': 'y-server-state, in memory',
  'reference-memory': 'y-websocket-server 0.1.1, no persistence'
}

export interface RoomsShape {
  rooms: number
  /** Each busy writer's interval between writes, ms. */
  intervalMs: number
  /** How long the load runs, s. */
  seconds: number
  /** The quiet room's interval between writes, ms. */
  quietIntervalMs: number
  /** A process spinning on one core from before the load until every update was delivered: other work on the machine. */
  spin?: boolean
}

export interface RoomsRun {
  /** Updates the busy writers sent. */
  offered: number
  /** Of them, held by the readers when the last one was sent. */
  deliveredDuringLoad: number
  /** From the last send until the readers held every update; NaN if they did not within the bound. */
  drainMs: number
  /** Held by the readers at the end (all of them, unless the drain timed out). */
  delivered: number
  /** The quiet room: write → its reader holds it. */
  quietP50: number
  quietP99: number
  quietMax: number
  /** How late the load generator's sends were against their schedule, p99 (ms): large, and it was the limit. */
  sendLagP99: number
  /** CPU of the bench process and of the relay during the load, as a share of one core. */
  benchCpu: number
  relayCpu: number
  /** The relay's CPU time from the first send until every update was delivered, per update (µs): what an update costs it. */
  relayCpuPerUpdate: number
  /** Ours only: the store writes (one a room's batch) per second, from the first send until every update was delivered. */
  storeWritesPerSec: number
}

const QUIET = 'quiet'
const busyRoom = (i: number): string => `busy-${i}`
const DRAIN_BOUND_MS = 120_000

const startRelay = (system: RoomsSystem, dataDir: string): Promise<LaunchedRelay> => {
  const [kind, store, sync] = system.split('-') as ['ours' | 'reference', 'leveldb' | 'memory', 'nofsync' | undefined]
  return launchRelay({
    system: kind,
    ...(store === 'leveldb' ? { dataDir, ...(kind === 'ours' ? ({ fsync: sync ? 'never' : 'always' } as const) : {}) } : {})
  })
}

/** The writer's clock in `update`, memoised by the frame's bytes: every room gets the same frames. */
const clockReader = (): ((update: Uint8Array, frame: Uint8Array) => number) => {
  const memo = new Map<string, number>()
  return (update, frame) => {
    const key = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength).toString('latin1')
    let clock = memo.get(key)
    if (clock === undefined) {
      clock = Y.parseUpdateMeta(update).to.get(WRITER) ?? 0
      memo.set(key, clock)
    }
    return clock
  }
}

const cpuSeconds = (c: { user: number; system: number }): number => (c.user + c.system) / 1e6

export const runBusyRooms = async (system: RoomsSystem, shape: RoomsShape): Promise<RoomsRun> => {
  const { rooms, intervalMs, seconds, quietIntervalMs } = shape
  const perWriter = Math.max(1, Math.floor((seconds * 1000) / intervalMs))
  const offered = rooms * perWriter
  const quietCount = Math.max(1, Math.floor((seconds * 1000) / quietIntervalMs))
  const dataDir = mkdtempSync(join(tmpdir(), 'yss-bench-rooms-'))
  const relay = await startRelay(system, dataDir)
  const clients: RawClient[] = []
  let unspin: (() => Promise<void>) | null = null
  try {
    const readers = await openMany('y-websocket', relay.url, rooms, busyRoom, 100)
    clients.push(...readers)
    const writers = await openMany('y-websocket', relay.url, rooms, busyRoom, 100)
    clients.push(...writers)
    const quietReader = await RawClient.open('y-websocket', relay.url, QUIET)
    const quietWriter = await RawClient.open('y-websocket', relay.url, QUIET)
    clients.push(quietReader, quietWriter)
    for (const w of [...writers, quietWriter]) w.ws.pause()

    const frames = writerUpdates(perWriter).map((u) => writers[0]!.updateFrame(u))
    const quietFrames = writerUpdates(quietCount).map((u) => quietWriter.updateFrame(u))

    // Readers: each room's progress, and the moment every update is held.
    const progress = new Int32Array(rooms)
    let delivered = 0
    /** When the readers held every update, and who waits for that moment. */
    let allAt = NaN
    let allDelivered: (() => void) | null = null
    const clockOf = clockReader()
    readers.forEach((reader, i) => {
      reader.onUpdate = (update, frame) => {
        const clock = Math.min(clockOf(update, frame), perWriter)
        if (clock <= progress[i]!) return
        delivered += clock - progress[i]!
        progress[i] = clock
        if (delivered === offered) {
          allAt = performance.now()
          allDelivered?.()
        }
      }
    })
    const quietSent = new Float64Array(quietCount)
    const quietLatency: number[] = []
    let quietHeld = 0
    const quietClock = clockReader()
    quietReader.onUpdate = (update, frame) => {
      const clock = Math.min(quietClock(update, frame), quietCount)
      const now = performance.now()
      for (; quietHeld < clock; quietHeld++) quietLatency.push(now - quietSent[quietHeld]!)
    }
    if (shape.spin) unspin = await spinCore()
    // Let the handshakes settle (and the reference relay's stores bind) before the clock starts.
    await new Promise((r) => setTimeout(r, 500))

    // One schedule for all: send j goes to room j % rooms at start + j × (interval / rooms).
    const gap = intervalMs / rooms
    const sendLag = new Float64Array(offered)
    let quietNext = 0
    const cpu0 = process.cpuUsage()
    const relayCpu0 = await relay.cpu()
    const writes = async (): Promise<number> => (await relay.metrics()).store_writes_total ?? NaN
    const writes0 = system.startsWith('ours') ? await writes() : NaN
    const start = performance.now()
    for (let j = 0; j < offered; ) {
      const now = performance.now()
      for (; j < offered && start + j * gap <= now; j++) {
        sendLag[j] = now - (start + j * gap)
        writers[j % rooms]!.send(frames[Math.floor(j / rooms)]!)
      }
      // The quiet room's writes fall between the busy ones, half an interval out of step.
      for (; quietNext < quietCount && start + (quietNext + 0.5) * quietIntervalMs <= now; quietNext++) {
        quietSent[quietNext] = performance.now()
        quietWriter.send(quietFrames[quietNext]!)
      }
      // A timer, not a spin: the generator shares the cores with the relay. Sends due within
      // the same millisecond go out together.
      if (j < offered) await new Promise((r) => setTimeout(r, Math.max(1, Math.floor(start + j * gap - performance.now()))))
    }
    const stopped = performance.now()
    const deliveredDuringLoad = delivered
    const benchCpu = cpuSeconds(process.cpuUsage(cpu0)) / ((stopped - start) / 1000)
    const relayCpu1 = await relay.cpu()
    const relayCpu = (cpuSeconds(relayCpu1) - cpuSeconds(relayCpu0)) / ((performance.now() - start) / 1000)

    if (delivered < offered) {
      await within(
        new Promise<void>((r) => {
          allDelivered = r
        }),
        DRAIN_BOUND_MS,
        'every update to reach the readers'
      ).catch(() => {})
    }
    const drainMs = Math.max(0, allAt - stopped)
    const relayCpu2 = await relay.cpu()
    await unspin?.()
    unspin = null
    const storeWritesPerSec = ((system.startsWith('ours') ? await writes() : NaN) - writes0) / ((Math.max(stopped, allAt) - start) / 1000)
    return {
      offered,
      deliveredDuringLoad,
      drainMs,
      delivered,
      quietP50: percentile(quietLatency, 50),
      quietP99: percentile(quietLatency, 99),
      quietMax: percentile(quietLatency, 100),
      sendLagP99: percentile(sendLag, 99),
      benchCpu,
      relayCpu,
      relayCpuPerUpdate: ((cpuSeconds(relayCpu2) - cpuSeconds(relayCpu0)) * 1e6) / offered,
      storeWritesPerSec
    }
  } finally {
    await unspin?.()
    for (const c of clients) c.close()
    await relay.stop()
    rmSync(dataDir, { recursive: true, force: true })
  }
}
