/**
 * The messages on the wire, shared by the client and the relay: their type bytes, and the
 * encoding of our own message {@link MESSAGE_YSS}.
 *
 * Messages 0 (sync), 1 (awareness), 2 (auth) and 3 (query awareness) are the y-websocket
 * protocol. Message {@link MESSAGE_YSS} is ours: lock leases, flush acknowledgements, the
 * connection's access (HELLO, answered by ACCESS), and server mutations (CALL, answered by
 * RESULT; the mutation-only keys). The relay only ever sends it in reply to one,
 * so a stock y-websocket client never receives it.
 * `docs/protocol.md` documents every frame.
 *
 * @example
 *   const frame = encodeYss({ type: YSS_ACQUIRE, id: 1, keys: ['count'] })
 *   decodeYss(decoding.createDecoder(frame.subarray(1))) // { type: YSS_ACQUIRE, id: 1, keys: ['count'] }
 */
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'

export const MESSAGE_SYNC = 0
export const MESSAGE_AWARENESS = 1
export const MESSAGE_AUTH = 2
export const MESSAGE_QUERY_AWARENESS = 3
export const MESSAGE_YSS = 100

/** Client → relay: queue for the leases of `keys` (sorted, unique). */
export const YSS_ACQUIRE = 1
/** Relay → client: the lease is yours; `stateVector` is the relay's doc when it granted it. */
export const YSS_GRANT = 2
/** Client → relay: apply `update` (may be empty) under the lease, then release it. */
export const YSS_COMMIT = 3
/** Relay → client: the commit is stored and broadcast, and the lease released. */
export const YSS_DONE = 4
/** Relay → client: the request failed (lease expired, or not held); nothing was applied. */
export const YSS_DENIED = 5
/** Client → relay: give up a queued or granted request; nothing is applied. */
export const YSS_CANCEL = 6
/** Client → relay: acknowledge once everything received before this is stored. */
export const YSS_FLUSH = 7
/** Relay → client: the flush with this id is done. */
export const YSS_FLUSHED = 8
/**
 * Client → relay: this client speaks message 100; the relay answers with {@link YSS_ACCESS}. Sent
 * on every socket open. Its id carries the client's capabilities ({@link HELLO_RETAINS}); a relay
 * that knows none of them just echoes the id in ACCESS, so a newer client works with it unchanged.
 */
export const YSS_HELLO = 9
/** Relay → client: what this connection may do (`write` or `read`), and who it is (`user`, empty when unknown). */
export const YSS_ACCESS = 10
/**
 * Relay → client, in place of {@link YSS_DONE}: the commit is stored and broadcast, and the lease
 * stays with this session (retained) under the same request id; `stateVector` is the relay's doc
 * as it sent this, as a GRANT carries it. The session's next lock on (some of) those keys runs at
 * once and sends just its COMMIT. Sent only to a client whose HELLO had {@link HELLO_RETAINS}.
 */
export const YSS_RETAINED = 11
/**
 * Relay → client: another request waits for a retained lease; give it back. The client answers
 * with CANCEL, or, if a lock of its own is already using the lease, with that lock's COMMIT
 * (answered by DONE: the lease then goes to the waiter). Unanswered, the lease ends after the
 * lease time.
 */
export const YSS_REVOKE = 12

/**
 * Client → relay: run the server mutation `name` with `args` (JSON text). Answered by
 * {@link YSS_RESULT} under the same id, once the mutation's writes are stored and broadcast.
 */
export const YSS_CALL = 13
/** Relay → client: the outcome of a {@link YSS_CALL}: its result (JSON text), or an error code and message. */
export const YSS_RESULT = 14
/**
 * Relay → client, before {@link YSS_ACCESS}, to a client whose HELLO had {@link HELLO_MUTATIONS}:
 * the patterns of the keys only mutations may write (`balance:*`); the list may be empty.
 */
export const YSS_MUTATION_ONLY = 15

/** A {@link YSS_HELLO} capability bit: this client can hold retained leases (answers REVOKE). */
export const HELLO_RETAINS = 1
/**
 * A {@link YSS_HELLO} capability bit: the HELLO carries a body, {@link HelloFence}: the session's
 * id, so that the relay fences the session's earlier connections (ends their leases, reads
 * nothing more from them) before it answers, and the commits whose fate the session does not
 * know, each answered with DONE (applied) or DENIED (abandoned, never to be applied).
 */
export const HELLO_FENCES = 2

/**
 * A {@link YSS_HELLO} capability bit: this client speaks server mutations: the relay tells it the
 * mutation-only keys ({@link YSS_MUTATION_ONLY}) before ACCESS, and answers its CALLs.
 */
export const HELLO_MUTATIONS = 4

/** A commit sent on an earlier socket of the session and never answered there. */
export interface FateQuestion {
  /** Its request id: the answer is a DONE or DENIED with this id. */
  readonly id: number
  /** The session's socket it was sent on (numbered from 1), and its place among that socket's COMMITs (from 1). */
  readonly socket: number
  readonly index: number
  /** The client id its items are written under, and the clock after them. */
  readonly client: number
  readonly end: number
  /** Its deletions as an update without items, when it creates no item (else empty). */
  readonly deletions: Uint8Array
}

/** The body of a {@link HELLO_FENCES} HELLO. */
export interface HelloFence {
  /** The session's id, random, the same on every socket of the session (at most 64 characters). */
  readonly session: string
  /** This socket's number in the session, from 1. */
  readonly socket: number
  /** At most {@link MAX_FATE_QUESTIONS}. */
  readonly commits: readonly FateQuestion[]
}

/**
 * How the reason of a DENIED starts when a COMMIT on a retained lease came after a write to one of
 * its keys that the relay stored since it sent the lease's state (RETAINED): the lock ran on an
 * older state than the room's. Nothing was applied and the lease is released; our client runs the
 * lock again under a fresh GRANT.
 */
export const DENIED_STALE = 'stale:'

/**
 * How the reason of a DENIED starts when a COMMIT writes a key that only mutations may write:
 * nothing was applied; our client refuses such a write before it is sent (MutationOnlyError).
 */
export const DENIED_MUTATION_ONLY = 'mutation-only:'

/** The error codes of a failed {@link YSS_RESULT}. */
export const CALL_ERRORS = [
  'no_such_mutation',
  'invalid_args',
  'mutation_failed',
  'lock_timeout',
  'unavailable',
  'over_limit',
  'read_only'
] as const
export type CallError = (typeof CALL_ERRORS)[number]

/** Longest mutation name a CALL may carry. */
export const MAX_MUTATION_NAME = 256
/** Most patterns a {@link YSS_MUTATION_ONLY} may list. */
export const MAX_MUTATION_ONLY_PATTERNS = 1024

/** Most commits one HELLO may ask the fate of; a session has at most one in flight. */
export const MAX_FATE_QUESTIONS = 8

/** What a connection may do in its room. */
export type Access = 'write' | 'read'

export type YssMessage =
  | { type: typeof YSS_ACQUIRE; id: number; keys: string[] }
  | { type: typeof YSS_GRANT; id: number; stateVector: Uint8Array }
  | { type: typeof YSS_COMMIT; id: number; update: Uint8Array }
  | { type: typeof YSS_DONE; id: number }
  | { type: typeof YSS_DENIED; id: number; reason: string }
  | { type: typeof YSS_CANCEL; id: number }
  | { type: typeof YSS_FLUSH; id: number }
  | { type: typeof YSS_FLUSHED; id: number }
  | { type: typeof YSS_HELLO; id: number; fence?: HelloFence }
  | { type: typeof YSS_ACCESS; id: number; access: Access; user: string }
  | { type: typeof YSS_RETAINED; id: number; stateVector: Uint8Array }
  | { type: typeof YSS_REVOKE; id: number }
  | { type: typeof YSS_CALL; id: number; name: string; args: string }
  | { type: typeof YSS_RESULT; id: number; ok: true; result: string }
  | { type: typeof YSS_RESULT; id: number; ok: false; code: CallError; message: string }
  | { type: typeof YSS_MUTATION_ONLY; id: number; patterns: readonly string[] }

/** Most keys one lock request may name; more is refused as bad input. */
export const MAX_LOCK_KEYS = 64

/** Encodes one message as a whole frame, type byte included. */
export const encodeYss = (m: YssMessage): Uint8Array => {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, MESSAGE_YSS)
  encoding.writeVarUint(e, m.type)
  encoding.writeVarUint(e, m.id)
  switch (m.type) {
    case YSS_ACQUIRE:
      encoding.writeVarUint(e, m.keys.length)
      for (const k of m.keys) encoding.writeVarString(e, k)
      break
    case YSS_GRANT:
    case YSS_RETAINED:
      encoding.writeVarUint8Array(e, m.stateVector)
      break
    case YSS_COMMIT:
      encoding.writeVarUint8Array(e, m.update)
      break
    case YSS_DENIED:
      encoding.writeVarString(e, m.reason)
      break
    case YSS_ACCESS:
      encoding.writeVarString(e, m.access)
      encoding.writeVarString(e, m.user)
      break
    case YSS_CALL:
      encoding.writeVarString(e, m.name)
      encoding.writeVarString(e, m.args)
      break
    case YSS_RESULT:
      encoding.writeVarUint(e, m.ok ? 1 : 0)
      if (m.ok) encoding.writeVarString(e, m.result)
      else {
        encoding.writeVarString(e, m.code)
        encoding.writeVarString(e, m.message)
      }
      break
    case YSS_MUTATION_ONLY:
      encoding.writeVarUint(e, m.patterns.length)
      for (const p of m.patterns) encoding.writeVarString(e, p)
      break
    case YSS_HELLO:
      if ((m.id & HELLO_FENCES) === 0) break
      if (!m.fence) throw new TypeError('a HELLO with HELLO_FENCES carries a fence')
      encoding.writeVarString(e, m.fence.session)
      encoding.writeVarUint(e, m.fence.socket)
      encoding.writeVarUint(e, m.fence.commits.length)
      for (const q of m.fence.commits) {
        encoding.writeVarUint(e, q.id)
        encoding.writeVarUint(e, q.socket)
        encoding.writeVarUint(e, q.index)
        encoding.writeVarUint(e, q.client)
        encoding.writeVarUint(e, q.end)
        encoding.writeVarUint8Array(e, q.deletions)
      }
      break
  }
  return encoding.toUint8Array(e)
}

/**
 * Decodes the body of a {@link MESSAGE_YSS} frame (the decoder is past the type byte). Throws on
 * anything malformed, so the caller can close the connection.
 */
export const decodeYss = (d: decoding.Decoder): YssMessage => {
  const type = decoding.readVarUint(d)
  const id = decoding.readVarUint(d)
  switch (type) {
    case YSS_ACQUIRE: {
      const n = decoding.readVarUint(d)
      if (n === 0 || n > MAX_LOCK_KEYS) throw new Error(`lock request names ${n} keys`)
      const keys: string[] = []
      for (let i = 0; i < n; i++) keys.push(decoding.readVarString(d))
      return { type, id, keys }
    }
    case YSS_GRANT:
    case YSS_RETAINED:
      return { type, id, stateVector: decoding.readVarUint8Array(d) }
    case YSS_COMMIT:
      return { type, id, update: decoding.readVarUint8Array(d) }
    case YSS_DENIED:
      return { type, id, reason: decoding.readVarString(d) }
    case YSS_ACCESS: {
      const access = decoding.readVarString(d)
      if (access !== 'write' && access !== 'read') throw new Error(`unknown access "${access}"`)
      return { type, id, access, user: decoding.readVarString(d) }
    }
    case YSS_HELLO:
      return (id & HELLO_FENCES) === 0 ? { type, id } : { type, id, fence: decodeFence(d) }
    case YSS_CALL: {
      const name = decoding.readVarString(d)
      if (name.length > MAX_MUTATION_NAME) throw new Error(`a mutation name has at most ${MAX_MUTATION_NAME} characters`)
      return { type, id, name, args: decoding.readVarString(d) }
    }
    case YSS_RESULT: {
      if (decoding.readVarUint(d) === 1) return { type, id, ok: true, result: decoding.readVarString(d) }
      const code = decoding.readVarString(d)
      const message = decoding.readVarString(d)
      // A code of a newer relay is still a failure of the mutation, not bad input.
      if (!(CALL_ERRORS as readonly string[]).includes(code))
        return { type, id, ok: false, code: 'mutation_failed', message: `${code}: ${message}` }
      return { type, id, ok: false, code: code as CallError, message }
    }
    case YSS_MUTATION_ONLY: {
      const n = decoding.readVarUint(d)
      if (n > MAX_MUTATION_ONLY_PATTERNS) throw new Error(`${n} mutation-only patterns`)
      const patterns: string[] = []
      for (let i = 0; i < n; i++) patterns.push(decoding.readVarString(d))
      return { type, id, patterns }
    }
    case YSS_DONE:
    case YSS_CANCEL:
    case YSS_FLUSH:
    case YSS_FLUSHED:
    case YSS_REVOKE:
      return { type, id }
    default:
      throw new Error(`unknown y-server-state message ${type}`)
  }
}

const decodeFence = (d: decoding.Decoder): HelloFence => {
  const session = decoding.readVarString(d)
  if (session.length === 0 || session.length > 64) throw new Error('a session id has 1 to 64 characters')
  const socket = decoding.readVarUint(d)
  const n = decoding.readVarUint(d)
  if (n > MAX_FATE_QUESTIONS) throw new Error(`a HELLO asks the fate of ${n} commits`)
  const commits: FateQuestion[] = []
  for (let i = 0; i < n; i++) {
    commits.push({
      id: decoding.readVarUint(d),
      socket: decoding.readVarUint(d),
      index: decoding.readVarUint(d),
      client: decoding.readVarUint(d),
      end: decoding.readVarUint(d),
      deletions: decoding.readVarUint8Array(d)
    })
  }
  return { session, socket, commits }
}
