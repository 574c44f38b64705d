/**
 * `usePresence()`: every session's presence in the provider's session's room, this one first, as
 * `server.presence.list()` gives it (`{ clientId, state, self }`), re-rendering the component when
 * anyone's presence changes. The list is the same frozen array until something changes. Set this
 * session's own with `useServerSession().presence.set(...)` or `.update(...)`.
 *
 * @example
 *   const online = usePresence().filter((p) => typeof p.state.nickname === 'string')
 *   return <p>Online: {online.map((p) => p.state.nickname).join(', ')}</p>
 */
import { useCallback, useSyncExternalStore } from 'react'
import { untracked, type PresenceEntry } from '../client/index.js'
import { useServerSession } from './provider.js'

export const usePresence = (): readonly PresenceEntry[] => {
  const server = useServerSession()
  const subscribe = useCallback((onChange: () => void) => server.presence.subscribe(onChange), [server])
  const getSnapshot = () => untracked(server, () => server.presence.list())
  return useSyncExternalStore(subscribe, getSnapshot, getSnapshot)
}
