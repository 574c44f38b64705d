/**
 * `useLock()`: the provider's session's `lock`, as a function that works from the first render
 * on. Called before the provider has connected (from a child's mount effect, which runs before
 * the provider's), it waits for the session, then locks. The function is the same for as long as
 * the provider shows one url and room, so an effect that depends on it runs once, not again when
 * the session arrives.
 *
 * @example
 *   const lock = useLock()
 *   useEffect(() => { void lock('count', (s) => { if (!('count' in s)) s.count = 0 }) }, [lock])
 *   const increment = () => lock('count', (s) => { s.count = (s.count ?? 0) + 1 })
 */
import { useCallback, useEffect, useRef } from 'react'
import type { LockOptions } from '../client/index.js'
import { useProvided } from './context.js'

/** A session's `lock(keys, fn, options)`. */
// biome-ignore lint/suspicious/noExplicitAny: the public default, as `ServerState`'s, lets untyped users write `s.count` in `fn`
export type LockFunction<S extends object = Record<string, any>> = <R>(
  keys: (keyof S & string) | ReadonlyArray<keyof S & string>,
  fn: (state: S) => R,
  options?: LockOptions
) => Promise<R>

export const useLock = (): LockFunction => {
  const { session, whenSession } = useProvided('useLock')
  const latest = useRef(session)
  useEffect(() => {
    latest.current = session
  }, [session])
  return useCallback<LockFunction>(
    (keys, fn, options) => {
      // At once when there is a session: a lock asked for inside noRerun() is quiet.
      const now = latest.current
      return now ? now.lock(keys, fn, options) : whenSession().then((s) => s.lock(keys, fn, options))
    },
    [whenSession]
  )
}
