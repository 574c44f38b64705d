/**
 * Why a backend's call failed, as values the HTTP API (and server mutations) turn into answers.
 * Each says whether anything was applied: only {@link BackendClosedError} on a commit leaves the
 * outcome unknown.
 *
 * @example
 *   try { await backend.commit(lease, { set: { count: 2 } }) }
 *   catch (err) { if (err instanceof LeaseEndedError) retry() } // nothing was applied
 */
import type { LimitName } from '../limits.js'

/** The lease ended (expired, released, committed, or refused by the relay): nothing was applied. */
export class LeaseEndedError extends Error {
  override readonly name = 'LeaseEndedError'
}

/** No lease of this id in this room (never granted here, or forgotten long after it ended). */
export class LeaseNotFoundError extends Error {
  override readonly name = 'LeaseNotFoundError'
}

/** A lease could not be granted within its timeout; the request was withdrawn. */
export class LockTimeoutError extends Error {
  override readonly name = 'LockTimeoutError'
}

/** Refused by a limit of the relay (`limit`): nothing was applied. */
export class OverLimitError extends Error {
  override readonly name = 'OverLimitError'
  constructor(
    readonly limit: LimitName,
    message: string
  ) {
    super(message)
  }
}

/** Writes that cannot be made (a key a lease does not hold, a value that is not JSON): nothing was applied. */
export class BadWritesError extends Error {
  override readonly name = 'BadWritesError'
}

/**
 * The room dropped the backend (its store failed, or the relay is closing). `unavailable`: the
 * store is unreachable or the relay is shutting down: try again later. A write or commit in flight then may or may not be stored:
 * read the keys to learn which.
 */
export class BackendClosedError extends Error {
  override readonly name = 'BackendClosedError'
  constructor(
    message: string,
    readonly unavailable: boolean
  ) {
    super(message)
  }
}
