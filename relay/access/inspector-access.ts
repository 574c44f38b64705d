/**
 * Who may use the inspector's API (protocol/inspector.ts). The rule:
 *
 * - **No access control** (a loopback relay, or `--anonymous`): anyone who can reach the relay,
 *   as anyone may then join any room.
 * - **Otherwise** a request carries credentials as a connection does (the `token` query
 *   parameter or an `Authorization: Bearer` header, or whatever the `authenticate` hook reads,
 *   such as a cookie), and the relay's own check decides (the JWT check, or the hook), asked
 *   for a room:
 *   - `GET /api/rooms/<room>`: the credentials must admit `<room>` and grant `inspect`. For a
 *     token: its `rooms` cover the room and it has the claim `"inspect": true`
 *     (`signToken({ inspect: true })`, `token --inspect`). Its `access` does not matter: make
 *     inspector tokens read-only, and the page's own connection to the room is read-only too.
 *   - `GET /api/rooms` (relay-wide: every room's name, the metrics): the check is asked for the
 *     room {@link ALL_ROOMS}, `*`: a token needs a pattern that matches `*` itself, that is
 *     `rooms: ["*"]`; a hook grants `inspect` for the room `*` to whoever may see everything.
 *
 * A token that only lets its user join a room does not let them inspect it: the inspector shows
 * every connection's user and every lock holder, which the room's members may not see otherwise.
 *
 * @example
 *   const check = inspectorAccess(access.authenticate)
 *   const verdict = await check(req, 'team/a')
 *   if (!verdict.ok) res.writeHead(verdict.status).end(verdict.reason)
 */
import type { IncomingMessage } from 'node:http'
import { CLOSE } from '../../protocol/close-codes.js'
import { runAuthenticate, type Authenticate } from './auth.js'

/** The room the relay-wide routes ask the check about. */
export const ALL_ROOMS = '*'

export type InspectVerdict = { ok: true } | { ok: false; status: 401 | 403 | 500; reason: string }

/** The check for `authenticate` (null: no access control). Never rejects. */
export const inspectorAccess =
  (authenticate: Authenticate | null) =>
  async (req: IncomingMessage, room: string): Promise<InspectVerdict> => {
    if (!authenticate) return { ok: true }
    const verdict = await runAuthenticate(authenticate, req, room)
    const what = room === ALL_ROOMS ? 'every room' : 'this room'
    if (verdict.ok) {
      if (verdict.grant.inspect === true) return { ok: true }
      return {
        ok: false,
        status: 403,
        reason: `these credentials may not inspect ${what}: an inspector token has "inspect": true (token --inspect)`
      }
    }
    if (verdict.code === CLOSE.unauthorized)
      return { ok: false, status: 401, reason: `${verdict.reason}: pass an inspector token as ?token= or Authorization: Bearer` }
    if (verdict.code === CLOSE.internalError) return { ok: false, status: 500, reason: verdict.reason }
    if (room === ALL_ROOMS)
      return {
        ok: false,
        status: 403,
        reason: `the list of rooms needs credentials for every room, as a token with rooms ["*"] (${verdict.reason})`
      }
    return { ok: false, status: 403, reason: verdict.reason }
  }
