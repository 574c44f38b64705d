/**
 * The pending writes of a running lock function: an overlay over the session's doc. While `fn`
 * runs, reads see its own writes first; the writes touch no doc until the lock commits them.
 *
 * An inner lock (a lock() inside the function, on keys already held) runs in the same scope: a
 * {@link mark} before it, and a {@link cutBack} if its function throws, so that the outer one may
 * catch the error and go on without the failed writes. Its promise waits for {@link outcome}, the
 * outer lock's: an inner lock is applied exactly when its outer one is.
 *
 * @example
 *   const scope = new LockScope(new Set(['count']), false)
 *   scope.push({ kind: 'set', key: 'count', value: 1, quiet: false })
 *   scope.lookup('count', map) // { found: true, value: 1 }
 *   const mark = scope.mark(); scope.push(w); scope.cutBack(mark)   // w is gone
 *   scope.settle(null)          // the outer commit is stored: `outcome` resolves
 */
import * as Y from 'yjs'
import type { Json } from '../protocol/json.js'
import type { Write } from '../protocol/doc-writes.js'

export class LockScope {
  readonly writes: Write[] = []
  /** The outer lock's outcome: resolves once its commit is stored, rejects with its error. */
  readonly outcome: Promise<void>
  private settleOutcome!: (err: unknown) => void

  /** `keys` are the keys the lock holds; `quiet`, whether the lock was asked for in `noRerun`. */
  constructor(
    readonly keys: ReadonlySet<string>,
    readonly quiet: boolean
  ) {
    this.outcome = new Promise<void>((resolve, reject) => {
      this.settleOutcome = (err) => (err === null ? resolve() : reject(err))
    })
    // Inner locks' promises are derived from it; with none, nobody is left to handle a rejection.
    this.outcome.catch(() => {})
  }

  push(w: Write): void {
    this.writes.push(w)
  }

  /** Where the writes stand now, for {@link cutBack}. */
  mark(): number {
    return this.writes.length
  }

  /** Drops every write made since `mark`. */
  cutBack(mark: number): void {
    this.writes.length = mark
  }

  /** The outer lock settled: `null` once its commit is stored (or it had nothing to commit), else its error. */
  settle(err: unknown): void {
    this.settleOutcome(err)
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
        case 'set':
          value = w.value
          break
        case 'delete':
          value = undefined
          break
        case 'list':
          value = Object.freeze([...w.items])
          break
        case 'append': {
          const base = found ? value : map.get(key)
          const items = base instanceof Y.Array ? (base.toJSON() as Json[]) : ((base as Json[] | undefined) ?? [])
          value = Object.freeze([...items, ...w.items])
          break
        }
        case 'force':
          continue
      }
      found = true
    }
    return { found, value }
  }
}
