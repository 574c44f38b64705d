/**
 * The pending writes of a running lock function: an overlay over the session's doc. While `fn`
 * runs, reads see its own writes first; the writes touch no doc until the lock commits them.
 *
 * @example
 *   const scope = new LockScope(new Set(['count']), false)
 *   scope.push({ kind: 'set', key: 'count', value: 1, quiet: false })
 *   scope.lookup('count', map) // { found: true, value: 1 }
 */
import * as Y from 'yjs'
import type { Json } from './json.js'
import type { Write } from './writes.js'

export class LockScope {
  readonly writes: Write[] = []

  /** `keys` are the keys the lock holds; `quiet`, whether the lock was asked for in `noRerun`. */
  constructor(readonly keys: ReadonlySet<string>, readonly quiet: boolean) {}

  push(w: Write): void {
    this.writes.push(w)
  }

  keysWritten(): Set<string> {
    return new Set(this.writes.map((w) => w.key))
  }

  /** The value `key` will have once the writes are applied, if they touch it. */
  lookup(key: string, map: Y.Map<unknown>): { found: boolean; value: unknown } {
    let found = false
    let value: unknown
    for (const w of this.writes) {
      if (w.key !== key) continue
      switch (w.kind) {
        case 'set': value = w.value; break
        case 'delete': value = undefined; break
        case 'list': value = Object.freeze([...w.items]); break
        case 'append': {
          const base = found ? value : map.get(key)
          const items = base instanceof Y.Array ? (base.toJSON() as Json[]) : ((base as Json[] | undefined) ?? [])
          value = Object.freeze([...items, ...w.items])
          break
        }
        case 'force': continue
      }
      found = true
    }
    return { found, value }
  }
}
