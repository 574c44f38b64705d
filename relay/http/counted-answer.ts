/**
 * A large HTTP answer counted in the relay's outbound budget, as a socket's frames are: a
 * `GET /rooms/<room>/state` of a 32 MiB room, asked by clients that never read, would otherwise
 * hold `maxHttpRequests` × the room in memory, counted nowhere. An answer that does not fit is
 * refused (429) before it is sent, the answers and sockets holding the most are evicted for it,
 * and one that is not drained within `maxDrainMs` is cut by the relay's sweep.
 *
 * @example
 *   sendCounted(res, { keys: await room.read() }, answers) // HttpError 429 when the budget is spent
 */
import type { ServerResponse } from 'node:http'
import type { LimitName } from '../limits.js'
import type { Drainable, OutboundBudget } from '../outbound-budget.js'
import { jsonText } from '../feed/json-text.js'
import { HttpError } from './json-http.js'

/** What a counted answer needs of the relay. */
export interface AnswerBudget {
  budget: OutboundBudget<Drainable>
  /** Most bytes one answer may leave unread (`maxQueuedBytes`, as for a socket). */
  maxQueuedBytes: number
  /** Counts a limit hit in /metrics. */
  limitHit(limit: LimitName): void
}

class CountedAnswer implements Drainable {
  private handed = 0
  /** The limit that refused it before anything was sent. */
  refusedBy: LimitName | null = null

  constructor(
    private readonly res: ServerResponse,
    private readonly limitHit: (limit: LimitName) => void
  ) {}

  queued(): number {
    return this.res.writableLength
  }

  sentBytes(): number {
    return this.handed
  }

  overLimit(limit: LimitName): void {
    this.limitHit(limit)
    if (this.handed === 0) this.refusedBy = limit
    else this.res.destroy()
  }

  send(text: string, bytes: number): void {
    this.handed = bytes
    this.res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }).end(text)
  }
}

/** Answers 200 with `body` as JSON, counted in `answers`; throws a 429 {@link HttpError} when it does not fit. */
export const sendCounted = (res: ServerResponse, body: unknown, answers: AnswerBudget): void => {
  const text = jsonText(body)
  if (text === null) throw new HttpError(500, 'internal', 'a value is nested too deeply to be written as JSON')
  const bytes = Buffer.byteLength(text)
  const answer = new CountedAnswer(res, answers.limitHit)
  if (!answers.budget.reserve(answer, bytes, answers.maxQueuedBytes) || answer.refusedBy !== null) {
    throw new HttpError(
      429,
      'over_limit',
      `the relay holds all it may queue for its clients (${answer.refusedBy ?? 'maxQueuedBytesTotal'})`,
      {
        'retry-after': '1'
      }
    )
  }
  answer.send(text, bytes)
  answers.budget.sent(answer)
  res.once('close', () => answers.budget.forget(answer))
}
