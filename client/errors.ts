/**
 * The errors the client throws or rejects with, each a class to test with `instanceof`.
 *
 * @example
 *   try { await server.lock('count', fn, { timeout: 500 }) }
 *   catch (e) { if (e instanceof LockTimeoutError) console.log(e.keys) }
 */

/** `forceRerunBoundSessions` was called inside `noRerun`. */
export class RerunSuppressedError extends Error {
  override name = 'RerunSuppressedError'
}

/** A lock was not granted in time, or was asked for while offline. Nothing of it was applied. */
export class LockTimeoutError extends Error {
  override name = 'LockTimeoutError'
  constructor(
    readonly keys: readonly string[],
    reason: string
  ) {
    super(`lock on ${keys.map((k) => `"${k}"`).join(', ')} not granted: ${reason}`)
  }
}

/** A granted lock's writes were refused (its lease had ended) or their fate is unknown. */
export class LockLostError extends Error {
  override name = 'LockLostError'
  constructor(
    readonly keys: readonly string[],
    reason: string
  ) {
    super(`lock on ${keys.map((k) => `"${k}"`).join(', ')} lost: ${reason}`)
  }
}

/** The session was closed, or the relay refused it for good (an invalid room, say). */
export class SessionClosedError extends Error {
  override name = 'SessionClosedError'
}

/**
 * A write (`set`, `delete`, `append`, `lock`, `forceRerunBoundSessions`) on a session with
 * read-only access to its room. Nothing was written: the relay would drop it, so the session
 * refuses it at once instead of diverging from the room.
 */
export class ReadOnlyError extends Error {
  override name = 'ReadOnlyError'
  constructor(
    readonly operation: string,
    readonly room: string
  ) {
    super(`${operation}: this session has read-only access to room "${room}"`)
  }
}

/**
 * A write (`set`, `delete`, `append`, `forceRerunBoundSessions`, or one inside a lock) of a key
 * that only the relay's server mutations may write (the relay's `mutationOnlyKeys`). Thrown at
 * once; nothing was written. Change such a key with `server.call(name, args)`.
 */
export class MutationOnlyError extends Error {
  override name = 'MutationOnlyError'
  constructor(
    readonly key: string,
    operation: string
  ) {
    super(`${operation}: "${key}" is written by server mutations only; use server.call()`)
  }
}

/** Why a server mutation call failed; nothing of it was applied, except as `unavailable` says. */
export type MutationErrorCode = 'no_such_mutation' | 'invalid_args' | 'mutation_failed' | 'lock_timeout' | 'unavailable' | 'over_limit'

/**
 * A `server.call(name, args)` that did not resolve: no such mutation, arguments its validation
 * refused, a mutation that threw (its message is passed on), leases not granted in time, or the
 * relay not reachable. Nothing was applied; only when the connection dropped after the call was
 * sent (`unavailable`, and the message says so) may it have been.
 */
export class MutationError extends Error {
  override name = 'MutationError'
  constructor(
    readonly code: MutationErrorCode,
    readonly mutation: string,
    message: string
  ) {
    super(`call("${mutation}") failed (${code}): ${message}`)
  }
}
