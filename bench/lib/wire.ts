/**
 * The y-websocket protocol's sync frames, and Hocuspocus's variant of them: the same messages,
 * each prefixed by the document name, plus an authentication message first.
 *
 * @example
 *   const frame = syncFrame('y-websocket', 'room', SYNC_UPDATE, update)
 *   const m = readSync('y-websocket', frame) // { sub: 2, payload: update }
 */
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'

export type Dialect = 'y-websocket' | 'hocuspocus'

export const SYNC_STEP1 = 0
export const SYNC_STEP2 = 1
export const SYNC_UPDATE = 2

const MESSAGE_SYNC = 0
/** Hocuspocus: a reply to a sync message. */
const MESSAGE_SYNC_REPLY = 4
const MESSAGE_AUTH = 2

/** An empty doc's update: the step 2 a reader with nothing to offer answers. */
export const EMPTY_UPDATE = new Uint8Array([0, 0])
/** An empty doc's state vector: a step 1 that asks for everything. */
export const EMPTY_STATE_VECTOR = new Uint8Array([0])

/** A sync frame: step 1 (payload: state vector), step 2 or update (payload: update). */
export const syncFrame = (dialect: Dialect, room: string, sub: number, payload: Uint8Array): Uint8Array => {
  const e = encoding.createEncoder()
  if (dialect === 'hocuspocus') encoding.writeVarString(e, room)
  encoding.writeVarUint(e, MESSAGE_SYNC)
  encoding.writeVarUint(e, sub)
  encoding.writeVarUint8Array(e, payload)
  return encoding.toUint8Array(e)
}

/** Hocuspocus: the authentication a client sends first, with an empty token. */
export const authFrame = (room: string): Uint8Array => {
  const e = encoding.createEncoder()
  encoding.writeVarString(e, room)
  encoding.writeVarUint(e, MESSAGE_AUTH)
  encoding.writeVarUint(e, 0) // token
  encoding.writeVarString(e, '')
  return encoding.toUint8Array(e)
}

/** The sync message in `frame`, or null for any other message (awareness, auth, status). */
export const readSync = (dialect: Dialect, frame: Uint8Array): { sub: number; payload: Uint8Array } | null => {
  const d = decoding.createDecoder(frame)
  if (dialect === 'hocuspocus') decoding.readVarString(d)
  const type = decoding.readVarUint(d)
  if (type !== MESSAGE_SYNC && !(dialect === 'hocuspocus' && type === MESSAGE_SYNC_REPLY)) return null
  const sub = decoding.readVarUint(d)
  return { sub, payload: decoding.readVarUint8Array(d) }
}
