/**
 * The close codes the relay uses. Codes 4400–4499 mean "do not retry": stock y-websocket 3.x
 * clients and ours stop reconnecting on them, and the relay holds such a refusal open for a
 * moment first, so that older clients, which reconnect after any open, cannot storm it.
 *
 * @example
 *   ws.close(CLOSE.badRoom, 'invalid room name')
 *   ws.close(CLOSE.unauthorized, 'token expired')
 *   if (isRefusal(event.code)) stopRetrying()
 */
export const CLOSE = {
  goingAway: 1001,
  protocolError: 1002,
  unsupportedData: 1003,
  invalidPayload: 1007,
  /** A limit on what the relay holds for a connection: it does not read, or sent too much too early. Retry later. */
  policyViolation: 1008,
  tooBig: 1009,
  internalError: 1011,
  /** The shared store behind several relays is unreachable: nothing more is acknowledged; reconnect later. */
  tryAgainLater: 1013,
  /** A newer connection of the same session took over (its HELLO fenced this one); the client has left it already. */
  superseded: 4000,
  /** The path names no valid room. */
  badRoom: 4400,
  /** No token, or one that is malformed, badly signed or expired; also sent when a token expires mid-session. */
  unauthorized: 4401,
  /** The credentials are valid but do not cover this room, or the page's origin is not allowed. */
  forbidden: 4403,
  /** An update too large to apply, or one that would grow its room past the room's limit. */
  tooLarge: 4413,
  /**
   * An update that writes a key only the relay's mutations may write: nothing of it was applied.
   * Not retried: the client's next sync step 2 would carry the same write.
   */
  mutationOnly: 4423
} as const

/** Whether a close code refuses the session for good: the client must not reconnect. */
export const isRefusal = (code: number | undefined): boolean => code !== undefined && code >= 4400 && code < 4500
