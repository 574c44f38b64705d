/**
 * Log lines that a client can cause over and over (a refused connection that its client retries,
 * a frame over the size limit that it resends) are logged once per cause and interval, with a
 * count of the repeats, so that the log cannot grow with every retry. A cause is a kind of line
 * (`room`, `limit:maxQueuedBytes`), never a value a client picks (a path, a room name): those go
 * in the fields, or 2,000 distinct bad paths would log 2,000 lines.
 *
 * @example
 *   const once = new LogLimiter(log, 60_000)
 *   once.warn('refused', 'connection refused', { room: 'a' }) // logged
 *   once.warn('refused', 'connection refused', { room: 'b' }) // counted, logged with the next
 */
import type { LogFields, Logger } from './log.js'

/** Causes remembered at most; past it, the oldest are forgotten (and may log again). */
const MAX_CAUSES = 10_000

export class LogLimiter {
  private readonly last = new Map<string, { at: number; repeats: number }>()

  constructor(
    private readonly log: Logger,
    private readonly intervalMs: number
  ) {}

  warn(cause: string, msg: string, fields: LogFields = {}): void {
    const now = Date.now()
    const seen = this.last.get(cause)
    if (seen && now - seen.at < this.intervalMs) {
      seen.repeats++
      return
    }
    this.last.delete(cause)
    if (this.last.size >= MAX_CAUSES) this.last.delete(this.last.keys().next().value!)
    this.last.set(cause, { at: now, repeats: 0 })
    this.log.warn(msg, seen?.repeats ? { ...fields, repeats: seen.repeats } : fields)
  }
}
