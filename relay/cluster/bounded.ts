/**
 * A wait on Redis or PostgreSQL with an end: a dependency that hangs (stopped, not refusing)
 * must read as down within a bounded time, so that sessions get 1013 and `/healthz` 503 rather
 * than wait with it. The promise itself is not cancelled; its outcome is dropped once late.
 *
 * @example
 *   await bounded(redis.ping(), 2_000, 'Redis PING') // rejects with UnavailableError after 2 s
 */
import { UnavailableError } from '../store/unavailable.js'

export const bounded = <T>(promise: Promise<T>, ms: number, what: string): Promise<T> =>
  new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new UnavailableError(`${what}: no answer within ${ms} ms`)), ms)
    timer.unref?.()
    promise.then(
      (v) => {
        clearTimeout(timer)
        resolve(v)
      },
      (e) => {
        clearTimeout(timer)
        reject(e)
      }
    )
  })
