/**
 * What applying a Yjs update (v1, as y-websocket sends them) may cost a room, read without
 * applying it: how many structs it carries and how many ranges it deletes. Each of them becomes
 * at least one struct object in the doc, and a deleted range may split two (a million one-char
 * ranges cost the relay 540 MB of heap and 2 s), so their sum bounds the work and memory an
 * update can cause; its bytes bound the rest. Each client entry counts as an item too, on either
 * side: an entry with no structs or ranges is still read and looked up (a 24 MB frame of empty
 * entries blocked a relay for 4.6 s).
 *
 * The reader walks the update once, skipping contents without decoding them, keeps nothing, and
 * stops as soon as the count passes `max`: O(min(update, max)) time and no allocation that grows
 * with the update. It throws on a truncated or malformed update.
 *
 * @example
 *   const cost = updateCost(update, 100_000)
 *   if (cost.items > 100_000) refuse()   // cost.items is past max; the rest then partial
 */
import * as decoding from 'lib0/decoding'

export interface UpdateCost {
  /** Structs (items, GC and skip ranges). */
  structs: number
  /** Delete-set ranges. */
  deletes: number
  /** Client entries, of the structs and of the delete set. */
  entries: number
  /** `structs + deletes + entries`; once it passes `max`, reading stopped and the figures are partial. */
  items: number
}

/** An item id. */
export interface Id {
  client: number
  clock: number
}

/** Where an item goes: between its origins, in its parent (a root type's name or an item's id; null: its origins'), under a map key. */
export interface ItemPlace {
  origin: Id | null
  rightOrigin: Id | null
  parent: string | Id | null
  parentSub: string | null
}

/**
 * What a reader that weighs an update against a doc is told (see update-work.ts): where each
 * struct starts, where each item goes, and each deleted range.
 */
export interface CostVisitor {
  /** A struct of `client` starts at `clock`; if it is an item, {@link item} follows. */
  struct(client: number, clock: number): void
  item(place: ItemPlace): void
  deleted(client: number, clock: number, length: number): void
}

/** Counts an update's structs, deleted ranges and client entries, stopping once their sum passes `max`. */
export const updateCost = (update: Uint8Array, max = Infinity, visit?: CostVisitor): UpdateCost => {
  const d = decoding.createDecoder(update)
  let structs = 0
  let entries = 0
  const clients = decoding.readVarUint(d)
  for (let c = 0; c < clients; c++) {
    const n = decoding.readVarUint(d)
    const client = decoding.readVarUint(d)
    let clock = decoding.readVarUint(d)
    entries++
    if (structs + entries + n > max) return over(structs + n, 0, entries)
    for (let i = 0; i < n; i++) {
      visit?.struct(client, clock)
      clock += skipStruct(d, visit)
    }
    structs += n
  }
  let deletes = 0
  const dsClients = decoding.readVarUint(d)
  for (let c = 0; c < dsClients; c++) {
    const client = decoding.readVarUint(d)
    const n = decoding.readVarUint(d)
    entries++
    if (structs + deletes + entries + n > max) return over(structs, deletes + n, entries)
    for (let i = 0; i < n; i++) {
      const clock = decoding.readVarUint(d)
      const length = decoding.readVarUint(d)
      visit?.deleted(client, clock, length)
    }
    deletes += n
  }
  return over(structs, deletes, entries)
}

const over = (structs: number, deletes: number, entries: number): UpdateCost => ({
  structs,
  deletes,
  entries,
  items: structs + deletes + entries
})

const BITS5 = 0b11111
const BIT6 = 0b100000
const BIT7 = 0b1000000
const BIT8 = 0b10000000

/** Strings and byte arrays share one layout: a varUint length and the bytes. */
const skipBytes = (d: decoding.Decoder): Uint8Array => decoding.readVarUint8Array(d)

/** The length of a UTF-8 string in UTF-16 code units, as Yjs counts a string's clock: a four-byte character counts 2. */
const utf16Length = (utf8: Uint8Array): number => {
  let n = 0
  for (const b of utf8) if ((b & 0xc0) !== 0x80) n += b >= 0xf0 ? 2 : 1
  return n
}

const readId = (d: decoding.Decoder): Id => ({ client: decoding.readVarUint(d), clock: decoding.readVarUint(d) })

/** Skips one struct; returns its length (its clocks) when there is a visitor, else 0. */
const skipStruct = (d: decoding.Decoder, visit: CostVisitor | undefined): number => {
  const info = decoding.readUint8(d)
  const ref = info & BITS5
  if (ref === 0 || ref === 10) return decoding.readVarUint(d) // GC or Skip: a length
  const origin = info & BIT8 ? readId(d) : null
  const rightOrigin = info & BIT7 ? readId(d) : null
  let parent: string | Id | null = null
  let parentSub: string | null = null
  if ((info & (BIT7 | BIT8)) === 0) {
    parent = decoding.readVarUint(d) === 1 ? decoding.readVarString(d) : readId(d) // a root type's name, or an item's id
    if (info & BIT6) parentSub = decoding.readVarString(d)
  }
  visit?.item({ origin, rightOrigin, parent, parentSub })
  return skipContent(d, ref, visit !== undefined)
}

const YXML_ELEMENT = 3
const YXML_HOOK = 5

/** Skips a struct's content; returns its length if `measure` (a string's needs counting), else 0. */
const skipContent = (d: decoding.Decoder, ref: number, measure: boolean): number => {
  switch (ref) {
    case 1: // deleted
      return decoding.readVarUint(d)
    case 2: {
      // JSON
      const n = decoding.readVarUint(d)
      for (let i = 0; i < n; i++) skipBytes(d)
      return n
    }
    case 4: {
      // string
      const bytes = skipBytes(d)
      return measure ? utf16Length(bytes) : 0
    }
    case 3: // binary
    case 5: // embed
      skipBytes(d)
      return 1
    case 6: // format: key, value
      skipBytes(d)
      skipBytes(d)
      return 1
    case 7: {
      // type
      const type = decoding.readVarUint(d)
      if (type === YXML_ELEMENT || type === YXML_HOOK) skipBytes(d)
      return 1
    }
    case 8: {
      // any
      const n = decoding.readVarUint(d)
      for (let i = 0; i < n; i++) decoding.readAny(d)
      return n
    }
    case 9: // doc: guid, options
      skipBytes(d)
      decoding.readAny(d)
      return 1
    default:
      throw new Error(`unknown struct content ${ref}`)
  }
}
