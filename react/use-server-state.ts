/**
 * `useServerState(key)`: the value of `key` in the provider's session, re-rendering the component
 * when the key changes in any session (or is forced with `forceRerunBoundSessions`), and never
 * for another key. Built on `useSyncExternalStore`, so it is safe under concurrent rendering.
 *
 * - The value is frozen (as `server.get` returns it), and the same object until the key changes:
 *   the snapshot is stable, so a render that React repeats reads the same value.
 * - While mounted, the component holds one subscription to `key` (one tracker bound to it); a
 *   new `key` moves it, and unmounting drops it.
 * - Writes go through the session: `useServerSession().set(key, value)`, or `lock` for an exact
 *   read-modify-write.
 *
 * @example
 *   const messages = useServerState<ChatMessage[]>('chat') ?? []
 */
import { useMemo, useSyncExternalStore } from 'react'
import { untracked, type Json, type ServerState } from '../client/index.js'
import { useServerSession } from './provider.js'

interface Snapshot<T> {
  readonly value: T | undefined
  readonly version: number
}

/** A key as an external store: a new snapshot only when its value or its force count changed. */
const keySource = <T>(server: ServerState, key: string) => {
  let last: Snapshot<T> | null = null
  return {
    subscribe: (onChange: () => void) => server.subscribe(key, onChange),
    getSnapshot: (): Snapshot<T> => {
      const [value, version] = untracked(server, () => [server.get(key) as T | undefined, server.version(key)] as const)
      if (!last || last.value !== value || last.version !== version) last = { value, version }
      return last
    }
  }
}

export const useServerState = <T = Json>(key: string): T | undefined => {
  const server = useServerSession()
  const source = useMemo(() => keySource<T>(server, key), [server, key])
  return useSyncExternalStore(source.subscribe, source.getSnapshot, source.getSnapshot).value
}
