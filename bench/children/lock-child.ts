/**
 * Child process: one locking client, alone in its process as a real client is. Started by the
 * lock scenario (bench/scenarios/locks.ts) through {@link spawnChild}; answers:
 *
 * - `{ cmd: 'connect', system: 'ours', url, room }`: one session of our client, synced
 *   (`system: 'plain'`: a stock y-websocket client, which only receives; `system: 'raw'`: a bare
 *   socket that syncs and then only reads the frames, the floor of one wake-up per commit);
 *   `{ cmd: 'connect', system: 'redis', port, publish }`: one connection to the bench's redis-server
 *   (with `publish`, a second one subscribed to the counter's channel).
 * - `{ cmd: 'run', ops }`: `ops` locked increments of `count`, one after another; replies with
 *   how many resolved, the time they took, and the process's CPU time meanwhile.
 * - `{ cmd: 'seen', value, timeoutMs }`: waits until this process holds counter `value` (ours:
 *   its session; the publishing mutex: the last value its subscriber received); replies with the
 *   value it holds and, for the mutex, how many values it received.
 * - `{ cmd: 'close' }`: closes the client and exits.
 *
 * The Redis mutex is the FIFO mutex a user would write: a list `token` holds one token; a client
 * takes it with BLPOP (Redis serves blocked clients first come, first served), reads the counter
 * with GET, writes it with SET, and gives the token back with RPUSH. The publishing mutex does the
 * work our sessions do, every process seeing every new value: it also PUBLISHes the new value
 * before it gives the token back, and every process holds a SUBSCRIBE connection that receives it.
 */
import WebSocket from 'ws'
import type { ServerState } from '../../client/index.js'
import { serveRequests } from '../lib/children.js'
import { loadClient } from '../lib/compiled.js'
import { respConnect, respSubscribe, type RespClient } from '../lib/resp.js'

let ours: ServerState<{ count: number }> | null = null
let redis: RespClient | null = null
/** The publishing mutex: PUBLISH each new value, and what this process's subscriber received. */
let publish = false
let subscriber: { close(): void } | null = null
const received = { count: 0, last: 0 }
let onReceived: (() => void) | null = null
/** A bare socket that only receives (the probe's floor for a passive session). */
let raw: { close(): void } | null = null
/** An ioredis client, when the mutex runs through ioredis (a user's choice) rather than the minimal client. */
let io: {
  blpop(k: string, t: number): Promise<unknown>
  get(k: string): Promise<string | null>
  set(k: string, v: string): Promise<unknown>
  rpush(k: string, v: string): Promise<unknown>
  publish(c: string, v: string): Promise<unknown>
  disconnect(): void
} | null = null

const runOurs = async (s: ServerState<{ count: number }>, ops: number): Promise<number> => {
  let done = 0
  for (let i = 0; i < ops; i++) {
    await s.lock('count', (st) => {
      st.count = (st.count ?? 0) + 1
    })
    done++
  }
  return done
}

const runIoredis = async (r: NonNullable<typeof io>, ops: number): Promise<number> => {
  let done = 0
  for (let i = 0; i < ops; i++) {
    await r.blpop('token', 0)
    const count = Number((await r.get('count')) ?? 0)
    await r.set('count', String(count + 1))
    if (publish) await r.publish('count', String(count + 1))
    await r.rpush('token', '1')
    done++
  }
  return done
}

const runRedis = async (r: RespClient, ops: number): Promise<number> => {
  let done = 0
  for (let i = 0; i < ops; i++) {
    await r.command('BLPOP', 'token', '0')
    const count = Number((await r.command('GET', 'count')) ?? 0)
    await r.command('SET', 'count', String(count + 1))
    if (publish) await r.command('PUBLISH', 'count', String(count + 1))
    await r.command('RPUSH', 'token', '1')
    done++
  }
  return done
}

serveRequests(async (msg) => {
  switch (msg.cmd) {
    case 'connect':
      if (msg.system === 'ours') {
        // The client as the package ships it (compiled by tsc), or its sources under tsx.
        const { connect } = await loadClient(msg.compiledDir as string | null | undefined)
        ours = connect<{ count: number }>({
          url: msg.url as string,
          room: msg.room as string,
          WebSocketPolyfill: WebSocket,
          broadcastChannel: false,
          lockTimeout: 120_000
        })
        await ours.ready
      } else if (msg.system === 'plain') {
        // A stock y-websocket client that only receives (the lock probe's passive peer).
        const [{ WebsocketProvider }, Y] = await Promise.all([import('y-websocket'), import('yjs')])
        const doc = new Y.Doc()
        const provider = new WebsocketProvider(msg.url as string, msg.room as string, doc, {
          WebSocketPolyfill: WebSocket as never,
          disableBc: true
        })
        await new Promise<void>((resolve) => provider.once('sync', () => resolve()))
      } else if (msg.system === 'raw') {
        const { RawClient } = await import('../lib/raw-client.js')
        raw = await RawClient.open('y-websocket', msg.url as string, msg.room as string)
      } else {
        if (msg.client === 'ioredis') {
          const { Redis } = await import('ioredis')
          const r = new Redis({ port: msg.port as number, host: '127.0.0.1', lazyConnect: true })
          await r.connect()
          io = r
        } else {
          redis = await respConnect(msg.port as number)
        }
        publish = msg.publish === true
        if (publish) {
          subscriber = await respSubscribe(msg.port as number, 'count', (value) => {
            received.count++
            received.last = Number(value)
            onReceived?.()
          })
        }
      }
      return {}
    case 'run': {
      const ops = msg.ops as number
      const t0 = performance.now()
      const cpu0 = process.cpuUsage()
      const done = ours ? await runOurs(ours, ops) : io ? await runIoredis(io, ops) : await runRedis(redis!, ops)
      const cpu = process.cpuUsage(cpu0)
      return { done, ms: performance.now() - t0, cpuUs: cpu.user + cpu.system }
    }
    case 'seen': {
      const value = msg.value as number
      const holds = (): number => (ours ? (ours.get('count') ?? 0) : received.last)
      // Bounded: a value that never comes is reported, not waited for.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, msg.timeoutMs as number)
        const check = () => {
          if (holds() === value) done()
        }
        const off = ours?.subscribe('count', check)
        onReceived = check
        function done() {
          clearTimeout(timer)
          off?.()
          onReceived = null
          resolve()
        }
        check()
      })
      return { value: holds(), received: received.count }
    }
    case 'close':
      subscriber?.close()
      ours?.close()
      raw?.close()
      redis?.close()
      io?.disconnect()
      // A normal exit, so that --cpu-prof writes its profile.
      setImmediate(() => process.exit(0))
      return {}
    default:
      throw new Error(`unknown command ${String(msg.cmd)}`)
  }
})
process.send!({ ready: true })
