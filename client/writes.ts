/**
 * How a write lands in a room's doc. Every write to a key goes through {@link applyWrites}, for
 * the session's own doc and for a lock's commit alike, so a key's value, its no-rerun marker and
 * its version counter are always written the same way, in the same transaction.
 *
 * The doc holds three root maps: `state` (the keys), `yss:quiet` (for each key, set in the same
 * transaction as a write made in `noRerun`) and `yss:versions` (the per-key counter that
 * `forceRerunBoundSessions` bumps). A stock y-websocket client sees `state` as plain JSON, and
 * a list as a Y.Array.
 *
 * @example
 *   doc.transact(() => applyWrites(doc, [{ kind: 'set', key: 'count', value: 1, quiet: false }]))
 */
import * as Y from 'yjs'
import type { Json } from './json.js'

export const STATE = 'state'
export const QUIET = 'yss:quiet'
export const VERSIONS = 'yss:versions'

export type Write =
  | { kind: 'set'; key: string; value: Json; quiet: boolean }
  | { kind: 'delete'; key: string; quiet: boolean }
  | { kind: 'list'; key: string; items: readonly Json[]; quiet: boolean }
  | { kind: 'append'; key: string; items: readonly Json[]; quiet: boolean }
  | { kind: 'force'; key: string; quiet: false }

/** Applies `writes` to `doc`; call inside a transaction so they travel as one. */
export const applyWrites = (doc: Y.Doc, writes: readonly Write[]): void => {
  const state = doc.getMap<unknown>(STATE)
  for (const w of writes) {
    switch (w.kind) {
      case 'set':
        state.set(w.key, w.value)
        break
      case 'delete':
        state.delete(w.key)
        break
      case 'list':
        state.set(w.key, Y.Array.from([...w.items] as any[]))
        break
      case 'append': {
        const list = state.get(w.key)
        if (!(list instanceof Y.Array)) throw new Error(`server state "${w.key}" is not a list`)
        list.push([...w.items] as unknown[])
        break
      }
      case 'force': {
        const versions = doc.getMap<number>(VERSIONS)
        versions.set(w.key, (versions.get(w.key) ?? 0) + 1)
        break
      }
    }
    if (w.quiet) doc.getMap<string>(QUIET).set(w.key, entryId(state, w.key))
  }
}

/**
 * Names what a key holds now: its map entry, or for a list its last element, and whether it is
 * deleted. A quiet marker holds the name of the write it covers, so a later loud write of the same
 * key, even one that arrives in the same transaction (a lock, a sync step 2), is not covered.
 */
export const entryId = (state: Y.Map<unknown>, key: string): string => {
  let item = (state as any)._map.get(key) as Y.Item | undefined
  if (!item) return ''
  if (!item.deleted && item.content instanceof Y.ContentType) {
    for (let n = (item.content.type as any)._start as Y.Item | null; n; n = n.right as Y.Item | null) item = n
  }
  return `${item.id.client}:${item.id.clock}${item.deleted ? ':d' : ''}`
}
