/**
 * The relay's `authenticate` hook: an async function of the upgrade request and the room that
 * says what the connection may do there, or refuses it. It runs before the room is loaded. The
 * JWT check (`jwtAuthenticator`) is one implementation; a cookie or a session store is another.
 *
 * - Return `{ access: 'write' | 'read', user?, expiresAt? }`. `expiresAt` is in milliseconds
 *   since the epoch (`Date.now()`'s unit): the connection is closed with 4401 then.
 * - Throw an {@link AuthError} (or any error whose `code` is a number from 4400 to 4499) to
 *   refuse: 4401 for missing or bad credentials, 4403 for a room they do not cover. Clients stop
 *   retrying on these codes.
 * - Any other throw, or a result of another shape, is the hook's failure, not the client's: the
 *   connection is closed with 1011 (retry later) and the error is logged.
 *
 * @example
 *   startRelay({
 *     authenticate: async (req, room) => {
 *       const user = await sessions.lookup(cookieOf(req, 'sid'))   // your session store
 *       if (!user) throw new AuthError(4401, 'not signed in')
 *       if (!user.rooms.includes(room)) throw new AuthError(4403, 'not your room')
 *       return { access: user.canEdit ? 'write' : 'read', user: user.name }
 *     }
 *   })
 */
import type { IncomingMessage } from 'node:http'
import { CLOSE } from '../../protocol/close-codes.js'
import type { Access } from '../../protocol/messages.js'

export type { Access }

/** What an accepted connection may do. */
export interface AuthResult {
  access: Access
  /** Who it is: logged, and told to our client (`server.user`). */
  user?: string
  /** When the grant ends, in ms since the epoch; the connection is closed with 4401 then. */
  expiresAt?: number
  /** Whether these credentials may also inspect the room (the relay's `/inspect` page and `/api/rooms`; see inspector-access.ts). */
  inspect?: boolean
}

export type Authenticate = (req: IncomingMessage, room: string) => AuthResult | Promise<AuthResult>

/** Refuses a connection from an `authenticate` hook: 4401 (credentials) or 4403 (this room). */
export class AuthError extends Error {
  override name = 'AuthError'
  constructor(
    readonly code: 4401 | 4403,
    message: string
  ) {
    super(message)
  }
}

/** A hook's verdict on one connection: a grant, or the close code that refuses it and why. */
export type Verdict = { ok: true; grant: AuthResult } | { ok: false; code: number; reason: string; error?: string }

const refusalCode = (err: unknown): number | null => {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'number' && code >= 4400 && code < 4500 ? code : null
}

const resultProblem = (r: unknown): string | null => {
  const result = r as Partial<AuthResult> | null
  if (typeof result !== 'object' || result === null) return `returned ${String(r)}`
  if (result.access !== 'write' && result.access !== 'read')
    return `returned access ${JSON.stringify(result.access)}, not "write" or "read"`
  if (result.user !== undefined && typeof result.user !== 'string') return 'returned a user that is not a string'
  if (result.expiresAt !== undefined && !Number.isFinite(result.expiresAt)) return 'returned an expiresAt that is not a number of ms'
  if (result.inspect !== undefined && typeof result.inspect !== 'boolean') return 'returned an inspect that is not a boolean'
  return null
}

/** Runs `authenticate` and turns whatever it does into a {@link Verdict}; never rejects. */
export const runAuthenticate = async (authenticate: Authenticate, req: IncomingMessage, room: string): Promise<Verdict> => {
  let result: unknown
  try {
    result = await authenticate(req, room)
  } catch (err) {
    const code = refusalCode(err)
    if (code !== null) return { ok: false, code, reason: (err as Error).message || 'refused' }
    return { ok: false, code: CLOSE.internalError, reason: 'authentication failed; retry later', error: String(err) }
  }
  const problem = resultProblem(result)
  if (problem !== null) {
    return { ok: false, code: CLOSE.internalError, reason: 'authentication failed; retry later', error: `authenticate ${problem}` }
  }
  const grant = result as AuthResult
  if (grant.expiresAt !== undefined && grant.expiresAt <= Date.now())
    return { ok: false, code: CLOSE.unauthorized, reason: 'credentials expired' }
  return { ok: true, grant }
}
