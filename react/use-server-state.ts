/**
 * `useServerState(key)`: the value of `key` in the provider's session, re-rendering the component
 * when the key changes in any session (or is forced with `forceRerunBoundSessions`), and never
 * for another key. Built on `useSyncExternalStore`, so it is safe under concurrent rendering.
 *
 * - The value is frozen (as `server.get` returns it), and the same object until the key changes:
 *   the snapshot is stable, so a render that React repeats reads the same value.
 * - Until the session has synced with the relay (on the server, in the hydrating render, while
 *   connecting) it is the provider's `initialState[key]`, undefined without one: what the server
 *   rendered, so hydration matches. `useServerStatus().synced` tells "not loaded" from "not set";
 *   `useServerStateSuspense(key)` suspends instead.
 * - While mounted, the component holds one subscription to `key` (one tracker bound to it); a
 *   new `key` moves it, and unmounting drops it.
 * - Writes go through the session: `useLock()`, or `useServerSession()?.set(key, value)`.
 *
 * @example
 *   const messages = useServerState<ChatMessage[]>('chat') ?? []
 */
import { useMemo, useSyncExternalStore } from 'react'
import { untracked, type Json, type ServerState } from '../client/index.js'
import { useProvided } from './context.js'
import { hasSynced } from './use-server-status.js'

interface Snapshot<T> {
  readonly value: T | undefined
  readonly version: number
}

const NOTHING = (): (() => void) => () => {}

/**
 * A key as an external store: a new snapshot only when its value or its force count changed, or
 * when the session first synced (the initial value gives way to the room's).
 */
const keySource = <T>(server: ServerState | null, key: string, initial: T | undefined) => {
  const before: Snapshot<T> = { value: initial, version: 0 }
  let last: Snapshot<T> | null = null
  return {
    subscribe: server
      ? (onChange: () => void) => {
          const stopKey = server.subscribe(key, onChange)
          const stopStatus = server.onStatus(onChange)
          return () => {
            stopKey()
            stopStatus()
          }
        }
      : NOTHING,
    getServerSnapshot: (): Snapshot<T> => before,
    getSnapshot: (): Snapshot<T> => {
      if (!server || !hasSynced(server)) return before
      const [value, version] = untracked(server, () => [server.get(key) as T | undefined, server.version(key)] as const)
      if (!last || last.value !== value || last.version !== version) last = { value, version }
      return last
    }
  }
}

export const useServerState = <T = Json>(key: string): T | undefined => {
  const { session, initialState } = useProvided('useServerState')
  const initial = initialState?.[key] as T | undefined
  const source = useMemo(() => keySource<T>(session, key, initial), [session, key, initial])
  return useSyncExternalStore(source.subscribe, source.getSnapshot, source.getServerSnapshot).value
}
