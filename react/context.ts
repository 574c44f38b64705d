/**
 * What a `<ServerStateProvider>` hands its subtree: the session once it has one (never during a
 * server render or the hydrating render, which connect nothing), the `initialState` the server
 * rendered with, and the means to wait for a session that is not there yet. The hooks read it
 * with {@link useProvided}; applications use the hooks, not this.
 *
 * @example
 *   const { session, initialState } = useProvided('useServerState')
 *   const value = session ? session.get(key) : initialState?.[key]
 */
import { createContext, useContext } from 'react'
import type { PresenceState, ServerState } from '../client/index.js'

export interface Provided {
  /** The session; null on the server and until the provider's effect has connected. */
  readonly session: ServerState | null
  /** The values to show until the session has synced (what the server rendered with). */
  readonly initialState: Readonly<Record<string, unknown>> | undefined
  /** Resolves with the provider's session once it has one; the same function for one url and room. */
  readonly whenSession: () => Promise<ServerState>
  /** Merges presence fields asked for before the session exists; applied once it does. */
  readonly updatePresence: (fields: Partial<PresenceState>) => void
}

export const SessionContext = createContext<Provided | null>(null)

/** The nearest provider's value; `hook` names the caller in the error thrown without a provider. */
export const useProvided = (hook: string): Provided => {
  const provided = useContext(SessionContext)
  if (!provided) throw new Error(`${hook}(): no <ServerStateProvider> above this component`)
  return provided
}

/** Whether this code runs where there is no DOM (a server render). */
export const onServer = (): boolean => typeof (globalThis as { document?: unknown }).document === 'undefined'
