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
