/**
 * A relay's liveness in Redis: a key with a time to live (Redis's clock), renewed every third of
 * it. Other relays read it: the lease scripts end the requests of a relay whose key expired, and
 * the presence of its sessions is removed. A relay that finds its own key gone (it could not
 * renew it in time: a long pause, or Redis unreachable for longer than the TTL) is presumed dead
 * by the others, so it resets: `onLost` (the cluster fails every room, whose sessions reconnect)
 * and a new id. It also resets at once when a lock script answers that its key is gone
 * (`lost`), not at its next renewal. One renewal is in flight at a time, and the answer to a
 * renewal of an id already replaced is ignored: a Redis that hung and resumes answers the
 * renewals of before, and each would reset the relay again.
 *
 * @example
 *   const live = new Liveness(redis, keys, 5_000, log, () => rooms.failAll(err))
 *   await live.start()
 *   live.id // 'r-1f3a…'
 *   await live.stop() // deletes the key: the others reap this relay's leases at once
 */
import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import type { Logger } from '../log.js'
import type { ClusterKeys } from './keys.js'

const newId = (): string => `r-${randomBytes(6).toString('hex')}`

export class Liveness {
  id = newId()
  private timer: ReturnType<typeof setInterval> | undefined
  private renewing = false
  private resetting = false
  private readonly changed = new Set<(id: string) => void>()

  constructor(
    private readonly redis: Redis,
    private readonly keys: ClusterKeys,
    readonly ttlMs: number,
    private readonly log: Logger,
    private readonly onLost: () => void
  ) {}

  /** Calls `listener` with the new id after each reset. */
  onChange(listener: (id: string) => void): void {
    this.changed.add(listener)
  }

  async start(): Promise<void> {
    await this.claim()
    this.timer = setInterval(
      () => {
        if (!this.renewing) void this.renew()
      },
      Math.max(50, Math.floor(this.ttlMs / 3))
    )
    this.timer.unref()
  }

  /** Takes a liveness key no relay holds, drawing new ids until one is free. */
  private async claim(): Promise<void> {
    while ((await this.redis.set(this.keys.relay(this.id), Date.now(), 'PX', this.ttlMs, 'NX')) !== 'OK') this.id = newId()
  }

  async stop(): Promise<void> {
    clearInterval(this.timer)
    await this.redis.del(this.keys.relay(this.id)).catch(() => {})
  }

  /** A lock script found the key of `id` gone: if that is this relay's id still, it resets now. */
  lost(id: string): void {
    if (id === this.id) void this.reset()
  }

  private async renew(): Promise<void> {
    const id = this.id
    let reply: string | null
    this.renewing = true
    try {
      reply = await this.redis.set(this.keys.relay(id), Date.now(), 'PX', this.ttlMs, 'XX')
    } catch {
      return // unreachable: try again; if it stays away past the TTL, the next renewal finds the key gone
    } finally {
      this.renewing = false
    }
    if (reply !== 'OK' && id === this.id) await this.reset()
  }

  private async reset(): Promise<void> {
    if (this.resetting) return
    this.resetting = true
    const old = this.id
    this.id = newId()
    this.log.warn("this relay's liveness key expired: the others presumed it dead; resetting its rooms and sessions", { old, id: this.id })
    try {
      this.onLost()
      await this.claim()
    } catch {
      // the next renewal retries (XX fails, so it resets again with a fresh id)
    } finally {
      this.resetting = false
    }
    for (const listener of this.changed) listener(this.id)
  }
}
