/**
 * What one transaction of a room's doc did to its keys, as a watcher sees it: per changed key,
 * its value after the transaction (JSON; a list as its JSON array), its version (the force
 * count), whether it is deleted, whether the write was quiet (made in `noRerun`) and whether it
 * was forced. One change per key per transaction, whatever the transaction wrote to the key
 * before: a merged transaction (a reconnecting client's sync step 2, a batch from another relay)
 * gives one change for several writes. docs/http-api.md says where that differs from what a
 * client decides item by item.
 *
 * @example
 *   doc.on('afterTransaction', (tr) => {
 *     for (const c of keyChanges(doc, tr)) console.log(c.key, c.value, c.quiet)
 *   })
 */
import * as Y from 'yjs'
import { FORCES, QUIET, STATE } from '../../protocol/doc-names.js'
import { entryId, forceCount, markedEntry, type YType } from '../../protocol/doc-writes.js'
import type { Json } from '../../protocol/json.js'
import { forEachChangedKey } from '../locks/key-changes.js'

export interface KeyChange {
  readonly key: string
  /** The value after the transaction; null when deleted. */
  readonly value: Json
  /** The key's force count (`server.version(key)`). */
  readonly version: number
  readonly deleted: boolean
  /** The key's write is covered by a quiet marker written in the same transaction. */
  readonly quiet: boolean
  /** The key's force count moved. */
  readonly forced: boolean
}

/** The JSON of a state value: a shared type (a list) as its JSON. */
export const jsonValue = (value: unknown): Json => (value instanceof Y.AbstractType ? (value.toJSON() as Json) : (value as Json))

/** The changes `tr` made to the keys of `doc`'s state, in the order Yjs lists them. */
export const keyChanges = (doc: Y.Doc, tr: Y.Transaction): KeyChange[] => {
  if (tr.changed.size === 0) return []
  const state = doc.getMap<unknown>(STATE)
  const forces = doc.getMap<number>(FORCES)
  const quiet = doc.getMap<string>(QUIET)
  const touched = new Map<string, boolean>()
  forEachChangedKey(tr, state as YType, forces as YType, (key, forced) => touched.set(key, (touched.get(key) ?? false) || forced))
  const markers = tr.changed.get(quiet as YType)
  const changes: KeyChange[] = []
  for (const [key, forced] of touched) {
    const deleted = !state.has(key)
    changes.push({
      key,
      value: deleted ? null : jsonValue(state.get(key)),
      version: forceCount(forces, key),
      deleted,
      quiet: markers?.has(key) === true && markedEntry(quiet.get(key)) === entryId(state, key),
      forced
    })
  }
  return changes
}
