/**
 * `y-server-state/react`: React bindings. React (18 or later) is an optional peer dependency of
 * the package: only this entry point imports it.
 *
 * @example
 *   import { ServerStateProvider, useServerSession, useServerState, useServerStatus, usePresence } from 'y-server-state/react'
 *
 *   function Counter() {
 *     const server = useServerSession()
 *     const count = useServerState<number>('count') ?? 0
 *     return <button onClick={() => server.lock('count', (s) => { s.count = (s.count ?? 0) + 1 })}>Count = {count}</button>
 *   }
 *   root.render(<ServerStateProvider room="default"><Counter /></ServerStateProvider>)
 */
export { ServerStateProvider, useServerSession, type ServerStateProviderProps } from './provider.js'
export { useServerState } from './use-server-state.js'
export { useServerStatus } from './use-server-status.js'
export { usePresence } from './use-presence.js'
