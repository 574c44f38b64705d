/**
 * Readers of one room that track how far each has got in one writer's updates, and when the
 * last of them received each update.
 *
 * Progress is read from the updates themselves (the writer's clock, from `Y.parseUpdateMeta`),
 * not from a count of frames, so a relay that merges several updates into one broadcast is
 * measured correctly. All readers receive the same bytes, so each distinct frame is parsed once.
 *
 * Raw readers (ours and the reference relay) are bare sockets; Hocuspocus readers are its own
 * provider, each with its own socket and Y.Doc, as a Hocuspocus app would run them.
 */
import * as Y from 'yjs'
import WebSocket from 'ws'
import { HocuspocusProvider, HocuspocusProviderWebsocket } from '@hocuspocus/provider'
import { openMany, dialectOf } from './raw-client.js'
import type { System } from './systems.js'
import { within } from '../../test/support/helpers.js'

export interface ReaderGroup {
  /** Resolves once every reader holds the first `count` updates; with the time of that moment. */
  until(count: number, timeoutMs: number): Promise<number>
  /** `lastAt[i]`: when the last reader received update i (performance.now()). */
  readonly lastAt: Float64Array
  close(): void
}

/**
 * Opens `count` readers of `room` on `url`, each tracking updates by `writer` (a client id),
 * up to `total` of them.
 */
export const openReaders = async (
  system: System,
  url: string,
  room: string,
  count: number,
  writer: number,
  total: number
): Promise<ReaderGroup> => {
  const lastAt = new Float64Array(total)
  const progress = new Int32Array(count)
  /** How many readers hold the `waiter`'s count of updates. */
  let done = 0
  let waiter: { count: number; resolve(t: number): void } | null = null

  const advance = (reader: number, clock: number): void => {
    const from = progress[reader]!
    if (clock <= from) return
    const now = performance.now()
    const to = Math.min(clock, total)
    for (let i = from; i < to; i++) lastAt[i] = now
    progress[reader] = to
    if (waiter && from < waiter.count && to >= waiter.count && ++done === count) waiter.resolve(now)
  }

  let close: () => void
  if (system === 'hocuspocus') {
    const providers: HocuspocusProvider[] = []
    const sockets: HocuspocusProviderWebsocket[] = []
    close = () => {
      for (const p of providers) p.destroy()
      for (const s of sockets) s.destroy()
    }
    try {
      for (let start = 0; start < count; start += 50) {
        const batch: Promise<void>[] = []
        for (let i = start; i < Math.min(count, start + 50); i++) {
          const doc = new Y.Doc()
          doc.on('update', () => advance(i, Y.getState(doc.store, writer)))
          const websocketProvider = new HocuspocusProviderWebsocket({ url, WebSocketPolyfill: WebSocket })
          sockets.push(websocketProvider)
          // No awareness: the raw readers of the other two relays send none either.
          const p = new HocuspocusProvider({ websocketProvider, name: room, document: doc, awareness: null })
          p.attach() // a provider given a shared socket waits to be attached
          providers.push(p)
          batch.push(new Promise<void>((resolve) => p.on('synced', () => resolve())))
        }
        await within(Promise.all(batch), 30_000, 'Hocuspocus readers to sync')
      }
    } catch (err) {
      close()
      throw err
    }
  } else {
    const memo = new Map<string, number>()
    const clockOf = (update: Uint8Array, frame: Uint8Array): number => {
      // Identical frames reach every reader; key the small ones by their bytes.
      if (frame.length > 256) return Y.parseUpdateMeta(update).to.get(writer) ?? 0
      const key = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength).toString('latin1')
      let clock = memo.get(key)
      if (clock === undefined) {
        clock = Y.parseUpdateMeta(update).to.get(writer) ?? 0
        memo.set(key, clock)
      }
      return clock
    }
    const clients = await openMany(dialectOf(system), url, count, () => room, 50)
    clients.forEach((c, i) => {
      c.onUpdate = (update, frame) => advance(i, clockOf(update, frame))
    })
    close = () => {
      for (const c of clients) c.close()
    }
  }

  return {
    lastAt,
    close,
    until(n: number, timeoutMs: number): Promise<number> {
      done = 0
      for (const p of progress) if (p >= n) done++
      if (done === count) return Promise.resolve(performance.now())
      return within(
        new Promise<number>((resolve) => {
          waiter = { count: n, resolve }
        }),
        timeoutMs,
        `every reader to receive ${n} updates (${done} of ${count} did)`
      )
    }
  }
}
