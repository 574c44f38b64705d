/**
 * Which keys an update would write in a room's doc, told without applying it: what the relay
 * checks a peer's update against its mutation-only keys with (docs/mutations.md).
 *
 * A key is written by an item under it (its entry in `state`, anything inside the list it holds,
 * or its entry in one of our bookkeeping maps: `yss:quiet`, `yss:quiet-start`, `yss:loud-deletes`,
 * and its counts in `yss:forces`), and by a deletion of an item under it that the room holds
 * undeleted. An update names an item's place only partly:
 *
 * - an item with a parent names it: a root type by name, or the item holding a type by id;
 * - an item with an origin does not (a map overwrite's item names its key only through the
 *   entry it replaces): it goes where its origin is, or, if the origin is gone (a GC struct),
 *   where its right origin is, as Yjs places it;
 * - those ids are looked up in the room's doc, or among the update's own items.
 *
 * What cannot be told now is `undecided`: an item or a deletion that builds on an update the room
 * lacks (Yjs would hold it pending, and place it once that update comes: it could then land
 * under any key, so a client that guessed the next ids of the relay's own writes could write a
 * mutation-only key through it), or an update whose ids refer to each other in a circle.
 * Items and deletions the room already holds (a sync step 2 repeats the whole delete set) write
 * nothing. It walks each new item's parents and each deleted struct once; what a deleted range
 * may walk is bounded beforehand by the room's `maxUpdateWork` check.
 *
 * @example
 *   const { keys, undecided } = writtenKeys(room.doc, update)
 *   if (undecided || [...keys].some(isMutationOnly)) refuse()
 */
import * as Y from 'yjs'
import { FORCES, LOUD_DELETES, QUIET, QUIET_START, STATE } from '../../protocol/doc-names.js'
import { forcedKey } from '../../protocol/doc-writes.js'

export interface WrittenKeys {
  /** The keys written, as far as they can be told. */
  readonly keys: Set<string>
  /** Whether some item or deletion builds on what the room lacks: its key cannot be told now. */
  readonly undecided: boolean
}

type Struct = Y.Item | Y.GC | Y.Skip

/** Where an item lands: under the root type `root`, in the entry `sub` of that root (null: in its list part). */
interface Place {
  readonly root: string
  readonly sub: string | null
}

/** The item lands nowhere (Yjs turns it into a GC struct, or it lies in a root we do not know). */
const NOWHERE = null
/** Its place cannot be told now. */
const UNDECIDED = 'undecided'
type Placed = Place | typeof NOWHERE | typeof UNDECIDED

/** The key of the state that an entry of a root map stands for, or null for a root of no key. */
const keyOfPlace = (place: Place): string | null => {
  if (place.sub === null) return null
  switch (place.root) {
    case STATE:
    case QUIET:
    case QUIET_START:
    case LOUD_DELETES:
      return place.sub
    case FORCES:
      return forcedKey(place.sub)
    default:
      return null
  }
}

/** The place of an item the doc holds: up through the types that hold it, to a root. */
const placeInDoc = (item: Y.Item): Placed => {
  let at = item
  for (;;) {
    const parent = at.parent
    if (!(parent instanceof Y.AbstractType)) return NOWHERE
    if (parent._item === null) return { root: Y.findRootTypeKey(parent), sub: at.parentSub }
    at = parent._item
  }
}

/** The struct holding clock `clock` in a clock-ordered list of one client's structs, or undefined. */
const find = <S extends Struct>(structs: readonly S[] | undefined, clock: number): S | undefined => {
  if (!structs || structs.length === 0) return undefined
  let lo = 0
  let hi = structs.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1
    const s = structs[mid]!
    if (clock < s.id.clock) hi = mid - 1
    else if (clock >= s.id.clock + s.length) lo = mid + 1
    else return s
  }
  return undefined
}

export const writtenKeys = (doc: Y.Doc, update: Uint8Array): WrittenKeys => {
  const store = doc.store
  const { structs, ds } = Y.decodeUpdate(update)
  const keys = new Set<string>()
  let undecided = false
  // The update's structs by client, and how far each client's would integrate: from the doc's
  // clock on, without a gap. A struct past a gap waits for what the room lacks.
  const byClient = new Map<number, Struct[]>()
  const reach = new Map<number, number>()
  for (const s of structs) {
    const client = s.id.client
    const list = byClient.get(client)
    if (list) list.push(s)
    else byClient.set(client, [s])
    const to = reach.get(client) ?? Y.getState(store, client)
    if (!(s instanceof Y.Skip) && s.id.clock <= to) reach.set(client, Math.max(to, s.id.clock + s.length))
    else reach.set(client, to)
  }
  const reachOf = (client: number): number => reach.get(client) ?? Y.getState(store, client)

  /** The struct at `id` as the doc will have it before the item that refers to it: the doc's, or the update's. */
  const lookup = (id: Y.ID): Y.Item | Y.GC | typeof UNDECIDED => {
    if (id.clock < Y.getState(store, id.client)) {
      const s = find(store.clients.get(id.client) as Array<Y.Item | Y.GC>, id.clock)
      if (s) return s
    }
    if (id.clock >= reachOf(id.client)) return UNDECIDED
    const s = find(byClient.get(id.client), id.clock)
    return !s || s instanceof Y.Skip ? UNDECIDED : s
  }

  const placed = new Map<Y.Item, Placed>()
  const visiting = new Set<Y.Item>()
  /** The place of a struct: a doc item's, or an update item's, resolved (memoised). */
  const placeOf = (s: Y.Item | Y.GC): Placed => {
    if (!(s instanceof Y.Item)) return NOWHERE
    if (s.parent instanceof Y.AbstractType) return placeInDoc(s)
    return placeOfNew(s)
  }
  /** Where an update's item lands, as Yjs would place it (Item.getMissing, Item.integrate). */
  const placeOfNew = (item: Y.Item): Placed => {
    const known = placed.get(item)
    if (known !== undefined) return known
    if (visiting.has(item)) return UNDECIDED // ids in a circle: Yjs would never integrate it
    visiting.add(item)
    let place: Placed
    const left = item.origin ? lookup(item.origin) : null
    const right = item.rightOrigin ? lookup(item.rightOrigin) : null
    if (left === UNDECIDED || right === UNDECIDED) place = UNDECIDED
    else if (item.parent === null) {
      // No parent written: the origin's, else the right origin's; under a GC struct, nowhere.
      place = left instanceof Y.Item ? placeOf(left) : right instanceof Y.Item ? placeOf(right) : NOWHERE
    } else if (typeof item.parent === 'string') {
      place = { root: item.parent, sub: item.parentSub }
    } else {
      const holder = lookup(item.parent as unknown as Y.ID)
      if (holder === UNDECIDED) place = UNDECIDED
      else if (!(holder instanceof Y.Item) || !(holder.content instanceof Y.ContentType)) place = NOWHERE
      else place = placeOf(holder) // inside a type: under the key the type's own item is under
    }
    visiting.delete(item)
    placed.set(item, place)
    return place
  }
  const note = (place: Placed): void => {
    if (place === UNDECIDED) undecided = true
    else if (place !== NOWHERE) {
      const key = keyOfPlace(place)
      if (key !== null) keys.add(key)
    }
  }

  for (const [client, list] of byClient) {
    const have = Y.getState(store, client)
    const to = reachOf(client)
    for (const s of list) {
      if (s.id.clock + s.length <= have) continue // the room has it: Yjs skips it
      if (s instanceof Y.Skip || s instanceof Y.GC) {
        if (s instanceof Y.GC && s.id.clock >= to) undecided = true
        continue
      }
      note(s.id.clock >= to ? UNDECIDED : placeOfNew(s))
    }
  }

  for (const [client, ranges] of ds.clients) {
    const have = Y.getState(store, client)
    const inDoc = store.clients.get(client) as Array<Y.Item | Y.GC> | undefined
    for (const { clock, len } of ranges) {
      const end = clock + len
      // What the room holds: each struct it has in the range, deleted now unless it is already.
      if (inDoc && clock < have) {
        let i = Y.findIndexSS(inDoc as never, clock)
        for (; i < inDoc.length && inDoc[i]!.id.clock < end; i++) {
          const s = inDoc[i]!
          if (s instanceof Y.Item && !s.deleted) note(placeInDoc(s))
        }
      }
      // Past it: the update's own new items (their keys counted above), else a pending deletion.
      if (end > have && end > reachOf(client)) undecided = true
    }
  }
  return { keys, undecided }
}
