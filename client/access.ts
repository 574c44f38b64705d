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
import { fromBase64UrlEncoded } from 'lib0/buffer'
import { decodeUtf8 } from 'lib0/string'
import type { Access } from '../protocol/messages.js'

/** A token, or a function that gets one for each connection attempt. */
export type TokenOption = string | (() => string | Promise<string>)

/**
 * The claims of a compact JWS (three base64url parts, the middle one a JSON object), not
 * verified, or null. Decoded here rather than with a JWT library, which only the relay needs: the
 * client package stays free of server dependencies.
 */
const decodeClaims = (token: string): Record<string, unknown> | null => {
  const parts = token.split('.')
  if (parts.length !== 3 || !/^[\w-]+$/.test(parts[1]!)) return null
  try {
    const claims: unknown = JSON.parse(decodeUtf8(fromBase64UrlEncoded(parts[1]!)))
    return typeof claims === 'object' && claims !== null && !Array.isArray(claims) ? (claims as Record<string, unknown>) : null
  } catch {
    return null
  }
}

/** The access and user a JWT claims (`access`, default write; `sub`), or null if it is no JWT. */
export const claimsOf = (token: string): { access: Access; user?: string } | null => {
  const claims = decodeClaims(token)
  if (claims === null) return null
  return { access: claims.access === 'read' ? 'read' : 'write', ...(typeof claims.sub === 'string' ? { user: claims.sub } : {}) }
}

/** The token for one connection attempt: now, a promise of it, or undefined with no option. Throws what the function throws. */
export const tokenFor = (option: TokenOption | undefined): string | undefined | Promise<string> =>
  typeof option === 'function' ? option() : option
