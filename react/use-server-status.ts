/**
 * `useServerStatus()`: the provider's session's connection status (`connecting`, `connected` or
 * `disconnected`) and whether the room is loaded (`synced`: the session has received the room's
 * state from the relay at least once, so an undefined value means "not set", not "not loaded"),
 * re-rendering the component when either changes. On the server and before the provider has
 * connected: `{ status: 'connecting', synced: false }`.
 *
 * @example
 *   const { status, synced } = useServerStatus()
 *   if (!synced) return <p>Loading…</p>
 *   return <p className="status" data-status={status}>{status}</p>
 */
import { useMemo, useSyncExternalStore } from 'react'
import type { ServerState, Status } from '../client/index.js'
import { useProvided } from './context.js'

export interface ServerStatus {
  readonly status: Status
  /** Whether the session has synced with the relay at least once: its values are the room's. */
  readonly synced: boolean
}

const everSynced = new WeakSet<ServerState>()
const watched = new WeakSet<ServerState>()

/** Whether `server` has synced with the relay at least once. */
export const hasSynced = (server: ServerState): boolean => {
  if (everSynced.has(server)) return true
  if (!watched.has(server)) {
    watched.add(server)
    // For a session that synced, then lost its connection, before anyone asked.
    server.ready.then(
      () => everSynced.add(server),
      () => {}
    )
  }
  // Connected means synced: the status turns `connected` on the relay's sync step 2.
  if (server.status !== 'connected') return false
  everSynced.add(server)
  return true
}

/** One frozen object per combination, so that a snapshot is stable. */
const STATUSES = new Map<string, ServerStatus>()
const statusOf = (status: Status, synced: boolean): ServerStatus => {
  const id = `${status}:${synced}`
  let s = STATUSES.get(id)
  if (!s) {
    s = Object.freeze({ status, synced })
    STATUSES.set(id, s)
  }
  return s
}

const BEFORE = statusOf('connecting', false)

export const useServerStatus = (): ServerStatus => {
  const { session } = useProvided('useServerStatus')
  const source = useMemo(
    () => ({
      subscribe: (onChange: () => void) => (session ? session.onStatus(onChange) : () => {}),
      getSnapshot: () => (session ? statusOf(session.status, hasSynced(session)) : BEFORE)
    }),
    [session]
  )
  return useSyncExternalStore(source.subscribe, source.getSnapshot, () => BEFORE)
}
