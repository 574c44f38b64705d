/**
 * The relay's inspector API: read-only JSON about what a room's doc does not hold (its
 * connections and its locks) and about the relay (its rooms and metrics). The relay serves it
 * (relay/http/inspector-api.ts) and the inspector page reads it (demo/inspector/); these are the
 * shapes both sides agree on.
 *
 * | route | answer |
 * | --- | --- |
 * | `GET /api/rooms` | {@link InspectorOverview}: the rooms in memory, with counts, and the relay's metrics |
 * | `GET /api/rooms/<room>` | {@link InspectedRoom}: the room's connections and locks |
 *
 * `<room>` is the room's name as a URL path carries it (`roomPath`: `my%20room`, `org/doc-1`),
 * decoded as the relay decodes a WebSocket path. Times are ms since the epoch on the relay's
 * clock; `at` is when the answer was made, so `at - since` is how long, whatever the reader's
 * clock says. With access control on, a request carries an inspector token (`?token=` or
 * `Authorization: Bearer`): see relay/access/inspector-access.ts.
 *
 * @example
 *   const res = await fetch(roomApiPath('team/a b'), { headers: { authorization: `Bearer ${token}` } })
 *   const room = (await res.json()) as InspectedRoom
 *   for (const lock of room.locks) console.log(lock.key, lock.holder?.user, `${room.at - lock.holder!.requestedAt} ms`)
 */
import type { Access } from './messages.js'
import { roomPath } from './room-names.js'

/** The route of the overview; a room's route is below it. */
export const ROOMS_API = '/api/rooms'

/** Where the inspector page is served. */
export const INSPECT_PAGE = '/inspect'

/** The route of `room`'s details. */
export const roomApiPath = (room: string): string => `${ROOMS_API}/${roomPath(room)}`

/** One room in the overview. */
export interface RoomSummary {
  name: string
  /** False while it loads from the store. */
  loaded: boolean
  /** Its open connections. */
  connections: number
  /** Keys whose lock is held, and lock requests waiting. */
  locks: { held: number; waiting: number }
}

/** `GET /api/rooms`. */
export interface InspectorOverview {
  at: number
  rooms: RoomSummary[]
  /**
   * The relay's metrics as `GET /metrics` renders them, by sample name without the `yss_`
   * prefix: `connections`, `messages_in_total`, `refused_total{code="4401"}`, …
   */
  metrics: Record<string, number>
}

/** One connection to a room. */
export interface InspectedConnection {
  /** The relay's id of the connection (also in its log lines as `conn`). */
  id: number
  /** Who its credentials say it is (a token's `sub`), or null. */
  user: string | null
  access: Access
  /** When the relay accepted its socket. */
  since: number
}

/** One lock request, held or waiting. */
export interface InspectedRequest {
  /** The connection that asked ({@link InspectedConnection.id}) and its user. */
  connection: number
  user: string | null
  /** The request's id on that connection. */
  request: number
  /** Every key it asked for, taken one at a time in this order. */
  keys: string[]
  requestedAt: number
  /** When it came to hold all its keys; null while it still waits for one. */
  grantedAt: number | null
}

/** One key's lock. */
export interface InspectedLock {
  key: string
  /** The request that holds the key (it may still wait for a later key of its own: `grantedAt` null). */
  holder: InspectedRequest | null
  /** The requests that wait for it, first in line first. */
  waiting: InspectedRequest[]
}

/** `GET /api/rooms/<room>`. A room that is not in memory has no connections and no locks. */
export interface InspectedRoom {
  at: number
  name: string
  loaded: boolean
  connections: InspectedConnection[]
  locks: InspectedLock[]
}

/** The body of every answer that is not 200. */
export interface InspectorError {
  error: string
}
