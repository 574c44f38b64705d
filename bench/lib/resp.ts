/**
 * A tiny Redis client over node:net (RESP2), for the bench's Redis mutex peer only: commands go
 * out as arrays of bulk strings, replies come back in order; a subscriber connection hands each
 * message of its channel to a callback. No reconnection. The mutex needs five commands, and a
 * client that does as little as this one gives the peer its best figures (ioredis, the package's
 * own, measured the same rates: BENCH_LOCK_REDIS_CLIENT).
 *
 * @example
 *   const r = await respConnect(6379)
 *   await r.command('RPUSH', 'token', '1')
 *   const [, token] = await r.command('BLPOP', 'token', '0') as string[]
 *   const sub = await respSubscribe(6379, 'count', (value) => console.log(value))
 *   await r.command('PUBLISH', 'count', '1')
 *   r.close(); sub.close()
 */
import { createConnection, type Socket } from 'node:net'

export type RespValue = string | number | null | RespValue[] | Error

export interface RespClient {
  /** Sends one command; resolves with its reply (an error reply rejects). */
  command(...args: string[]): Promise<RespValue>
  close(): void
}

const CRLF = Buffer.from('\r\n')

const encode = (args: string[]): Buffer => {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)]
  for (const a of args) {
    const b = Buffer.from(a)
    parts.push(Buffer.from(`$${b.length}\r\n`), b, CRLF)
  }
  return Buffer.concat(parts)
}

/** Parses one reply at `at`; returns it and the offset after it, or null if `buf` holds only part of it. */
const parse = (buf: Buffer, at: number): [RespValue, number] | null => {
  const eol = buf.indexOf(CRLF, at)
  if (eol < 0) return null
  const line = buf.toString('utf8', at + 1, eol)
  const next = eol + 2
  switch (buf[at]) {
    case 0x2b:
      return [line, next] // +
    case 0x2d:
      return [new Error(line), next] // -
    case 0x3a:
      return [Number(line), next] // :
    case 0x24: {
      // $
      const n = Number(line)
      if (n < 0) return [null, next]
      if (buf.length < next + n + 2) return null
      return [buf.toString('utf8', next, next + n), next + n + 2]
    }
    case 0x2a: {
      // *
      const n = Number(line)
      if (n < 0) return [null, next]
      const items: RespValue[] = []
      let p = next
      for (let i = 0; i < n; i++) {
        const r = parse(buf, p)
        if (!r) return null
        items.push(r[0])
        p = r[1]
      }
      return [items, p]
    }
    default:
      throw new Error(`RESP: unexpected byte ${buf[at]}`)
  }
}

/** Hands each whole reply that arrives on `socket` to `onReply`, in order. */
const readReplies = (socket: Socket, onReply: (reply: RespValue) => void): void => {
  let buf = Buffer.alloc(0)
  socket.on('data', (chunk) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk])
    let at = 0
    for (;;) {
      const r = at < buf.length ? parse(buf, at) : null
      if (!r) break
      at = r[1]
      onReply(r[0])
    }
    buf = at === buf.length ? Buffer.alloc(0) : buf.subarray(at)
  })
}

export const respConnect = (port: number, host = '127.0.0.1'): Promise<RespClient> =>
  new Promise((resolve, reject) => {
    const socket: Socket = createConnection({ port, host })
    socket.setNoDelay(true)
    const pending: Array<{ resolve(v: RespValue): void; reject(e: Error): void }> = []
    readReplies(socket, (reply) => {
      const p = pending.shift()
      if (!p) throw new Error('RESP: a reply nobody asked for')
      if (reply instanceof Error) p.reject(reply)
      else p.resolve(reply)
    })
    const fail = (err: Error) => {
      for (const p of pending.splice(0)) p.reject(err)
    }
    socket.on('error', (err) => {
      reject(err)
      fail(err)
    })
    socket.on('close', () => fail(new Error('RESP: connection closed')))
    socket.once('connect', () =>
      resolve({
        command: (...args) =>
          new Promise<RespValue>((res, rej) => {
            pending.push({ resolve: res, reject: rej })
            socket.write(encode(args))
          }),
        close: () => socket.end()
      })
    )
  })

/**
 * A connection subscribed to `channel`: resolves once Redis confirmed the subscription; each
 * message's payload goes to `onMessage`.
 */
export const respSubscribe = (
  port: number,
  channel: string,
  onMessage: (payload: string) => void,
  host = '127.0.0.1'
): Promise<{ close(): void }> =>
  new Promise((resolve, reject) => {
    const socket: Socket = createConnection({ port, host })
    socket.setNoDelay(true)
    readReplies(socket, (reply) => {
      if (!Array.isArray(reply)) return reject(reply instanceof Error ? reply : new Error(`RESP: unexpected reply ${String(reply)}`))
      if (reply[0] === 'message') onMessage(reply[2] as string)
      else if (reply[0] === 'subscribe') resolve({ close: () => socket.end() })
    })
    socket.on('error', reject)
    socket.once('connect', () => socket.write(encode(['SUBSCRIBE', channel])))
  })
