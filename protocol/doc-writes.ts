/**
 * How a write lands in a room's doc. Every write to a key goes through {@link applyWrites}, for
 * the session's own doc and for a lock's commit alike, so a key's value, its no-rerun marker and
 * its force counter are always written the same way, in the same transaction.
 *
 * A quiet write (made in `noRerun`) is followed, in the same transaction, by a marker in
 * `yss:quiet` under its key: `<entry>@<start>`, where `<entry>` names what the key holds after
 * the write ({@link entryId}) and `<start>` is the writer's first clock of the write. The
 * marker's own item comes right after the write's items, so the write covers exactly the
 * writer's clocks from `<start>` to the marker's: another session can tell, item by item, which
 * writes of a merged transaction were quiet (see client/changes.ts).
 *
 * A marker that a later write of its key overwrote is garbage collected, in whichever doc holds
 * it (the writer's, the relay's, a lock's commit), and loses its content, `<start>` included.
 * Its write is then the writer's run of structs of that key that ends at the marker. So that
 * this run never takes in an earlier write of the key (a loud one, whose items Yjs may even merge
 * with the quiet write's once both are deleted), a quiet write whose writer's previous struct
 * lies under the same key (or says nothing any more: a GC struct) first sets an entry of
 * `yss:quiet-start`, an item under no key, between the two. A quiet delete, which has no item
 * of its own, does the same, so that its marker covers nothing.
 *
 * A delete writes no item, so a quiet write that follows it could not be told apart from it in
 * a merged transaction; a delete outside `noRerun` therefore also sets an entry of
 * `yss:loud-deletes` under its key: an item that is loud like the items of any other write.
 *
 * A force adds one to this writer's own count of the key in `yss:forces` (an entry
 * `<key>\0<client id>`); the key's version is the sum of the counts, so concurrent forces add up.
 *
 * @example
 *   doc.transact(() => applyWrites(doc, [{ kind: 'set', key: 'count', value: 1, quiet: false }]))
 */
import * as Y from 'yjs'
import { FORCES, LOUD_DELETES, QUIET, QUIET_START, STATE } from './doc-names.js'
import type { Json } from './json.js'

export type Write =
  | { kind: 'set'; key: string; value: Json; quiet: boolean }
  | { kind: 'delete'; key: string; quiet: boolean }
  | { kind: 'list'; key: string; items: readonly Json[]; quiet: boolean }
  | { kind: 'append'; key: string; items: readonly Json[]; quiet: boolean }
  | { kind: 'force'; key: string; quiet: false }

/** The entry of `yss:forces` that holds `client`'s count of forces of `key`. */
export const forceEntry = (key: string, client: number): string => `${key}\u0000${client}`

/** The key a `yss:forces` entry counts for. */
export const forcedKey = (entry: string): string => entry.slice(0, entry.lastIndexOf('\u0000'))

/** How many times `key` was forced, by every session. */
export const forceCount = (forces: Y.Map<number>, key: string): number => {
  let n = 0
  const prefix = `${key}\u0000`
  for (const [entry, count] of forces) if (entry.startsWith(prefix) && forcedKey(entry) === key) n += count
  return n
}

/** Applies `writes` to `doc`; call inside a transaction so they travel as one. */
export const applyWrites = (doc: Y.Doc, writes: readonly Write[]): void => {
  const state = doc.getMap<unknown>(STATE)
  for (const w of writes) {
    if (w.quiet) {
      const mine = doc.store.clients.get(doc.clientID)
      const last = mine?.[mine.length - 1]
      if (last && needsQuietStart(stateKeyOf(last, state), w.key)) doc.getMap(QUIET_START).set(w.key, null)
    }
    const start = Y.getState(doc.store, doc.clientID)
    switch (w.kind) {
      case 'set':
        state.set(w.key, w.value)
        break
      case 'delete':
        state.delete(w.key)
        if (!w.quiet) doc.getMap(LOUD_DELETES).set(w.key, null)
        break
      case 'list': {
        // What `Y.Array.from` does, whose type leaves out the booleans a list may hold.
        const list = new Y.Array<Json>()
        list.push([...w.items])
        state.set(w.key, list)
        break
      }
      case 'append': {
        const list = state.get(w.key)
        if (!(list instanceof Y.Array)) throw new Error(`server state "${w.key}" is not a list`)
        list.push([...w.items] as unknown[])
        break
      }
      case 'force': {
        const forces = doc.getMap<number>(FORCES)
        const entry = forceEntry(w.key, doc.clientID)
        forces.set(entry, (forces.get(entry) ?? 0) + 1)
        break
      }
    }
    if (w.quiet) doc.getMap<string>(QUIET).set(w.key, `${entryId(state, w.key)}@${start}`)
  }
}

/**
 * Whether a quiet write of `key` right after a struct of the state's key `previous` (see
 * {@link stateKeyOf}) needs a `yss:quiet-start` entry between them, so that its marker, once
 * collected, covers nothing before it; see the module comment.
 */
export const needsQuietStart = (previous: string | null | undefined, key: string): boolean => previous === undefined || previous === key

/**
 * The state's key under which `struct` lies: the key of its entry, or of the list it is an item
 * of; null for a struct of another root type; undefined for one that no longer says (a GC
 * struct, whose parent was collected).
 */
export const stateKeyOf = (struct: Y.Item | Y.GC | Y.Skip, state: Y.Map<unknown>): string | null | undefined => {
  if (!(struct instanceof Y.Item)) return undefined
  let item = struct
  for (;;) {
    const parent = item.parent as YType | null
    if (parent === (state as YType)) return item.parentSub
    if (!parent) return undefined
    if (!parent._item) return null
    item = parent._item
  }
}

/** The `<entry>` part of a quiet marker; see the module comment. */
export const markedEntry = (marker: unknown): string | undefined =>
  typeof marker === 'string' ? marker.slice(0, marker.lastIndexOf('@')) : undefined

/** The `<start>` clock of a quiet marker, if it is one of ours. */
export const markedStart = (marker: unknown): number | undefined => {
  if (typeof marker !== 'string') return undefined
  const start = Number(marker.slice(marker.lastIndexOf('@') + 1))
  return Number.isInteger(start) ? start : undefined
}

/** A shared type of any kind (a map, a list...), as Yjs's own signatures take one. */
// biome-ignore lint/suspicious/noExplicitAny: the event type parameter is invariant (`AbstractType<unknown>` is no supertype of `Y.Map<T>`), so Yjs itself names "any shared type" `AbstractType<any>`
export type YType = Y.AbstractType<any>

/** The items of a map's entry, of a list, the way Yjs keeps them (not in its public types). */
interface TypeInternals {
  _map: Map<string, Y.Item>
  _start: Y.Item | null
  _searchMarker: Array<{ p: Y.Item; index: number }> | null
}
export const internals = (type: YType): TypeInternals => type as unknown as TypeInternals

/**
 * Names what a key holds now: its map entry, or for a list its last element, and whether it is
 * deleted. A quiet marker holds the name of the write it covers.
 */
export const entryId = (state: Y.Map<unknown>, key: string): string => {
  let item = internals(state)._map.get(key)
  if (!item) return ''
  if (!item.deleted && item.content instanceof Y.ContentType) {
    for (let n = internals(item.content.type)._start; n; n = n.right as Y.Item | null) item = n
  }
  return `${item.id.client}:${item.id.clock}${item.deleted ? ':d' : ''}`
}
