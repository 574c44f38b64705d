/**
 * `createServerStateHooks<Shape, Presence>()`: the hooks, typed by the shape of the room's state
 * (and of a session's presence). A key that is not in the shape, or a value of the wrong type,
 * fails to compile: `useServerState('cuont')`, `lock('count', (s) => { s.count = 'x' })`,
 * `useServerSession()?.set('count', 'x')`. The hooks are the untyped ones: nothing is checked at
 * run time, since any client may write any key.
 *
 * @example
 *   type Shape = { count: number; chat: { nickname: string; text: string }[] }
 *   export const { ServerStateProvider, useServerState, useLock } = createServerStateHooks<Shape>()
 *
 *   function Counter() {
 *     const count = useServerState('count') ?? 0      // number
 *     const lock = useLock()
 *     return <button onClick={() => lock('count', (s) => { s.count = (s.count ?? 0) + 1 })}>{count}</button>
 *   }
 */
import type { ReactNode } from 'react'
import type { PresenceEntry, PresenceState, ServerState } from '../client/index.js'
import { ServerStateProvider, useServerSession, type ServerStateProviderProps } from './provider.js'
import { useServerState } from './use-server-state.js'
import { useServerStateSuspense } from './use-suspense.js'
import { useLock, type LockFunction } from './use-lock.js'
import { useOthers, usePresence, useSelf, useUpdatePresence } from './use-presence.js'
import { useServerStatus, type ServerStatus } from './use-server-status.js'

/** The hooks of {@link createServerStateHooks}, typed by `S` (the state) and `P` (a presence). */
export interface ServerStateHooks<S extends object, P extends PresenceState> {
  ServerStateProvider: (props: ServerStateProviderProps<S>) => ReactNode
  useServerSession: () => ServerState<S> | null
  useServerState: <K extends keyof S & string>(key: K) => S[K] | undefined
  useServerStateSuspense: <K extends keyof S & string>(key: K) => S[K] | undefined
  useLock: () => LockFunction<S>
  useServerStatus: () => ServerStatus
  usePresence: () => readonly PresenceEntry<P>[]
  useOthers: () => readonly PresenceEntry<P>[]
  useSelf: () => P | null
  useUpdatePresence: () => (fields: Partial<P>) => void
}

export const createServerStateHooks = <S extends object, P extends PresenceState = PresenceState>(): ServerStateHooks<S, P> => ({
  ServerStateProvider: ServerStateProvider as ServerStateHooks<S, P>['ServerStateProvider'],
  useServerSession: useServerSession as ServerStateHooks<S, P>['useServerSession'],
  useServerState: useServerState as ServerStateHooks<S, P>['useServerState'],
  useServerStateSuspense: useServerStateSuspense as ServerStateHooks<S, P>['useServerStateSuspense'],
  useLock: useLock as unknown as ServerStateHooks<S, P>['useLock'],
  useServerStatus,
  usePresence: usePresence as ServerStateHooks<S, P>['usePresence'],
  useOthers: useOthers as ServerStateHooks<S, P>['useOthers'],
  useSelf: useSelf as ServerStateHooks<S, P>['useSelf'],
  useUpdatePresence: useUpdatePresence as ServerStateHooks<S, P>['useUpdatePresence']
})
