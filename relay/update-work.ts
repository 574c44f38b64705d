/**
 * What applying an update would cost a given doc, estimated without applying it: the struct
 * objects Yjs walks and the items it splits. Counting items (update-cost.ts) bounds what an
 * update adds, not the work it makes Yjs do on what the room already holds:
 *
 * - a deleted range walks every struct it covers, deleted or not, so 2,000 overlapping ranges
 *   over a text of 100,000 structs walk 200 million of them (2.3 s);
 * - a range that starts or ends inside an item splits it, and each split is a splice into that
 *   client's struct array (a million one-character ranges over one long insert: seconds);
 * - an origin or parent id inside an item splits it the same way.
 *
 * Each walked struct counts 1 and each split {@link SPLIT_WORK} (about the ratio of their costs
 * measured on Yjs 13.6), so `work` stays proportional to the CPU the update takes. It costs two
 * binary searches a range or id, and never touches the doc.
 *
 * @example
 *   const work = new UpdateWork(doc)
 *   updateCost(update, maxUpdateItems, work)
 *   if (work.total > limits.maxUpdateWork) refuse()
 */
import * as Y from 'yjs'
import type { CostVisitor } from './update-cost.js'

/** What one split costs, in walked structs: 2.4 µs against 11 ns, measured. */
export const SPLIT_WORK = 200

type Struct = Y.Item | Y.GC

export class UpdateWork implements CostVisitor {
  /** Walked structs plus {@link SPLIT_WORK} a split. */
  total = 0
  /** Whether the struct being read is new to the doc: Yjs skips the ones it has, and reads none of their ids. */
  private fresh = true

  constructor(private readonly doc: Y.Doc) {}

  /** The client's structs, if `clock` is among them. */
  private structsAt(client: number, clock: number): Struct[] | null {
    const structs = this.doc.store.clients.get(client) as Struct[] | undefined
    if (!structs || structs.length === 0) return null
    const last = structs[structs.length - 1]!
    return clock < last.id.clock + last.length ? structs : null
  }

  deleted(client: number, clock: number, length: number): void {
    this.total++
    const structs = this.structsAt(client, clock)
    if (!structs || length === 0) return
    const last = structs[structs.length - 1]!
    const end = Math.min(clock + length, last.id.clock + last.length) - 1
    const i = Y.findIndexSS(structs as never, clock)
    const j = Y.findIndexSS(structs as never, end)
    this.total += j - i + 1
    // Yjs splits no deleted struct when it deletes.
    const head = structs[i]!
    if (!head.deleted && head.id.clock < clock) this.total += SPLIT_WORK
    const tail = structs[j]!
    if (!tail.deleted && end + 1 < tail.id.clock + tail.length) this.total += SPLIT_WORK
  }

  struct(client: number, clock: number): void {
    this.fresh = clock >= Y.getState(this.doc.store, client)
  }

  refers(client: number, clock: number, after: boolean): void {
    this.total++
    if (!this.fresh) return
    const structs = this.structsAt(client, clock)
    if (!structs) return
    // An item is split after an origin inside it, before a right origin or parent inside it; a GC is never split.
    const s = structs[Y.findIndexSS(structs as never, clock)]!
    const inside = after ? clock < s.id.clock + s.length - 1 : s.id.clock < clock
    if (inside && !(s instanceof Y.GC)) this.total += SPLIT_WORK
  }
}
