/**
 * Presence: who is in the room now, and what each session says about itself (`{ nickname }`,
 * a cursor, the chat room it looks at). Built on the y-protocols awareness of the session's
 * y-websocket provider, so a stock client's awareness state shows too, and ours shows to it.
 *
 * - `set(state)` replaces this session's presence with a JSON object (checked and frozen like a
 *   value; a deep-equal state sends nothing); `update(fields)` merges fields into it; `clear()`
 *   hides this session from the others until the next `set` or `update`.
 * - `list()` is every session's presence, this one's included, as `{ clientId, state, self }`,
 *   this session first, then by client id. It is bound like a key: reading it in a tracker's run
 *   (a Lit render, `watch`) re-runs that tracker when anyone's presence changes, and
 *   `subscribe(listener)` calls `listener(list)` after each change. The list and its states are
 *   frozen, and the same array is returned until something changes (a stable snapshot).
 * - Awareness states that are not JSON objects (a stock client may set any value) are left out.
 * - Every one of our connected sessions has a presence, `{}` until it sets one. A stock client
 *   shows once it sets a state (y-protocols ignores a client's first, default `{}`, until its
 *   renewal 15 s later).
 * - A session that closes leaves the list of the others as soon as the relay sees its socket
 *   close (it says so itself, and the relay drops a closed connection's states); one that
 *   vanishes without a close is dropped by the relay's ping (30 s) or the awareness timeout
 *   (30 s without a renewal). While disconnected, a session lists only itself; once closed,
 *   nobody.
 *
 * @example
 *   server.presence.set({ nickname: 'alice' })
 *   server.watch(() => {
 *     const names = server.presence.list().map((p) => p.state.nickname ?? '(anonymous)')
 *     console.log('online:', names.join(', '))
 *   })
 */
import type { Awareness } from 'y-protocols/awareness'
import { deepFreeze, jsonEqual, toFrozenJson, type Json } from '../protocol/json.js'
import { SessionClosedError } from './errors.js'
import { Tracker, type Bindings } from './tracker.js'
import { subscribeTo } from './subscription.js'

/** The pseudo key that `list()` binds: notified when anyone's presence changes. */
export const PRESENCE = '\u0000presence'

/** A presence state: a JSON object. */
export type PresenceState = { readonly [field: string]: Json }

/** One session's presence. */
export interface PresenceEntry<P extends PresenceState = PresenceState> {
  /** The session's awareness client id (its doc's clientID). */
  readonly clientId: number
  readonly state: P
  /** Whether it is this session. */
  readonly self: boolean
}

/** What presence needs from the session's connection. */
export interface PresenceHost {
  readonly provider: { readonly awareness: Awareness }
  readonly isClosed: boolean
  /** Hooks called once when the session closes. */
  readonly closed: Set<(err: Error) => void>
}

const isObject = (v: unknown): v is PresenceState => typeof v === 'object' && v !== null && !Array.isArray(v)

export class Presence<P extends PresenceState = PresenceState> {
  private readonly awareness: Awareness
  private cached: readonly PresenceEntry<P>[] | null = null

  constructor(
    private readonly host: PresenceHost,
    private readonly bindings: Bindings
  ) {
    this.awareness = host.provider.awareness
    // y-protocols starts every state at clock 0, which the others ignore until its first renewal
    // (15 s): announce this session's `{}` at clock 1, so that it shows at once.
    this.awareness.setLocalState(this.awareness.getLocalState())
    this.awareness.on('change', () => this.changed())
    host.closed.add(() => this.changed())
  }

  /** This session's own presence (`{}` until set), or null after `clear()` or `close()`. Binds like `list()`. */
  get mine(): P | null {
    this.bindings.read(PRESENCE)
    const state = this.host.isClosed ? null : this.awareness.getLocalState()
    return isObject(state) ? (deepFreeze(state) as P) : null
  }

  /** Replaces this session's presence. Throws a TypeError for a value that is not a JSON object. */
  set(state: P): void {
    if (this.host.isClosed) throw new SessionClosedError('presence.set() after close()')
    const copy = toFrozenJson('presence', state)
    if (!isObject(copy)) throw new TypeError('server state "presence": the value is not a JSON object')
    if (jsonEqual(this.awareness.getLocalState(), copy)) return
    this.awareness.setLocalState(copy)
  }

  /** Merges `fields` into this session's presence. */
  update(fields: Partial<P>): void {
    const current = this.awareness.getLocalState()
    this.set({ ...(isObject(current) ? current : {}), ...fields } as P)
  }

  /** Hides this session from the others' lists, until the next `set` or `update`. */
  clear(): void {
    if (this.host.isClosed) return
    this.awareness.setLocalState(null)
  }

  /** Every session's presence, this one first. Binds the running tracker to presence. */
  list(): readonly PresenceEntry<P>[] {
    this.bindings.read(PRESENCE)
    this.cached ??= this.snapshot()
    return this.cached
  }

  /** Calls `listener` with the new list after each change (not now); returns the unsubscribe function. */
  subscribe(listener: (list: readonly PresenceEntry<P>[]) => void): () => void {
    return subscribeTo({ tracker: (onChange) => new Tracker(this.bindings, onChange) }, () => this.list(), listener)
  }

  private snapshot(): readonly PresenceEntry<P>[] {
    if (this.host.isClosed) return Object.freeze([])
    const self = this.awareness.clientID
    const entries: PresenceEntry<P>[] = []
    for (const [clientId, state] of this.awareness.getStates()) {
      if (!isObject(state)) continue
      entries.push(Object.freeze({ clientId, state: deepFreeze(state) as P, self: clientId === self }))
    }
    entries.sort((a, b) => Number(b.self) - Number(a.self) || a.clientId - b.clientId)
    return Object.freeze(entries)
  }

  private changed(): void {
    this.cached = null
    this.bindings.notify([PRESENCE])
  }
}
