/**
 * The React provider of a session, and the hook that returns it.
 *
 * `<ServerStateProvider url room>` gives its subtree the page's shared session of that url and
 * room (the one the Lit elements use too: one connection per url and room, closed once nothing
 * holds it); `<ServerStateProvider session={mine}>` gives a session you made (yours to close).
 *
 * - It connects in an effect, never while rendering: a server render (`renderToString`, Next.js,
 *   Remix) opens no socket and leaves nothing running, a render React abandons (a suspended
 *   transition) opens nothing, and no session's event (a presence announcement over the
 *   BroadcastChannel) can update another component while this one renders.
 * - Until the effect has run, which includes the server render and the hydrating render, there
 *   is no session: `useServerSession()` returns null, `useServerState(key)` returns
 *   `initialState[key]` (undefined without one), `useServerStatus()` says `connecting`, not
 *   synced. The hydrating render thus matches the server's HTML.
 * - StrictMode's second mount keeps the same session; unmounting releases it, and it closes a
 *   task later, once the locks and flushes asked of it have settled.
 * - An invalid `room` throws a TypeError while rendering, on the server as in the browser.
 * - Changing `url` or `room` moves the subtree to the other session: hooks resubscribe.
 *
 * @example
 *   import { ServerStateProvider, useServerState, useLock } from 'y-server-state/react'
 *
 *   function Counter() {
 *     const count = useServerState<number>('count') ?? 0
 *     const lock = useLock()
 *     const increment = () => lock('count', (s) => { s.count = (s.count ?? 0) + 1 })
 *     return <button onClick={increment}>Count = {count}</button>
 *   }
 *   root.render(<ServerStateProvider room="default"><Counter /></ServerStateProvider>)
 */
import { createElement, useCallback, useEffect, useMemo, useRef, useState, type ReactNode } from 'react'
import type { PresenceState, ServerState } from '../client/index.js'
import { roomNameProblem } from '../protocol/room-names.js'
import { acquireSession } from '../components/session-registry.js'
import { SessionContext, useProvided, type Provided } from './context.js'

// biome-ignore lint/suspicious/noExplicitAny: the public default, as `ServerState`'s, lets an untyped `session` be given
export interface ServerStateProviderProps<S extends object = Record<string, any>> {
  /** The relay, `ws://host:port`; default the page's own. Ignored when `session` is given. */
  url?: string
  /** The room; default `default`. Ignored when `session` is given. */
  room?: string
  /** A session of your own to provide, instead of the shared one of `url` and `room`. */
  session?: ServerState<S>
  /**
   * The state to show until the session has synced: what the server rendered with (read by the
   * server from the relay, say), so that the first paint has the values and hydration matches.
   */
  initialState?: Partial<S>
  children?: ReactNode
}

/** A promise and its resolve function. */
const deferred = <T>() => {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => {
    resolve = r
  })
  return { promise, resolve }
}

// biome-ignore lint/suspicious/noExplicitAny: the public default, as `ServerState`'s, lets an untyped `session` be given
export const ServerStateProvider = <S extends object = Record<string, any>>({
  url,
  room,
  session,
  initialState,
  children
}: ServerStateProviderProps<S>): ReactNode => {
  const u = url || undefined
  const r = room || undefined
  const problem = session || r === undefined ? null : roomNameProblem(r)
  if (problem !== null) throw new TypeError(`<ServerStateProvider>: invalid room name ${JSON.stringify(r)}: ${problem}`)
  const id = JSON.stringify([u ?? null, r ?? 'default'])
  // The shared session of `id`, set by the effect; a session of another id is not shown.
  const [shared, setShared] = useState<{ id: string; session: ServerState } | null>(null)
  // What `whenSession` waits on while this id has no session yet.
  // biome-ignore lint/correctness/useExhaustiveDependencies: deliberate: a new gate for each id or given session, so `whenSession` never answers with another room's session
  const gate = useMemo(() => deferred<ServerState>(), [id, session])
  const presence = useRef<Partial<PresenceState> | null>(null)
  useEffect(() => {
    if (session) return
    const lease = acquireSession(u, r)
    setShared({ id, session: lease.session })
    return () => lease.release()
  }, [session, u, r, id])
  const current = (session as ServerState | undefined) ?? (shared?.id === id ? shared.session : null)
  useEffect(() => {
    if (!current) return
    gate.resolve(current)
    const fields = presence.current
    presence.current = null
    if (fields && !current.closed) current.presence.update(fields)
  }, [current, gate])
  // Stable for as long as the provider shows one url and room (or one session of yours).
  const whenSession = useCallback(() => gate.promise, [gate])
  const value = useMemo(
    (): Provided => ({
      session: current,
      initialState: initialState as Provided['initialState'],
      whenSession,
      updatePresence: (fields) => {
        // A closed session has no presence to update (it left every list).
        if (current) {
          if (!current.closed) current.presence.update(fields)
        } else presence.current = { ...presence.current, ...fields }
      }
    }),
    [current, initialState, whenSession]
  )
  return createElement(SessionContext.Provider, { value }, children)
}

/**
 * The session of the nearest `<ServerStateProvider>`, or null while it has none (on the server,
 * and until its effect has connected). Throws without a provider.
 */
export const useServerSession = (): ServerState | null => useProvided('useServerSession').session
