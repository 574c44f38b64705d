/**
 * A session: one connection to one room of the relay, and the server-wide state it shares.
 *
 * @example
 *   import { connect } from 'y-server-state'
 *   const server = connect<{ count: number }>({ url: 'ws://127.0.0.1:1234', room: 'default' })
 *   await server.ready
 *   await server.lock('count', (s) => { s.count = (s.count ?? 0) + 1 })
 *   console.log(server.state.count)
 *   server.close()
 */
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import { ObservableV2 } from 'lib0/observable'
import { MESSAGE_YSS, YSS_FLUSH, YSS_FLUSHED, decodeYss, encodeYss, isRoomName, type YssMessage } from './protocol.js'
import { toFrozenJson, deepFreeze, jsonEqual, type Json } from './json.js'
import { applyWrites, entryId, QUIET, STATE, VERSIONS, type Write } from './writes.js'
import { Bindings, Tracker, type ChangeListener } from './tracker.js'
import { RerunSuppressedError, SessionClosedError } from './errors.js'
import { LockScope, Locks, type LockOptions } from './lock.js'

export type Status = 'connecting' | 'connected' | 'disconnected'

export interface ConnectOptions {
  /** The relay, `ws://host:port`. Default in a browser: the page's own host. */
  url?: string
  /** The room; default `default`. */
  room?: string
  /** A WebSocket implementation where there is no global one (Node 20: `ws`). */
  WebSocketPolyfill?: unknown
  /** Query parameters added to the connection URL. */
  params?: Record<string, string>
  /** Sync same-origin tabs over BroadcastChannel too (y-websocket's default). Default true. */
  broadcastChannel?: boolean
  /** Longest wait between reconnection attempts, before jitter. Default 2500 ms. */
  maxBackoffMs?: number
  /** Default time a lock may wait for its lease. Default 10 s. */
  lockTimeout?: number
}

/** The keys read by `keys()`: a pseudo key, notified when a key is added or deleted. */
export const KEYS = '\u0000keys'

const LOCAL = Symbol('y-server-state local write')

type Events = { status: (status: Status) => void }

const defaultUrl = (): string => {
  const loc = (globalThis as { location?: Location }).location
  if (!loc) throw new TypeError('connect(): pass { url } outside a browser')
  return `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}`
}

export class ServerState<S extends object = Record<string, any>> extends ObservableV2<Events> {
  readonly doc: Y.Doc
  readonly provider: WebsocketProvider
  readonly room: string
  /** Resolves once the session has synced with the relay for the first time. */
  readonly ready: Promise<void>
  /**
   * The state as an object: property reads and writes, `in` and `delete` are `get`, `set`, `has`
   * and `delete`. Inside a lock's function it reads and writes the lock's pending writes.
   */
  readonly state: S
  /** @internal */ readonly bindings = new Bindings()
  /** @internal */ scope: LockScope | null = null
  /** @internal */ quietDepth = 0
  /** @internal */ readonly ownClients = new Set<number>()
  /** @internal */ readonly resyncHooks = new Set<() => void>()
  /** @internal */ readonly lostHooks = new Set<() => void>()
  /** @internal */ readonly closeHooks = new Set<(err: Error) => void>()
  private readonly map: Y.Map<unknown>
  private readonly quietMap: Y.Map<string>
  private readonly versionMap: Y.Map<number>
  private readonly cache = new Map<string, unknown>()
  /** Trackers that were running when a transaction's writes were made: it must not re-run them. */
  private readonly writers = new WeakMap<Y.Transaction, Tracker[]>()
  /** @internal Lock commits not yet back, with the trackers that were running when lock() was called. */
  readonly commitWriters: Array<{ client: number; end: number; trackers: readonly Tracker[] }> = []
  private readonly requests = new Map<number, (m: YssMessage) => void>()
  private readonly locks: Locks
  private nextId = 1
  private _status: Status = 'connecting'
  private _closed = false
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined
  /** Keys changed per transaction, gathered by the deep observer for the afterTransaction pass. */
  private changed: { keys: Set<string>; membership: boolean } | null = null

  constructor(options: ConnectOptions = {}) {
    super()
    const room = options.room ?? 'default'
    if (!isRoomName(room)) throw new TypeError(`connect(): invalid room name "${room}": use 1-128 of A-Z a-z 0-9 _ . -`)
    this.room = room
    this.doc = new Y.Doc()
    this.map = this.doc.getMap(STATE)
    // Define the side maps now: a root type first met in a remote update is a placeholder that
    // getMap() later replaces, and that transaction's `changed` would name the placeholder.
    this.quietMap = this.doc.getMap(QUIET)
    this.versionMap = this.doc.getMap(VERSIONS)
    const url = options.url ?? defaultUrl()
    const maxBackoff = options.maxBackoffMs ?? 2500
    this.provider = new WebsocketProvider(url, room, this.doc, {
      params: options.params ?? {},
      disableBc: options.broadcastChannel === false,
      maxBackoffTime: maxBackoff,
      ...(options.WebSocketPolyfill ? { WebSocketPolyfill: options.WebSocketPolyfill as typeof WebSocket } : {})
    })
    this.provider.messageHandlers[MESSAGE_YSS] = (_encoder, decoder) => {
      const m = decodeYss(decoder)
      this.requests.get(m.id)?.(m)
    }
    this.locks = new Locks(this, options.lockTimeout ?? 10_000)
    this.state = this.createProxy()

    this.ready = new Promise<void>((resolve, reject) => {
      this.provider.on('sync', (synced: boolean) => { if (synced) resolve() })
      this.closeHooks.add(reject)
    })
    this.ready.catch(() => {})
    this.provider.on('status', ({ status }) => {
      if (status === 'disconnected') this.setStatus('disconnected')
      else if (status === 'connecting' && this._status !== 'connected') this.setStatus('connecting')
    })
    this.provider.on('sync', (synced: boolean) => {
      if (!synced) return
      this.setStatus('connected')
      for (const hook of [...this.resyncHooks]) hook()
    })
    this.provider.on('connection-close', (event) => {
      for (const hook of [...this.lostHooks]) hook()
      this.scheduleReconnect(event?.code, maxBackoff)
    })
    this.provider.on('closed', ({ code, reason }) => {
      this.shutdown(new SessionClosedError(`the relay closed the session for good (${code}: ${reason})`))
    })

    this.map.observeDeep((events) => {
      const changed = (this.changed ??= { keys: new Set(), membership: false })
      for (const event of events) {
        if (event.target === this.map) {
          for (const key of (event as Y.YMapEvent<unknown>).keysChanged) changed.keys.add(key)
          for (const { action } of event.changes.keys.values()) if (action !== 'update') changed.membership = true
        } else if (typeof event.path[0] === 'string') {
          changed.keys.add(event.path[0])
        }
      }
    })
    this.doc.on('afterTransaction', (tr) => this.afterTransaction(tr))
  }

  get status(): Status {
    return this._status
  }

  /** Whether `close()` was called or the relay refused the session for good. */
  get closed(): boolean {
    return this._closed
  }

  /** Calls `listener` with each new status; returns a function that stops it. */
  onStatus(listener: (status: Status) => void): () => void {
    this.on('status', listener)
    return () => this.off('status', listener)
  }

  /** The value of `key`, frozen, or undefined. Binds the running tracker to `key`. */
  get<K extends keyof S & string>(key: K): S[K] | undefined {
    this.bindings.read(key)
    return this.current(key) as S[K] | undefined
  }

  /** Whether `key` is set. Binds the running tracker to `key`. */
  has(key: keyof S & string): boolean {
    this.bindings.read(key)
    return this.hasUntracked(key)
  }

  /**
   * Sets `key` to a JSON value. A value deep-equal to the current one changes nothing: no Yjs
   * update, no traffic, no re-render. Anything that is not JSON throws a TypeError naming the key.
   */
  set<K extends keyof S & string>(key: K, value: S[K]): void {
    const copy = toFrozenJson(key, value)
    if (jsonEqual(this.current(key), copy)) return
    this.write({ kind: 'set', key, value: copy, quiet: this.quiet })
  }

  /** Deletes `key`; returns whether it was set. Deleting a missing key changes nothing. */
  delete(key: keyof S & string): boolean {
    if (!this.hasUntracked(key)) return false
    this.write({ kind: 'delete', key, quiet: this.quiet })
    return true
  }

  /** The keys that are set. Binds the running tracker to the set of keys. */
  keys(): Array<keyof S & string> {
    this.bindings.read(KEYS)
    const keys = new Set(this.map.keys())
    if (this.scope) for (const key of this.scope.keysWritten()) {
      const pending = this.scope.lookup(key, this.map)
      if (!pending.found) continue
      if (pending.value === undefined) keys.delete(key)
      else keys.add(key)
    }
    return [...keys] as Array<keyof S & string>
  }

  /**
   * Appends items to the list at `key`, sending only the items, however long the list. A missing
   * key becomes a list, created under the key's lock so that two sessions cannot both create it.
   */
  append<K extends keyof S & string>(key: K, ...items: S[K] extends ReadonlyArray<infer T> ? T[] : Json[]): Promise<void> {
    const copies = items.map((item) => toFrozenJson(key, item))
    if (copies.length === 0) return Promise.resolve()
    if (this.map.get(key) instanceof Y.Array && !this.scope) {
      this.write({ kind: 'append', key, items: copies, quiet: this.quiet })
      return Promise.resolve()
    }
    const appendInScope = () => {
      const scope = this.scope!
      const raw = this.map.get(key)
      const onlyAppends = scope.writes.every((w) => w.key !== key || w.kind === 'append' || w.kind === 'force')
      if (raw instanceof Y.Array && onlyAppends) scope.push({ kind: 'append', key, items: copies, quiet: this.quiet })
      else {
        const pending = scope.lookup(key, this.map)
        const current = pending.found ? pending.value : raw
        const base = current instanceof Y.Array ? (current.toJSON() as Json[]) : current
        if (base !== undefined && !Array.isArray(base)) throw new TypeError(`server state "${key}": append() to a value that is not a list`)
        scope.push({ kind: 'list', key, items: [...((base as Json[] | undefined) ?? []), ...copies], quiet: this.quiet })
      }
    }
    if (this.scope) { appendInScope(); return Promise.resolve() }
    return this.lock(key, appendInScope).then(() => {})
  }

  /**
   * Runs `fn` holding the relay's lease on `keys`; see {@link Locks.lock}. Resolves to what `fn`
   * returns once its writes are stored and broadcast.
   */
  lock<R>(keys: (keyof S & string) | ReadonlyArray<keyof S & string>, fn: (state: S) => R, options?: LockOptions): Promise<R> {
    return this.locks.lock(typeof keys === 'string' ? [keys] : [...keys], fn as (s: object) => R, options)
  }

  /**
   * Runs `fn`; its writes re-render no other session (this session still shows them). Nests;
   * restored when `fn` throws. Writes made after an `await` inside `fn` are not covered.
   */
  noRerun<R>(fn: () => R): R {
    this.quietDepth++
    try {
      return fn()
    } finally {
      this.quietDepth--
    }
  }

  /** Re-renders every tracker bound to `key`, in every session, without a value change. */
  forceRerunBoundSessions(key: keyof S & string): void {
    if (this.quiet) throw new RerunSuppressedError(`forceRerunBoundSessions("${key}") inside noRerun()`)
    this.write({ kind: 'force', key, quiet: false })
  }

  /** The version counter of `key`, bumped by each `forceRerunBoundSessions(key)`. */
  version(key: keyof S & string): number {
    this.bindings.read(key)
    return this.versionMap.get(key) ?? 0
  }

  /** A tracker: code run under it is bound to the keys it reads. See {@link Tracker}. */
  tracker(onChange: ChangeListener): Tracker {
    return new Tracker(this.bindings, onChange)
  }

  /** Runs `fn` now and again (in a microtask) whenever a key it read changes. Returns a stop function. */
  watch(fn: () => void): () => void {
    let queued = false
    const t = this.tracker(() => {
      if (queued) return
      queued = true
      queueMicrotask(() => {
        queued = false
        if (!t.disposed) t.run(fn)
      })
    })
    t.run(fn)
    return () => t.dispose()
  }

  /**
   * Resolves once every change this session made so far is stored by the relay: the relay
   * acknowledges a flush request after storing everything it received before it, on the same
   * socket. Offline, it waits for the reconnection.
   */
  flush(): Promise<void> {
    if (this._closed) return Promise.reject(new SessionClosedError('flush() after close()'))
    const id = this.newRequestId()
    return new Promise<void>((resolve, reject) => {
      const attempt = () => { if (this.provider.synced) this.send({ type: YSS_FLUSH, id }) }
      const done = () => {
        this.requests.delete(id)
        this.resyncHooks.delete(attempt)
        this.closeHooks.delete(fail)
      }
      const fail = (err: Error) => { done(); reject(err) }
      this.requests.set(id, (m) => { if (m.type === YSS_FLUSHED) { done(); resolve() } })
      this.resyncHooks.add(attempt)
      this.closeHooks.add(fail)
      attempt()
    })
  }

  /** Disconnects for good. Pending flushes and locks reject with {@link SessionClosedError}. */
  close(): void {
    this.shutdown(new SessionClosedError('the session was closed'))
  }

  /** @internal */
  get quiet(): boolean {
    return this.quietDepth > 0 || (this.scope?.quiet ?? false)
  }

  /** @internal */
  newRequestId(): number {
    return this.nextId++
  }

  /** @internal Sends a message 100 if the socket is open; returns whether it was sent. */
  send(m: YssMessage): boolean {
    const ws = this.provider.ws
    if (!this.provider.wsconnected || !ws || ws.readyState !== 1) return false
    ws.send(encodeYss(m))
    return true
  }

  /** @internal Routes replies to request `id` to `handler` until the returned function is called. */
  onReply(id: number, handler: (m: YssMessage) => void): () => void {
    this.requests.set(id, handler)
    return () => this.requests.delete(id)
  }

  /** @internal The value of `key`, pending lock writes first, without binding. */
  current(key: string): unknown {
    if (this.scope) {
      const pending = this.scope.lookup(key, this.map)
      if (pending.found) return pending.value
    }
    const raw = this.map.get(key)
    if (!(raw instanceof Y.AbstractType)) return deepFreeze(raw)
    let snapshot = this.cache.get(key)
    if (snapshot === undefined) this.cache.set(key, (snapshot = deepFreeze(raw.toJSON())))
    return snapshot
  }

  private hasUntracked(key: string): boolean {
    if (this.scope) {
      const pending = this.scope.lookup(key, this.map)
      if (pending.found) return pending.value !== undefined
    }
    return this.map.has(key)
  }

  private write(w: Write): void {
    if (this._closed) throw new SessionClosedError(`write to "${w.key}" after close()`)
    if (this.scope) this.scope.push(w)
    else this.doc.transact((tr) => {
      applyWrites(this.doc, [w])
      const running = this.bindings.runningNow()
      if (running.length === 0) return
      const writers = this.writers.get(tr)
      if (writers) writers.push(...running)
      else this.writers.set(tr, [...running])
    }, LOCAL)
  }

  private afterTransaction(tr: Y.Transaction): void {
    const changed = this.changed
    this.changed = null
    for (const key of changed?.keys ?? []) this.cache.delete(key)
    const forced = tr.changed.get(this.versionMap as Y.AbstractType<any>)
    if (!changed && !forced) return
    // Our own lock commits come back from the relay; they are ours to show like local writes.
    let own = tr.local
    if (!own) for (const id of this.ownClients) if (tr.afterState.get(id) !== tr.beforeState.get(id)) own = true
    const quiet = own ? undefined : tr.changed.get(this.quietMap as Y.AbstractType<any>)
    const notify = new Set<string>()
    for (const key of changed?.keys ?? []) {
      if (!quiet?.has(key) || this.quietMap.get(key) !== entryId(this.map, key)) notify.add(key)
    }
    if (changed?.membership && notify.size > 0) notify.add(KEYS)
    for (const key of forced ?? []) if (key !== null) notify.add(key)
    let writers = this.writers.get(tr)
    for (let i = this.commitWriters.length - 1; i >= 0; i--) {
      const w = this.commitWriters[i]!
      if ((tr.afterState.get(w.client) ?? 0) < w.end) continue
      writers = [...(writers ?? []), ...w.trackers]
      this.commitWriters.splice(i, 1)
    }
    if (notify.size > 0) this.bindings.notify(notify, writers)
  }

  private scheduleReconnect(code: number | undefined, maxBackoff: number): void {
    if (this._closed || !this.provider.shouldConnect) return
    if (code !== undefined && code >= 4400 && code < 4500) return
    // Replace y-websocket's fixed back-off by one with jitter, so that the sessions of a
    // restarted relay do not all come back in the same millisecond.
    this.provider.shouldConnect = false
    const base = Math.min(2 ** (this.provider.wsUnsuccessfulReconnects + 1) * 100, maxBackoff)
    clearTimeout(this.reconnectTimer)
    this.reconnectTimer = setTimeout(() => {
      if (!this._closed) this.provider.connect()
    }, base / 2 + Math.random() * base / 2)
  }

  private setStatus(status: Status): void {
    if (this._status === status) return
    this._status = status
    this.emit('status', [status])
  }

  private shutdown(err: Error): void {
    if (this._closed) return
    this._closed = true
    clearTimeout(this.reconnectTimer)
    this.provider.destroy()
    // The provider leaves its awareness (and the awareness's interval timer) to its owner.
    this.provider.awareness.destroy()
    this.locks.destroy()
    this.setStatus('disconnected')
    for (const hook of [...this.closeHooks]) hook(err)
    this.closeHooks.clear()
  }

  private createProxy(): S {
    const name = (p: string | symbol): string => {
      if (typeof p !== 'string') throw new TypeError('server state keys are strings')
      return p
    }
    return new Proxy({} as S, {
      get: (_, p) => (typeof p === 'string' ? this.get(p as keyof S & string) : undefined),
      set: (_, p, value) => {
        this.set(name(p) as keyof S & string, value)
        return true
      },
      has: (_, p) => typeof p === 'string' && this.has(p as keyof S & string),
      deleteProperty: (_, p) => {
        this.delete(name(p) as keyof S & string)
        return true
      },
      ownKeys: () => this.keys(),
      getOwnPropertyDescriptor: (_, p) =>
        typeof p === 'string' && this.hasUntracked(p)
          ? { value: this.get(p as keyof S & string), writable: true, enumerable: true, configurable: true }
          : undefined
    })
  }
}

/**
 * Connects to a room of the relay. Give the state's shape to type it:
 * `connect<{ count: number }>({ url, room })`.
 */
export const connect = <S extends object = Record<string, any>>(options: ConnectOptions = {}): ServerState<S> =>
  new ServerState<S>(options)
