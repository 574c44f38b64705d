/**
 * A Server-Sent Events client for the tests: opens `GET url` with node's http, parses the
 * stream into events (and counts the comment lines), and waits for events with a bound.
 */
import { request, type IncomingMessage } from 'node:http'

export interface SseEvent {
  event: string
  id: string
  data: any
}

export interface SseClient {
  status: number
  headers: IncomingMessage['headers']
  /** Every event so far, in order. */
  events: SseEvent[]
  /** Comment lines (`: ping`) so far. */
  comments: number
  /** Whether the stream has ended (the relay ended it or cut it). */
  ended: boolean
  /** The body of a non-200 answer, parsed. */
  body?: any
  /** Resolves with the first `n` events (waiting for them), or rejects after `timeout` ms. */
  take(n: number, timeout?: number): Promise<SseEvent[]>
  /** Resolves once the stream ends, or rejects after `timeout` ms. */
  untilEnded(timeout?: number): Promise<void>
  close(): void
}

export const sse = (url: string, headers: Record<string, string> = {}): Promise<SseClient> =>
  new Promise((resolve, reject) => {
    const req = request(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      const waiters = new Set<() => void>()
      const wake = () => {
        for (const w of [...waiters]) w()
      }
      const until = (check: () => boolean, timeout: number, what: string): Promise<void> =>
        new Promise((done, fail) => {
          const test = () => {
            if (!check()) return
            waiters.delete(test)
            clearTimeout(timer)
            done()
          }
          const timer = setTimeout(() => {
            waiters.delete(test)
            fail(new Error(`timed out after ${timeout} ms waiting for ${what} (got ${client.events.length} events)`))
          }, timeout)
          waiters.add(test)
          test()
        })
      const client: SseClient = {
        status: res.statusCode ?? 0,
        headers: res.headers,
        events: [],
        comments: 0,
        ended: false,
        take: async (n, timeout = 5_000) => {
          await until(() => client.events.length >= n, timeout, `${n} events`)
          return client.events.slice(0, n)
        },
        untilEnded: (timeout = 5_000) => until(() => client.ended, timeout, 'the stream to end'),
        close: () => req.destroy()
      }
      const end = () => {
        client.ended = true
        wake()
      }
      res.on('end', end)
      res.on('close', end)
      res.on('error', end)
      if (client.status !== 200) {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (text += chunk))
        res.on('end', () => {
          client.body = text === '' ? undefined : JSON.parse(text)
          resolve(client)
        })
        return
      }
      let buffer = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        buffer += chunk
        for (let cut = buffer.indexOf('\n\n'); cut >= 0; cut = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, cut)
          buffer = buffer.slice(cut + 2)
          const e: SseEvent = { event: 'message', id: '', data: undefined }
          let comment = false
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comment = true
            else if (line.startsWith('event: ')) e.event = line.slice(7)
            else if (line.startsWith('id: ')) e.id = line.slice(4)
            else if (line.startsWith('data: ')) e.data = JSON.parse(line.slice(6))
          }
          if (comment) client.comments++
          else client.events.push(e)
        }
        wake()
      })
      resolve(client)
    })
    req.on('error', reject)
    req.end()
  })
