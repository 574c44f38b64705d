/**
 * The relay's webhooks: each loaded room's feed is watched (attached as the room loads), and the
 * changes that sessions of this relay made (not those another relay of a cluster made: that
 * relay sends them, so a cluster sends each change once), of the keys a webhook asks for, go to
 * that webhook's {@link HookQueue} for the room. A room's queue outlives the room's unloading
 * until it is delivered. The waiting batches are bounded per room (`maxWebhookBatchesPerRoom`)
 * and in all (`maxWebhookBatches`): past either, the oldest waiting batch (of the room with the
 * most) is dropped, with a log line and `yss_webhook_changes_dropped_total`.
 *
 * @example
 *   const webhooks = new Webhooks([resolveWebhook({ url: 'https://example.test/hook', secret: 's3cret' })], { feeds, limits, metrics, limited, log })
 *   rooms.onLoad((room) => webhooks.attach(room))
 *   webhooks.close()
 */
import { keyMatches } from '../../protocol/patterns.js'
import type { Feeds } from '../feed/feeds.js'
import type { FeedEvent } from '../feed/room-feed.js'
import type { Room } from '../room/room.js'
import type { Limits } from '../limits.js'
import type { Metrics } from '../metrics.js'
import type { LogLimiter } from '../log-limiter.js'
import type { Logger } from '../log.js'
import { postBatch } from './delivery.js'
import { HookQueue, type HookQueueDeps, type WebhookChange } from './hook-queue.js'
import type { Webhook } from './webhook-options.js'

export interface WebhooksDeps {
  feeds: Feeds
  limits: Limits
  metrics: Metrics
  limited: LogLimiter
  log: Logger
  /** One attempt; tests pass their own. Default {@link postBatch}. */
  post?: HookQueueDeps['post']
}

export class Webhooks {
  /** Per webhook, its rooms' queues. */
  private readonly queues: Array<Map<string, HookQueue>>
  private waiting = 0
  private closed = false

  /** `hooks`: each resolved by {@link resolveWebhook}, which throws on bad options before anything starts. */
  constructor(
    private readonly hooks: readonly Webhook[],
    private readonly deps: WebhooksDeps
  ) {
    this.queues = hooks.map(() => new Map())
  }

  /** Watches `room`'s changes until it unloads. */
  attach(room: Room): void {
    if (this.closed) return
    this.deps.feeds.of(room).watch({ events: (events) => this.route(room.name, events), ended: () => {} }, { snapshot: false })
  }

  /** Batches waiting for delivery, in all. */
  get size(): number {
    return this.waiting
  }

  /** Stops every delivery; what waits is not sent. */
  close(): void {
    if (this.closed) return
    this.closed = true
    let lost = 0
    for (const queues of this.queues) {
      for (const q of queues.values()) {
        if (!q.idle) lost++
        q.close()
      }
      queues.clear()
    }
    if (lost > 0) this.deps.log.warn('webhook batches not delivered at shutdown', { rooms: lost })
  }

  private route(room: string, events: readonly FeedEvent[]): void {
    for (const [i, hook] of this.hooks.entries()) {
      const changes: WebhookChange[] = []
      for (const e of events) {
        if (e.origin !== 'local') continue
        if (hook.keys && !keyMatches(hook.keys, e.change.key)) continue
        changes.push({ id: e.id, json: e.json })
      }
      if (changes.length > 0) this.queueOf(i, room).add(changes)
    }
  }

  private queueOf(i: number, room: string): HookQueue {
    const queues = this.queues[i]!
    const q = queues.get(room)
    if (q) return q
    const { metrics, limited, limits } = this.deps
    const hook = this.hooks[i]!
    const created: HookQueue = new HookQueue(hook, room, {
      post: this.deps.post ?? postBatch,
      dropped: (n, why) => {
        metrics.inc('webhook_changes_dropped_total', n)
        limited.warn('webhook-dropped', 'webhook changes dropped', { room, url: hook.url, changes: n, why })
      },
      delivered: () => metrics.inc('webhook_deliveries_total'),
      failed: (problem) => {
        metrics.inc('webhook_attempts_failed_total')
        limited.warn('webhook-failed', 'webhook delivery attempt failed', { room, url: hook.url, problem })
      },
      idle: () => {
        if (queues.get(room) === created) queues.delete(room)
      },
      waiting: (by) => {
        this.waiting += by
        if (by <= 0) return
        if (created.waiting > limits.maxWebhookBatchesPerRoom) {
          metrics.limitHit('maxWebhookBatchesPerRoom')
          created.dropOldest(`over ${limits.maxWebhookBatchesPerRoom} batches waiting for this room`)
        }
        if (this.waiting > limits.maxWebhookBatches) {
          metrics.limitHit('maxWebhookBatches')
          this.fullest().dropOldest(`over ${limits.maxWebhookBatches} batches waiting for all rooms`)
        }
      }
    })
    queues.set(room, created)
    return created
  }

  /** The queue with the most waiting batches. */
  private fullest(): HookQueue {
    let most: HookQueue | undefined
    for (const queues of this.queues) for (const q of queues.values()) if (!most || q.waiting > most.waiting) most = q
    return most!
  }
}
