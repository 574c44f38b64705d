/**
 * What applying an update would cost a given doc, estimated without applying it: the struct
 * objects Yjs walks and the items it splits. Counting items (update-cost.ts) bounds what an
 * update adds, not the work it makes Yjs do on what the room already holds:
 *
 * - a deleted range walks every struct it covers, deleted or not, so 2,000 overlapping ranges
 *   over a text of 100,000 structs walk 200 million of them (2.3 s);
 * - a range that starts or ends inside an item splits it, and each split is a splice into that
 *   client's struct array (a million one-character ranges over one long insert: seconds);
 * - an origin inside an item splits it the same way;
 * - an item whose origins have other items between them (concurrent inserts at one place) is
 *   placed by walking those items, so 5,000 items of 5,000 clients all inserted at the start of
 *   one list cost 12.5 million steps (0.5 s; 50,000 of them, a minute). The walk over the doc's
 *   items is simulated, up to the limit; the walk over the update's own items at one place is
 *   counted (each walks the ones before it).
 *
 * Each walked struct counts 1 and each split {@link SPLIT_WORK} (about the ratio of their costs
 * measured on Yjs 13.6), so `total` stays proportional to the CPU the update takes. It stops
 * walking once `total` passes `max`, so the estimate itself costs at most about `max` steps.
 *
 * @example
 *   const work = new UpdateWork(doc, limits.maxUpdateWork)
 *   updateCost(update, maxUpdateItems, work)
 *   if (work.total > limits.maxUpdateWork) refuse()
 */
import * as Y from 'yjs'
import type { CostVisitor, Id, ItemPlace } from './update-cost.js'

/** What one split costs, in walked structs: 2.4 µs against 11 ns, measured. */
export const SPLIT_WORK = 200

type Struct = Y.Item | Y.GC

const key = (id: Id | string | null): string => (id === null ? '' : typeof id === 'string' ? `"${id}` : `${id.client}:${id.clock}`)

export class UpdateWork implements CostVisitor {
  /** Walked structs plus {@link SPLIT_WORK} a split. */
  total = 0
  /** Whether the struct being read is new to the doc: Yjs skips the ones it has, and reads none of their ids. */
  private fresh = true
  /** The update's items at each place (origins, parent, key): each walks the ones before it. */
  private readonly places = new Map<string, number>()

  constructor(
    private readonly doc: Y.Doc,
    private readonly max = Infinity
  ) {}

  /** The client's structs, if `clock` is among them. */
  private structsAt(client: number, clock: number): Struct[] | null {
    const structs = this.doc.store.clients.get(client) as Struct[] | undefined
    if (!structs || structs.length === 0) return null
    const last = structs[structs.length - 1]!
    return clock < last.id.clock + last.length ? structs : null
  }

  /** The doc's struct holding `id`, or null. */
  private structOf(id: Id | null): Struct | null {
    if (id === null) return null
    const structs = this.structsAt(id.client, id.clock)
    return structs ? structs[Y.findIndexSS(structs as never, id.clock)]! : null
  }

  struct(client: number, clock: number): void {
    this.fresh = clock >= Y.getState(this.doc.store, client)
  }

  item(place: ItemPlace): void {
    this.total++
    if (!this.fresh) return
    const samePlace = `${key(place.origin)}|${key(place.rightOrigin)}|${key(place.parent)}|${place.parentSub ?? ''}`
    const before = this.places.get(samePlace) ?? 0
    this.places.set(samePlace, before + 1)
    this.total += before
    const left = this.structOf(place.origin)
    const right = this.structOf(place.rightOrigin)
    // An item is split after an origin inside it, before a right origin inside it; a GC is never split.
    if (left instanceof Y.Item && place.origin!.clock < left.id.clock + left.length - 1) this.total += SPLIT_WORK
    if (right instanceof Y.Item && right.id.clock < place.rightOrigin!.clock) this.total += SPLIT_WORK
    this.walk(place, left, right)
  }

  /** Counts the items Yjs walks to place an item between `left` and `right` (see `Item.integrate`). */
  private walk(place: ItemPlace, left: Struct | null, right: Struct | null): void {
    if (left instanceof Y.GC || right instanceof Y.GC) return // Yjs turns such an item into a GC
    let o: Y.Item | null
    if (left) o = left
    else {
      const type = this.parentType(place, right)
      if (!type) return
      if (place.parentSub !== null) {
        o = type._map.get(place.parentSub) ?? null
        while (o !== null && o.left !== null && this.total <= this.max) {
          o = o.left
          this.total++
        }
      } else o = type._start
    }
    while (o !== null && o !== right && this.total <= this.max) {
      o = o.right
      this.total++
    }
  }

  /** The type an item with no origin goes in: its parent, or its right origin's. */
  // biome-ignore lint/suspicious/noExplicitAny: an item's parent may be any shared type, and Yjs types it AbstractType<YEvent<any>>
  private parentType(place: ItemPlace, right: Y.Item | null): Y.AbstractType<Y.YEvent<any>> | null {
    if (right) return right.parent instanceof Y.AbstractType ? right.parent : null
    if (typeof place.parent === 'string') return this.doc.share.get(place.parent) ?? null
    const parent = this.structOf(place.parent)
    return parent instanceof Y.Item && parent.content instanceof Y.ContentType ? parent.content.type : null
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
}
