/**
 * How the embedded store lays rooms out in LevelDB, and how it checks what it reads back. Each
 * room's updates sit under y-leveldb's keys, as y-leveldb lays them out, so that the reference
 * relay's persistence can read the directory too; beside them, keys of ours that y-leveldb never
 * reads: each room's integrity record, the mark that every room has one, and the store's count
 * of writes.
 *
 * @example
 *   const record = decodeRecord(room, bytes)         // bytes stored at recordKey(room)
 *   const updates = verify(record, entries)          // throws if any update is missing or damaged
 */
import { createHash } from 'node:crypto'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import { getLevelBulkKeys, getLevelUpdatesEntries, type DocKey, type LevelDb, type UpdateEntry } from 'y-leveldb'
import { asBuffer } from '../as-buffer.js'

/**
 * Our own keys, beside y-leveldb's (`v1`, `v1_sv`), which it never reads or deletes: one
 * integrity record a room, the mark that a store's rooms all have one, and the store's count
 * of writes.
 */
export const OURS = 'y-server-state'
export const recordKey = (room: string): DocKey => [OURS, 'room', room]
export const FORMAT_KEY: DocKey = [OURS, 'format']
export const HEAD_KEY: DocKey = [OURS, 'head']
/** y-leveldb's keys, as y-leveldb lays them out. */
export const updateKey = (room: string, clock: number): DocKey => ['v1', room, 'update', clock]
export const stateVectorKey = (room: string): DocKey => ['v1_sv', room]

/**
 * What a room's stored history must be, written in the same LevelDB batch as every append and
 * compaction, so that it always describes the updates next to it: the updates at y-leveldb
 * clocks `first`..`last`, every one, whose bytes chain to `digest`. LevelDB can lose records
 * without an error (a damaged log is replayed up to the damage); a record that survives them
 * tells what is missing.
 */
export interface IntegrityRecord {
  first: number
  last: number
  /** The room's position: how many appends it ever had. */
  appends: number
  /** sha-256 chained over the updates in clock order (see {@link chain}). */
  digest: Uint8Array
}

export const NO_DIGEST: Uint8Array = new Uint8Array(0)
export const chain = (digest: Uint8Array, update: Uint8Array): Uint8Array => createHash('sha256').update(digest).update(update).digest()

export const encodeRecord = (r: IntegrityRecord): Buffer => {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, 1) // version
  encoding.writeVarUint(e, r.first)
  encoding.writeVarUint(e, r.last)
  encoding.writeVarUint(e, r.appends)
  encoding.writeVarUint8Array(e, r.digest)
  return asBuffer(encoding.toUint8Array(e))
}

export const decodeRecord = (room: string, bytes: Uint8Array): IntegrityRecord => {
  try {
    const d = decoding.createDecoder(bytes)
    if (decoding.readVarUint(d) !== 1) throw new Error('unknown version')
    const r = {
      first: decoding.readVarUint(d),
      last: decoding.readVarUint(d),
      appends: decoding.readVarUint(d),
      digest: decoding.readVarUint8Array(d)
    }
    if (decoding.hasContent(d) || r.last < r.first || r.appends <= r.last - r.first) throw new Error('inconsistent')
    return r
  } catch (err) {
    throw new Error(`the integrity record of room "${room}" is damaged (${(err as Error).message})`)
  }
}

/** y-leveldb's state-vector entry: it lists the room among y-leveldb's documents. */
export const stateVectorValue = (update: Uint8Array, clock: number): Buffer => {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, clock)
  encoding.writeVarUint8Array(e, Y.encodeStateVectorFromUpdate(update))
  return asBuffer(encoding.toUint8Array(e))
}

export const getOrNull = async (db: LevelDb, key: DocKey): Promise<Uint8Array | null> => {
  try {
    return await db.get(key)
  } catch (err) {
    if ((err as { code?: string }).code === 'LEVEL_NOT_FOUND') return null
    throw err
  }
}

/** Checks that `entries` are what `record` says, and returns their updates. */
export const verify = (record: IntegrityRecord, entries: UpdateEntry[]): Uint8Array[] => {
  const expected = record.last - record.first + 1
  const clocks = entries.map((e) => e.key[3])
  if (entries.length !== expected || clocks.some((c, i) => c !== record.first + i)) {
    const missing = expected - clocks.filter((c) => c >= record.first && c <= record.last).length
    throw new Error(
      `stored history incomplete: ${missing} of its ${expected} updates (clocks ${record.first}..${record.last}) missing` +
        (entries.length - expected + missing > 0 ? `, ${entries.length - expected + missing} unexpected` : '')
    )
  }
  let digest: Uint8Array = NO_DIGEST
  for (const { value } of entries) digest = chain(digest, value)
  if (Buffer.compare(digest, record.digest) !== 0)
    throw new Error('stored updates damaged: their checksum differs from the one written with them')
  return entries.map((e) => e.value)
}

/**
 * Gives every room of a store written without integrity records (by an earlier version, or by
 * y-leveldb alone) a record of what it holds now, once, if what it holds is whole: its updates
 * at consecutive clocks, each of which parses, none of them waiting for a missing one. A room
 * that is not whole gets none, and is refused when asked for.
 */
export const adopt = async (db: LevelDb): Promise<void> => {
  const rooms = new Set<string>()
  for (const key of await getLevelBulkKeys(db, { gte: ['v1'], lt: ['v1_sv'] })) {
    if (key[2] === 'update') rooms.add(key[1] as string)
  }
  for (const room of rooms) {
    // A record is never replaced here: this may run again if the format mark itself was lost.
    if ((await getOrNull(db, recordKey(room))) !== null) continue
    const entries = await getLevelUpdatesEntries(db, room)
    const first = entries[0]!.key[3]
    const doc = new Y.Doc()
    let digest: Uint8Array = NO_DIGEST
    try {
      doc.transact(() => {
        entries.forEach(({ key, value }, i) => {
          if (key[3] !== first + i) throw new Error('a gap in the clocks')
          Y.applyUpdate(doc, value)
          digest = chain(digest, value)
        })
      })
      if (doc.store.pendingStructs || doc.store.pendingDs) throw new Error('pending updates')
    } catch {
      continue
    } finally {
      doc.destroy()
    }
    await db.batch([
      {
        type: 'put',
        key: recordKey(room),
        value: encodeRecord({ first, last: first + entries.length - 1, appends: entries.length, digest })
      }
    ])
  }
  await db.batch([{ type: 'put', key: FORMAT_KEY, value: asBuffer(new Uint8Array([1])) }])
}
