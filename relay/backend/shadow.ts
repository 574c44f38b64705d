/**
 * A backend's copy of a room's doc, on which its writes are built before the relay decides on
 * them (docs/architecture.md, "Backends"). It is kept current by the frames the room sends its
 * backend peer, in the room's order, and is thrown away once it holds a write the room never
 * applied (`diverged`): a commit the relay denied, or a write refused before it was sent. Each
 * shadow is a new Y.Doc, so a new client id: one never writes twice under a client id whose
 * history the room does not share.
 *
 * @example
 *   const shadow = new Shadow()
 *   shadow.apply(updateFromTheRoom)
 *   const update = shadow.build([{ kind: 'set', key: 'count', value: 1, quiet: false }]) // null: nothing changes
 *   shadow.values(['count']) // { count: { value: 1, version: 0 } }
 */
import * as Y from 'yjs'
import { applyWrites, forceCount, type Write } from '../../protocol/doc-writes.js'
import { FORCES, STATE } from '../../protocol/doc-names.js'
import { deepFreeze, jsonEqual, type Json } from '../../protocol/json.js'

/** A key as a backend reads it: its value (undefined when unset) and its version (forces). */
export interface KeyValue {
  readonly value: Json | undefined
  readonly version: number
}

const BUILD = Symbol('build')

export class Shadow {
  readonly doc = new Y.Doc({ gc: true })
  /** Set once the room's answer to this shadow's sync step 1 (the whole room) has arrived. */
  synced = false
  /** Set once it holds a write the room has not applied and never will: it must be replaced. */
  diverged = false
  private readonly state = this.doc.getMap<unknown>(STATE)
  private readonly forces = this.doc.getMap<number>(FORCES)

  /** Applies an update the room sent. */
  apply(update: Uint8Array): void {
    Y.applyUpdate(this.doc, update, this)
  }

  /**
   * Makes `writes` in one transaction, skipping each that would change nothing (a set to a
   * deep-equal value, a delete of a missing key), and returns the transaction's update, or null
   * when nothing changed.
   */
  build(writes: readonly Write[]): Uint8Array | null {
    let update: Uint8Array | null = null
    const capture = (u: Uint8Array, origin: unknown) => {
      if (origin === BUILD) update = u
    }
    this.doc.on('update', capture)
    try {
      this.doc.transact(() => {
        for (const w of writes) if (this.changes(w)) applyWrites(this.doc, [w])
      }, BUILD)
    } finally {
      this.doc.off('update', capture)
    }
    return update
  }

  /** `keys`' values and versions; every key that is set when `keys` is undefined. */
  values(keys?: readonly string[]): Record<string, KeyValue> {
    // fromEntries defines its keys: one named "__proto__" stays a key, as an assignment would not.
    return Object.fromEntries(
      (keys ?? [...this.state.keys()].sort()).map((key) => [key, { value: this.value(key), version: this.version(key) }])
    )
  }

  /** The versions of `keys`. */
  versions(keys: readonly string[]): Record<string, number> {
    return Object.fromEntries(keys.map((key) => [key, this.version(key)]))
  }

  /** The key's force count, as `server.version(key)` reads it. */
  version(key: string): number {
    return forceCount(this.forces, key)
  }

  /** The key's value as JSON, frozen (it is the doc's own object), or undefined. */
  value(key: string): Json | undefined {
    const raw = this.state.get(key)
    if (raw === undefined) return undefined
    return raw instanceof Y.AbstractType ? deepFreeze(raw.toJSON() as Json) : deepFreeze(raw as Json)
  }

  destroy(): void {
    this.doc.destroy()
  }

  private changes(w: Write): boolean {
    switch (w.kind) {
      case 'set':
        return !jsonEqual(this.value(w.key), w.value)
      case 'delete':
        return this.state.has(w.key)
      default:
        return true
    }
  }
}
