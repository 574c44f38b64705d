/**
 * The context through which a provider higher in the tree hands its session to the elements
 * below it, so that they share one connection. Any `@lit/context` provider of it works; the
 * ready-made one is `<server-state-provider>`.
 *
 * A provider answers with its session, or with the Error that stops it from having one (an
 * invalid room: the elements below show it), or with undefined while it has neither yet (the
 * elements below wait for it). Only an element that no provider answers takes the default room.
 *
 * @example
 *   import { ContextProvider } from '@lit/context'
 *   import { connect } from 'y-server-state'
 *   new ContextProvider(hostElement, { context: sessionContext, initialValue: connect({ room: 'lobby' }) })
 */
import { createContext } from '@lit/context'
import type { ServerState } from '../client/index.js'

export const sessionContext = createContext<ServerState | Error | undefined>(Symbol.for('y-server-state/session'))
