/**
 * The change feed of one loaded room: every change its doc's transactions make to its keys (a
 * session's update, a lock commit, an update of another relay from the cluster bus), numbered in
 * commit order, and given to its watchers only once the room has stored them: the room applies a
 * batch before storing it, so the changes of a batch wait until the room reports it stored
 * ({@link Room.onStored}). Each event says whether a session of this relay wrote it (`local`) or
 * another relay (`cluster`): webhooks fire for local ones only, so that a cluster sends each
 * change once.
 *
 * The recent events are kept ({@link EventRing}) so that a watcher that reconnects with the id
 * of its last event gets exactly what it missed. Ids are `<epoch>-<seq>`; the epoch is new with
 * each feed, so an id from before a room reload or a relay restart is never taken for one of
 * this feed: its watcher gets a new snapshot instead.
 *
 * A feed costs its room an `afterTransaction` listener and the JSON of each changed key; it is
 * attached only when someone watches ({@link Feeds}), and detached once nobody has for `lingerMs`.
 *
 * @example
 *   const feed = new RoomFeed(room, { lingerMs: 60_000, maxEvents: 1024, maxBytes: 4 * MiB, log })
 *   const stop = feed.watch({
 *     snapshot: (id) => send('snapshot', id, feed.state()),     // the state as stored, then…
 *     events: (events) => events.forEach((e) => send('change', e.id, e.json)),
 *     ended: () => close()
 *   }, lastEventId)                                             // resumes after it if it can
 *   stop()
 */
import { randomBytes } from 'node:crypto'
import type * as Y from 'yjs'
import { FORCES, QUIET, STATE } from '../../protocol/doc-names.js'
import { forceCount } from '../../protocol/doc-writes.js'
import type { Json } from '../../protocol/json.js'
import { commitOrigin, type CommitOrigin, type Room } from '../room/room.js'
import type { Logger } from '../log.js'
import { EventRing } from './event-ring.js'
import { jsonValue, keyChanges, type KeyChange } from './key-change.js'
import { jsonText } from './json-text.js'

export interface FeedEvent {
  /** Its number in the feed: 1, 2, … in commit order. */
  readonly seq: number
  /** `<epoch>-<seq>`: the SSE `id:`. */
  readonly id: string
  readonly origin: CommitOrigin
  readonly change: KeyChange
  /** `change` as JSON, made once for every watcher. */
  readonly json: string
}

/** A key as a snapshot gives it. */
export interface KeyState {
  readonly value: Json
  readonly version: number
}

export interface FeedWatcher {
  /**
   * The watcher starts from the room's state now, which holds every event up to `id` and
   * nothing unstored: read it with {@link RoomFeed.state} before returning. Not called for a
   * watcher that resumes, nor for one that asked for none.
   */
  snapshot?(id: string): void
  /** The events of a stored batch, in commit order. */
  events(events: readonly FeedEvent[]): void
  /** The feed ended: the room unloaded or failed. Nothing more comes. */
  ended(): void
}

export interface FeedOptions {
  /** How long the feed stays attached once it has no watcher, so that a watcher can resume. */
  lingerMs: number
  /** Events kept for resuming, at most. */
  maxEvents: number
  /** Bytes of JSON of the events kept, at most. */
  maxBytes: number
  log: Logger
}

/** Where a watcher starts: a snapshot, after an event id (a snapshot when it cannot), or just from now on. */
export type FeedStart = { snapshot: true; after?: string } | { snapshot: false }

// A value a stock client wrote may have no JSON text (nested too deeply): it goes out as null.
const toJson = (change: KeyChange): string => jsonText(change) ?? JSON.stringify({ ...change, value: null })

export class RoomFeed {
  /** New with each feed: ids of an earlier feed (a reload, a restart) are never taken for this one's. */
  readonly epoch = randomBytes(6).toString('base64url')
  private seq = 0
  private readonly ring: EventRing<FeedEvent>
  /** Changes applied and not yet stored, with their origin, in commit order. */
  private pending: Array<{ origin: CommitOrigin; changes: KeyChange[] }> = []
  private readonly watchers = new Set<FeedWatcher>()
  /** Watchers whose snapshot waits for the batch in hand to be stored. */
  private readonly joining = new Set<FeedWatcher>()
  private readonly stopStored: () => void
  private linger: ReturnType<typeof setTimeout> | undefined
  closed = false

  constructor(
    readonly room: Room,
    private readonly options: FeedOptions,
    private readonly onClosed: (feed: RoomFeed) => void = () => {}
  ) {
    this.ring = new EventRing(options.maxEvents, options.maxBytes)
    // A root type no one has asked for as a map is a placeholder until asked; asked inside a
    // transaction, it is replaced, and that transaction's changes are listed under the placeholder.
    for (const name of [STATE, FORCES, QUIET]) room.doc.getMap(name)
    room.doc.on('afterTransaction', this.observe)
    room.doc.on('destroy', this.destroyed)
    this.stopStored = room.onStored(() => this.release())
    this.idle()
  }

  /** The id of the last event so far. */
  get lastId(): string {
    return `${this.epoch}-${this.seq}`
  }

  get watching(): number {
    return this.watchers.size + this.joining.size
  }

  /**
   * Starts `watcher`: with `after` the id of an event of this feed still kept, the events since
   * it now; else a snapshot (now, or once the batch in hand is stored). Returns the stop.
   */
  watch(watcher: FeedWatcher, start: FeedStart): () => void {
    if (this.closed) {
      watcher.ended()
      return () => {}
    }
    clearTimeout(this.linger)
    const missed = start.snapshot && start.after !== undefined ? this.since(start.after) : null
    if (missed) {
      if (missed.length > 0) watcher.events(missed)
      this.watchers.add(watcher)
    } else if (!start.snapshot) {
      this.watchers.add(watcher)
    } else if (this.room.storing) {
      this.joining.add(watcher)
    } else {
      watcher.snapshot?.(this.lastId)
      this.watchers.add(watcher)
    }
    return () => {
      this.watchers.delete(watcher)
      this.joining.delete(watcher)
      this.idle()
    }
  }

  /** The room's keys now (those `wants`), with their versions: call only from {@link FeedWatcher.snapshot}. */
  state(wants: (key: string) => boolean = () => true): Record<string, KeyState> {
    const state = this.room.doc.getMap<unknown>(STATE)
    const forces = this.room.doc.getMap<number>(FORCES)
    const keys: Array<[string, KeyState]> = []
    for (const [key, value] of state) if (wants(key)) keys.push([key, { value: jsonValue(value), version: forceCount(forces, key) }])
    // fromEntries defines its keys: one named "__proto__" stays a key, as an assignment would not.
    return Object.fromEntries(keys)
  }

  /**
   * {@link state} as the JSON text `{ "keys": { … } }`, each value with no JSON text (a stock
   * client's, nested too deeply) as null, as in the changes: call only from {@link FeedWatcher.snapshot}.
   */
  stateJson(wants?: (key: string) => boolean): string {
    // Key by key, so that one value with no text costs only itself.
    const entries: string[] = []
    for (const [key, state] of Object.entries(this.state(wants)))
      entries.push(`${JSON.stringify(key)}:${jsonText(state) ?? JSON.stringify({ value: null, version: state.version })}`)
    return `{"keys":{${entries.join(',')}}}`
  }

  /** Detaches from the room; every watcher is told the feed ended. */
  close(): void {
    if (this.closed) return
    this.closed = true
    clearTimeout(this.linger)
    this.room.doc.off('afterTransaction', this.observe)
    this.room.doc.off('destroy', this.destroyed)
    this.stopStored()
    this.pending = []
    const all = [...this.watchers, ...this.joining]
    this.watchers.clear()
    this.joining.clear()
    for (const w of all) this.guard(() => w.ended())
    this.onClosed(this)
  }

  /** The kept events after `id`, or null when `id` is not this feed's or some were dropped. */
  private since(id: string): FeedEvent[] | null {
    const dash = id.lastIndexOf('-')
    if (id.slice(0, dash) !== this.epoch) return null
    const seq = Number(id.slice(dash + 1))
    if (!Number.isSafeInteger(seq) || seq < 0 || seq > this.seq) return null
    return this.ring.after(seq)
  }

  private readonly observe = (tr: Y.Transaction): void => {
    const changes = keyChanges(this.room.doc, tr)
    if (changes.length > 0) this.pending.push({ origin: commitOrigin(tr.origin), changes })
  }

  private readonly destroyed = (): void => this.close()

  /** The room stored its batch: its changes go out, then the waiting snapshots are taken. */
  private release(): void {
    if (this.pending.length > 0) {
      const events: FeedEvent[] = []
      for (const { origin, changes } of this.pending.splice(0)) {
        for (const change of changes) {
          const seq = ++this.seq
          const event: FeedEvent = { seq, id: `${this.epoch}-${seq}`, origin, change, json: toJson(change) }
          this.ring.push(event)
          events.push(event)
        }
      }
      for (const w of this.watchers) this.guard(() => w.events(events))
    }
    for (const w of this.joining) {
      this.joining.delete(w)
      this.guard(() => w.snapshot?.(this.lastId))
      this.watchers.add(w)
    }
  }

  /** A watcher that throws must not break the room's pipeline, which calls {@link release}. */
  private guard(fn: () => void): void {
    try {
      fn()
    } catch (err) {
      this.options.log.error('a watcher of the change feed failed', { room: this.room.name, error: String(err) })
    }
  }

  /** With no watcher left, the feed detaches after `lingerMs`. */
  private idle(): void {
    if (this.watching > 0 || this.closed) return
    clearTimeout(this.linger)
    this.linger = setTimeout(() => this.close(), this.options.lingerMs)
    this.linger.unref()
  }
}
