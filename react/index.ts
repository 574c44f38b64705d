/**
 * `y-server-state/react`: React bindings. React (18 or later) is an optional peer dependency of
 * the package: only this entry point imports it. Safe to render on the server: nothing connects
 * until the provider's effect runs in the browser. See docs/frameworks.md.
 *
 * @example
 *   import { ServerStateProvider, useLock, useServerState, useServerStatus } from 'y-server-state/react'
 *
 *   function Counter() {
 *     const count = useServerState<number>('count') ?? 0
 *     const { synced } = useServerStatus()
 *     const lock = useLock()
 *     return <button disabled={!synced} onClick={() => lock('count', (s) => { s.count = (s.count ?? 0) + 1 })}>Count = {count}</button>
 *   }
 *   root.render(<ServerStateProvider room="default"><Counter /></ServerStateProvider>)
 */
export { ServerStateProvider, useServerSession, type ServerStateProviderProps } from './provider.js'
export { useServerState } from './use-server-state.js'
export { useServerStateSuspense } from './use-suspense.js'
export { useServerStatus, type ServerStatus } from './use-server-status.js'
export { useLock, type LockFunction } from './use-lock.js'
export { usePresence, useOthers, useSelf, useUpdatePresence } from './use-presence.js'
export { createServerStateHooks, type ServerStateHooks } from './typed.js'
