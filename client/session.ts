/**
 * A session: the server-wide state of one room, as one connection sees it. This is the key API
 * (`get`, `set`, `has`, `delete`, `keys`, `append`, `state`), `noRerun`, forced re-runs, locks and
 * calls of server mutations; the socket is {@link Connection}, change detection {@link Changes},
 * the lock protocol {@link Locks}, and the calls {@link Calls}.
 *
 * A write of a key that only the relay's mutations may write throws {@link MutationOnlyError} at
 * once: the relay tells those keys' patterns just before the access, and the session holds its
 * writes until then (below), so none slips through; a held one is rolled back as a read-only
 * session's are.
 *
 * Until the relay has said the session's access, its writes are held aside (an overlay that its
 * own reads see) and touch no doc, so neither its socket nor a BroadcastChannel can carry them:
 * they are applied once the access is `write`, and rolled back if it is `read` (its readers
 * re-run, and `flush()` rejects with {@link ReadOnlyError}).
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
import type { WebsocketProvider } from 'y-websocket'
import { FORCES, STATE } from '../protocol/doc-names.js'
import { toFrozenJson, deepFreeze, jsonEqual, type Json } from '../protocol/json.js'
import { applyWrites, forceCount, type Write } from '../protocol/doc-writes.js'
import { Bindings, Tracker, type ChangeListener } from './tracker.js'
import { MutationOnlyError, ReadOnlyError, RerunSuppressedError, SessionClosedError } from './errors.js'
import { Calls } from './calls.js'
import { Locks, type LockHost, type LockOptions } from './lock.js'
import { LockScope } from './lock-scope.js'
import { Connection, type ConnectionOptions, type Status } from './connection.js'
import type { Access } from '../protocol/messages.js'
import { Changes, KEYS } from './changes.js'
import { stateProxy } from './state-proxy.js'
import { Presence } from './presence.js'
import { keyStore, subscribeKey, type KeyStore } from './key-store.js'

export { KEYS, type Status, type Access }

export interface ConnectOptions extends ConnectionOptions {
  /** Default time a lock may wait for its lease. Default 10 s. */
  lockTimeout?: number
}

const LOCAL = Symbol('y-server-state local write')

/** A lock or flush not settled yet. */
interface InFlight {
  readonly what: string
  readonly reject: (err: Error) => void
  readonly done: Promise<unknown>
}

// biome-ignore lint/suspicious/noExplicitAny: the public default lets untyped users write `server.state.count` without declaring a shape
export class ServerState<S extends object = Record<string, any>> implements LockHost {
  readonly doc: Y.Doc
  readonly connection: Connection
  readonly room: string
  /** Resolves once the session has synced with the relay for the first time. */
  readonly ready: Promise<void>
  /**
   * The state as an object: property reads and writes, `in` and `delete` are `get`, `set`, `has`
   * and `delete`. Inside a lock's function it reads and writes the lock's pending writes.
   */
  readonly state: S
  /** Who is in the room: this session's presence and the others'. See {@link Presence}. */
  readonly presence: Presence
  /** @internal */ readonly bindings = new Bindings()
  /** @internal */ readonly changes: Changes
  /** @internal */ scope: LockScope | null = null
  private quietDepth = 0
  private readonly map: Y.Map<unknown>
  private readonly forces: Y.Map<number>
  /** Frozen snapshots of the keys that hold a Yjs type (a list), until the key changes. */
  private readonly cache = new Map<string, unknown>()
  private readonly locks: Locks
  private readonly calls: Calls
  /** Writes held until the relay says the access, with the trackers that made each; see the module comment. */
  private held: { writes: LockScope; writers: Array<readonly Tracker[]>; settled: Promise<void>; settle(err?: Error): void } | null = null
  /** Locks and flushes not settled yet: what `close()` rejects and `settled()` waits for. */
  private readonly inFlight = new Set<InFlight>()

  constructor(options: ConnectOptions = {}) {
    this.doc = new Y.Doc()
    this.changes = new Changes(this.doc, this.bindings, (keys) => {
      for (const key of keys) this.cache.delete(key)
    })
    this.map = this.doc.getMap(STATE)
    this.forces = this.doc.getMap(FORCES)
    this.connection = new Connection(this.doc, options)
    this.room = this.connection.room
    this.ready = this.connection.ready
    this.locks = new Locks(this, options.lockTimeout ?? 10_000)
    this.calls = new Calls(this.connection, options.lockTimeout ?? 10_000)
    this.presence = new Presence(this.connection, this.bindings)
    this.connection.accessSaid.add((access) => this.releaseHeld(access))
    this.connection.closed.add((err) => this.dropHeld(err))
    this.state = stateProxy<S>({
      get: (key) => this.get(key as keyof S & string),
      set: (key, value) => this.set(key as keyof S & string, value as S[keyof S & string]),
      has: (key) => this.has(key as keyof S & string),
      delete: (key) => this.delete(key as keyof S & string),
      keys: () => this.keys(),
      hasUntracked: (key) => this.hasUntracked(key)
    })
  }

  /** The y-websocket provider under the connection (its awareness, for presence). */
  get provider(): WebsocketProvider {
    return this.connection.provider
  }

  /** `connecting`, `connected` or `disconnected`. */
  get status(): Status {
    return this.connection.status
  }

  /** Whether `close()` was called or the relay refused the session for good. */
  get closed(): boolean {
    return this.connection.isClosed
  }

  /** Calls `listener` with each new status; returns a function that stops it. */
  onStatus(listener: (status: Status) => void): () => void {
    return this.connection.onStatus(listener)
  }

  /**
   * `write`, or `read` when the relay drops this session's writes: then `set`, `delete`,
   * `append`, `forceRerunBoundSessions` throw, and `lock` rejects, with {@link ReadOnlyError} at
   * once. Before the first connection it is what the token's `access` claim says (decoded, not
   * verified), else `write`; the relay's answer on each connection, before `ready`, wins. Until
   * the relay has answered, writes are held (see the module comment).
   */
  get access(): Access {
    return this.connection.access
  }

  /** Who the relay says this session is (a token's `sub`), if it says. */
  get user(): string | undefined {
    return this.connection.user
  }

  /** Calls `listener` when `access` or `user` changes; returns a function that stops it. */
  onAccess(listener: (access: Access) => void): () => void {
    return this.connection.onAccess(listener)
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
    this.writable(`set("${key}")`, key)
    const copy = toFrozenJson(key, value)
    if (jsonEqual(this.current(key), copy)) return
    this.write({ kind: 'set', key, value: copy, quiet: this.quiet })
  }

  /** Deletes `key`; returns whether it was set. Deleting a missing key changes nothing. */
  delete(key: keyof S & string): boolean {
    this.writable(`delete("${key}")`, key)
    if (!this.hasUntracked(key)) return false
    this.write({ kind: 'delete', key, quiet: this.quiet })
    return true
  }

  /** The keys that are set. Binds the running tracker to the set of keys. */
  keys(): Array<keyof S & string> {
    this.bindings.read(KEYS)
    const keys = new Set(this.map.keys())
    const written = new Set([...(this.held?.writes.keysWritten() ?? []), ...(this.scope?.keysWritten() ?? [])])
    for (const key of written) {
      const pending = this.overlay(key)
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
    this.writable(`append("${key}")`, key)
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
    if (this.scope) {
      if (!this.scope.keys.has(key)) {
        throw new Error(
          `append("${key}") inside lock(${JSON.stringify([...this.scope.keys])}): ` +
            `a list is created under its key's lock; add "${key}" to the lock's keys`
        )
      }
      appendInScope()
      return Promise.resolve()
    }
    return this.lock(key, appendInScope).then(() => {})
  }

  /**
   * Runs `fn` holding the relay's lease on `keys`; see {@link Locks.lock}. Resolves to what `fn`
   * returns once its writes are stored and broadcast.
   */
  lock<R>(keys: (keyof S & string) | ReadonlyArray<keyof S & string>, fn: (state: S) => R, options?: LockOptions): Promise<R> {
    if (this.access === 'read') return Promise.reject(new ReadOnlyError(`lock(${JSON.stringify(keys)})`, this.room))
    const list = typeof keys === 'string' ? [keys] : [...keys]
    // An inner lock settles with its outer one, which is tracked already.
    if (this.scope) return this.locks.lock(list, fn as (s: object) => R, options)
    return this.track(`lock(${JSON.stringify(list)})`, this.locks.lock(list, fn as (s: object) => R, options))
  }

  /**
   * Runs the relay's server mutation `name` with `args` (JSON), under the leases of the keys it
   * declares; resolves with its result once its writes are stored, and this session's doc holds
   * them. Rejects with a {@link MutationError} (`code`: `no_such_mutation`, `invalid_args`,
   * `mutation_failed`, `lock_timeout`, `unavailable`, `over_limit`): nothing applied, unless the
   * connection dropped after the call went out (`unavailable` says so). Offline, it rejects at
   * once; on a read-only session, with {@link ReadOnlyError}. See client/calls.ts.
   */
  call<R = Json>(name: string, args?: Json): Promise<R> {
    return this.track(`call("${name}")`, this.calls.call<R>(name, args))
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
    this.writable(`forceRerunBoundSessions("${key}")`, key)
    if (this.quiet) throw new RerunSuppressedError(`forceRerunBoundSessions("${key}") inside noRerun()`)
    this.write({ kind: 'force', key, quiet: false })
  }

  /** How many times `key` was forced (`forceRerunBoundSessions`), by every session: concurrent forces add up. */
  version(key: keyof S & string): number {
    this.bindings.read(key)
    return forceCount(this.forces, key)
  }

  /** A tracker: code run under it is bound to the keys it reads. See {@link Tracker}. */
  tracker(onChange: ChangeListener): Tracker {
    return new Tracker(this.bindings, onChange)
  }

  /**
   * Calls `listener` with the value of `key` after each change of it, in any session (not now;
   * see `store` for that). Returns the unsubscribe function. See client/subscription.ts.
   */
  subscribe<K extends keyof S & string>(key: K, listener: (value: S[K] | undefined) => void): () => void {
    return subscribeKey<S[K]>(this, key, listener)
  }

  /** A store of `key` that follows the Svelte store contract (`subscribe`, `set`). See {@link KeyStore}. */
  store<K extends keyof S & string>(key: K): KeyStore<S[K]> {
    return keyStore<S[K]>(this, key)
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
   * socket. Offline, it waits for the reconnection. Writes held until the relay says the access
   * count too: it rejects with {@link ReadOnlyError} if they were rolled back.
   */
  flush(): Promise<void> {
    if (this.held)
      return this.track(
        'flush()',
        this.held.settled.then(() => this.connection.flush())
      )
    return this.track('flush()', this.connection.flush())
  }

  /**
   * Disconnects for good. Pending flushes and locks reject with {@link SessionClosedError}: a lock
   * whose writes were sent but not yet acknowledged may or may not be stored, and its error says so.
   */
  close(): void {
    if (this.closed) return
    for (const pending of [...this.inFlight]) {
      pending.reject(
        new SessionClosedError(
          `${pending.what}: the session was closed before it settled` +
            (pending.what === 'flush()' ? '' : '; writes it sent may or may not be stored')
        )
      )
    }
    this.connection.close(new SessionClosedError('the session was closed'))
  }

  /**
   * @internal Resolves once every lock and flush asked for so far has settled (resolved or
   * rejected): what a shared session waits for before it closes, so that closing it cannot turn
   * a lock whose writes are being stored into a failure.
   */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight].map((p) => p.done))
  }

  /** `work`, as a promise that `close()` rejects with {@link SessionClosedError} if it is still pending. */
  private track<T>(what: string, work: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: InFlight = { what, reject, done: work }
      this.inFlight.add(entry)
      work.then(
        (value) => {
          this.inFlight.delete(entry)
          resolve(value)
        },
        (err) => {
          this.inFlight.delete(entry)
          reject(err)
        }
      )
    })
  }

  /** @internal Whether writes now are quiet: inside `noRerun`, or a lock asked for in it. */
  get quiet(): boolean {
    return this.quietDepth > 0 || (this.scope?.quiet ?? false)
  }

  /** @internal */
  runningTrackers(): readonly Tracker[] {
    return this.bindings.runningNow()
  }

  /** @internal The value of `key`, pending lock writes first, without binding. */
  current(key: string): unknown {
    const pending = this.overlay(key)
    if (pending.found) return pending.value
    const raw = this.map.get(key)
    if (!(raw instanceof Y.AbstractType)) return deepFreeze(raw)
    let snapshot = this.cache.get(key)
    if (snapshot === undefined) {
      snapshot = deepFreeze(raw.toJSON())
      this.cache.set(key, snapshot)
    }
    return snapshot
  }

  /** @internal Whether `key` is set, pending lock writes first, without binding. */
  hasUntracked(key: string): boolean {
    const pending = this.overlay(key)
    if (pending.found) return pending.value !== undefined
    return this.map.has(key)
  }

  /** The value of `key` as the running lock's writes, then the held writes, leave it, if they touch it. */
  private overlay(key: string): { found: boolean; value: unknown } {
    if (this.scope) {
      const pending = this.scope.lookup(key, this.map)
      if (pending.found) return pending
    }
    return this.held?.writes.lookup(key, this.map) ?? { found: false, value: undefined }
  }

  /**
   * Throws {@link ReadOnlyError} for `operation` on a read-only session, and
   * {@link MutationOnlyError} for a key only the relay's mutations may write.
   */
  private writable(operation: string, key: string): void {
    if (this.access === 'read') throw new ReadOnlyError(operation, this.room)
    if (this.connection.mutationOnly(key)) throw new MutationOnlyError(key, operation)
  }

  private write(w: Write): void {
    if (this.closed) throw new SessionClosedError(`write to "${w.key}" after close()`)
    if (this.scope) this.scope.push(w)
    else if (!this.connection.accessKnown) this.hold(w)
    else
      this.doc.transact((tr) => {
        applyWrites(this.doc, [w])
        this.changes.wroteIn(tr)
      }, LOCAL)
  }

  /** Holds `w` until the relay says the access; the trackers bound to its key see it now. */
  private hold(w: Write): void {
    if (!this.held) {
      let settle!: (err?: Error) => void
      const settled = new Promise<void>((resolve, reject) => {
        settle = (err) => (err ? reject(err) : resolve())
      })
      settled.catch(() => {})
      this.held = { writes: new LockScope(new Set(), false), writers: [], settled, settle }
    }
    this.changedHeld([w], () => {
      this.held!.writes.push(w)
      this.held!.writers.push(this.bindings.runningNow())
    })
  }

  /** The relay said the access: the held writes are applied (write) or rolled back (read). */
  private releaseHeld(access: Access): void {
    const held = this.held
    if (!held) return
    if (access === 'read') {
      this.dropHeld(new ReadOnlyError(`${held.writes.writes.length} write(s) made before the relay said this session's access`, this.room))
      return
    }
    // Writes of keys the relay has just said only its mutations may write are rolled back.
    const refused = held.writes.writes.filter((w) => this.connection.mutationOnly(w.key))
    const kept = held.writes.writes.filter((w) => !this.connection.mutationOnly(w.key))
    const writers = held.writers.filter((_, i) => !this.connection.mutationOnly(held.writes.writes[i]!.key))
    this.changedHeld(refused, () => {
      this.held = null
      // One transaction, one update to send; its readers saw every held write already.
      this.doc.transact((tr) => {
        applyWrites(this.doc, kept)
        this.changes.wroteIn(tr, writers.flat())
      }, LOCAL)
    })
    held.settle(refused[0] && new MutationOnlyError(refused[0].key, 'a write made before the relay said its mutation-only keys'))
  }

  /** Rolls the held writes back, if any: their readers re-run, and a flush waiting on them rejects with `err`. */
  private dropHeld(err: Error): void {
    const held = this.held
    if (!held) return
    this.changedHeld(held.writes.writes, () => {
      this.held = null
    })
    held.settle(err)
  }

  /** Runs `change` to the held writes, then notifies the trackers bound to the keys of `writes` (and to the set of keys, if it changed). */
  private changedHeld(writes: readonly Write[], change: () => void): void {
    const keys = new Set(writes.map((w) => w.key))
    const before = [...keys].map((key) => this.hasUntracked(key))
    change()
    const notified: string[] = [...keys]
    if ([...keys].some((key, i) => this.hasUntracked(key) !== before[i])) notified.push(KEYS)
    this.bindings.notify(notified)
  }
}

/**
 * Connects to a room of the relay. Give the state's shape to type it:
 * `connect<{ count: number }>({ url, room })`.
 */
// biome-ignore lint/suspicious/noExplicitAny: the public default lets untyped users write `server.state.count` without declaring a shape
export const connect = <S extends object = Record<string, any>>(options: ConnectOptions = {}): ServerState<S> => new ServerState<S>(options)
