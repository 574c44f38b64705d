/**
 * One writer and R readers in one room of a fresh relay: the harness of the fan-out burst and
 * the paced latency scenarios. The writer is a raw client that sends pre-encoded updates (one
 * small map set each, from one Y.Doc), so that encoding costs nothing during the measurement.
 *
 * Latency of an update: from just before the writer sends it to when the last reader has it,
 * both read on this process's clock.
 */
import * as Y from 'yjs'
import { launchRelay } from './relay.js'
import { openReaders } from './readers.js'
import { RawClient, dialectOf } from './raw-client.js'
import { percentile } from './stats.js'
import type { System } from './systems.js'

export type FanoutMode = { kind: 'burst' } | { kind: 'paced'; perSecond: number }

export interface FanoutRun {
  /** From the first send until every reader holds the last update. */
  totalMs: number
  /** Writes per second, over {@link totalMs}. */
  updatesPerSec: number
  /** Updates received per second, over all readers. */
  deliveriesPerSec: number
  p50: number
  p95: number
  p99: number
  /** The relay's RSS at the end, in MB. */
  relayRssMb: number
}

const ROOM = 'fanout'
export const WRITER = 424242

/** The writer's updates, one small map set each, all by client {@link WRITER}. */
export const writerUpdates = (count: number): Uint8Array[] => {
  const doc = new Y.Doc()
  doc.clientID = WRITER
  const map = doc.getMap('state')
  const updates: Uint8Array[] = []
  doc.on('update', (u: Uint8Array) => updates.push(u))
  for (let i = 0; i < count; i++) map.set(`k${i % 16}`, i)
  doc.destroy()
  return updates
}

export const runFanout = async (system: System, readers: number, updates: number, mode: FanoutMode): Promise<FanoutRun> => {
  const relay = await launchRelay({ system })
  const cleanup: Array<() => void> = []
  try {
    const group = await openReaders(system, relay.url, ROOM, readers, WRITER, updates)
    cleanup.push(() => group.close())
    const writer = await RawClient.open(dialectOf(system), relay.url, ROOM)
    cleanup.push(() => writer.close())
    const frames = writerUpdates(updates).map((u) => writer.updateFrame(u))
    // Let the readers' handshakes settle before the clock starts.
    await new Promise((r) => setTimeout(r, 300))

    const sentAt = new Float64Array(updates)
    const start = performance.now()
    if (mode.kind === 'burst') {
      for (let i = 0; i < updates; i++) {
        sentAt[i] = performance.now()
        writer.send(frames[i]!)
      }
    } else {
      const gap = 1000 / mode.perSecond
      for (let i = 0; i < updates; i++) {
        const wait = start + i * gap - performance.now()
        if (wait > 0) await new Promise((r) => setTimeout(r, wait))
        sentAt[i] = performance.now()
        writer.send(frames[i]!)
      }
    }
    const end = await group.until(updates, 180_000)
    const latency = group.lastAt.map((t, i) => t - sentAt[i]!)
    const seconds = (end - start) / 1000
    const memory = await relay.memory()
    return {
      totalMs: end - start,
      updatesPerSec: updates / seconds,
      deliveriesPerSec: (updates * readers) / seconds,
      p50: percentile(latency, 50),
      p95: percentile(latency, 95),
      p99: percentile(latency, 99),
      relayRssMb: memory.rss / 2 ** 20
    }
  } finally {
    for (const c of cleanup.reverse()) c()
    await relay.stop()
  }
}
