/**
 * A request of the backends' API: `/rooms/<room>/<rest…>` parsed, and admitted for its room by
 * the same access control as a socket (origin, host, token or `authenticate` hook), with the
 * socket's close code turned into its HTTP status.
 *
 * @example
 *   const route = roomRoute('/rooms/org%2Fdoc-1/state/count', '')  // { room: 'org/doc-1', rest: ['state', 'count'] }
 *   const grant = await admitRequest(access, req, route.room, 'write') // throws HttpError 401 / 403
 */
import type { IncomingMessage } from 'node:http'
import { CLOSE } from '../../protocol/close-codes.js'
import { roomNameProblem } from '../../protocol/room-names.js'
import type { AccessControl } from '../access/access-control.js'
import type { PeerGrant } from '../peer.js'
import { HttpError } from './json-http.js'

/** Where the backends' API lives under the relay's path prefix. */
export const ROOMS_PATH = '/rooms/'

export interface RoomRoute {
  readonly room: string
  /** The decoded path segments after the room (`['state', 'count']`). */
  readonly rest: readonly string[]
  readonly query: URLSearchParams
}

const decode = (segment: string): string => {
  try {
    return decodeURIComponent(segment)
  } catch {
    throw new HttpError(400, 'bad_request', `malformed escape in the path segment ${JSON.stringify(segment.slice(0, 100))}`)
  }
}

/** The route of `url`, or null when it is not under `<prefix>/rooms/`; throws a 400 for a bad room name. */
export const roomRoute = (url: string, prefix: string): RoomRoute | null => {
  const [path = '', search = ''] = url.split('?', 2)
  if (!path.startsWith(prefix + ROOMS_PATH)) return null
  const [rawRoom = '', ...rest] = path.slice(prefix.length + ROOMS_PATH.length).split('/')
  const room = decode(rawRoom)
  const problem = roomNameProblem(room)
  if (problem !== null) throw new HttpError(400, 'bad_request', `invalid room name: ${problem} (encode "/" in a room name as %2F)`)
  return { room, rest: rest.map(decode), query: new URLSearchParams(search) }
}

/** A request's grant; `expiresAt` (ms since the epoch): when its credentials end, for what outlasts the request's answer (an event stream). */
export type RequestGrant = PeerGrant & { readonly expiresAt?: number }

/**
 * Admits `req` for `room`, needing `needs` (`write` for anything that changes the room). Throws
 * {@link HttpError}: 401 for missing or invalid credentials, 403 for a room or origin not
 * allowed, or a read-only grant that asks to write, 500 when the `authenticate` hook failed.
 */
export const admitRequest = async (
  access: AccessControl,
  req: IncomingMessage,
  room: string,
  needs: 'read' | 'write'
): Promise<RequestGrant> => {
  const admission = await access.admit(req, room)
  if (!admission.ok) {
    if (admission.code === CLOSE.unauthorized) throw new HttpError(401, 'unauthorized', admission.reason, { 'www-authenticate': 'Bearer' })
    if (admission.code === CLOSE.forbidden) throw new HttpError(403, 'forbidden', admission.reason)
    throw new HttpError(500, 'internal', admission.reason)
  }
  if (needs === 'write' && admission.grant.access !== 'write')
    throw new HttpError(403, 'forbidden', `this token gives read access to room ${JSON.stringify(room)}; writing needs write access`)
  return admission.expiresAt === undefined ? admission.grant : { ...admission.grant, expiresAt: admission.expiresAt }
}
