/**
 * The leases of the backends' HTTP API (docs/http-api.md, "Leases"): the HTTP form of `lock()`,
 * through the room's backend (relay/backend/), FIFO with the sockets' locks and fenced.
 *
 * | route | answer |
 * | --- | --- |
 * | `POST /rooms/<room>/leases` body `{ keys, timeoutMs }` | long poll; 200 `{ lease, fence, keys, values, expiresAt, leaseMs }`; 409 `lock_timeout` |
 * | `POST /rooms/<room>/leases/<id>/commit` body `{ set, delete, force }` | 200 `{ versions }`; 409 `lease_ended`, nothing applied |
 * | `DELETE /rooms/<room>/leases/<id>` | 204; 409 `lease_ended` |
 *
 * A request whose connection closes before its grant is withdrawn.
 *
 * @example
 *   const routes = { leases: leaseRoutes({ access, backends, limits }) }   // for roomsApi
 */
import { MAX_LOCK_KEYS } from '../../protocol/messages.js'
import { admitRequest } from './room-request.js'
import { HttpError, readJson, sendJson } from './json-http.js'
import { allowMethods, clientGone, type RoomRoutes } from './rooms-api.js'
import { keysOfWrites, notFound, quietOf, writesOf, type KeyRoutesDeps } from './key-routes.js'

/** The longest a lease request may wait, whatever it asks: a long poll holds a connection. */
export const MAX_LEASE_WAIT_MS = 60_000
const DEFAULT_LEASE_WAIT_MS = 10_000

const leaseRequestOf = (body: unknown): { keys: string[]; timeoutMs: number } => {
  const usage = `the body is { "keys": [1 to ${MAX_LOCK_KEYS} keys], "timeoutMs": 0 to ${MAX_LEASE_WAIT_MS} }`
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, 'bad_request', usage)
  const { keys, timeoutMs = DEFAULT_LEASE_WAIT_MS, ...rest } = body as Record<string, unknown>
  if (Object.keys(rest).length > 0)
    throw new HttpError(400, 'bad_request', `unknown field ${JSON.stringify(Object.keys(rest)[0]!.slice(0, 40))}: ${usage}`)
  if (!Array.isArray(keys) || keys.length === 0 || keys.length > MAX_LOCK_KEYS || !keys.every((k) => typeof k === 'string' && k.length > 0))
    throw new HttpError(400, 'bad_request', usage)
  if (!Number.isSafeInteger(timeoutMs) || (timeoutMs as number) < 0 || (timeoutMs as number) > MAX_LEASE_WAIT_MS)
    throw new HttpError(400, 'bad_request', usage)
  return { keys: keys as string[], timeoutMs: timeoutMs as number }
}

/** The routes under `/rooms/<room>/leases`. */
export const leaseRoutes =
  (deps: KeyRoutesDeps): RoomRoutes =>
  async (call) => {
    const { req, res, route } = call
    const [, id, action, ...extra] = route.rest
    const room = deps.backends.room(route.room)
    if (id === undefined) {
      allowMethods(req.method, ['POST'])
      call.label = `${req.method} /leases`
      await admitRequest(deps.access, req, route.room, 'write')
      const { keys, timeoutMs } = leaseRequestOf(await readJson(req, deps.limits.maxHttpBodyBytes))
      deps.rawWrites?.(route.room, keys)
      const lease = await room.acquire(keys, { timeoutMs, signal: clientGone(res) })
      return sendJson(res, 200, {
        lease: lease.id,
        fence: lease.fence,
        keys: lease.keys,
        values: lease.values,
        expiresAt: lease.expiresAt,
        leaseMs: lease.leaseMs
      })
    }
    if (action === 'commit' && extra.length === 0) {
      allowMethods(req.method, ['POST'])
      call.label = `${req.method} /leases/:id/commit`
      await admitRequest(deps.access, req, route.room, 'write')
      const writes = writesOf((await readJson(req, deps.limits.maxHttpBodyBytes)) ?? {}, quietOf(route.query))
      deps.rawWrites?.(route.room, keysOfWrites(writes))
      return sendJson(res, 200, { versions: await room.commit(id, writes) })
    }
    if (action !== undefined) throw notFound(route)
    allowMethods(req.method, ['DELETE'])
    call.label = `${req.method} /leases/:id`
    await admitRequest(deps.access, req, route.room, 'write')
    room.release(id)
    sendJson(res, 204)
  }
