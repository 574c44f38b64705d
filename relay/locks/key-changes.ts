/**
 * When each key of a room's state last changed, as a count of the doc's transactions: so that a
 * commit on a retained lease can be checked against the writes the relay stored since it sent
 * the lease's state (RETAINED). A lock on a retained lease runs without a GRANT, on the state
 * its session had; if a key of the lease changed since (a plain write, a forced re-run), the
 * lock ran on a state older than the room's, and its commit is refused as stale.
 *
 * A key changes when its entry in `state` is set or deleted, when anything inside its value
 * changes (an append to its list), or when its entry in `yss:forces` does.
 *
 * @example
 *   const changes = new KeyChanges(doc)
 *   const seen = changes.now              // when the lease's state was sent
 *   // ... other updates are applied ...
 *   changes.since(seen, ['count'])        // true if 'count' changed after that
 */
import type * as Y from 'yjs'
import { FORCES, STATE } from '../../protocol/doc-names.js'
import { forcedKey, type YType } from '../../protocol/doc-writes.js'

/**
 * Calls `mark(key, forced)` for each key of `state` that `tr` changed: its entry set or deleted,
 * something inside its value, or (`forced`) its entry in `forces`. A key may come more than once.
 */
export const forEachChangedKey = (tr: Y.Transaction, state: YType, forces: YType, mark: (key: string, forced: boolean) => void): void => {
  for (const [type, subs] of tr.changed) {
    if (type === state) {
      for (const key of subs) if (key !== null) mark(key, false)
    } else if (type === forces) {
      for (const entry of subs) if (entry !== null) mark(forcedKey(entry), true)
    } else {
      // Inside a value: the key is the state entry that holds it.
      let item = type._item
      while (item && item.parent !== state) item = (item.parent as Y.AbstractType<unknown>)._item
      if (item?.parentSub) mark(item.parentSub, false)
    }
  }
}

export class KeyChanges {
  /** Transactions that changed some key, so far. */
  private count = 0
  private readonly last = new Map<string, number>()

  constructor(doc: Y.Doc) {
    const state: YType = doc.getMap(STATE)
    const forces: YType = doc.getMap(FORCES)
    doc.on('afterTransaction', (tr: Y.Transaction) => {
      if (tr.changed.size === 0) return
      let changed = false
      forEachChangedKey(tr, state, forces, (key) => {
        if (!changed) {
          changed = true
          this.count++
        }
        this.last.set(key, this.count)
      })
    })
  }

  /** The count now: pass it to {@link since} later. */
  get now(): number {
    return this.count
  }

  /** Whether any of `keys` changed after `seen`. */
  since(seen: number, keys: readonly string[]): boolean {
    for (const key of keys) if ((this.last.get(key) ?? 0) > seen) return true
    return false
  }
}
