/**
 * One Server-Sent Events response, as the relay holds it: the events written to it, a comment
 * line every `pingMs` so that proxies keep an idle stream open, and the bounds a WebSocket has on
 * what is queued for it (a stream that does not read is cut: `maxQueuedBytes`, and with the
 * relay's {@link OutboundBudget}, `maxQueuedBytesTotal` and `maxDrainMs`).
 *
 * @example
 *   const stream = new EventStream(res, deps, 'default')   // writes the text/event-stream head
 *   stream.send('snapshot', id, JSON.stringify({ keys }))
 *   stream.closed.then(() => stop())                       // the client left, or it was cut
 */
import type { ServerResponse } from 'node:http'
import type { LimitName, Limits } from '../limits.js'
import type { Metrics } from '../metrics.js'
import type { LogLimiter } from '../log-limiter.js'
import type { Drainable, OutboundBudget } from '../outbound-budget.js'

export interface EventStreamDeps {
  limits: Limits
  metrics: Metrics
  limited: LogLimiter
  budget: OutboundBudget<Drainable>
  /** Interval of the `: ping` comment. */
  pingMs: number
}

export class EventStream implements Drainable {
  private sent = 0
  private readonly ping: ReturnType<typeof setInterval>
  private done = false
  /** Resolves once the stream is over: the client left, it was cut, or the relay ended it. */
  readonly closed: Promise<void>

  constructor(
    private readonly res: ServerResponse,
    private readonly deps: EventStreamDeps,
    readonly room: string
  ) {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      // Tells nginx not to buffer the stream.
      'x-accel-buffering': 'no'
    })
    res.flushHeaders()
    this.closed = new Promise((resolve) =>
      res.once('close', () => {
        this.finish()
        resolve()
      })
    )
    this.ping = setInterval(() => this.write(': ping\n\n'), deps.pingMs)
    this.ping.unref()
  }

  /** Writes one event (`data` is one line of JSON); false if the stream is over or was cut for it. */
  send(event: string, id: string, data: string): boolean {
    return this.write(`id: ${id}\nevent: ${event}\ndata: ${data}\n\n`)
  }

  queued(): number {
    return this.res.writableLength
  }

  sentBytes(): number {
    return this.sent
  }

  overLimit(limit: LimitName, _code: number, reason: string): void {
    if (this.done) return
    this.deps.metrics.limitHit(limit)
    this.deps.limited.warn(`limit:${limit}`, 'event stream cut: over a limit', { room: this.room, limit, reason })
    this.cut()
  }

  /** Ends the stream cleanly (the relay shuts down). */
  end(): void {
    if (this.done) return
    this.finish()
    this.res.end()
  }

  /** Drops the connection: what is queued for it is not sent. */
  cut(): void {
    if (this.done) return
    this.finish()
    this.res.destroy()
  }

  private write(text: string): boolean {
    if (this.done) return false
    const bytes = Buffer.byteLength(text)
    if (!this.deps.budget.reserve(this, bytes, this.deps.limits.maxQueuedBytes)) return false
    this.res.write(text)
    this.sent += bytes
    this.deps.budget.sent(this)
    return true
  }

  private finish(): void {
    if (this.done) return
    this.done = true
    clearInterval(this.ping)
    this.deps.budget.forget(this)
  }
}
