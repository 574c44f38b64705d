/**
 * Access tokens: JWTs whose claims say which rooms a connection may join and what it may do
 * there. {@link jwtAuthenticator} checks them (an `authenticate` hook); {@link signToken} makes
 * them, for a backend or a script. Both use `jose`.
 *
 * Claims:
 * - `rooms`: a list of room patterns, `*` matching any run of characters (`["team/*", "lobby"]`);
 * - `access`: `"write"` (the default) or `"read"`;
 * - `sub`: the user, logged and told to our client;
 * - `inspect`: `true` lets the token also inspect the rooms it covers (see inspector-access.ts);
 * - `exp`: the expiry, in seconds since the epoch (RFC 7519); required.
 *
 * Keys: a shared secret of at least 32 bytes for HS256 (RFC 7518 §3.2), or a key pair, P-256 for
 * ES256 or RSA (2,048 bits or more) for RS256: the relay holds the public key (PEM, SPKI), the
 * backend the private one (PEM, PKCS #8).
 *
 * @example
 *   const token = await signToken({ secret, rooms: ['team/*'], access: 'read', sub: 'ann', ttl: '1h' })
 *   const relay = await startRelay({ authenticate: jwtAuthenticator({ secret }) })
 *   // the client: connect({ url, room: 'team/a', token }); a stock one: params: { token }
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { SignJWT, importPKCS8, importSPKI, jwtVerify, type CryptoKey, type JWTPayload } from 'jose'
import { AuthError, type Access, type Authenticate } from './auth.js'
import { roomsCover } from '../../protocol/patterns.js'

export type TokenKey = { secret: string } | { publicKey: string }

export interface SignTokenOptions {
  /** The shared secret (HS256); or give `privateKey`. */
  secret?: string
  /** A PEM private key (PKCS #8), P-256 (ES256) or RSA (RS256); or give `secret`. */
  privateKey?: string
  /** Room patterns the token covers; `*` matches any run of characters. */
  rooms: string[]
  /** Default `write`. */
  access?: Access
  /** The user. */
  sub?: string
  /** Lifetime: seconds, or `90s`, `30m`, `1h`, `7d`. Default `1h`. */
  ttl?: number | string
  /** Let the token inspect the rooms it covers (the claim `"inspect": true`). Default false. */
  inspect?: boolean
}

const MIN_SECRET_BYTES = 32
const encoder = new TextEncoder()

const secretBytes = (secret: string): Uint8Array => {
  const bytes = encoder.encode(secret)
  if (bytes.length < MIN_SECRET_BYTES) {
    throw new TypeError(
      `the auth secret has ${bytes.length} bytes; HS256 needs at least ${MIN_SECRET_BYTES} (RFC 7518 §3.2), e.g. \`openssl rand -base64 32\``
    )
  }
  return bytes
}

/** The JWS algorithm for an asymmetric key: ES256 for P-256, RS256 for RSA. */
const algorithmOf = (key: KeyObject): 'ES256' | 'RS256' => {
  if (key.asymmetricKeyType === 'rsa') return 'RS256'
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256'
  throw new TypeError(
    `unsupported key: ${key.asymmetricKeyType} ${key.asymmetricKeyDetails?.namedCurve ?? ''}; use P-256 (ES256) or RSA (RS256)`.trim()
  )
}

const pemKey = (pem: string, kind: 'public' | 'private'): KeyObject => {
  try {
    return kind === 'public' ? createPublicKey(pem) : createPrivateKey(pem)
  } catch (err) {
    throw new TypeError(
      `the ${kind} key is not a PEM ${kind === 'public' ? 'SPKI public' : 'PKCS #8 private'} key: ${(err as Error).message}`
    )
  }
}

/** Seconds in a ttl: a number of seconds, or a count with a unit (`s`, `m`, `h`, `d`). */
export const parseTtl = (ttl: number | string): number => {
  const m = typeof ttl === 'number' ? [String(ttl), String(ttl), 's'] : /^(\d+)\s*([smhd]?)$/.exec(ttl.trim())
  const seconds = m ? Number(m[1]) * { s: 1, m: 60, h: 3_600, d: 86_400 }[(m[2] || 's') as 's'] : NaN
  if (!Number.isSafeInteger(seconds) || seconds <= 0)
    throw new TypeError(`ttl must be a positive number of seconds or like 30m, 1h, 7d, not ${JSON.stringify(ttl)}`)
  return seconds
}

/** The token a request carries: its `token` query parameter, else its `Authorization: Bearer` header, or null. */
export const tokenOf = (req: IncomingMessage): string | null => {
  const query = (req.url ?? '').split('?')[1]
  const param = query === undefined ? null : new URLSearchParams(query).get('token') || null
  return param ?? /^Bearer +(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1] ?? null
}

/** Why jose refused a token, in words that name no part of it. */
const refusal = (err: unknown): string => {
  switch ((err as { code?: string }).code) {
    case 'ERR_JWT_EXPIRED':
      return 'token expired'
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return 'token signature invalid'
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return 'token algorithm not accepted'
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return `token claim invalid: ${(err as Error).message}`
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
      return 'token malformed'
    default:
      return 'token invalid'
  }
}

/** The grant a verified token's claims make; throws {@link AuthError} for claims that are not ours. */
const grantOf = (payload: JWTPayload, room: string) => {
  const { rooms, access = 'write', sub, inspect } = payload as JWTPayload & { rooms?: unknown; access?: unknown; inspect?: unknown }
  if (!Array.isArray(rooms) || !rooms.every((r) => typeof r === 'string')) throw new AuthError(4401, 'token has no "rooms" list')
  if (access !== 'write' && access !== 'read') throw new AuthError(4401, 'token "access" is neither "write" nor "read"')
  if (!roomsCover(rooms, room)) throw new AuthError(4403, 'token does not cover this room')
  return {
    access,
    ...(typeof sub === 'string' ? { user: sub } : {}),
    expiresAt: payload.exp! * 1000,
    ...(inspect === true ? { inspect } : {})
  } as const
}

/** The longest token lifetime a relay accepts by default, in seconds: a day. */
export const DEFAULT_MAX_TOKEN_TTL = 86_400

/**
 * An `authenticate` hook that requires a token signed with `secret` (HS256) or with the private
 * key of `publicKey` (PEM SPKI; ES256 or RS256), whose `exp` is at most `maxTtl` seconds away
 * (default {@link DEFAULT_MAX_TOKEN_TTL}): a token that never ends cannot be taken back. Throws at
 * once for a key it cannot use.
 */
export const jwtAuthenticator = (key: TokenKey, maxTtl = DEFAULT_MAX_TOKEN_TTL): Authenticate => {
  let verifyKey: Promise<CryptoKey> | Uint8Array
  let alg: 'HS256' | 'ES256' | 'RS256'
  if ('secret' in key) {
    verifyKey = secretBytes(key.secret)
    alg = 'HS256'
  } else {
    alg = algorithmOf(pemKey(key.publicKey, 'public'))
    const imported = importSPKI(key.publicKey, alg)
    imported.catch(() => {}) // node:crypto read it already; should jose not, each use fails with 1011 and a log line
    verifyKey = imported
  }
  return async (req, room) => {
    const token = tokenOf(req)
    if (token === null) throw new AuthError(4401, 'token missing')
    const usable = await verifyKey
    let payload: JWTPayload
    try {
      payload = (await jwtVerify(token, usable, { algorithms: [alg], requiredClaims: ['exp'] })).payload
    } catch (err) {
      throw new AuthError(4401, refusal(err))
    }
    if (payload.exp! - Date.now() / 1000 > maxTtl) throw new AuthError(4401, `token lifetime over the relay's limit of ${maxTtl} s`)
    return grantOf(payload, room)
  }
}

/** Signs a token for `rooms`; see {@link SignTokenOptions}. */
export const signToken = async (options: SignTokenOptions): Promise<string> => {
  const { secret, privateKey, rooms, access = 'write', sub, ttl = '1h', inspect = false } = options
  if ((secret === undefined) === (privateKey === undefined)) throw new TypeError('signToken: give either secret or privateKey')
  if (!Array.isArray(rooms) || rooms.length === 0 || !rooms.every((r) => typeof r === 'string' && r.length > 0)) {
    throw new TypeError('signToken: rooms is a non-empty list of room patterns')
  }
  if (access !== 'write' && access !== 'read') throw new TypeError('signToken: access is "write" or "read"')
  const seconds = parseTtl(ttl)
  let alg: 'HS256' | 'ES256' | 'RS256' = 'HS256'
  let key: Uint8Array | CryptoKey
  if (secret !== undefined) key = secretBytes(secret)
  else {
    alg = algorithmOf(pemKey(privateKey!, 'private'))
    key = await importPKCS8(privateKey!, alg)
  }
  const jwt = new SignJWT({ rooms, access, ...(inspect ? { inspect: true } : {}) })
    .setProtectedHeader({ alg, typ: 'JWT' })
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + seconds)
  if (sub !== undefined) jwt.setSubject(sub)
  return jwt.sign(key)
}
