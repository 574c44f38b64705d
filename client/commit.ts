/**
 * A lock's writes as one Yjs update, encoded without applying them to any doc.
 *
 * The update is the one that `doc.transact(() => applyWrites(doc, writes))` would emit if `doc`
 * wrote under the client id `client`: the same items, with the same ids, origins, parents and
 * contents, and the same deletions (the replaced value of each key, and everything under it). It
 * is built from the few items the writes replace (a key's current item, a list's last item), so
 * the session needs no second copy of the room to encode a commit in, and the commit touches
 * nothing until the relay has stored it and it comes back with the broadcast. That is what keeps
 * a lock all or nothing: a commit the relay refused was never in any doc.
 *
 * How Yjs writes, and what this mirrors (yjs 13.6, `typeMapSet`, `typeListPushGenerics`,
 * `Item.integrate`, `Item.delete`, `ContentType.delete`, the GC of a transaction):
 * - a map set is one item whose origin is the last id of the key's current item (its left), with
 *   no right origin; the left item is deleted, with every item under it if it holds a type;
 * - `Y.Array.from(items)` is an item holding the type, then one item of the items (parent: the
 *   first item's id);
 * - a push is one item whose origin is the list's last item (deleted or not);
 * - an item that the same transaction deletes is written with deleted content, and the items
 *   under a type that it deletes as GC structs, as the doc's GC leaves them before the update is
 *   encoded.
 *
 * @example
 *   const commit = encodeCommit(doc, client, [{ kind: 'set', key: 'count', value: 1, quiet: false }])
 *   // commit.update: the bytes of the COMMIT; items of `client` at clocks [commit.start, commit.end)
 */
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import { FORCES, LOUD_DELETES, QUIET, QUIET_START, STATE } from '../protocol/doc-names.js'
import { forceEntry, internals, needsQuietStart, stateKeyOf, type Write, type YType } from '../protocol/doc-writes.js'

export interface EncodedCommit {
  update: Uint8Array
  /** The client id the items are written under, and their clocks [start, end). */
  client: number
  start: number
  end: number
}

/** An item the commit creates. */
interface NewItem {
  readonly clock: number
  readonly length: number
  readonly origin: Y.ID | null
  /** Where it goes when it has no origin: a root type's name, or the item of the list it starts. */
  readonly parent: string | Y.ID
  readonly parentSub: string | null
  /** The values of a ContentAny, or `list` for a ContentType holding a new Y.Array. */
  readonly content: readonly unknown[] | 'list'
  /** The state's key it lies under, or null (see `stateKeyOf` in protocol/doc-writes.ts). */
  readonly key: string | null
  deleted: boolean
  /** Whether it lies under a new list that this commit deletes: written as a GC struct. */
  collected: boolean
}

/** A struct of the doc, or one of the commit. */
type Ref = Y.Item | NewItem

const isNew = (ref: Ref): ref is NewItem => !(ref instanceof Y.Item)

/** The type a doc item holds, if it holds one. */
const typeOf = (item: Y.Item): YType | null => (item.content instanceof Y.ContentType ? item.content.type : null)

/** The last item of a list (deleted or not), as `typeListPushGenerics` finds it: from its furthest search marker. */
const lastOfType = (type: YType): Y.Item | null => {
  const t = internals(type)
  let best: { index: number; p: Y.Item | null } = { index: 0, p: t._start }
  for (const m of t._searchMarker ?? []) if (m.index > best.index) best = m
  let n = best.p
  while (n !== null && n.right !== null) n = n.right as Y.Item
  return n
}

/** The writes of one commit, as they would land: the items they create and the ranges they delete. */
class Commit {
  readonly items: NewItem[] = []
  clock: number
  /** Each map entry's current item, where the commit replaced it: `<root>\0<key>`. */
  private readonly current = new Map<string, Ref>()
  /** Items of the doc this commit deletes. */
  private readonly deletedReal = new Set<Y.Item>()
  /** Items a list got in this commit, in order, by the list's item. */
  private readonly appended = new Map<Ref, NewItem[]>()
  /** The first child of each new list that has items. */
  private readonly childOf = new Map<NewItem, NewItem>()
  /** Deleted ranges, by client: [clock, length]. */
  readonly ranges = new Map<number, Array<[number, number]>>()

  constructor(
    private readonly doc: Y.Doc,
    readonly client: number,
    readonly start: number
  ) {
    this.clock = start
  }

  create(
    length: number,
    origin: Y.ID | null,
    parent: string | Y.ID,
    parentSub: string | null,
    content: readonly unknown[] | 'list',
    key: string | null
  ): NewItem {
    const item: NewItem = { clock: this.clock, length, origin, parent, parentSub, content, key, deleted: false, collected: false }
    this.clock += length
    this.items.push(item)
    return item
  }

  deleted(ref: Ref): boolean {
    return isNew(ref) ? ref.deleted : ref.deleted || this.deletedReal.has(ref)
  }

  idOf(ref: Ref): Y.ID {
    return isNew(ref) ? Y.createID(this.client, ref.clock) : ref.id
  }

  lastId(ref: Ref): Y.ID {
    return isNew(ref) ? Y.createID(this.client, ref.clock + ref.length - 1) : ref.lastId
  }

  addRange(client: number, clock: number, length: number): void {
    const list = this.ranges.get(client)
    if (list) list.push([clock, length])
    else this.ranges.set(client, [[clock, length]])
  }

  /** The current item of a map entry, as the writes so far leave it. */
  entry(root: string, key: string): Ref | null {
    if (this.current.size > 0) {
      const mine = this.current.get(`${root}\u0000${key}`)
      if (mine) return mine
    }
    return internals(this.doc.getMap(root))._map.get(key) ?? null
  }

  lastOfList(list: Ref): Ref | null {
    const extra = this.appended.get(list)
    if (extra && extra.length > 0) return extra[extra.length - 1]!
    if (isNew(list)) return this.childOf.get(list) ?? null
    const type = typeOf(list)
    return type ? lastOfType(type) : null
  }

  /** `Item.delete`: marks the item, and everything under it if it holds a type. */
  remove(ref: Ref): void {
    if (this.deleted(ref)) return
    if (isNew(ref)) {
      ref.deleted = true
      this.addRange(this.client, ref.clock, ref.length)
      const child = this.childOf.get(ref)
      if (child) {
        this.remove(child)
        child.collected = true
      }
      for (const a of this.appended.get(ref) ?? []) {
        this.remove(a)
        a.collected = true
      }
      return
    }
    this.deletedReal.add(ref)
    this.addRange(ref.id.client, ref.id.clock, ref.length)
    const type = typeOf(ref)
    if (!type) return
    for (let n = internals(type)._start; n !== null; n = n.right as Y.Item | null) this.remove(n)
    // The GC of a deleted type collects what was pushed onto it in the same transaction too.
    for (const a of this.appended.get(ref) ?? []) {
      this.remove(a)
      a.collected = true
    }
    for (const item of internals(type)._map.values()) this.remove(item)
  }

  /** `typeMapSet`: a new item after the key's current one, which it deletes. */
  setEntry(root: string, key: string, content: readonly unknown[] | 'list'): NewItem {
    const left = this.entry(root, key)
    const item = this.create(1, left ? this.lastId(left) : null, root, key, content, root === STATE ? key : null)
    if (left) this.remove(left)
    this.current.set(`${root}\u0000${key}`, item)
    return item
  }

  /** `Y.Map.get`: the value of the entry's current item, unless it is deleted. */
  valueOf(root: string, key: string): unknown {
    const ref = this.entry(root, key)
    if (!ref || this.deleted(ref)) return undefined
    if (!isNew(ref)) return ref.content.getContent()[ref.length - 1]
    return ref.content === 'list' ? undefined : ref.content[ref.content.length - 1]
  }

  /** `entryId` of protocol/doc-writes.ts, on the state as the writes so far leave it. */
  entryName(key: string): string {
    let ref = this.entry(STATE, key)
    if (!ref) return ''
    const holdsType = isNew(ref) ? ref.content === 'list' : ref.content instanceof Y.ContentType
    if (!this.deleted(ref) && holdsType) ref = this.lastOfList(ref) ?? ref
    const id = this.idOf(ref)
    return `${id.client}:${id.clock}${this.deleted(ref) ? ':d' : ''}`
  }

  /** The state's key of the client's last struct, as the writes so far leave it (see `stateKeyOf`). */
  lastKey(): string | null | undefined {
    const last = this.items[this.items.length - 1]
    if (last) return last.key
    const mine = this.doc.store.clients.get(this.client)
    const struct = mine?.[mine.length - 1]
    return struct ? stateKeyOf(struct, this.doc.getMap(STATE)) : null
  }

  write(w: Write): void {
    if (w.quiet && needsQuietStart(this.lastKey(), w.key)) this.setEntry(QUIET_START, w.key, [null])
    const at = this.clock
    switch (w.kind) {
      case 'set':
        this.setEntry(STATE, w.key, [w.value])
        break
      case 'delete': {
        const ref = this.entry(STATE, w.key)
        if (ref) this.remove(ref)
        if (!w.quiet) this.setEntry(LOUD_DELETES, w.key, [null])
        break
      }
      case 'list': {
        const list = this.setEntry(STATE, w.key, 'list')
        if (w.items.length > 0)
          this.childOf.set(list, this.create(w.items.length, null, Y.createID(this.client, list.clock), null, [...w.items], w.key))
        break
      }
      case 'append': {
        const list = this.entry(STATE, w.key)
        const isList = list !== null && !this.deleted(list) && (isNew(list) ? list.content === 'list' : typeOf(list) instanceof Y.Array)
        if (!isList) throw new Error(`server state "${w.key}" is not a list`)
        if (w.items.length === 0) break
        const left = this.lastOfList(list)
        const item = this.create(w.items.length, left ? this.lastId(left) : null, this.idOf(list), null, [...w.items], w.key)
        const extra = this.appended.get(list)
        if (extra) extra.push(item)
        else this.appended.set(list, [item])
        break
      }
      case 'force': {
        const name = forceEntry(w.key, this.client)
        this.setEntry(FORCES, name, [((this.valueOf(FORCES, name) as number | undefined) ?? 0) + 1])
        break
      }
    }
    if (w.quiet) this.setEntry(QUIET, w.key, [`${this.entryName(w.key)}@${at}`])
  }

  encode(): Uint8Array {
    const encoder = new Y.UpdateEncoderV1()
    const rest = encoder.restEncoder
    if (this.items.length === 0) encoding.writeVarUint(rest, 0)
    else {
      encoding.writeVarUint(rest, 1)
      encoding.writeVarUint(rest, this.items.length)
      encoder.writeClient(this.client)
      encoding.writeVarUint(rest, this.start)
      for (const item of this.items) {
        const id = Y.createID(this.client, item.clock)
        if (item.collected) {
          new Y.GC(id, item.length).write(encoder, 0)
          continue
        }
        const content = item.deleted
          ? new Y.ContentDeleted(item.length)
          : item.content === 'list'
            ? new Y.ContentType(new Y.Array())
            : new Y.ContentAny(item.content as unknown[])
        new Y.Item(id, null, item.origin, null, null, item.parent as unknown as Y.ID, item.parentSub, content).write(encoder, 0)
      }
    }
    // The delete set, as Yjs writes it: clients in descending order, each one's ranges sorted and merged.
    encoding.writeVarUint(rest, this.ranges.size)
    const clients = [...this.ranges.keys()].sort((a, b) => b - a)
    for (const c of clients) {
      const list = this.ranges.get(c)!.sort((a, b) => a[0] - b[0])
      const merged: Array<[number, number]> = []
      for (const [from, len] of list) {
        const last = merged[merged.length - 1]
        if (last && last[0] + last[1] >= from) last[1] = Math.max(last[1], from + len - last[0])
        else merged.push([from, len])
      }
      encoder.resetDsCurVal()
      encoding.writeVarUint(rest, c)
      encoding.writeVarUint(rest, merged.length)
      for (const [from, len] of merged) {
        encoder.writeDsClock(from)
        encoder.writeDsLen(len)
      }
    }
    return encoder.toUint8Array()
  }
}

/**
 * Encodes `writes` against the current state of `doc`, as items of `client` from `start`;
 * returns null if they change nothing. Throws, as `applyWrites` does, for an append to a key
 * that is not a list.
 */
export const encodeCommit = (doc: Y.Doc, client: number, start: number, writes: readonly Write[]): EncodedCommit | null => {
  const commit = new Commit(doc, client, start)
  for (const w of writes) commit.write(w)
  if (commit.items.length === 0 && commit.ranges.size === 0) return null
  return { update: commit.encode(), client, start, end: commit.clock }
}
