/**
 * What applying a Yjs update (v1, as y-websocket sends them) may cost a room, read without
 * applying it: how many structs it carries and how many ranges it deletes. Each of them becomes
 * at least one struct object in the doc, and a deleted range may split two (a million one-char
 * ranges cost the relay 540 MB of heap and 2 s), so their sum bounds the work and memory an
 * update can cause; its bytes bound the rest.
 *
 * The reader walks the update once, skipping contents without decoding them, keeps nothing, and
 * stops as soon as the count passes `max`: O(min(update, max)) time and no allocation that grows
 * with the update. It throws on a truncated or malformed update.
 *
 * @example
 *   const cost = updateCost(update, 100_000)
 *   if (cost.items > 100_000) refuse()   // cost.items is past max; structs/deletes then partial
 */
import * as decoding from 'lib0/decoding'

export interface UpdateCost {
  /** Structs (items, GC and skip ranges). */
  structs: number
  /** Delete-set ranges. */
  deletes: number
  /** `structs + deletes`; once it passes `max`, reading stopped and the figures are partial. */
  items: number
}

/** Counts an update's structs and deleted ranges, stopping once their sum passes `max`. */
export const updateCost = (update: Uint8Array, max = Infinity): UpdateCost => {
  const d = decoding.createDecoder(update)
  let structs = 0
  const clients = decoding.readVarUint(d)
  for (let c = 0; c < clients; c++) {
    const n = decoding.readVarUint(d)
    decoding.readVarUint(d) // client
    decoding.readVarUint(d) // clock
    if (structs + n > max) return over(structs + n, 0)
    for (let i = 0; i < n; i++) skipStruct(d)
    structs += n
  }
  let deletes = 0
  const dsClients = decoding.readVarUint(d)
  for (let c = 0; c < dsClients; c++) {
    decoding.readVarUint(d) // client
    const n = decoding.readVarUint(d)
    if (structs + deletes + n > max) return over(structs, deletes + n)
    for (let i = 0; i < n; i++) {
      decoding.readVarUint(d) // clock
      decoding.readVarUint(d) // length
    }
    deletes += n
  }
  return { structs, deletes, items: structs + deletes }
}

const over = (structs: number, deletes: number): UpdateCost => ({ structs, deletes, items: structs + deletes })

const BITS5 = 0b11111
const BIT6 = 0b100000
const BIT7 = 0b1000000
const BIT8 = 0b10000000

/** Strings and byte arrays share one layout: a varUint length and the bytes. */
const skipBytes = (d: decoding.Decoder): void => {
  decoding.readVarUint8Array(d)
}

const skipStruct = (d: decoding.Decoder): void => {
  const info = decoding.readUint8(d)
  const ref = info & BITS5
  if (ref === 0 || ref === 10) { // GC or Skip: a length
    decoding.readVarUint(d)
    return
  }
  if (info & BIT8) { decoding.readVarUint(d); decoding.readVarUint(d) } // origin
  if (info & BIT7) { decoding.readVarUint(d); decoding.readVarUint(d) } // right origin
  if ((info & (BIT7 | BIT8)) === 0) {
    if (decoding.readVarUint(d) === 1) skipBytes(d) // parent: a root type's name
    else { decoding.readVarUint(d); decoding.readVarUint(d) } // or an item's id
    if (info & BIT6) skipBytes(d) // parentSub
  }
  skipContent(d, ref)
}

const YXML_ELEMENT = 3
const YXML_HOOK = 5

const skipContent = (d: decoding.Decoder, ref: number): void => {
  switch (ref) {
    case 1: // deleted
      decoding.readVarUint(d)
      return
    case 2: { // JSON
      const n = decoding.readVarUint(d)
      for (let i = 0; i < n; i++) skipBytes(d)
      return
    }
    case 3: // binary
    case 4: // string
    case 5: // embed
      skipBytes(d)
      return
    case 6: // format: key, value
      skipBytes(d)
      skipBytes(d)
      return
    case 7: { // type
      const type = decoding.readVarUint(d)
      if (type === YXML_ELEMENT || type === YXML_HOOK) skipBytes(d)
      return
    }
    case 8: { // any
      const n = decoding.readVarUint(d)
      for (let i = 0; i < n; i++) decoding.readAny(d)
      return
    }
    case 9: // doc: guid, options
      skipBytes(d)
      decoding.readAny(d)
      return
    default:
      throw new Error(`unknown struct content ${ref}`)
  }
}
