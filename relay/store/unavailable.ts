/**
 * The shared store (Redis or PostgreSQL behind several relays) cannot be reached now. Nothing
 * was acknowledged that is not stored: a room that meets this error closes its connections with
 * 1013 ("try again later"), and clients reconnect, possibly to another relay, once it is back.
 *
 * @example
 *   if (redis.status !== 'ready') throw new UnavailableError('Redis is unreachable')
 *   peer.fail(err instanceof UnavailableError ? CLOSE.tryAgainLater : CLOSE.internalError, String(err))
 */
export class UnavailableError extends Error {
  override readonly name = 'UnavailableError'
}

export const isUnavailable = (err: unknown): boolean => err instanceof UnavailableError
