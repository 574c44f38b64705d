/**
 * The original's module-level API over one default session, so that a streamlit-server-state
 * script translates line for line.
 *
 * @example
 *   import { configure, serverState, serverStateLock } from 'y-server-state'
 *   configure({ url: 'ws://127.0.0.1:1234', room: 'default' })
 *   await serverStateLock.count(() => { if (!('count' in serverState)) serverState.count = 0 })
 *   await serverStateLock['count'](() => { serverState.count += 1 })
 */
import { connect, type ConnectOptions, type ServerState } from './session.js'
import type { LockOptions } from './lock.js'

let session: ServerState | null = null

const current = (): ServerState => {
  if (!session) throw new Error('y-server-state: call configure({ url, room }) before using serverState')
  return session
}

/** Connects the default session; a second call closes the previous one first. */
export const configure = (options: ConnectOptions = {}): ServerState => {
  session?.close()
  session = connect(options)
  return session
}

/** The default session itself, for `ready`, `flush`, `status` and the rest. */
export const defaultSession = (): ServerState => current()

/** The default session's state: `serverState.count`, `'count' in serverState`, `delete serverState.count`. */
// biome-ignore lint/suspicious/noExplicitAny: untyped like `connect()`'s default, so plain JavaScript-style `serverState.count += 1` type-checks
export const serverState: Record<string, any> = new Proxy(
  {},
  {
    get: (_, p) => Reflect.get(current().state, p),
    set: (_, p, v) => Reflect.set(current().state, p, v),
    has: (_, p) => Reflect.has(current().state, p),
    deleteProperty: (_, p) => Reflect.deleteProperty(current().state, p),
    ownKeys: () => Reflect.ownKeys(current().state),
    getOwnPropertyDescriptor: (_, p) => Reflect.getOwnPropertyDescriptor(current().state, p)
  }
)

// biome-ignore lint/suspicious/noExplicitAny: the default session is untyped, so the state handed to `fn` is too (as `serverState`)
export type KeyLock = <R>(fn: (state: Record<string, any>) => R, options?: LockOptions) => Promise<R>

const keyLocks = new Map<string, KeyLock>()

/**
 * A lock a key: `serverStateLock.count(fn)` and `serverStateLock['count'](fn)` are one function,
 * `lock('count', fn)` on the default session.
 */
export const serverStateLock: Record<string, KeyLock> = new Proxy(
  {},
  {
    get: (_, p) => {
      if (typeof p !== 'string') return undefined
      let lock = keyLocks.get(p)
      if (!lock) {
        lock = (fn, options) => current().lock(p, fn, options)
        keyLocks.set(p, lock)
      }
      return lock
    }
  }
)

export const noRerun = <R>(fn: () => R): R => current().noRerun(fn)

export const forceRerunBoundSessions = (key: string): void => current().forceRerunBoundSessions(key)
