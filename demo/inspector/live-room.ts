/**
 * One room as the inspector sees it live, through the project's own client: a session of the
 * room (`connect()`, BroadcastChannel off, so it shows the relay's state and not another tab's)
 * whose keys, values, versions, list lengths and presence are read under `watch`, so a change in
 * any session calls `onChange` with a new snapshot, once a transaction.
 *
 * - The session hides its own presence before its socket opens: the inspector is not listed in
 *   the room's presence, nor in the chat's "online" line. (It still counts as a connection.)
 * - It never writes. Give it a read-only token where tokens are required.
 * - A key's version is its force count (`server.version(key)`: `forceRerunBoundSessions` calls,
 *   summed over sessions); `list` is true for a Y.Array (a list appended to), false for a JSON array.
 *
 * @example
 *   const live = watchRoom({ room: 'default', token }, (snap) => render(snap))
 *   live.close()
 */
import * as Y from 'yjs'
import { connect, type Access, type Json, type PresenceEntry, type Status } from '../../client/index.js'
import { STATE } from '../../protocol/doc-names.js'

export interface KeyRow {
  key: string
  value: Json | undefined
  /** Whether the key holds a Y.Array (a list that `append` grows). */
  list: boolean
  version: number
}

export interface LiveSnapshot {
  room: string
  status: Status
  access: Access
  user: string | undefined
  /** Whether the first sync with the relay is done. */
  synced: boolean
  keys: KeyRow[]
  presence: readonly PresenceEntry[]
  /** Why the session ended (a refused token, a bad room name), or null. */
  error: string | null
}

export interface WatchOptions {
  room: string
  url?: string
  token?: string
  /** A WebSocket class where there is none (Node). */
  WebSocketPolyfill?: unknown
}

/** Watches `room`; `onChange` is called now and after every change. */
export const watchRoom = (options: WatchOptions, onChange: (snapshot: LiveSnapshot) => void): { close(): void } => {
  let error: string | null = null
  let synced = false
  let server: ReturnType<typeof connect>
  try {
    server = connect({
      room: options.room,
      broadcastChannel: false,
      ...(options.url !== undefined ? { url: options.url } : {}),
      ...(options.token ? { token: options.token } : {}),
      ...(options.WebSocketPolyfill ? { WebSocketPolyfill: options.WebSocketPolyfill } : {})
    })
  } catch (err) {
    onChange({
      room: options.room,
      status: 'disconnected',
      access: 'read',
      user: undefined,
      synced: false,
      keys: [],
      presence: [],
      error: (err as Error).message
    })
    return { close: () => {} }
  }
  server.presence.clear()
  const state = server.doc.getMap<unknown>(STATE)

  const snapshot = (): LiveSnapshot => ({
    room: server.room,
    status: server.status,
    access: server.access,
    user: server.user,
    synced,
    keys: server
      .keys()
      .sort()
      .map((key) => ({
        key,
        value: server.get(key) as Json | undefined,
        list: state.get(key) instanceof Y.Array,
        version: server.version(key)
      })),
    presence: server.presence.list(),
    error
  })
  let closed = false
  const push = () => {
    if (!closed) onChange(snapshot())
  }
  const stopWatch = server.watch(push)
  const stopStatus = server.onStatus(push)
  const stopAccess = server.onAccess(push)
  server.ready.then(
    () => {
      synced = true
      push()
    },
    (err: Error) => {
      error = err.message
      push()
    }
  )

  return {
    close: () => {
      closed = true
      stopWatch()
      stopStatus()
      stopAccess()
      server.close()
    }
  }
}
