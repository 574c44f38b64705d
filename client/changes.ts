/**
 * Change detection: after each transaction of the session's doc, which bound trackers to notify.
 *
 * One transaction may carry the writes of several sessions (the relay merges a batch into one
 * broadcast; a sync step 2 after a reconnect does the same), so quiet and own are decided per
 * written item, never per transaction:
 * - a write of another session re-runs the key's readers, unless a quiet marker covers it
 *   (see protocol/doc-writes.ts);
 * - a write of this session, local or a lock commit coming back, re-runs the key's readers
 *   except the trackers that were running when it was made, so a write in a render cannot loop;
 * - a key changed only by deletions that no item names (a stock client's delete, say) counts as
 *   another session's write, quiet if the key's marker names the deletion;
 * - another session's write that no marker covers yet, while the writer's next struct waits in
 *   the doc's pending structs (its marker, whose origin is a marker this doc lacks: a live
 *   broadcast that overtook a reconnection's sync step 2), is decided when that struct
 *   integrates: quiet if it is the write's marker, else loud, and only then re-runs the readers.
 *
 * @example
 *   const changes = new Changes(doc, bindings, (keys) => cache.forget(keys))
 *   doc.transact((tr) => { map.set('a', 1); changes.wroteIn(tr) })  // local: its writers are spared
 *   const done = changes.expectCommit({ client, start, end, trackers })
 */
import * as Y from 'yjs'
import { FORCES, LOUD_DELETES, QUIET, QUIET_START, STATE } from '../protocol/doc-names.js'
import { entryId, forcedKey, markedEntry, markedStart, stateKeyOf, type YType } from '../protocol/doc-writes.js'
import type { Bindings, Tracker } from './tracker.js'

/** The keys read by `keys()`: a pseudo key, notified when a key is added or deleted. */
export const KEYS = '\u0000keys'

/** A lock commit of this session, on its way back from the relay. */
export interface OwnCommit {
  /** The client id the commit's items were written under, and their clocks [start, end). */
  readonly client: number
  readonly start: number
  readonly end: number
  /** The trackers that were running when the lock was asked for. */
  readonly trackers: readonly Tracker[]
}

/** What the items of one transaction wrote to one key. */
interface KeyWrites {
  /** Another session's write that no quiet marker covers. */
  loud: boolean
  /** This session's writes: the trackers that made them, or none for a plain write. */
  own: Tracker[] | null
}

interface ItemRun {
  client: number
  clock: number
  key: string
}
interface Marker {
  client: number
  clock: number
  key: string
  start: number | undefined
}
/** Another session's write whose marker, it seems, is the pending struct at `next`. */
interface Undecided {
  client: number
  clock: number
  key: string
  next: number
}

/**
 * The `<start>` of a pending struct that reads as a quiet marker (its parent is not known until
 * it integrates), or Infinity: a pending struct that is not a marker covering a run decides it
 * loud at once.
 */
const pendingMarkerStart = (item: Y.Item): number => {
  const content = item.content instanceof Y.ContentAny ? item.content.getContent() : []
  const marker = content.length === 1 && typeof content[0] === 'string' && /^(\d+:\d+(:d)?)?@\d+$/.test(content[0]) ? content[0] : undefined
  return markedStart(marker) ?? Infinity
}

export class Changes {
  /** Client ids this session writes under besides the doc's own (the lock's commit doc). */
  readonly ownClients = new Set<number>()
  private readonly commits: OwnCommit[] = []
  private undecided: Undecided[] = []
  private readonly writers = new WeakMap<Y.Transaction, Tracker[]>()
  private readonly state: Y.Map<unknown>
  private readonly quiet: Y.Map<string>
  private readonly forces: Y.Map<number>
  private readonly loudDeletes: Y.Map<null>

  /** `onChanged` hears every key whose value changed, before any tracker is notified. */
  constructor(
    private readonly doc: Y.Doc,
    private readonly bindings: Bindings,
    private readonly onChanged: (keys: Set<string>) => void
  ) {
    // Define every root type now: a root type first met in a remote update is a placeholder
    // that getMap() later replaces, and that transaction's `changed` would name the placeholder.
    this.state = doc.getMap(STATE)
    this.quiet = doc.getMap(QUIET)
    this.forces = doc.getMap(FORCES)
    this.loudDeletes = doc.getMap(LOUD_DELETES)
    doc.getMap(QUIET_START)
    // The changed keys are read from the transaction rather than from deep observer events, which
    // Yjs would build and sort for every transaction, received ones included.
    doc.on('afterTransaction', (tr: Y.Transaction) => this.afterTransaction(tr))
  }

  /** Records `running` (default: the trackers running now) as writers of the local transaction `tr`. */
  wroteIn(tr: Y.Transaction, running: readonly Tracker[] = this.bindings.runningNow()): void {
    if (running.length === 0) return
    const writers = this.writers.get(tr)
    if (writers) writers.push(...running)
    else this.writers.set(tr, [...running])
  }

  /** Spares `commit.trackers` from its own items when they come back; returns a function that forgets it. */
  expectCommit(commit: OwnCommit): () => void {
    this.commits.push(commit)
    return () => {
      const i = this.commits.indexOf(commit)
      if (i >= 0) this.commits.splice(i, 1)
    }
  }

  private afterTransaction(tr: Y.Transaction): void {
    const changed = this.changedKeys(tr)
    if (changed) this.onChanged(changed)
    const forcedEntries = tr.changed.get(this.forces as YType)
    const late = !tr.local && this.undecided.length > 0 ? this.decideLate() : null
    if (!changed && !forcedEntries && !late) return
    const forced = new Set<string>()
    for (const entry of forcedEntries ?? []) if (entry !== null) forced.add(forcedKey(entry))
    const keys = changed ?? new Set<string>()
    for (const key of forced) keys.add(key)
    for (const key of late ?? []) keys.add(key)
    // Whether a key was added or deleted matters only to trackers bound to the set of keys.
    const membership = this.bindings.count(KEYS) > 0 && this.membershipChanged(tr)
    if (tr.local) {
      const writers = this.writers.get(tr) ?? []
      if (membership) keys.add(KEYS)
      this.bindings.notify(keys, () => writers)
      return
    }
    // Who wrote what matters only to trackers bound to a changed key: a session that shows none
    // of them (a worker that only locks, say) skips the item-by-item attribution.
    if (!this.anyBound(keys, membership)) {
      this.settleCommits(tr)
      return
    }
    const writes = this.attribute(tr)
    const spared = new Map<string, readonly Tracker[]>()
    for (const key of keys) {
      const w = writes.get(key)
      if (!w) {
        // Only deletions: quiet if the marker names this one.
        if (forced.has(key) || markedEntry(this.quiet.get(key)) !== entryId(this.state, key)) spared.set(key, [])
      } else if (w.loud) spared.set(key, [])
      else if (w.own) spared.set(key, w.own)
    }
    for (const key of late ?? []) spared.set(key, [])
    if (spared.size > 0) {
      if (membership) {
        const lists = [...spared.values()]
        spared.set(
          KEYS,
          lists[0]!.filter((t) => lists.every((l) => l.includes(t)))
        )
      }
      this.bindings.notify(spared.keys(), (key) => spared.get(key) ?? [])
    }
    this.settleCommits(tr)
  }

  /**
   * The keys whose values `tr` changed, or null: the state's keys it wrote or deleted, and the
   * keys of the lists it changed inside (not of a list already deleted, of which Yjs tells no
   * observer either).
   */
  private changedKeys(tr: Y.Transaction): Set<string> | null {
    let keys: Set<string> | null = null
    const state: YType = this.state
    for (const [type, subs] of tr.changed) {
      if (type === state) {
        for (const key of subs) {
          if (key === null) continue
          keys ??= new Set()
          keys.add(key)
        }
        continue
      }
      const key = this.keyHolding(type)
      if (key !== null) {
        keys ??= new Set()
        keys.add(key)
      }
    }
    return keys
  }

  /** The state's key under which `type` is nested, or null for a type elsewhere or deleted. */
  private keyHolding(type: YType): string | null {
    let item = type._item
    while (item && !item.deleted) {
      if (item.parent === this.state) return item.parentSub
      item = (item.parent as YType)._item
    }
    return null
  }

  /** Whether `tr` added a key to the state or deleted one (Yjs's own account of the map's keys). */
  private membershipChanged(tr: Y.Transaction): boolean {
    if (!tr.changed.has(this.state as YType)) return false
    for (const { action } of new Y.YMapEvent(this.state, tr, new Set()).keys.values()) if (action !== 'update') return true
    return false
  }

  /** Whether a tracker is bound to one of `keys`, or to the set of keys when it changed. */
  private anyBound(keys: Iterable<string>, membership: boolean): boolean {
    for (const key of keys) if (this.bindings.count(key) > 0) return true
    return membership && this.bindings.count(KEYS) > 0
  }

  /** Forgets the expected commits that `tr` brought in full. */
  private settleCommits(tr: Y.Transaction): void {
    for (let i = this.commits.length - 1; i >= 0; i--) {
      const c = this.commits[i]!
      if ((tr.afterState.get(c.client) ?? 0) >= c.end) this.commits.splice(i, 1)
    }
  }

  /** Who wrote what in a remote transaction, item by item. */
  private attribute(tr: Y.Transaction): Map<string, KeyWrites> {
    const runs: ItemRun[] = []
    const markers: Marker[] = []
    const loud: ItemRun[] = []
    for (const [client, after] of tr.afterState) {
      const before = tr.beforeState.get(client) ?? 0
      if (after <= before) continue
      const structs = this.doc.store.clients.get(client)!
      for (let i = Y.findIndexSS(structs, before); i < structs.length; i++) {
        const s = structs[i]!
        if (s.id.clock >= after) break
        if (s instanceof Y.Item) this.classify(s, runs, markers, loud)
      }
    }
    // Each marker as the clocks [start, clock) of its writer that it covers, by writer and key.
    const covering = new Map<string, Array<{ start: number; end: number }>>()
    for (const m of markers) {
      const id = `${m.client}\u0000${m.key}`
      const span = { start: m.start ?? this.startOfCollected(m), end: m.clock }
      const list = covering.get(id)
      if (list) list.push(span)
      else covering.set(id, [span])
    }
    const covered = (run: ItemRun): boolean =>
      covering.get(`${run.client}\u0000${run.key}`)?.some((m) => m.start <= run.clock && run.clock < m.end) ?? false
    const result = new Map<string, KeyWrites>()
    const of = (key: string): KeyWrites => {
      let w = result.get(key)
      if (!w) {
        w = { loud: false, own: null }
        result.set(key, w)
      }
      return w
    }
    for (const run of loud) {
      const mine = this.ownWriters(run)
      if (mine) of(run.key).own = [...(of(run.key).own ?? []), ...mine]
      else of(run.key).loud = true
    }
    let pending: Array<Y.Item | Y.GC | Y.Skip> | undefined
    for (const run of runs) {
      const mine = this.ownWriters(run)
      const w = of(run.key)
      if (mine) w.own = [...(w.own ?? []), ...mine]
      else if (!covered(run)) {
        pending ??= this.pendingStructs()
        const next = Y.getState(this.doc.store, run.client)
        if (
          pending.some(
            (p) => p instanceof Y.Item && p.id.client === run.client && p.id.clock === next && pendingMarkerStart(p) <= run.clock
          )
        ) {
          this.undecided.push({ ...run, next })
        } else w.loud = true
      }
    }
    // A quiet delete of this session's (in its lock's commit) has no item but its marker: the
    // key is this session's own write, which its other trackers show.
    for (const m of markers) {
      const mine = this.ownWriters(m)
      if (mine) of(m.key).own = [...(of(m.key).own ?? []), ...mine]
    }
    return result
  }

  /** The structs the doc holds pending (their origin missing). */
  private pendingStructs(): Array<Y.Item | Y.GC | Y.Skip> {
    const pending = this.doc.store.pendingStructs
    return pending ? Y.decodeUpdateV2(pending.update).structs : []
  }

  /**
   * Decides the undecided writes whose writer's next struct integrated since: the keys of those
   * that it does not cover as their marker (loud writes, to re-run now).
   */
  private decideLate(): Set<string> | null {
    let loud: Set<string> | null = null
    const left: Undecided[] = []
    for (const u of this.undecided) {
      if (Y.getState(this.doc.store, u.client) <= u.next) {
        left.push(u)
        continue
      }
      const structs = this.doc.store.clients.get(u.client)!
      const s = structs[Y.findIndexSS(structs, u.next)]!
      let covers = false
      if (s instanceof Y.Item && s.parent === (this.quiet as YType) && s.parentSub === u.key && s.id.clock === u.next) {
        const content = s.content instanceof Y.ContentAny ? s.content.getContent()[0] : undefined
        const start = markedStart(content) ?? this.startOfCollected({ client: u.client, clock: u.next, key: u.key, start: undefined })
        covers = start <= u.clock
      }
      if (!covers) {
        loud ??= new Set()
        loud.add(u.key)
      }
    }
    this.undecided = left
    return loud
  }

  /** Sorts `item` by what it writes: a key's value (`runs`), a quiet marker, or a force or loud delete (`loud` unless own). */
  private classify(item: Y.Item, runs: ItemRun[], markers: Marker[], loud: ItemRun[]): void {
    let top = item
    let parent = item.parent as YType | null
    while (parent && parent !== this.state && parent !== this.quiet && parent !== this.forces && parent !== this.loudDeletes) {
      if (!parent._item) return
      top = parent._item
      parent = top.parent as YType | null
    }
    const key = top.parentSub
    if (!parent || key === null) return
    const at = { client: item.id.client, clock: item.id.clock }
    if (parent === this.state) runs.push({ ...at, key })
    else if (parent === this.forces) loud.push({ ...at, key: forcedKey(key) })
    else if (parent === this.loudDeletes) loud.push({ ...at, key })
    else if (top === item) {
      const content = item.content instanceof Y.ContentAny ? item.content.getContent()[0] : undefined
      markers.push({ client: at.client, clock: at.clock, key, start: markedStart(content) })
    }
  }

  /**
   * The first clock of the write that a marker covers, once garbage collection took the start it
   * held: where the writer's run of structs under the marker's key ends, going back from the
   * marker (a `yss:quiet-start` entry, or any struct under another key, bounds it; see
   * protocol/doc-writes.ts).
   */
  private startOfCollected(m: Marker): number {
    const structs = this.doc.store.clients.get(m.client)!
    let i = Y.findIndexSS(structs, m.clock)
    while (i > 0) {
      const key = stateKeyOf(structs[i - 1]!, this.state)
      if (key !== undefined && key !== m.key) break
      i--
    }
    return structs[i]!.id.clock
  }

  /** The trackers that wrote `run` if this session wrote it, else null. */
  private ownWriters(run: ItemRun): Tracker[] | null {
    if (run.client === this.doc.clientID) return []
    if (!this.ownClients.has(run.client)) return null
    const mine: Tracker[] = []
    for (const c of this.commits) if (c.client === run.client && c.start <= run.clock && run.clock < c.end) mine.push(...c.trackers)
    return mine
  }
}
