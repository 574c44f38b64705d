/**
 * Presence hooks, on the provider's session's `presence` (see client/presence.ts):
 *
 * - `useSelf()`: this session's own presence state, `{}` until set, null after `clear()` or
 *   without a session (on the server, before connecting).
 * - `useOthers()`: the other sessions' presence, `{ clientId, state, self: false }`, by client
 *   id. The array is the same until one of *them* changes: setting one's own presence does not
 *   re-render its readers.
 * - `useUpdatePresence()`: a stable function that merges fields into this session's presence (a
 *   closed session's is left alone). It re-renders nothing by itself, and fields given before the
 *   provider has connected are applied once it has.
 * - `usePresence()`: everyone's, this session first, as `server.presence.list()` gives it.
 *
 * @example
 *   function Nickname() {
 *     const update = useUpdatePresence()
 *     return <input onChange={(e) => update({ nickname: e.target.value })} />
 *   }
 *   function Online() {
 *     const others = useOthers()
 *     return <p>{others.map((p) => String(p.state.nickname ?? '?')).join(', ')}</p>
 *   }
 */
import { useCallback, useMemo, useSyncExternalStore } from 'react'
import { untracked, type PresenceEntry, type PresenceState, type ServerState } from '../client/index.js'
import { useProvided } from './context.js'

const NONE: readonly PresenceEntry[] = Object.freeze([])

/** A presence store over `read`, kept while `same(previous, next)` says nothing changed. */
const presenceSource = <T>(server: ServerState | null, read: (server: ServerState) => T, empty: T, same: (a: T, b: T) => boolean) => {
  let last: T = empty
  return {
    subscribe: (onChange: () => void) => (server ? server.presence.subscribe(onChange) : () => {}),
    getSnapshot: (): T => {
      if (!server) return empty
      const next = untracked(server, () => read(server))
      if (!same(last, next)) last = next
      return last
    }
  }
}

/** Whether two lists of others hold the same sessions with the same (frozen, so identical) states. */
const sameEntries = (a: readonly PresenceEntry[], b: readonly PresenceEntry[]): boolean =>
  a.length === b.length && a.every((e, i) => e.clientId === b[i]!.clientId && e.state === b[i]!.state)

const useStore = <T>(source: { subscribe: (f: () => void) => () => void; getSnapshot: () => T }, empty: T): T =>
  useSyncExternalStore(source.subscribe, source.getSnapshot, () => empty)

export const usePresence = (): readonly PresenceEntry[] => {
  const { session } = useProvided('usePresence')
  const source = useMemo(() => presenceSource(session, (s) => s.presence.list(), NONE, Object.is), [session])
  return useStore(source, NONE)
}

export const useOthers = (): readonly PresenceEntry[] => {
  const { session } = useProvided('useOthers')
  const source = useMemo(
    () => presenceSource(session, (s) => Object.freeze(s.presence.list().filter((p) => !p.self)), NONE, sameEntries),
    [session]
  )
  return useStore(source, NONE)
}

export const useSelf = (): PresenceState | null => {
  const { session } = useProvided('useSelf')
  const source = useMemo(() => presenceSource<PresenceState | null>(session, (s) => s.presence.mine, null, Object.is), [session])
  return useStore(source, null)
}

export const useUpdatePresence = (): ((fields: Partial<PresenceState>) => void) => {
  const { updatePresence } = useProvided('useUpdatePresence')
  return useCallback((fields) => updatePresence(fields), [updatePresence])
}
