/**
 * The React provider of a session, and the hook that reads it.
 *
 * `<ServerStateProvider url room>` gives its subtree the page's shared session of that url and
 * room (the one the Lit elements use too: one connection per url and room, closed once nothing
 * holds it); `<ServerStateProvider session={mine}>` gives a session you made (yours to close).
 * `useServerSession()` returns it; the other hooks read from it.
 *
 * - The provider holds its session from its commit to its unmount. A render that is never
 *   committed holds it only until the next task, so an abandoned render leaks no connection;
 *   StrictMode's second mount keeps the same session.
 * - An invalid `room` throws a TypeError while rendering, as `connect()` does.
 * - Changing `url` or `room` moves the subtree to the other session: hooks resubscribe.
 *
 * @example
 *   import { ServerStateProvider, useServerSession, useServerState } from 'y-server-state/react'
 *
 *   function Counter() {
 *     const server = useServerSession()
 *     const count = useServerState<number>('count') ?? 0
 *     const increment = () => server.lock('count', (s) => { s.count = (s.count ?? 0) + 1 })
 *     return <button onClick={increment}>Count = {count}</button>
 *   }
 *   root.render(<ServerStateProvider room="default"><Counter /></ServerStateProvider>)
 */
import { createContext, createElement, useContext, useLayoutEffect, useMemo, useState, type ReactNode } from 'react'
import type { ServerState } from '../client/index.js'
import { acquireSession } from '../components/session-registry.js'

const SessionContext = createContext<ServerState | null>(null)

export interface ServerStateProviderProps {
  /** The relay, `ws://host:port`; default the page's own. Ignored when `session` is given. */
  url?: string
  /** The room; default `default`. Ignored when `session` is given. */
  room?: string
  /** A session of your own to provide, instead of the shared one of `url` and `room`. */
  session?: ServerState
  children?: ReactNode
}

/** The shared session of `url` and `room`, held by nobody: it stays open until the next task unless taken. */
const peek = (url: string | undefined, room: string | undefined): ServerState => {
  const lease = acquireSession(url, room)
  lease.release()
  return lease.session
}

export const ServerStateProvider = ({ url, room, session, children }: ServerStateProviderProps): ReactNode => {
  // Bumped when the session a render peeked at closed before the commit took it.
  const [retry, setRetry] = useState(0)
  const provided = useMemo(() => session ?? peek(url || undefined, room || undefined), [session, url, room, retry])
  useLayoutEffect(() => {
    if (session) return
    const lease = acquireSession(url || undefined, room || undefined)
    if (lease.session !== provided) setRetry((n) => n + 1)
    return () => lease.release()
  }, [session, url, room, provided])
  return createElement(SessionContext.Provider, { value: provided }, children)
}

/** The session of the nearest `<ServerStateProvider>`; throws without one. */
export const useServerSession = (): ServerState => {
  const session = useContext(SessionContext)
  if (!session) throw new Error('useServerSession(): no <ServerStateProvider> above this component')
  return session
}
