/**
 * The promises of SEMANTICS.md as invariants, each with a name that a failure prints:
 *
 * - `quiet-write-reruns-others`: a session re-ran for a transaction in which every change of the
 *   key was another session's quiet write (checked at each notification);
 * - `writer-reruns-itself`: a tracker re-ran for a write made during its own run;
 * - `loud-write-reruns-readers`: a session's doc holds a loud write (set, append, force) of a key
 *   whose tracker was never notified since it arrived;
 * - `read-only-changes-room`: the relay's doc or store holds an item of the read-only session;
 * - `lock-applied-at-most-once`, `rejected-lock-never-applied`, `append-at-most-once`: in the store;
 * - `lock-resolves-after-stored`, `flush-resolves-after-stored`, `lock-commit-carries-its-reads`:
 *   checked in the tick a promise resolves (see ops.ts);
 * - at quiescence: `lock-settles` (and flush, append), `resolved-lock-applied-once`,
 *   `append-exactly-once`, `forces-counted-exactly`, `read-only-write-rolled-back`, `converges`.
 *
 * @example
 *   const world = new World(model, quietCheck(model), true)
 *   checkStep(world)    // after every step
 *   checkFinal(world)   // once everything was delivered
 */
import * as Y from 'yjs'
import { FORCES, LOUD_DELETES, STATE } from '../../protocol/doc-names.js'
import { forceCount, forcedKey } from '../../protocol/doc-writes.js'
import { LIST, LOCKED, PLAIN, type Model } from './model.js'
import type { OnNotified, SimSession, World } from './world.js'

/** The watched key an item is written under (a force counts for its key), or null. */
const keyOf = (doc: Y.Doc, item: Y.Item): string | null => {
  const state = doc.getMap(STATE) as Y.AbstractType<any>
  const forces = doc.getMap(FORCES) as Y.AbstractType<any>
  let top = item
  for (;;) {
    const parent = top.parent as Y.AbstractType<any> | null
    if (!parent) return null
    if (parent === state) return top.parentSub
    if (parent === forces) return top.parentSub === null ? null : forcedKey(top.parentSub)
    if (!parent._item) return null
    top = parent._item
  }
}

/** Whether `session`'s doc holds the item at `clock` of `client`. */
const holds = (doc: Y.Doc, client: number, clock: number): boolean => Y.getState(doc.store, client) > clock

/** Checks each notification: it must not come from other sessions' quiet writes alone. */
export const quietCheck =
  (model: Model): OnNotified =>
  (ss, watched) => {
    if (model.rendering === watched.tracker) {
      model.violate('writer-reruns-itself', `${ss.name}'s tracker of "${watched.key}" re-ran for the write made in its own run`)
    }
    const tr = ss.current
    if (!tr || tr.local || !(PLAIN as readonly string[]).includes(watched.key)) return
    const doc = ss.s.doc
    const own = (client: number) => client === doc.clientID || ss.s.changes.ownClients.has(client)
    const fresh: Y.Item[] = []
    const loudDeletes = doc.getMap(LOUD_DELETES) as Y.AbstractType<any>
    let loudDelete = false
    for (const [client, after] of tr.afterState) {
      const before = tr.beforeState.get(client) ?? 0
      if (after <= before) continue
      const structs = doc.store.clients.get(client)!
      for (let i = Y.findIndexSS(structs, before); i < structs.length; i++) {
        const s = structs[i]!
        if (s.id.clock >= after) break
        if (s instanceof Y.Item && keyOf(doc, s) === watched.key) fresh.push(s)
        // Another session's loud delete of the key (protocol/doc-writes.ts), which may have deleted the
        // very quiet write that came with it: the key's reader is right to re-run.
        if (s instanceof Y.Item && s.parent === loudDeletes && s.parentSub === watched.key && !own(client)) loudDelete = true
      }
    }
    if (fresh.length === 0 || loudDelete) return
    const writes = new Set<number>()
    for (const item of fresh) {
      const w = model.writeAt(item.id.client, item.id.clock)
      if (!w?.quiet || own(item.id.client)) return
      writes.add(w.id)
    }
    // A deletion other than of what these items overwrote may be a loud delete: it may re-run.
    let other = false
    Y.iterateDeletedStructs(tr, tr.deleteSet, (s) => {
      if (!(s instanceof Y.Item) || keyOf(doc, s) !== watched.key) return
      if (!fresh.includes(s) && !fresh.some((n) => n.left === s)) other = true
    })
    if (other) return
    model.violate(
      'quiet-write-reruns-others',
      `${ss.name} re-ran for "${watched.key}" on quiet writes ${[...writes].join(', ')} of other sessions alone`
    )
  }

/** The ids in the list under a lock key, or the appended ids in the list key. */
export const lockList = (doc: Y.Doc, key: string): number[] => {
  const v = doc.getMap(STATE).get(key)
  return Array.isArray(v) ? (v as number[]) : []
}

export const appendedIds = (doc: Y.Doc): number[] => {
  const v = doc.getMap(STATE).get(LIST)
  const items = v instanceof Y.Array ? v.toArray() : Array.isArray(v) ? v : []
  return items.map((i) => (i as { a: number }).a)
}

const counts = (ids: number[]): Map<number, number> => {
  const m = new Map<number, number>()
  for (const id of ids) m.set(id, (m.get(id) ?? 0) + 1)
  return m
}

/** Whether the store holds `id` in the list of every one of `keys`. */
export const storedLock = (world: World, id: number, keys: readonly string[]): boolean =>
  keys.every((k) => lockList(world.store.doc, k).includes(id))

/** Whether `doc` holds everything `snapshot` describes: its items and its deletions. */
export const contains = (doc: Y.Doc, snapshot: Y.Snapshot): string | null => {
  for (const [client, clock] of snapshot.sv) {
    if (Y.getState(doc.store, client) < clock) return `items of client ${client} up to clock ${clock}`
  }
  const ds = Y.createDeleteSetFromStructStore(doc.store)
  for (const [client, ranges] of snapshot.ds.clients) {
    for (const r of ranges) {
      for (let c = r.clock; c < r.clock + r.len; c++) {
        if (!Y.isDeleted(ds, Y.createID(client, c))) return `the deletion of ${client}:${c}`
      }
    }
  }
  return null
}

export const checkStep = (world: World): void => {
  const model = world.model
  const docs: Array<[string, Y.Doc]> = [['store', world.store.doc]]
  const relay = world.relayDoc()
  if (relay) docs.push(['relay', relay])
  const reader = world.all.filter((ss) => ss.readOnly)
  for (const [where, doc] of docs) {
    for (const ss of reader) {
      for (const client of [ss.s.doc.clientID, ...ss.s.changes.ownClients]) {
        if (doc.store.clients.has(client))
          model.violate('read-only-changes-room', `the ${where} holds items of read-only session ${ss.name} (client ${client})`)
      }
    }
  }
  const store = world.store.doc
  for (const key of LOCKED) {
    for (const [id, n] of counts(lockList(store, key))) {
      if (n > 1) model.violate('lock-applied-at-most-once', `lock ${id} is ${n} times in "${key}" in the store`)
      const lock = model.locks.get(id)
      if (lock?.outcome === 'rejected')
        model.violate(
          'rejected-lock-never-applied',
          `lock ${id} (${lock.variant}, ${lock.session}) rejected with "${lock.error}", yet the store holds it in "${key}"`
        )
    }
  }
  for (const [id, n] of counts(appendedIds(store))) {
    if (n > 1) model.violate('append-at-most-once', `append ${id} is ${n} times in the store`)
    if (model.appends.get(id)?.outcome === 'rejected')
      model.violate('rejected-append-never-applied', `append ${id} (under its lock) was rejected, yet the store holds it`)
  }
  for (const ss of world.live()) loudCheck(model, ss)
}

/** Every loud write a session's doc holds re-ran that session's tracker of the key. */
const loudCheck = (model: Model, ss: SimSession): void => {
  const doc = ss.s.doc
  for (const w of model.writes) {
    if (w.quiet || !holds(doc, w.client, w.clock)) continue
    const watched = ss.watched.get(w.key)
    if (!watched || watched.tracker === w.writer) continue
    // A held write re-ran its own session's readers as it was made, before it had items to track.
    if (w.held?.rerun && w.session === ss.name) continue
    if ((watched.seen.get(w.client) ?? 0) > w.clock) continue
    model.violate(
      'loud-write-reruns-readers',
      `${ss.name} holds loud ${w.kind} ${w.id} of "${w.key}" by ${w.session} (step ${w.step}) but its tracker of the key never re-ran for it`
    )
  }
}

/** JSON with every object's keys sorted: two maps of the same entries compare equal whatever their order. */
const canonical = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v
  )

export const checkFinal = (world: World): void => {
  const model = world.model
  checkStep(world)
  for (const lock of model.locks.values()) {
    if (lock.outcome === 'pending')
      model.violate('lock-settles', `lock ${lock.id} (${lock.variant}, ${lock.session}, step ${lock.step}) never settled`)
  }
  for (const f of model.flushes)
    if (f.outcome === 'pending') model.violate('flush-settles', `flush ${f.id} of ${f.session} (step ${f.step}) never settled`)
  for (const a of model.appends.values())
    if (a.outcome === 'pending') model.violate('append-settles', `append ${a.id} of ${a.session} (step ${a.step}) never settled`)
  const relay = world.relayDoc()
  if (!relay) {
    model.violate('converges', 'the room is not loaded at quiescence')
    return
  }
  for (const key of LOCKED) {
    const n = counts(lockList(relay, key))
    for (const lock of model.locks.values()) {
      if (!lock.keys.includes(key)) continue
      const times = n.get(lock.id) ?? 0
      if (lock.outcome === 'resolved' && times !== 1)
        model.violate(
          'resolved-lock-applied-once',
          `lock ${lock.id} (${lock.variant}, ${lock.session}, step ${lock.step}) resolved, and is ${times} times in "${key}"`
        )
    }
  }
  const appended = counts(appendedIds(relay))
  for (const a of model.appends.values()) {
    const times = appended.get(a.id) ?? 0
    if (a.outcome === 'resolved' && times !== 1)
      model.violate('append-exactly-once', `append ${a.id} of ${a.session} (step ${a.step}) resolved, and is ${times} times in the list`)
  }
  for (const [key, { made, maybeLost }] of model.forces) {
    const version = forceCount(relay.getMap(FORCES) as Y.Map<number>, key)
    if (version > made || version < made - maybeLost)
      model.violate(
        'forces-counted-exactly',
        `"${key}" was forced ${made} times (${maybeLost} by sessions closed before they were stored), its version is ${version}`
      )
  }
  const shape = (doc: Y.Doc) => canonical([doc.getMap(STATE).toJSON(), doc.getMap(FORCES).toJSON()])
  const expected = shape(relay)
  if (shape(world.store.doc) !== expected)
    model.violate('converges', `the store differs from the relay's doc: ${shape(world.store.doc)} vs ${expected}`)
  if (world.store.doc.store.pendingStructs) model.violate('converges', 'the store holds updates that cannot integrate')
  for (const ss of world.live()) {
    if (ss.readOnly && ss.s.doc.store.clients.has(ss.s.doc.clientID)) {
      model.violate(
        'read-only-write-rolled-back',
        `read-only ${ss.name} still holds its own writes at quiescence (made before it knew its access)`
      )
    }
    const got = shape(ss.s.doc)
    if (got !== expected) {
      const how = `${ss.s.status}${ss.s.connection.synced ? ', synced' : ''}${ss.s.doc.store.pendingStructs ? ', with pending structs' : ''}${relay.store.pendingStructs ? '; the relay has pending structs' : ''}`
      model.violate('converges', `${ss.name} (${how}) differs from the relay: ${got} vs ${expected}`)
    }
  }
}
