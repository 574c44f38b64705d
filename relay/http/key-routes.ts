/**
 * The keys of the backends' HTTP API (docs/http-api.md, "Keys"): read, set, delete and force a
 * room's keys through its backend (relay/backend/), each write answered once stored.
 *
 * | route | answer |
 * | --- | --- |
 * | `GET /rooms/<room>/state` | 200 `{ keys: { <key>: { value, version } } }` |
 * | `GET /rooms/<room>/state/<key>` | 200 `{ value, version }`; 404 `{ error, message, version }` when unset |
 * | `PUT /rooms/<room>/state/<key>` | body: the value; 200 `{ version }` |
 * | `DELETE /rooms/<room>/state/<key>` | 200 `{ version }` |
 * | `POST /rooms/<room>/state/<key>/force` | 200 `{ version }` |
 * | `PATCH /rooms/<room>/state` | body `{ set, delete, force }`; 200 `{ versions }` |
 *
 * `?quiet=1` makes a write quiet (`noRerun`).
 *
 * @example
 *   const routes = { state: keyRoutes({ access, backends, limits }) }   // for roomsApi
 */
import type { AccessControl } from '../access/access-control.js'
import type { RoomBackends } from '../backend/backends.js'
import type { BackendWrites } from '../backend/backend-writes.js'
import type { Limits } from '../limits.js'
import { HttpError, readJson, sendJson } from './json-http.js'
import { sendCounted, type AnswerBudget } from './counted-answer.js'
import { admitRequest, type RoomRoute } from './room-request.js'
import { allowMethods, type RoomRoutes } from './rooms-api.js'

export interface KeyRoutesDeps {
  access: AccessControl
  backends: RoomBackends
  limits: Pick<Limits, 'maxHttpBodyBytes'>
  /**
   * Called with the keys of every raw write (and lease) before it is made: throws an
   * {@link HttpError} (403 `mutation_only`) for a key that only server mutations may write.
   */
  rawWrites?(room: string, keys: readonly string[]): void
  /** Where reads' answers are counted (they may be as large as a room); absent, they are not. */
  answers?: AnswerBudget
}

/** `?quiet=1` (or `true`): a quiet write. */
export const quietOf = (query: URLSearchParams): boolean => {
  const quiet = query.get('quiet')
  if (quiet === null || quiet === '0' || quiet === 'false') return false
  if (quiet === '1' || quiet === 'true' || quiet === '') return true
  throw new HttpError(400, 'bad_request', `quiet is 1 or 0, not ${JSON.stringify(quiet.slice(0, 20))}`)
}

/** A body `{ set, delete, force }` as writes (their values are checked by the backend). */
export const writesOf = (body: unknown, quiet: boolean): BackendWrites => {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new HttpError(400, 'bad_request', 'the body is an object { "set": { key: value }, "delete": [key], "force": [key] }')
  for (const field of Object.keys(body))
    if (field !== 'set' && field !== 'delete' && field !== 'force')
      throw new HttpError(
        400,
        'bad_request',
        `unknown field ${JSON.stringify(field.slice(0, 40))}: the body has "set", "delete" and "force"`
      )
  return { ...(body as Omit<BackendWrites, 'quiet'>), quiet }
}

/** The keys `writes` name. */
export const keysOfWrites = (writes: BackendWrites): string[] => {
  const keys = [
    ...Object.keys(writes.set ?? {}),
    ...(Array.isArray(writes.delete) ? writes.delete : []),
    ...(Array.isArray(writes.force) ? writes.force : [])
  ]
  return keys.filter((k): k is string => typeof k === 'string')
}

/** The routes under `/rooms/<room>/state`. */
export const keyRoutes =
  (deps: KeyRoutesDeps): RoomRoutes =>
  async (call) => {
    const { req, res, route } = call
    const [, key, action, ...extra] = route.rest
    const room = deps.backends.room(route.room)
    // Admitted once, before the body is read: an `authenticate` hook may cost a call to a service.
    const write = (writes: BackendWrites) => {
      deps.rawWrites?.(route.room, keysOfWrites(writes))
      return room.write(writes)
    }
    if (key === undefined) {
      allowMethods(req.method, ['GET', 'PATCH'])
      call.label = `${req.method} /state`
      if (req.method === 'GET') {
        await admitRequest(deps.access, req, route.room, 'read')
        const keys = await room.read()
        return deps.answers ? sendCounted(res, { keys }, deps.answers) : sendJson(res, 200, { keys })
      }
      await admitRequest(deps.access, req, route.room, 'write')
      const writes = writesOf(await readJson(req, deps.limits.maxHttpBodyBytes), quietOf(route.query))
      return sendJson(res, 200, { versions: await write(writes) })
    }
    if (key === '') throw new HttpError(400, 'bad_request', 'a key is a non-empty path segment (encode "/" in a key as %2F)')
    if (action === 'force' && extra.length === 0) {
      allowMethods(req.method, ['POST'])
      call.label = `${req.method} /state/:key/force`
      await admitRequest(deps.access, req, route.room, 'write')
      const versions = await write({ force: [key], quiet: quietOf(route.query) })
      return sendJson(res, 200, { version: versions[key] })
    }
    if (action !== undefined) throw notFound(route)
    allowMethods(req.method, ['GET', 'PUT', 'DELETE'])
    call.label = `${req.method} /state/:key`
    if (req.method === 'GET') {
      await admitRequest(deps.access, req, route.room, 'read')
      const { value, version } = (await room.read([key]))[key]!
      if (value === undefined) return sendJson(res, 404, { error: 'not_found', message: `key ${JSON.stringify(key)} is not set`, version })
      return deps.answers ? sendCounted(res, { value, version }, deps.answers) : sendJson(res, 200, { value, version })
    }
    if (req.method === 'DELETE') {
      await admitRequest(deps.access, req, route.room, 'write')
      const versions = await write({ delete: [key], quiet: quietOf(route.query) })
      return sendJson(res, 200, { version: versions[key] })
    }
    await admitRequest(deps.access, req, route.room, 'write')
    const value = await readJson(req, deps.limits.maxHttpBodyBytes)
    if (value === undefined) throw new HttpError(400, 'bad_request', 'the body is the JSON value to set')
    const versions = await write({ set: { [key]: value }, quiet: quietOf(route.query) })
    return sendJson(res, 200, { version: versions[key] })
  }

/** A 404 for a path under a known segment that names no route. */
export const notFound = (route: RoomRoute): HttpError =>
  new HttpError(404, 'not_found', `no such route: /${route.rest.map(encodeURIComponent).join('/').slice(0, 200)} (see docs/http-api.md)`)
