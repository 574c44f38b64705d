/**
 * Server mutations over HTTP (docs/http-api.md, "Server mutations"): `POST /rooms/<room>/mutations/<name>`
 * with the arguments as the JSON body, answered 200 `{ result }` once the mutation's writes are
 * stored; and the refusal of raw writes (`PUT /state/<key>`, a lease's commit…) of a key that only
 * mutations may write, 403 `mutation_only`.
 *
 * | failure            | status | `error`            |
 * | ------------------ | ------ | ------------------ |
 * | no such mutation   | 404    | `not_found`        |
 * | validation threw   | 422    | `invalid_args`     |
 * | `run` threw        | 422    | `mutation_failed`  |
 * | leases not granted | 409    | `lock_timeout`     |
 * | over a limit       | 429    | `over_limit`       |
 * | store unreachable  | 503    | `unavailable`      |
 *
 * @example
 *   const routes = { mutations: mutationRoutes({ access, runner, limits }) }   // for roomsApi
 *   const keyDeps = { access, backends, limits, rawWrites: refuseMutationOnly((k) => patterns.covers(k)) }
 */
import type { AccessControl } from '../access/access-control.js'
import type { Limits } from '../limits.js'
import { MutationFailure, type MutationRunner } from '../mutations/runner.js'
import { HttpError, readJson, sendJson } from './json-http.js'
import { admitRequest } from './room-request.js'
import { allowMethods, clientGone, type RoomRoutes } from './rooms-api.js'

export interface MutationRoutesDeps {
  access: AccessControl
  /** The relay's mutations; null when it has none (every name is then a 404). */
  runner: MutationRunner | null
  limits: Pick<Limits, 'maxHttpBodyBytes'>
}

const STATUS: Record<
  MutationFailure['code'],
  [number, 'not_found' | 'invalid_args' | 'mutation_failed' | 'lock_timeout' | 'over_limit' | 'unavailable']
> = {
  no_such_mutation: [404, 'not_found'],
  invalid_args: [422, 'invalid_args'],
  mutation_failed: [422, 'mutation_failed'],
  lock_timeout: [409, 'lock_timeout'],
  over_limit: [429, 'over_limit'],
  unavailable: [503, 'unavailable']
}

/** A mutation's failure as the contract's answer. */
const httpErrorOf = (f: MutationFailure): HttpError => {
  const [status, code] = STATUS[f.code]
  return new HttpError(status, code, f.message, status === 503 || status === 429 ? { 'retry-after': '1' } : {})
}

export const mutationRoutes =
  (deps: MutationRoutesDeps): RoomRoutes =>
  async (call) => {
    const { req, res, route } = call
    const [, name, ...extra] = route.rest
    if (name === undefined || name === '' || extra.length > 0)
      throw new HttpError(404, 'not_found', 'a mutation is called at /rooms/<room>/mutations/<name>')
    allowMethods(req.method, ['POST'])
    call.label = `${req.method} /mutations/:name`
    const grant = await admitRequest(deps.access, req, route.room, 'write')
    const args = (await readJson(req, deps.limits.maxHttpBodyBytes)) ?? null
    if (!deps.runner) throw new HttpError(404, 'not_found', 'this relay runs no mutations')
    try {
      const result = await deps.runner.run(
        route.room,
        name,
        args,
        { ...(grant.user ? { user: grant.user } : {}), via: 'http' },
        clientGone(res)
      )
      sendJson(res, 200, { result })
    } catch (err) {
      throw err instanceof MutationFailure ? httpErrorOf(err) : err
    }
  }

/**
 * The `rawWrites` check of the key and lease routes: throws 403 `mutation_only` for a key that
 * `isMutationOnly` says only mutations may write.
 */
export const refuseMutationOnly =
  (isMutationOnly: (key: string) => boolean) =>
  (_room: string, keys: readonly string[]): void => {
    const key = keys.find(isMutationOnly)
    if (key !== undefined)
      throw new HttpError(
        403,
        'mutation_only',
        `"${key.slice(0, 200)}" is written by server mutations only: POST /rooms/<room>/mutations/<name>`
      )
  }
