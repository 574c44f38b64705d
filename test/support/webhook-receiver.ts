/**
 * A webhook receiver for the tests: a loopback HTTP server that records each POST (headers, raw
 * body, parsed body) and answers as the test says: a status, or `hold` to leave the request
 * waiting until {@link WebhookReceiver.answerHeld}.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { eventually } from './helpers.js'

export interface ReceivedHook {
  headers: IncomingMessage['headers']
  raw: string
  body: any
  /** The answer it got (null while held). */
  status: number | null
}

export interface WebhookReceiver {
  url: string
  requests: ReceivedHook[]
  /** The answer to the `n`-th request (0-based): a status, or 'hold'. Default 200. */
  answer: (n: number, hook: ReceivedHook) => number | 'hold'
  /** Requests being answered at once, at most, so far. */
  maxInFlight: number
  /** Answers every held request with `status`. */
  answerHeld(status?: number): void
  /** Waits until `n` requests came. */
  until(n: number, timeout?: number): Promise<ReceivedHook[]>
  close(): Promise<void>
}

export const webhookReceiver = async (): Promise<WebhookReceiver> => {
  const held: Array<{ res: ServerResponse; hook: ReceivedHook }> = []
  let inFlight = 0
  const r: WebhookReceiver = {
    url: '',
    requests: [],
    answer: () => 200,
    maxInFlight: 0,
    answerHeld: (status = 200) => {
      for (const { res, hook } of held.splice(0)) {
        hook.status = status
        inFlight--
        res.writeHead(status).end()
      }
    },
    until: async (n, timeout = 5_000) => {
      await eventually(() => r.requests.length >= n, `${n} webhook requests (got ${r.requests.length})`, timeout)
      return r.requests.slice(0, n)
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
  const server = createServer((req, res) => {
    let raw = ''
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => (raw += chunk))
    req.on('end', () => {
      const hook: ReceivedHook = { headers: req.headers, raw, body: JSON.parse(raw), status: null }
      const answer = r.answer(r.requests.length, hook)
      r.requests.push(hook)
      inFlight++
      r.maxInFlight = Math.max(r.maxInFlight, inFlight)
      if (answer === 'hold') return void held.push({ res, hook })
      hook.status = answer
      inFlight--
      res.writeHead(answer).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
  return r
}
