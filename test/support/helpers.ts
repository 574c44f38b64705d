/**
 * The test harness: real relays (in-process or as a child process), stock y-websocket clients,
 * raw sockets, and bounded waits for events. Nothing here sleeps to synchronise.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import { WebsocketProvider } from 'y-websocket'
import WebSocket from 'ws'
import { startRelay, type Relay, type RelayOptions } from '../../relay/server.js'
import { formatLine, type Logger } from '../../relay/log.js'
import { connect, type ServerState, type ConnectOptions } from '../../client/index.js'
import { MESSAGE_YSS, decodeYss, type YssMessage } from '../../protocol/messages.js'

export const ROOT = new URL('../..', import.meta.url).pathname

/** Waits until `check()` is true, checking on each `interval` ms, for at most `timeout` ms. */
export const eventually = async (check: () => boolean | Promise<boolean>, what: string, timeout = 5_000): Promise<void> => {
  const end = Date.now() + timeout
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeout} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

/** Resolves with the arguments of the next `event`, or rejects after `timeout` ms. */
export const nextEvent = <T = unknown>(
  target: { once(event: string, fn: (...args: any[]) => void): unknown },
  event: string,
  timeout = 5_000
): Promise<T> =>
  new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${timeout} ms waiting for "${event}"`)), timeout)
    target.once(event, (value: T) => {
      clearTimeout(timer)
      resolve(value)
    })
  })

/** Rejects if `promise` takes longer than `timeout` ms. */
export const within = <T>(promise: Promise<T>, timeout: number, what: string): Promise<T> =>
  new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${timeout} ms waiting for ${what}`)), timeout)
    promise.then(
      (v) => {
        clearTimeout(timer)
        resolve(v)
      },
      (e) => {
        clearTimeout(timer)
        reject(e)
      }
    )
  })

export const tempDir = (name = 'yss'): { path: string; remove(): void } => {
  const path = mkdtempSync(join(tmpdir(), `${name}-`))
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) }
}

/** A logger that keeps its lines, for asserting on what the relay logged. */
export const memoryLogger = (): Logger & { lines: string[] } => {
  const lines: string[] = []
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) => {
    lines.push(formatLine(level, msg, fields as never))
  }
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
}

/** An in-process relay on a free port, in memory unless told otherwise. */
export const testRelay = (options: RelayOptions = {}): Promise<Relay> =>
  startRelay({ port: 0, memory: options.dataDir === undefined && options.store === undefined, logLevel: 'silent', ...options })

/** What the tests use of a stock y-websocket provider, of any major (1.x, 2.x, 3.x). */
export interface StockProvider {
  readonly synced: boolean
  readonly wsconnected: boolean
  readonly url: string
  on(event: string, fn: (...args: any[]) => void): unknown
  once(event: string, fn: (...args: any[]) => void): unknown
  off(event: string, fn: (...args: any[]) => void): unknown
  connect(): void
  destroy(): void
}

/** A stock `WebsocketProvider` class: y-websocket 3.x's own, or an aliased older major's. */
export type StockProviderClass<P extends StockProvider = StockProvider> = new (
  serverUrl: string,
  room: string,
  doc: Y.Doc,
  options: { WebSocketPolyfill: never; disableBc: boolean; connect?: boolean }
) => P

export interface StockClient<P extends StockProvider = WebsocketProvider> {
  doc: Y.Doc
  provider: P
  state: Y.Map<unknown>
  synced: Promise<void>
  /** Resolves with the close that ended it for good (a 44xx refusal), after which y-websocket stops retrying. */
  refused: Promise<{ code: number; reason: string }>
  destroy(): void
}

/** How a stock client is made: its URL `params` (`{ token }`), WebSocket class, and whether it connects at once. */
export interface StockClientOptions {
  params?: Record<string, string>
  WebSocketPolyfill?: typeof WebSocket
  /** With `false` it waits for `provider.connect()`, so that a test can listen to its first attempt. */
  connect?: boolean
}

/**
 * A stock y-websocket client, not one of ours: y-websocket 3.x unless `Provider` is another
 * major's class.
 */
export function stockClient(url: string, room: string, options?: StockClientOptions): StockClient
export function stockClient<P extends StockProvider>(
  url: string,
  room: string,
  Provider: StockProviderClass<P>,
  options?: StockClientOptions
): StockClient<P>
export function stockClient(
  url: string,
  room: string,
  providerOrOptions: StockProviderClass | StockClientOptions = {},
  more: StockClientOptions = {}
): StockClient<StockProvider> {
  const Provider = typeof providerOrOptions === 'function' ? providerOrOptions : (WebsocketProvider as unknown as StockProviderClass)
  const options = typeof providerOrOptions === 'function' ? more : providerOrOptions
  const doc = new Y.Doc()
  const provider = new Provider(url, room, doc, {
    WebSocketPolyfill: (options.WebSocketPolyfill ?? WebSocket) as never,
    disableBc: true,
    connect: options.connect ?? true,
    ...(options.params ? { params: options.params } : {})
  } as { WebSocketPolyfill: never; disableBc: boolean; connect?: boolean })
  let synced: Promise<void> | undefined
  const refused = new Promise<{ code: number; reason: string }>((resolve) =>
    provider.once('closed', (event: { code: number; reason: string }) => resolve(event))
  )
  return {
    doc,
    provider,
    state: doc.getMap('state'),
    // Made on first use: a client that is never meant to sync leaves no timer behind.
    get synced() {
      if (!synced) {
        synced = provider.synced ? Promise.resolve() : nextEvent<void>(provider, 'sync', 10_000)
        synced.catch(() => {}) // a refused client never syncs; a test that awaits it still sees the rejection
      }
      return synced
    },
    refused,
    destroy: () => {
      provider.destroy()
      doc.destroy()
    }
  }
}

export interface SocketHistory {
  /** When each connection attempt started (status `connecting`). */
  attempts: number[]
  /** When each socket opened (status `connected`). */
  opens: number[]
  /** When each socket closed, with its close code (0 for a local close). */
  closes: Array<{ at: number; code: number }>
  /** Resolves once `done()` holds, checked now and at each attempt, open and close. */
  until(done: () => boolean): Promise<void>
}

/**
 * Records a stock provider's connection attempts, opens and closes. Create the provider with
 * `connect: false` to see its first attempt too.
 */
export const socketHistory = (provider: StockProvider): SocketHistory => {
  const waiters = new Set<() => void>()
  const changed = () => {
    for (const w of [...waiters]) w()
  }
  const history: SocketHistory = {
    attempts: [],
    opens: [],
    closes: [],
    until: (done) =>
      new Promise((resolve) => {
        const check = () => {
          if (done()) {
            waiters.delete(check)
            resolve()
          }
        }
        waiters.add(check)
        check()
      })
  }
  provider.on('status', ({ status }: { status: string }) => {
    if (status === 'connecting') history.attempts.push(Date.now())
    if (status === 'connected') history.opens.push(Date.now())
    changed()
  })
  provider.on('connection-close', (event: { code?: number } | null) => {
    history.closes.push({ at: Date.now(), code: event?.code ?? 0 })
    changed()
  })
  return history
}

/** Resolves once `map` holds `key`, or rejects after `timeout` ms. */
export const untilKey = (map: Y.Map<unknown>, key: string, value?: unknown, timeout = 5_000): Promise<void> => {
  const ok = () => map.has(key) && (value === undefined || JSON.stringify(map.get(key)) === JSON.stringify(value))
  if (ok()) return Promise.resolve()
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      map.unobserve(fn)
      reject(new Error(`timed out waiting for key "${key}"`))
    }, timeout)
    const fn = () => {
      if (ok()) {
        clearTimeout(timer)
        map.unobserve(fn)
        resolve()
      }
    }
    map.observe(fn)
  })
}

export interface RawSocket {
  ws: WebSocket
  frames: Uint8Array[]
  opened: Promise<void>
  closed: Promise<{ code: number; reason: string }>
  /** Resolves with the first frame received so far or later that `match` accepts. */
  frame(match: (f: Uint8Array) => boolean, timeout?: number): Promise<Uint8Array>
  send(data: Uint8Array | string): void
}

/** A bare WebSocket that records every frame: for speaking the protocol byte by byte. `room` may carry a query (`?token=…`). */
export const rawSocket = (url: string, room: string, options: WebSocket.ClientOptions = {}): RawSocket => {
  const ws = new WebSocket(`${url}/${room}`, options)
  const frames: Uint8Array[] = []
  const waiters: Array<() => void> = []
  ws.on('message', (data: Buffer) => {
    frames.push(new Uint8Array(data))
    for (const w of waiters.splice(0)) w()
  })
  ws.on('error', () => {})
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('close', () => reject(new Error('closed before open')))
  })
  opened.catch(() => {})
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }))
  )
  const frame = (match: (f: Uint8Array) => boolean, timeout = 5_000) =>
    new Promise<Uint8Array>((resolve, reject) => {
      let seen = 0
      const timer = setTimeout(() => reject(new Error('timed out waiting for a frame')), timeout)
      const look = () => {
        for (; seen < frames.length; seen++) {
          if (match(frames[seen]!)) {
            clearTimeout(timer)
            resolve(frames[seen]!)
            return
          }
        }
        waiters.push(look)
      }
      look()
    })
  return { ws, frames, opened, closed, frame, send: (d) => ws.send(d) }
}

/** A WebSocket class that sends `headers` (a cookie, an Origin) with its upgrade: a `WebSocketPolyfill`. */
export const webSocketWith = (headers: Record<string, string>): typeof WebSocket =>
  class extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols, { headers })
    }
  } as typeof WebSocket

/**
 * The room's whole state as the relay holds it after everything sent on `ws` so far: sends a
 * sync step 1 with an empty state vector on that socket and decodes the step 2 that answers it.
 * The relay handles a socket's frames in order, so this proves what an earlier frame did not do.
 */
export const relayStateAfter = (ws: WebSocket, timeout = 5_000): Promise<Y.Doc> =>
  new Promise<Y.Doc>((resolve, reject) => {
    const timer = setTimeout(() => {
      ws.off('message', look)
      reject(new Error('timed out waiting for a sync step 2'))
    }, timeout)
    const look = (data: Buffer) => {
      const d = decoding.createDecoder(new Uint8Array(data))
      if (decoding.readVarUint(d) !== 0 || decoding.readVarUint(d) !== 1) return
      clearTimeout(timer)
      ws.off('message', look)
      const doc = new Y.Doc()
      Y.applyUpdate(doc, decoding.readVarUint8Array(d))
      resolve(doc)
    }
    ws.on('message', look)
    const e = encoding.createEncoder()
    encoding.writeVarUint(e, 0)
    encoding.writeVarUint(e, 0)
    encoding.writeVarUint8Array(e, Y.encodeStateVector(new Y.Doc()))
    ws.send(encoding.toUint8Array(e))
  })

/** Encodes a y-websocket sync update frame. */
export const updateFrame = (update: Uint8Array): Uint8Array => {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, 0)
  encoding.writeVarUint(e, 2)
  encoding.writeVarUint8Array(e, update)
  return encoding.toUint8Array(e)
}

/** The update inside a sync frame (step 2 or update), or null for any other frame. */
export const updateOf = (frame: Uint8Array): Uint8Array | null => {
  const d = decoding.createDecoder(frame)
  if (decoding.readVarUint(d) !== 0) return null
  const sub = decoding.readVarUint(d)
  return sub === 1 || sub === 2 ? decoding.readVarUint8Array(d) : null
}

/** The message-100 frames among `frames`, decoded (the others are left out). */
export const yssMessages = (frames: Uint8Array[]): YssMessage[] =>
  frames.filter((f) => f[0] === MESSAGE_YSS).map((f) => decodeYss(decoding.createDecoder(f.subarray(1))))

export interface ReferenceRelay {
  /** `ws://127.0.0.1:port`, as for our relay. */
  url: string
  /** Names of the docs it holds: the raw paths its clients connected to, without the slash. */
  rooms(): string[]
  close(): Promise<void>
}

/**
 * The reference relay, @y/websocket-server 0.1.1's `setupWSConnection`, served in memory as its
 * own server.js serves it: for checking that what works with ours works with it too. Its docs
 * are module-wide: run one at a time.
 */
export const referenceRelay = async (): Promise<ReferenceRelay> => {
  const [{ setupWSConnection, docs }, { WebSocketServer }, { createServer }] = await Promise.all([
    import('@y/websocket-server/utils'),
    import('ws'),
    import('node:http')
  ])
  const wss = new WebSocketServer({ noServer: true })
  const http = createServer((_req, res) => res.end('okay'))
  http.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => setupWSConnection(ws, req)))
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', () => resolve()))
  return {
    url: `ws://127.0.0.1:${(http.address() as { port: number }).port}`,
    rooms: () => [...docs.keys()],
    close: async () => {
      for (const ws of wss.clients) ws.terminate()
      // Without persistence it keeps every doc, and each doc's awareness timer, for good.
      for (const doc of docs.values()) doc.destroy()
      docs.clear()
      http.closeAllConnections()
      await new Promise<void>((resolve) => http.close(() => resolve()))
    }
  }
}

export interface RelayProcess {
  url: string
  httpUrl: string
  proc: ChildProcess
  output: string[]
  exited: Promise<number | null>
  kill(signal?: NodeJS.Signals): Promise<number | null>
}

/** The relay's CLI in a child process; resolves once it prints its URL. */
export const spawnRelay = async (args: string[], env: NodeJS.ProcessEnv = {}): Promise<RelayProcess> => {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'relay/cli.ts'), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const output: string[] = []
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)))
  createInterface({ input: proc.stderr! }).on('line', (l) => output.push(l))
  const url = await within(
    new Promise<string>((resolve, reject) => {
      createInterface({ input: proc.stdout! }).on('line', (l) => {
        output.push(l)
        const m = /(ws:\/\/\S+)/.exec(l)
        if (m) resolve(m[1]!)
      })
      void exited.then((code) => reject(new Error(`relay exited with ${code}: ${output.join('\n')}`)))
    }),
    20_000,
    'the relay to listen'
  )
  return {
    url,
    httpUrl: `${url.replace('ws://', 'http://')}/`,
    proc,
    output,
    exited,
    kill: (signal = 'SIGTERM') => {
      proc.kill(signal)
      return exited
    }
  }
}

// Each y-websocket provider adds a process 'exit' listener; tests open many.
process.setMaxListeners(200)

/** One of our sessions over real sockets, BroadcastChannel off, synced. */
export const session = async <S extends object = Record<string, any>>(
  url: string,
  room: string,
  options: ConnectOptions = {}
): Promise<ServerState<S>> => {
  const s = connect<S>({ url, room, WebSocketPolyfill: WebSocket, broadcastChannel: false, ...options })
  await within(s.ready, 10_000, `session in ${room} to sync`)
  return s
}

/** Resolves once `s` reaches `status` (now or later), or rejects after `timeout` ms. */
export const untilStatus = (s: ServerState<any>, status: 'connecting' | 'connected' | 'disconnected', timeout = 5_000): Promise<void> =>
  s.status === status
    ? Promise.resolve()
    : within(
        new Promise<void>((resolve) => {
          const stop = s.onStatus((now) => {
            if (now === status) {
              stop()
              resolve()
            }
          })
        }),
        timeout,
        `status ${status}`
      )

/** Resolves once `s` is closed for good (by `close()` or a refusal), or rejects after `timeout` ms. */
export const untilClosed = (s: ServerState<any>, timeout = 5_000): Promise<void> =>
  s.closed
    ? Promise.resolve()
    : within(new Promise<void>((resolve) => s.connection.closed.add(() => resolve())), timeout, 'the session to close')

let barrierSeq = 0
/**
 * Orders the test after everything `writer` sent so far: writes a fresh sentinel key and waits
 * until every reader holds it. The relay keeps one order, so any earlier notification has been
 * delivered by then. That is how a test proves that something did *not* happen, without sleeping.
 */
export const barrier = async (writer: ServerState<any>, readers: ServerState<any>[]): Promise<void> => {
  const value = `${process.pid}-${++barrierSeq}`
  writer.set('__barrier', value)
  await Promise.all(readers.map((r) => untilKey(r.doc.getMap('state'), '__barrier', value)))
}

/** Counts a tracker's notifications, with the keys of each. */
export const counter = (s: ServerState<any>, read: () => unknown) => {
  const calls: string[][] = []
  const t = s.tracker((keys) => calls.push([...keys].sort()))
  t.run(read)
  return {
    calls,
    tracker: t,
    get count() {
      return calls.length
    }
  }
}

/**
 * One relay for a test file, started on first use, with a fresh room a call and every session
 * closed by `close()` (call it in `after`).
 */
export const sessionPool = (prefix: string, options: RelayOptions = {}) => {
  let relay: Relay | undefined
  let seq = 0
  const open: Array<{ close(): void }> = []
  const pool = {
    relay: async (): Promise<Relay> => (relay ??= await testRelay(options)),
    /** `n` synced sessions of one fresh room (or of `room`). */
    sessions: async (n: number, room = `${prefix}-${++seq}`): Promise<ServerState<any>[]> => {
      const { url } = await pool.relay()
      const list = await Promise.all(Array.from({ length: n }, () => session(url, room)))
      open.push(...list)
      return list
    },
    /** Closes `s` with the pool. */
    track: <T extends { close(): void }>(s: T): T => {
      open.push(s)
      return s
    },
    close: async (): Promise<void> => {
      for (const s of open.splice(0)) s.close()
      await relay?.close()
    }
  }
  return pool
}

export interface HoldingProxy {
  url: string
  /** While true, relay → client sync frames (type 0) are held back; other frames pass. */
  hold: boolean
  /** Relay → client frames it accepts are dropped, never forwarded. */
  drop?: (frame: Uint8Array) => boolean
  /** Forwards what was held, in order, and stops holding. */
  release(): void
  close(): void
}

/** A loopback WebSocket proxy in front of a relay that can hold back the updates it forwards. */
export const holdingProxy = async (target: string): Promise<HoldingProxy> => {
  const { WebSocketServer } = await import('ws')
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()))
  const held: Array<() => void> = []
  const ctl: HoldingProxy = {
    url: `ws://127.0.0.1:${(wss.address() as { port: number }).port}`,
    hold: false,
    release: () => {
      ctl.hold = false
      for (const forward of held.splice(0)) forward()
    },
    close: () => {
      for (const c of wss.clients) c.terminate()
      wss.close()
    }
  }
  wss.on('connection', (down, req) => {
    const up = new WebSocket(target + (req.url ?? '/'))
    const early: Buffer[] = []
    up.on('open', () => {
      for (const d of early.splice(0)) up.send(d)
    })
    down.on('message', (d: Buffer) => (up.readyState === WebSocket.OPEN ? up.send(d) : early.push(d)))
    up.on('message', (d: Buffer) => {
      if (ctl.drop?.(new Uint8Array(d))) return
      const forward = () => {
        if (down.readyState === WebSocket.OPEN) down.send(d)
      }
      if (ctl.hold && d[0] === 0) held.push(forward)
      else forward()
    })
    up.on('close', () => down.close())
    down.on('close', () => up.close())
    up.on('error', () => {})
    down.on('error', () => {})
  })
  return ctl
}
