/**
 * Compaction of room streams into PostgreSQL, by whichever relay takes the job: no extra process
 * to run. Every append queues its room (due `delayMs` after the first update since the last
 * compaction); each relay looks for a due room every `intervalMs`, takes its job for `lockMs`
 * (the job's due time moves past that, so the job of a relay that dies is due again and another
 * takes it over), reads the room whole (snapshot and stream), writes its state into PostgreSQL,
 * and only then trims the stream up to what PostgreSQL now holds, keeping the last `graceMs` of
 * entries for relays that lag. What the grace keeps is trimmed by a job due when it ends, which
 * neither reads the room nor writes PostgreSQL (it has every update by then). A row never moves backwards, and a job taken over meanwhile does
 * not trim, so two relays compacting the same room at once lose nothing.
 *
 * While PostgreSQL is unreachable the jobs fail and come back every `lockMs`: relays go on serving
 * from Redis, the streams grow, and the first job after PostgreSQL returns catches up. A job is
 * waited for at most `lockMs` (the job is another relay's after that anyway): a hung PostgreSQL or
 * Redis does not hold the compactor, nor the relay's shutdown.
 *
 * @example
 *   const compactor = new Compactor(deps, { intervalMs: 1_000, lockMs: 30_000, graceMs: 60_000, delayMs: 10_000 })
 *   compactor.start()
 *   await compactor.stop()
 */
import * as Y from 'yjs'
import type { Redis } from 'ioredis'
import type { Logger } from '../log.js'
import { CLAIM_COMPACTION, FINISH_COMPACTION } from './scripts.js'
import type { ClusterKeys } from './keys.js'
import type { SharedRooms } from './shared-rooms.js'
import type { Snapshots } from './snapshots.js'
import type { ClusterMetrics } from './cluster-metrics.js'
import { bounded } from './bounded.js'

export interface CompactorDeps {
  redis: Redis
  keys: ClusterKeys
  rooms: SharedRooms
  snapshots: Snapshots
  relayId(): string
  log: Logger
  metrics: ClusterMetrics
}

export interface CompactionTiming {
  /** How often a relay looks for a due job. */
  intervalMs: number
  /** How long a job is its relay's before another may take it over. */
  lockMs: number
  /** Stream entries younger than this are kept after a compaction. */
  graceMs: number
  /** How long after a room's first update since its last compaction the next is due. */
  delayMs: number
}

export class Compactor {
  private timer: ReturnType<typeof setTimeout> | undefined
  private running: Promise<void> | null = null
  private stopped = false
  private lastError = 0

  constructor(
    private readonly d: CompactorDeps,
    readonly timing: CompactionTiming
  ) {}

  start(): void {
    this.schedule()
  }

  async stop(): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
    await this.running
  }

  /** Compacts `room`, whose job this relay claimed (CLAIM_COMPACTION took its lock). Rejects if PostgreSQL or Redis fails. */
  private async compactRoom(room: string): Promise<void> {
    const P = this.d.keys.room(room)
    const [head, pg] = await this.d.redis.mget(`${P}n`, `${P}pg`)
    let n = 0
    let id = ''
    // PostgreSQL has every update (the job is due for the grace's end): trim only.
    const news = Number(head ?? 0) > Number(pg ?? 0)
    const history = news ? await this.d.rooms.read(room) : { updates: [], n: 0, id: '' }
    if (history.updates.length > 1 || (history.updates.length === 1 && history.n > 0)) {
      const doc = new Y.Doc()
      doc.transact(() => {
        for (const u of history.updates) Y.applyUpdate(doc, u)
      })
      await this.d.snapshots.put(room, Y.encodeStateAsUpdate(doc), history.n, history.id)
      doc.destroy()
      n = history.n
      id = history.id
    }
    const left = await FINISH_COMPACTION.run(this.d.redis, [
      P,
      this.d.keys.global,
      room,
      this.d.relayId(),
      n,
      id,
      this.timing.graceMs,
      this.timing.delayMs
    ])
    if (Number(left) === -1) this.d.log.info('compaction job taken over by another relay; not trimmed', { room })
    this.d.metrics.inc(news ? 'compactions_total' : 'compaction_trims_total')
  }

  private schedule(): void {
    if (this.stopped) return
    const jitter = Math.random() * this.timing.intervalMs * 0.5
    this.timer = setTimeout(
      () => {
        this.running = this.tick().finally(() => {
          this.running = null
          this.schedule()
        })
      },
      this.timing.intervalMs * 0.75 + jitter
    )
    this.timer.unref()
  }

  private async tick(): Promise<void> {
    for (let i = 0; i < 10 && !this.stopped && this.d.redis.status === 'ready'; i++) {
      let room: unknown
      try {
        room = await CLAIM_COMPACTION.run(this.d.redis, ['', this.d.keys.global, '', this.d.relayId(), this.timing.lockMs])
      } catch {
        return
      }
      if (typeof room !== 'string') return
      try {
        await bounded(this.compactRoom(room), this.timing.lockMs, `compaction of room "${room}"`)
      } catch (err) {
        this.d.metrics.inc('compaction_failures_total')
        if (Date.now() - this.lastError > 10_000) {
          this.lastError = Date.now()
          this.d.log.warn('compaction failed; the job is retried later, the stream keeps the updates meanwhile', {
            room,
            error: String(err)
          })
        }
        return
      }
    }
  }
}
