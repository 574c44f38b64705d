/**
 * The backends' HTTP API under `<prefix>/rooms/<room>/…` (docs/http-api.md): each request counted
 * against `maxHttpRequests`, its room parsed, handed to the routes of its first segment (`state`,
 * `leases`, …), its failure turned into the JSON error of the contract, and counted in `/metrics`
 * by route and status.
 *
 * @example
 *   const api = roomsApi({ prefix: '', limits, metrics, log, routes: { state: keyRoutes(deps), leases: leaseRoutes(deps) } })
 *   http.createServer((req, res) => { if (!api(req, res)) serveStatic(req, res) })
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Limits } from '../limits.js'
import type { Logger } from '../log.js'
import type { Metrics } from '../metrics.js'
import { isUnavailable } from '../store/unavailable.js'
import {
  BackendClosedError,
  BadWritesError,
  LeaseEndedError,
  LeaseNotFoundError,
  LockTimeoutError,
  OverLimitError
} from '../backend/errors.js'
import { HttpError, sendError } from './json-http.js'
import { roomRoute, type RoomRoute } from './room-request.js'

/** One request of the API, as its routes see it. */
export interface RoomCall {
  readonly req: IncomingMessage
  readonly res: ServerResponse
  route: RoomRoute
  /** The route's name in `/metrics` (`PUT /state/:key`): set it once the path is matched. */
  label: string
}

/** The routes of one first segment; throws an {@link HttpError} (404, 405…) for what it does not serve. */
export type RoomRoutes = (call: RoomCall) => Promise<void>

export interface RoomsApiDeps {
  prefix: string
  limits: Pick<Limits, 'maxHttpRequests'>
  metrics: Metrics
  log: Logger
  routes: Readonly<Record<string, RoomRoutes>>
}

/** Limits on the sizes of updates: a write over one is too large, whenever it is tried. */
const SIZE_LIMITS = new Set(['maxUpdateItems', 'maxUpdateWork', 'maxRoomBytes'])

/** The contract's answer to a failure of a route. */
export const httpErrorOf = (err: unknown): HttpError => {
  if (err instanceof HttpError) return err
  if (err instanceof LeaseEndedError) return new HttpError(409, 'lease_ended', err.message)
  if (err instanceof LockTimeoutError) return new HttpError(409, 'lock_timeout', err.message)
  if (err instanceof LeaseNotFoundError) return new HttpError(404, 'not_found', err.message)
  if (err instanceof BadWritesError) return new HttpError(400, 'bad_request', err.message)
  if (err instanceof OverLimitError)
    return SIZE_LIMITS.has(err.limit)
      ? new HttpError(413, 'too_large', `${err.message} (${err.limit})`)
      : new HttpError(429, 'over_limit', `${err.message} (${err.limit})`, { 'retry-after': '1' })
  if ((err instanceof BackendClosedError && err.unavailable) || isUnavailable(err))
    return new HttpError(
      503,
      'unavailable',
      `the relay cannot serve this now (its store is unreachable, or it is shutting down); try again later: ${(err as Error).message}`,
      {
        'retry-after': '1'
      }
    )
  return new HttpError(500, 'internal', 'the relay failed to answer; see its log')
}

/** The handler: answers a request under `<prefix>/rooms/` and returns true, or returns false for any other path. */
export const roomsApi = (deps: RoomsApiDeps) => {
  let open = 0
  const counted = (call: RoomCall): void => {
    call.res.once('close', () => deps.metrics.httpRequest(call.label, call.res.headersSent ? call.res.statusCode : 499))
  }
  return (req: IncomingMessage, res: ServerResponse): boolean => {
    const call: RoomCall = { req, res, route: null as never, label: 'other' }
    let route: RoomRoute | null
    try {
      route = roomRoute(req.url ?? '/', deps.prefix)
    } catch (err) {
      counted(call)
      answer(call, err)
      return true
    }
    if (!route) return false
    call.route = route
    counted(call)
    if (open >= deps.limits.maxHttpRequests) {
      deps.metrics.limitHit('maxHttpRequests')
      const max = deps.limits.maxHttpRequests
      answer(
        call,
        new HttpError(429, 'over_limit', `the relay serves its limit of ${max} requests at once (maxHttpRequests)`, { 'retry-after': '1' })
      )
      return true
    }
    open++
    res.once('close', () => open--)
    const routes = deps.routes[route.rest[0] ?? '']
    const known = Object.keys(deps.routes).map((r) => `/rooms/<room>/${r}`)
    const handled = routes
      ? routes(call)
      : Promise.reject(new HttpError(404, 'not_found', `no such route: the rooms API has ${known.join(', ')}`))
    handled.catch((err) => {
      const e = httpErrorOf(err)
      if (e.status === 500) deps.log.error('HTTP API request failed', { route: call.label, error: String(err) })
      answer(call, e)
    })
    return true
  }

  function answer(call: RoomCall, err: unknown): void {
    const e = httpErrorOf(err)
    if (e.limit) deps.metrics.limitHit(e.limit)
    if (call.res.writableEnded) return
    sendError(call.res, e)
  }
}

/** Throws a 405 unless `method` is one of `allowed`. */
export const allowMethods = (method: string | undefined, allowed: readonly string[]): void => {
  if (!allowed.includes(method ?? ''))
    throw new HttpError(405, 'method_not_allowed', `${method} is not one of ${allowed.join(', ')} here`, { allow: allowed.join(', ') })
}

/** An AbortSignal that aborts once the client has gone away before its answer (a long poll's closed connection). */
export const clientGone = (res: ServerResponse): AbortSignal => {
  const abort = new AbortController()
  res.once('close', () => {
    if (!res.writableFinished) abort.abort(new Error('the client closed the connection'))
  })
  return abort.signal
}
