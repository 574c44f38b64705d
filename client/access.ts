/**
 * What a session may do in its room, as the client learns it: from the token before connecting
 * (its claims decoded, not verified: only the relay verifies), then from the relay's ACCESS
 * reply on each connection, which wins.
 *
 * The `token` option is a string, or a function called before every connection attempt (sync or
 * async), so that a session can fetch a fresh token when the old one expired.
 *
 * @example
 *   connect({ url, room: 'team/a', token: async () => (await fetch('/api/relay-token')).text() })
 *   claimsOf(token) // { access: 'read', user: 'ann' }, or null for a token that is not a JWT
 */
import { decodeJwt } from 'jose'
import type { Access } from '../protocol/messages.js'

/** A token, or a function that gets one for each connection attempt. */
export type TokenOption = string | (() => string | Promise<string>)

/** The access and user a JWT claims (`access`, default write; `sub`), or null if it is no JWT. */
export const claimsOf = (token: string): { access: Access; user?: string } | null => {
  let claims: Record<string, unknown>
  try {
    claims = decodeJwt(token)
  } catch {
    return null
  }
  return { access: claims.access === 'read' ? 'read' : 'write', ...(typeof claims.sub === 'string' ? { user: claims.sub } : {}) }
}

/** The token for one connection attempt: now, a promise of it, or undefined with no option. Throws what the function throws. */
export const tokenFor = (option: TokenOption | undefined): string | undefined | Promise<string> =>
  typeof option === 'function' ? option() : option
