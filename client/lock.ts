/**
 * Cross-session locks, granted by the relay.
 *
 * `lock(keys, fn)` queues for the keys' lease at the relay. Once granted, and once this session's
 * doc holds every update the relay had at the grant, `fn` runs synchronously against the state;
 * its writes are held aside ({@link LockScope}) and never touch the session's doc directly. They
 * are encoded as one Yjs update under a client id of the locks' own (client/commit.ts builds it
 * from the items the writes replace, without applying it anywhere), and sent in a COMMIT. The
 * relay applies, stores and broadcasts the update, then releases the lease and acknowledges. The
 * update reaches this session's doc with the broadcast, like any other, so a commit that the
 * relay refused (its lease had expired) or never received is applied nowhere. A commit whose
 * socket dropped before the answer is decided by the relay when the session reconnects: the new
 * connection fences the old one and asks (HELLO_FENCES, protocol/messages.ts). That is what makes
 * a lock all or nothing, even when the connection or the relay dies half-way: the call resolves
 * if and only if its writes are in the room.
 *
 * When nobody else waits for the keys, the relay may keep the lease with this session after its
 * commit (RETAINED in place of DONE; client/retained-leases.ts): the next lock on those keys then
 * runs at once and sends just its COMMIT, until the relay asks for the lease back.
 *
 * @example
 *   await server.lock('count', (s) => { s.count = (s.count ?? 0) + 1 })
 *   await server.lock(['from', 'to'], (s) => { s.from -= 5; s.to += 5 })
 */
import * as Y from 'yjs'
import { uint32 } from 'lib0/random'
import {
  DENIED_STALE,
  MAX_LOCK_KEYS,
  YSS_ACQUIRE,
  YSS_CANCEL,
  YSS_DENIED,
  YSS_DONE,
  YSS_GRANT,
  YSS_RETAINED
} from '../protocol/messages.js'
import { STATE } from '../protocol/doc-names.js'
import type { Write } from '../protocol/doc-writes.js'
import { encodeCommit, type EncodedCommit } from './commit.js'
import { jsonEqual } from '../protocol/json.js'
import { LockLostError, LockTimeoutError, ReadOnlyError, SessionClosedError } from './errors.js'
import { LockScope } from './lock-scope.js'
import { RetainedLeases } from './retained-leases.js'
import type { Connection } from './connection.js'
import type { Changes } from './changes.js'
import type { Tracker } from './tracker.js'

/** What the lock protocol needs of its session. */
export interface LockHost {
  readonly doc: Y.Doc
  readonly connection: Connection
  readonly changes: Changes
  /** The state proxy, which reads and writes the running lock's scope. */
  readonly state: object
  /** Whether writes now are quiet (inside `noRerun`). */
  readonly quiet: boolean
  /** The running lock's scope; set while its function runs. */
  scope: LockScope | null
  /** The trackers running now. */
  runningTrackers(): readonly Tracker[]
  /** The value of `key`, pending writes first, without binding. */
  current(key: string): unknown
}

export interface LockOptions {
  /** How long to wait for the lease, in ms. Default: the session's `lockTimeout` (10 s). */
  timeout?: number
}

/** Checks and orders the keys of a lock: strings, unique, sorted, at most 64. */
export const lockKeys = (keys: readonly unknown[]): string[] => {
  if (keys.length === 0) throw new TypeError('lock() needs at least one key')
  for (const k of keys) if (typeof k !== 'string') throw new TypeError(`lock(): keys are strings, not ${typeof k}`)
  const sorted = [...new Set(keys as string[])].sort()
  if (sorted.length > MAX_LOCK_KEYS) throw new TypeError(`lock(): at most ${MAX_LOCK_KEYS} keys at once`)
  return sorted
}

/** Whether the writes to `key` append items to it, and do nothing else to its value. */
const onlyAppended = (writes: readonly Write[], key: string): boolean => {
  let appended = false
  for (const w of writes) {
    if (w.key !== key || w.kind === 'force') continue
    if (w.kind !== 'append' || w.items.length === 0) return false
    appended = true
  }
  return appended
}

/**
 * A commit on a retained lease that the relay refused as stale: a key of the lease was written
 * since the lease's state, which the lock ran on. Nothing was applied; the lock runs again.
 */
class StaleCommit extends LockLostError {}

/** Whether `doc` holds everything described by the state vector `sv`. */
const holds = (doc: Y.Doc, sv: Map<number, number>): boolean => {
  for (const [client, clock] of sv) if (Y.getState(doc.store, client) < clock) return false
  return true
}

export class Locks {
  /**
   * The client id that commits are written under, of the locks' own, so that change detection
   * can tell a commit's items from the session's other writes; 0 until the first commit, and
   * replaced after a commit that the relay refused, whose clocks it never saw.
   */
  private commitClient = 0
  /** The clock after the last commit the relay stored: where the next one starts. */
  private nextClock = 0
  /** The last commit's outcome: commits of one client id must reach the relay in order. */
  private lastCommit: Promise<unknown> = Promise.resolve()
  /** The leases the relay left with this session after its commits. */
  private readonly retained: RetainedLeases

  constructor(
    private readonly session: LockHost,
    private readonly defaultTimeout: number
  ) {
    this.retained = new RetainedLeases(session.connection)
  }

  /**
   * Runs `fn` holding the relay's lease on every key in `keys`.
   *
   * - Waits its turn (first come, first served) for at most `timeout` ms, then rejects with
   *   {@link LockTimeoutError}; offline, it rejects at once. Nothing of it is then ever applied.
   * - `fn` runs synchronously with the state; its writes are committed as one transaction,
   *   stored and broadcast before the lease is released, so the next holder reads them.
   * - If `fn` throws, none of its writes is applied and the promise rejects with the error.
   * - Inside `fn`, locking keys already held runs at once: if the inner function throws, its
   *   writes are cut back and the error is thrown on (the outer function may catch it and go on);
   *   else its promise settles with the outer lock's outcome, once the outer commit is stored.
   *   Locking other keys throws: take all the keys in one `lock([...])`.
   * - Several keys are taken in sorted order, so two multi-key locks cannot deadlock.
   * - If the connection drops after `fn` ran, the promise settles once the session has
   *   reconnected, from the relay's answer: the new connection fences the old one (whose late
   *   bytes are then never applied) and asks the commit's fate. Resolved if the relay applied
   *   the writes, rejected with {@link LockLostError} if not. Only `close()` leaves it undecided:
   *   it then rejects with a SessionClosedError that says the writes may or may not be stored.
   */
  lock<R>(keyList: readonly string[], fn: (state: object) => R, options: LockOptions = {}): Promise<R> {
    const s = this.session
    let keys: string[]
    try {
      keys = lockKeys(keyList)
      if (typeof fn !== 'function') throw new TypeError('lock(keys, fn): fn is a function')
    } catch (err) {
      return Promise.reject(err)
    }
    if (s.scope) {
      const held = s.scope.keys
      const missing = keys.filter((k) => !held.has(k))
      if (missing.length > 0) {
        throw new Error(
          `lock(${JSON.stringify(keys)}) inside lock(${JSON.stringify([...held])}): ` +
            `take every key in one lock([...]) instead, so the order is fixed`
        )
      }
      return this.runInner(s.scope, fn)
    }
    return this.acquireAndRun(keys, fn, options.timeout ?? this.defaultTimeout, s.quiet, s.runningTrackers())
  }

  /**
   * A lock inside a lock: `fn` runs at once in the outer lock's scope. If it throws, its writes
   * are cut back and the error is thrown on (the outer function may catch it and go on); else its
   * promise settles with the outer lock's outcome, never before the outer commit is stored.
   */
  private runInner<R>(scope: LockScope, fn: (state: object) => R): Promise<R> {
    const mark = scope.mark()
    let result: R
    try {
      result = fn(this.session.state)
    } catch (err) {
      scope.cutBack(mark)
      throw err
    }
    const settled = scope.outcome.then(() => result)
    // Inside a synchronous fn the caller cannot await it; a rejection it ignores is no crash.
    settled.catch(() => {})
    return settled
  }

  private async acquireAndRun<R>(
    keys: string[],
    fn: (state: object) => R,
    timeout: number,
    quiet: boolean,
    trackers: readonly Tracker[]
  ): Promise<R> {
    const s = this.session
    const conn = s.connection
    if (conn.isClosed) throw new SessionClosedError('lock() after close()')
    if (conn.status === 'disconnected') throw new LockTimeoutError(keys, 'the session is offline')
    const deadline = Date.now() + timeout
    if (conn.status !== 'connected')
      await conn.untilConnected(timeout, () => new LockTimeoutError(keys, `not connected within ${timeout} ms`))
    // The relay told this connection its access before it synced.
    if (conn.access === 'read') throw new ReadOnlyError(`lock(${JSON.stringify(keys)})`, conn.room)
    const lease = this.retained.take(keys)
    let id: number
    let grant: Map<number, number>
    if (lease) {
      id = lease.id
      grant = lease.grant
    } else {
      this.retained.giveBackOverlapping(keys)
      id = conn.newRequestId()
      grant = await this.acquire(keys, id, deadline, timeout)
    }
    // The lease is ours from here: every path below ends it, by COMMIT or CANCEL, or puts a
    // retained one back.
    let lost = false
    const onLost = () => {
      lost = true
    }
    conn.lost.add(onLost)
    try {
      // Another lock of this session may have committed while this one waited: wait for its
      // outcome too, so that two commits of one client id are never in flight at once.
      for (;;) {
        const prev = this.lastCommit
        await prev
        if (!holds(s.doc, grant)) await this.until(() => holds(s.doc, grant) || lost)
        if (lost || prev === this.lastCommit) break
      }
    } finally {
      conn.lost.delete(onLost)
    }
    const cancel = lease
      ? () => this.retained.putBack(lease)
      : () => {
          conn.send({ type: YSS_CANCEL, id })
        }
    if (lost || conn.isClosed) throw new LockLostError(keys, 'the connection dropped before the lease was used; nothing was applied')
    const scope = new LockScope(new Set(keys), quiet)
    // Inner locks settle with this one (runInner): every way out below settles the scope.
    try {
      let result: R
      s.scope = scope
      try {
        result = fn(s.state)
      } catch (err) {
        cancel()
        throw err
      } finally {
        s.scope = null
      }
      if (typeof (result as { then?: unknown } | null)?.then === 'function') {
        cancel()
        throw new TypeError(
          `lock(${JSON.stringify(keys)}): fn returned a promise; it must be synchronous, writes after an await are not locked`
        )
      }
      // Keys whose writes end where they started change nothing: no update, no re-render. A key
      // that only had items appended did change, and comparing it would copy the whole list.
      const state = s.doc.getMap(STATE)
      const unchanged = new Set(
        [...scope.keysWritten()].filter(
          (key) => !onlyAppended(scope.writes, key) && jsonEqual(scope.lookup(key, state).value, s.current(key))
        )
      )
      const writes = scope.writes.filter((w) => w.kind === 'force' || !unchanged.has(w.key))
      const commit = writes.length > 0 ? this.encode(writes, cancel) : null
      if (!commit) {
        cancel()
        scope.settle(null)
        return result
      }
      // The commit comes back as a remote transaction: it must not re-run the render that locked.
      const forget = s.changes.expectCommit({ ...commit, trackers })
      const carried = this.withDependencies(commit.update, grant)
      const outcome = this.commit(keys, id, carried.update, commit, lease?.keys ?? keys)
      outcome.catch(() => {
        forget()
        if (carried.deletions) s.connection.returnChannelDeletions(carried.deletions)
      })
      this.lastCommit = outcome.catch(() => {})
      await outcome
      scope.settle(null)
      return result
    } catch (err) {
      scope.settle(err)
      // It ran without a GRANT, on a state older than the room's: nothing was applied, and it
      // runs again, queued with ACQUIRE like any lock (the lease is gone).
      if (err instanceof StaleCommit) return this.acquireAndRun(keys, fn, timeout, quiet, trackers)
      throw err
    }
  }

  /**
   * The commit, carrying every update this session holds beyond the relay's state at the grant,
   * and the deletions that came over the BroadcastChannel. A commit may build on an item or a
   * deletion the relay never got (one from another tab while that tab's socket was down);
   * carried along, it is stored with the commit instead of leaving the commit pending, or
   * denied, at the relay, or resolved on a state the room does not have.
   */
  private withDependencies(update: Uint8Array, grant: Map<number, number>): { update: Uint8Array; deletions: Uint8Array | null } {
    const doc = this.session.doc
    const parts = [update]
    const ahead = [...doc.store.clients.keys()].some((client) => Y.getState(doc.store, client) > (grant.get(client) ?? 0))
    if (ahead) parts.unshift(Y.encodeStateAsUpdate(doc, Y.encodeStateVector(grant)))
    const deletions = this.session.connection.takeChannelDeletions()
    if (deletions) parts.unshift(deletions)
    return { update: parts.length === 1 ? update : Y.mergeUpdates(parts), deletions }
  }

  /** Encodes the writes as one update under the locks' client id; null if they change nothing. */
  private encode(writes: Write[], cancel: () => void): EncodedCommit | null {
    if (this.commitClient === 0) this.newCommitClient()
    const doc = this.session.doc
    const client = this.commitClient
    try {
      return encodeCommit(doc, client, Math.max(this.nextClock, Y.getState(doc.store, client)), writes)
    } catch (err) {
      cancel()
      throw err
    }
  }

  /** A fresh client id for commits: after a refused commit, its clocks are free again nowhere. */
  private newCommitClient(): void {
    let client = uint32()
    while (client === 0 || client === this.session.doc.clientID || this.session.doc.store.clients.has(client)) client = uint32()
    this.commitClient = client
    this.nextClock = 0
    this.session.changes.ownClients.add(client)
  }

  /**
   * Sends `update` as the commit of request `id`; resolves once the items up to `end` are stored.
   * `leaseKeys` are the keys the request holds (a retained lease may hold more than the lock's).
   * `own` is the commit's own update, without what it carries along.
   *
   * If the socket drops before the answer, the answer comes on the next one: its HELLO asks the
   * fate of the commit, and the relay, having fenced the old connection (nothing more of it is
   * applied), answers DONE or DENIED under the same id. The lock decides from that answer alone.
   */
  private commit(
    keys: string[],
    id: number,
    update: Uint8Array,
    { client, start, end, update: own }: EncodedCommit,
    leaseKeys: readonly string[]
  ): Promise<void> {
    const conn = this.session.connection
    return new Promise<void>((resolve, reject) => {
      const cleanup = () => {
        off()
        conn.unsettled.delete(id)
        conn.lost.delete(onLost)
        conn.resynced.delete(onResync)
        conn.closed.delete(onClose)
      }
      const refused = (reason: string, stale = false) => {
        cleanup()
        if (this.commitClient === client) this.newCommitClient()
        reject(new (stale ? StaleCommit : LockLostError)(keys, reason))
      }
      const stored = () => {
        cleanup()
        if (this.commitClient === client) this.nextClock = Math.max(this.nextClock, end)
        resolve()
      }
      let disconnected = false
      /** The relay answered DONE on a new socket, before that socket's sync step 2. */
      let appliedBeforeSync = false
      const onLost = () => {
        disconnected = true
      }
      // The fate came before the sync step 2 that brings the commit into this doc: resolve with it.
      const onResync = () => {
        if (appliedBeforeSync) stored()
      }
      const onClose = () => refused('the session closed before the relay acknowledged the writes; they may or may not be stored')
      const off = conn.onReply(id, (m) => {
        // A socket that closes takes the session's retained leases with it (RetainedLeases).
        if (m.type === YSS_RETAINED) this.retained.kept(id, leaseKeys, Y.decodeStateVector(m.stateVector))
        else if (m.type === YSS_DONE || m.type === YSS_DENIED) this.retained.ended(id)
        if (m.type === YSS_DONE && disconnected && !conn.synced) appliedBeforeSync = true
        else if (m.type === YSS_DONE || m.type === YSS_RETAINED) stored()
        else if (m.type === YSS_DENIED) refused(`the relay refused the writes: ${m.reason}`, m.reason.startsWith(DENIED_STALE))
      })
      conn.lost.add(onLost)
      conn.resynced.add(onResync)
      conn.closed.add(onClose)
      const sent = conn.sendCommit(id, update)
      if (!sent) return refused('the connection dropped before the writes were sent; nothing was applied')
      // Asked on the next socket, if this one drops first. A commit without items is known by its deletions.
      conn.unsettled.set(id, { id, ...sent, client, end, deletions: start === end ? own : new Uint8Array(0) })
    })
  }

  private acquire(keys: string[], id: number, deadline: number, timeout: number): Promise<Map<number, number>> {
    const conn = this.session.connection
    return new Promise((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(timer)
        off()
        conn.lost.delete(onLost)
        conn.closed.delete(onClose)
      }
      const fail = (err: Error) => {
        cleanup()
        reject(err)
      }
      const timer = setTimeout(
        () => {
          conn.send({ type: YSS_CANCEL, id })
          fail(new LockTimeoutError(keys, `not granted within ${timeout} ms`))
        },
        Math.max(0, deadline - Date.now())
      )
      const onLost = () => fail(new LockTimeoutError(keys, 'the connection dropped while waiting'))
      const onClose = (err: Error) => fail(err)
      const off = conn.onReply(id, (m) => {
        if (m.type === YSS_DENIED) {
          // A read-only connection is denied every lease: say so plainly. Other denials (lock
          // limits, a shared store that cannot be reached) carry the relay's reason.
          return fail(
            conn.access === 'read'
              ? new ReadOnlyError(`lock(${JSON.stringify(keys)})`, conn.room)
              : new LockTimeoutError(keys, `the relay denied the lease: ${m.reason}`)
          )
        }
        if (m.type !== YSS_GRANT) return
        cleanup()
        resolve(Y.decodeStateVector(m.stateVector))
      })
      conn.lost.add(onLost)
      conn.closed.add(onClose)
      if (!conn.send({ type: YSS_ACQUIRE, id, keys })) onLost()
    })
  }

  /** Resolves once `check()` holds, re-checked after each transaction of the doc. */
  private until(check: () => boolean): Promise<void> {
    const doc = this.session.doc
    const lost = this.session.connection.lost
    return new Promise((resolve) => {
      const look = () => {
        if (!check()) return
        doc.off('afterTransaction', look)
        lost.delete(look)
        resolve()
      }
      doc.on('afterTransaction', look)
      lost.add(look)
    })
  }
}
