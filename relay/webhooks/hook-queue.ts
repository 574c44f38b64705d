/**
 * One room's batches for one webhook. Changes gather in an open batch for `debounceMs` after
 * its first (or until it holds {@link MAX_BATCH_CHANGES}), then wait their turn: one delivery at
 * a time, so the receiver gets a room's batches in commit order, each retried with backoff until
 * it is delivered or has failed every attempt. Nothing here holds the room up: the room only
 * adds changes. The waiting batches are bounded by the owner ({@link dropOldest}); what is
 * dropped is counted, and the next delivered body says how many changes it missed (`dropped`).
 *
 * @example
 *   const q = new HookQueue(hook, 'default', { post: postBatch, dropped, delivered, failed, waiting, idle })
 *   q.add([{ id: 'e-1', json: '{"key":"k","value":1,…}' }])   // POSTed after debounceMs
 *   q.close()
 */
import { randomUUID } from 'node:crypto'
import { retryDelay, type DeliveryOutcome } from './delivery.js'
import type { Webhook } from './webhook-options.js'

/** A change as a webhook body lists it: its event id, and its event's JSON (the feed's: never a throw here). */
export interface WebhookChange {
  readonly id: string
  /** The change as an event stream's `change` event carries it: `{"key":…,"value":…,…}`. */
  readonly json: string
}

/** The change's JSON with its id first: `{"id":…,"key":…,…}`. */
const changeText = (c: WebhookChange): string => `{"id":${JSON.stringify(c.id)},${c.json.slice(1)}`

/** A batch closes early at this many changes, so that no body grows without bound. */
export const MAX_BATCH_CHANGES = 1_000

interface Batch {
  readonly delivery: string
  readonly changes: WebhookChange[]
  /** The body, made at the first attempt, sent the same at every retry. */
  body?: string
  /** Changes dropped before it, told in its body. */
  dropped: number
}

export interface HookQueueDeps {
  post(hook: Webhook, delivery: string, body: string, stop: AbortSignal): Promise<DeliveryOutcome>
  /** `changes` were dropped: a full queue, or a batch that failed every attempt. */
  dropped(changes: number, why: string): void
  delivered(): void
  /** An attempt failed. */
  failed(problem: string): void
  /** The count of waiting batches changed by `by`. */
  waiting(by: number): void
  /** Everything is delivered or dropped: the queue may go. */
  idle(): void
}

export class HookQueue {
  private open: WebhookChange[] | null = null
  private debounce: ReturnType<typeof setTimeout> | undefined
  private readonly queue: Batch[] = []
  private sending: Batch | null = null
  private retryTimer: ReturnType<typeof setTimeout> | undefined
  /** Changes dropped since the last batch that took the count along. */
  private droppedChanges = 0
  private readonly stop = new AbortController()
  private closed = false

  constructor(
    readonly hook: Webhook,
    readonly room: string,
    private readonly deps: HookQueueDeps
  ) {}

  /** Batches waiting for their turn (not the one being sent). */
  get waiting(): number {
    return this.queue.length
  }

  /** Nothing open, waiting or being sent, no drop left to tell: the queue can go. */
  get idle(): boolean {
    return this.open === null && this.queue.length === 0 && this.sending === null && this.droppedChanges === 0
  }

  add(changes: readonly WebhookChange[]): void {
    if (this.closed || changes.length === 0) return
    if (this.open === null) {
      this.open = []
      this.debounce = setTimeout(() => this.seal(), this.hook.debounceMs)
      this.debounce.unref()
    }
    this.open.push(...changes)
    if (this.open.length >= MAX_BATCH_CHANGES) this.seal()
  }

  /** Drops the oldest waiting batch; returns whether there was one. */
  dropOldest(why: string): boolean {
    const oldest = this.queue.shift()
    if (!oldest) return false
    this.deps.waiting(-1)
    this.drop(oldest, why)
    return true
  }

  /** Stops: nothing more is sent, an attempt in flight is aborted. */
  close(): void {
    if (this.closed) return
    this.closed = true
    clearTimeout(this.debounce)
    clearTimeout(this.retryTimer)
    this.stop.abort()
    this.deps.waiting(-this.queue.length)
    this.queue.length = 0
    this.open = null
    this.sending = null
  }

  private drop(batch: Batch, why: string): void {
    const n = batch.changes.length + batch.dropped
    this.droppedChanges += n
    this.deps.dropped(n, why)
  }

  /** The open batch waits its turn. */
  private seal(): void {
    clearTimeout(this.debounce)
    const changes = this.open
    this.open = null
    if (!changes || this.closed) return
    this.queue.push({ delivery: randomUUID(), changes, dropped: 0 })
    this.deps.waiting(1)
    this.next()
  }

  private next(): void {
    if (this.sending || this.closed) return
    const batch = this.queue.shift()
    if (!batch) return
    this.deps.waiting(-1)
    this.sending = batch
    batch.dropped = this.droppedChanges
    this.droppedChanges = 0
    // Made of the changes' JSON texts: the values were written once, by the feed, which cannot throw.
    const head = `{"room":${JSON.stringify(this.room)},"id":${JSON.stringify(batch.delivery)}`
    batch.body = `${head},"changes":[${batch.changes.map(changeText).join(',')}],"dropped":${batch.dropped}}`
    void this.attempt(batch, 1)
  }

  private async attempt(batch: Batch, n: number): Promise<void> {
    const outcome = await this.deps.post(this.hook, batch.delivery, batch.body!, this.stop.signal)
    if (this.closed) return
    if (outcome.ok) {
      this.deps.delivered()
      return this.done()
    }
    this.deps.failed(outcome.problem)
    if (n >= this.hook.retry.attempts) {
      this.drop(batch, `delivery failed ${n} times, the last: ${outcome.problem}`)
      return this.done()
    }
    this.retryTimer = setTimeout(() => void this.attempt(batch, n + 1), retryDelay(this.hook, n))
    this.retryTimer.unref()
  }

  private done(): void {
    this.sending = null
    this.next()
    if (this.idle) this.deps.idle()
  }
}
