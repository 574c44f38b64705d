/**
 * Who may connect, and what they may do: the relay's access options turned into one check,
 * `admit(req, room)`, run at the WebSocket upgrade, before the room is loaded.
 *
 * - **Origins.** With `allowedOrigins`, a request whose `Origin` header names another origin is
 *   refused with 4403; a request without one (a Node client, a script) passes.
 * - **Credentials.** `authSecret` (HS256) or `authPublicKey` (ES256/RS256) require a token (see
 *   `tokens.ts`); `authenticate` is a hook of your own (see `auth.ts`). At most one of the three.
 *   With none, everyone may write.
 * - **Read-only presence.** Whether a read-only connection's awareness (presence) is applied:
 *   `readOnlyPresence`, default false, so that nothing a read-only connection sends reaches others.
 * - **Safe by default.** With no credentials configured, only a loopback host may be served
 *   (127.0.0.0/8, ::1, localhost) unless `anonymous` is true: {@link accessControl} throws. And
 *   there, only pages of loopback origins may connect (or clients that send no Origin), with a
 *   loopback `Host` (for WebSockets and HTTP alike: a page of another site that rebinds its name
 *   to 127.0.0.1 sends its own name): any page open on a developer's machine could otherwise
 *   read and write its rooms. `allowedOrigins` widens the origins and lifts the `Host` check.
 *
 * @example
 *   const access = accessControl({ host: '0.0.0.0', authSecret: process.env.AUTH_SECRET })
 *   const admission = await access.admit(req, 'team/a')
 *   if (!admission.ok) ws.close(admission.code, admission.reason)
 */
import { BlockList, isIP } from 'node:net'
import type { IncomingMessage } from 'node:http'
import { CLOSE } from '../../protocol/close-codes.js'
import { runAuthenticate, type Authenticate } from './auth.js'
import { jwtAuthenticator } from './tokens.js'
import type { PeerGrant } from '../peer.js'
import type { LogFields } from '../log.js'

export interface AccessOptions {
  /** The interface the relay listens on; default `127.0.0.1`. */
  host?: string
  /** Require a JWT signed with this secret (HS256), at least 32 bytes. */
  authSecret?: string
  /** Require a JWT signed with the private key of this PEM public key (SPKI; ES256 or RS256). */
  authPublicKey?: string
  /** Decide each connection yourself. */
  authenticate?: Authenticate
  /** With `authSecret` or `authPublicKey`: a token whose `exp` is further away is refused with 4401. Seconds; default 86,400 (a day). */
  maxTokenTtl?: number
  /** Serve anyone on a host that is not loopback, with no credentials. */
  anonymous?: boolean
  /** Origins (`https://app.example.com`) whose pages may connect; others are refused with 4403. */
  allowedOrigins?: string[]
  /** Apply the presence (awareness) of read-only connections. Default false. */
  readOnlyPresence?: boolean
}

export type Admission =
  | { ok: true; grant: PeerGrant; expiresAt?: number }
  | { ok: false; code: number; reason: string; cause: string; fields: LogFields }

export interface AccessControl {
  /** The hook that checks credentials (for a secret or a public key, the JWT check), or null when none is required. */
  readonly authenticate: Authenticate | null
  /** Admits or refuses one upgrade request for `room`; never rejects. */
  admit(req: IncomingMessage, room: string): Promise<Admission>
  /** Whether an HTTP request's `Host` may be answered (always, but on a loopback relay with no access control). */
  hostAllowed(req: IncomingMessage): boolean
}

const loopback = new BlockList()
loopback.addSubnet('127.0.0.0', 8, 'ipv4')
loopback.addAddress('::1', 'ipv6')
loopback.addSubnet('::ffff:127.0.0.0', 104, 'ipv6')

/** Whether `host` is a loopback address (or `localhost`): reachable from this machine only. */
export const isLoopbackHost = (host: string): boolean => {
  const bare = host.replace(/^\[(.*)\]$/, '$1')
  if (bare.toLowerCase() === 'localhost') return true
  const family = isIP(bare)
  return family !== 0 && loopback.check(bare, family === 4 ? 'ipv4' : 'ipv6')
}

/** The serialised origin of `value` (`https://a.example:8443`), or null if it has none. */
const originOf = (value: string): string | null => {
  try {
    const origin = new URL(value).origin
    return origin === 'null' ? null : origin
  } catch {
    return null
  }
}

/** The host name of a `Host` header (`127.0.0.1:1234` → `127.0.0.1`), or null if it has none. */
const hostnameOf = (host: string | undefined): string | null => {
  if (host === undefined) return null
  try {
    return new URL(`http://${host}`).hostname
  } catch {
    return null
  }
}

/** Whether `origin` (a serialised origin) is a page served from this machine. */
const isLoopbackOrigin = (origin: string): boolean => {
  const host = hostnameOf(origin.replace(/^[a-z][a-z0-9+.-]*:\/\//i, ''))
  return host !== null && isLoopbackHost(host)
}

/** The grant of every connection to a relay without credentials: one object for all of them. */
const ANYONE: PeerGrant = Object.freeze({ access: 'write', presence: true })

/** Builds the check; throws for options that conflict, or that would serve anyone on a network. */
export const accessControl = (options: AccessOptions): AccessControl => {
  const given = (['authSecret', 'authPublicKey', 'authenticate'] as const).filter((k) => options[k] !== undefined)
  if (given.length > 1) throw new TypeError(`give one of authSecret, authPublicKey or authenticate, not ${given.join(' and ')}`)
  const authenticated = given.length === 1
  if (authenticated && options.anonymous)
    throw new TypeError(`anonymous excludes ${given[0]}: a relay either requires credentials or serves anyone`)
  const host = options.host ?? '127.0.0.1'
  if (!authenticated && !options.anonymous && !isLoopbackHost(host)) {
    throw new Error(
      `refusing to serve ${host} with no access control: anyone who can reach it could read and overwrite every room. ` +
        'Require tokens with --auth-secret or --auth-public-key (options authSecret, authPublicKey or authenticate), ' +
        'or pass --anonymous (option anonymous: true) to serve anyone on purpose'
    )
  }
  const authenticate: Authenticate | null =
    options.authenticate ??
    (options.authSecret !== undefined
      ? jwtAuthenticator({ secret: options.authSecret }, options.maxTokenTtl)
      : options.authPublicKey !== undefined
        ? jwtAuthenticator({ publicKey: options.authPublicKey }, options.maxTokenTtl)
        : null)
  let allowed: Set<string> | null = null
  if (options.allowedOrigins) {
    allowed = new Set(
      options.allowedOrigins.map((o) => {
        const origin = originOf(o)
        if (origin === null) throw new TypeError(`allowedOrigins: ${JSON.stringify(o)} is not an origin like https://app.example.com`)
        return origin
      })
    )
  }
  const presenceWhenRead = options.readOnlyPresence ?? false
  // A loopback relay that serves anyone: only this machine's pages and names.
  const localOnly = !authenticated && !options.anonymous
  const hostAllowed = (req: IncomingMessage): boolean => {
    if (!localOnly || allowed) return true
    const host = hostnameOf(req.headers.host)
    return host !== null && isLoopbackHost(host)
  }
  const originAllowed = (origin: string): boolean => {
    const o = originOf(origin)
    if (allowed?.has(o ?? origin)) return true
    if (localOnly) return o !== null && isLoopbackOrigin(o)
    return !allowed
  }

  const admit = async (req: IncomingMessage, room: string): Promise<Admission> => {
    const origin = req.headers.origin
    if (origin !== undefined && !originAllowed(origin)) {
      return {
        ok: false,
        code: CLOSE.forbidden,
        reason: 'origin not allowed',
        cause: 'origin',
        fields: { room, origin: origin.slice(0, 200) }
      }
    }
    if (!hostAllowed(req)) {
      return {
        ok: false,
        code: CLOSE.forbidden,
        reason: 'host not allowed: a relay with no access control answers loopback names only',
        cause: 'host',
        fields: { room, host: (req.headers.host ?? '').slice(0, 200) }
      }
    }
    if (!authenticate) return { ok: true, grant: ANYONE }
    const verdict = await runAuthenticate(authenticate, req, room)
    if (!verdict.ok) {
      const { code, reason, error } = verdict
      return { ok: false, code, reason, cause: `auth:${code}:${reason.slice(0, 200)}`, fields: { room, code, ...(error ? { error } : {}) } }
    }
    const { access, user, expiresAt } = verdict.grant
    return {
      ok: true,
      grant: { access, presence: access === 'write' || presenceWhenRead, ...(user !== undefined ? { user } : {}) },
      ...(expiresAt !== undefined ? { expiresAt } : {})
    }
  }
  return { authenticate, admit, hostAllowed }
}
