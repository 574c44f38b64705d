/**
 * `useServerStateSuspense(key)`: `useServerState(key)` for Suspense. It suspends until the
 * provider's session has synced with the relay, then returns the key's value (undefined means
 * "not set", never "not loaded") and re-renders on its changes as `useServerState` does.
 *
 * - Put a `<Suspense>` between the provider and the component: the provider connects in its own
 *   effect, which runs only once it has committed.
 * - With the provider's `initialState`, nothing suspends before the sync: the initial state is
 *   taken as loaded (the server read it), so a server render shows it.
 * - On the server, without `initialState`, it throws: React then renders the nearest
 *   `<Suspense>`'s fallback into the HTML and the component in the browser.
 * - If the session closes before it ever synced (an invalid room the relay refuses), it throws
 *   the session's error, for an error boundary.
 *
 * @example
 *   function Count() {
 *     const count = useServerStateSuspense<number>('count')
 *     return <p>Count = {count ?? 0}</p>
 *   }
 *   <ServerStateProvider><Suspense fallback={<p>Loading…</p>}><Count /></Suspense></ServerStateProvider>
 */
import type { Json } from '../client/index.js'
import { onServer, useProvided } from './context.js'
import { useServerState } from './use-server-state.js'
import { hasSynced } from './use-server-status.js'

export const useServerStateSuspense = <T = Json>(key: string): T | undefined => {
  const { session, initialState, whenSession } = useProvided('useServerStateSuspense')
  const value = useServerState<T>(key)
  if (initialState !== undefined || (session && hasSynced(session))) return value
  if (!session) {
    if (onServer())
      throw new Error(
        `useServerStateSuspense("${key}"): no session on the server; give the provider an initialState, or let <Suspense> render this in the browser`
      )
    throw whenSession()
  }
  if (session.closed) throw new Error(`useServerStateSuspense("${key}"): the session closed before it synced`)
  throw session.ready
}
