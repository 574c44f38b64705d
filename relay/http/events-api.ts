/**
 * `GET /rooms/<room>/events`: a room's changes as Server-Sent Events (docs/http-api.md,
 * "Watching"). Admitted with read access like a socket; a `snapshot` event first (or, with the
 * `Last-Event-ID` of an event the room's feed still holds, the events since), then a `change`
 * event per changed key, each only once stored. A stream keeps its room loaded, counts against
 * `maxEventStreams` and, like a socket, `maxConnectionsPerAddress`, and ends when the room
 * unloads or fails, when its credentials expire, or when the relay shuts down.
 *
 * @example
 *   const events = eventsApi({ access, rooms, feeds, perAddress, pathPrefix: '', stream: { limits, metrics, limited, budget, pingMs: 15_000 } })
 *   if (events.matches(path)) void events.serve(req, res)
 *   events.open     // streams open now
 *   events.close()  // ends them all
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AccessControl } from '../access/access-control.js'
import type { PerAddress } from '../access/per-address.js'
import type { Feeds } from '../feed/feeds.js'
import type { RoomRegistry } from '../room/registry.js'
import type { Room } from '../room/room.js'
import { isUnavailable } from '../store/unavailable.js'
import { atTime } from '../deadline.js'
import { EventStream, type EventStreamDeps } from './event-stream.js'
import { HttpError, sendError } from './json-http.js'
import { ROOMS_PATH, admitRequest, roomRoute, type RoomRoute } from './room-request.js'

export interface EventsApiDeps {
  access: AccessControl
  rooms: RoomRegistry
  feeds: Feeds
  /** The WebSockets' count per client address: a stream is one more. */
  perAddress: PerAddress
  pathPrefix: string
  stream: EventStreamDeps
}

/** The keys a request watches (`?keys=a,b`, or `?key=a&key=b` for keys with a comma); null: every key. */
const watchedKeys = (query: URLSearchParams): Set<string> | null => {
  const keys = [...query.getAll('keys').flatMap((list) => list.split(',')), ...query.getAll('key')].filter((k) => k !== '')
  return query.has('keys') || query.has('key') ? new Set(keys) : null
}

/** The id of the last event the client got: the `Last-Event-ID` header, or `?lastEventId=` for clients that cannot set it. */
const lastEventId = (req: IncomingMessage, query: URLSearchParams): string | undefined => {
  const header = req.headers['last-event-id']
  const id = (Array.isArray(header) ? header[0] : header) ?? query.get('lastEventId') ?? undefined
  return id === '' ? undefined : id
}

const overLimit = (deps: EventsApiDeps, limit: 'maxEventStreams' | 'maxConnectionsPerAddress', what: string): HttpError => {
  deps.stream.metrics.limitHit(limit)
  deps.stream.limited.warn(`limit:${limit}`, 'event stream refused: over a limit', { limit, max: deps.stream.limits[limit] })
  return new HttpError(429, 'over_limit', `${limit}: ${what}`, { 'retry-after': '1' })
}

export const eventsApi = (deps: EventsApiDeps) => {
  const streams = new Set<EventStream>()
  /** Streams admitted whose room is loading: they count against `maxEventStreams` too. */
  let starting = 0
  const path = new RegExp(`^${deps.pathPrefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}${ROOMS_PATH}[^/]+/events$`)

  /** Opens the room of an admitted request, as a 503 or a 500 when it cannot load. */
  const openRoom = async (name: string): Promise<Room> => {
    try {
      return await deps.rooms.open(name)
    } catch (err) {
      if (isUnavailable(err)) throw new HttpError(503, 'unavailable', 'the store is unreachable; try again later', { 'retry-after': '1' })
      throw new HttpError(500, 'internal', 'the room failed to load')
    }
  }

  const stream = async (req: IncomingMessage, res: ServerResponse, route: RoomRoute): Promise<void> => {
    const grant = await admitRequest(deps.access, req, route.room, 'read')
    const { limits } = deps.stream
    if (streams.size + starting >= limits.maxEventStreams)
      throw overLimit(deps, 'maxEventStreams', `the relay serves ${limits.maxEventStreams} event streams`)
    const address = req.socket.remoteAddress
    if (!deps.perAddress.admit(address))
      throw overLimit(deps, 'maxConnectionsPerAddress', `this address holds ${limits.maxConnectionsPerAddress} connections`)
    // Counted while its room loads, so that streams asked for meanwhile see it.
    starting++
    let room: Room
    try {
      room = await openRoom(route.room)
    } catch (err) {
      deps.perAddress.release(address)
      throw err
    } finally {
      starting--
    }
    // The client may have left while the room loaded.
    if (req.destroyed || res.destroyed) return deps.perAddress.release(address)
    const release = deps.rooms.hold(room)
    const keys = watchedKeys(route.query)
    const wants = (key: string): boolean => keys === null || keys.has(key)
    const s = new EventStream(res, deps.stream, route.room)
    streams.add(s)
    deps.stream.metrics.inc('event_streams_total')
    const feed = deps.feeds.of(room)
    const after = lastEventId(req, route.query)
    let stop: (() => void) | undefined
    let stopExpiry: (() => void) | undefined
    try {
      stop = feed.watch(
        {
          snapshot: (id) => s.send('snapshot', id, feed.stateJson(wants)),
          events: (events) => {
            for (const e of events) if (wants(e.change.key) && !s.send('change', e.id, e.json)) return
          },
          ended: () => s.end()
        },
        { snapshot: true, ...(after !== undefined ? { after } : {}) }
      )
      stopExpiry = grant.expiresAt !== undefined ? atTime(grant.expiresAt, () => s.end()) : undefined
      await s.closed
    } finally {
      // Whatever went wrong, the stream's places (the relay's, its address's, its room's hold) are given back.
      s.end()
      stopExpiry?.()
      stop?.()
      release()
      streams.delete(s)
      deps.perAddress.release(address)
    }
  }

  return {
    /** Whether `path` (without its query) is an events route. */
    matches: (urlPath: string): boolean => path.test(urlPath),

    /** Answers a request whose path {@link matches}; never rejects. */
    serve: async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
      try {
        if (req.method !== 'GET') throw new HttpError(405, 'method_not_allowed', 'events are read with GET', { allow: 'GET' })
        await stream(req, res, roomRoute(req.url ?? '/', deps.pathPrefix)!)
      } catch (err) {
        sendError(res, err)
      }
    },

    /** Streams open now. */
    get open(): number {
      return streams.size
    },

    /** Ends every stream (the relay shuts down). */
    close(): void {
      for (const s of streams) s.end()
    }
  }
}
