/**
 * `y-server-state`: server-wide state shared by every session of a room, for browsers and Node.
 *
 * @example
 *   import { connect } from 'y-server-state'
 *   const server = connect<{ count: number }>({ url: 'ws://127.0.0.1:1234' })
 *   await server.ready
 *   await server.lock('count', (s) => { s.count = (s.count ?? 0) + 1 })
 */
export { connect, ServerState, KEYS, type ConnectOptions, type Status, type Access } from './session.js'
export type { TokenOption } from './access.js'
export { Tracker, type ChangeListener } from './tracker.js'
export { subscribeTo, untracked, type TrackerHost } from './subscription.js'
export type { KeyStore, Subscriber } from './key-store.js'
export { Presence, PRESENCE, type PresenceEntry, type PresenceState } from './presence.js'
export type { LockOptions } from './lock.js'
export type { Json } from '../protocol/json.js'
export {
  RerunSuppressedError,
  LockTimeoutError,
  LockLostError,
  SessionClosedError,
  ReadOnlyError,
  MutationOnlyError,
  MutationError,
  type MutationErrorCode
} from './errors.js'
export {
  configure,
  defaultSession,
  serverState,
  serverStateLock,
  noRerun,
  forceRerunBoundSessions,
  type KeyLock
} from './default-session.js'
