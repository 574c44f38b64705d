/**
 * The context through which a provider higher in the tree hands its session to the elements
 * below it, so that they share one connection. Any `@lit/context` provider of it works; the
 * ready-made one is `<server-state-provider>`.
 *
 * @example
 *   import { ContextProvider } from '@lit/context'
 *   import { connect } from 'y-server-state'
 *   new ContextProvider(hostElement, { context: sessionContext, initialValue: connect({ room: 'lobby' }) })
 */
import { createContext } from '@lit/context'
import type { ServerState } from '../client/index.js'

export const sessionContext = createContext<ServerState | undefined>(Symbol.for('y-server-state/session'))
