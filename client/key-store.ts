/**
 * A store per key that follows the Svelte store contract, so that Svelte (`$count`), Vue (a
 * small composable), Solid (`from(store)`) and anything else that speaks it can use a key as it is.
 *
 * - `subscribe(run)` calls `run` at once with the current value, then with the new value after
 *   each change of the key in any session (and each forced re-run of it); it returns the
 *   function that unsubscribes. Each subscriber is one tracker bound to the key.
 * - `set(value)` is `server.set(key, value)`: checked as JSON, free when equal.
 * - `update(fn)` sets `fn(current)`. It is not locked: for an exact read-modify-write across
 *   sessions, use `server.lock(key, fn)`.
 * - `get()` reads the value without binding anything.
 *
 * @example
 *   const count = server.store('count')
 *   const stop = count.subscribe((n) => console.log('Count =', n)) // logs now, then on each change
 *   count.set(1)
 *   stop()
 */
import { subscribeTo, untracked, type TrackerHost } from './subscription.js'

/** The subscriber of a {@link KeyStore}: called with the key's value (undefined while unset). */
export type Subscriber<T> = (value: T | undefined) => void

export interface KeyStore<T> {
  /** Calls `run` now and after each change; returns the unsubscribe function. */
  subscribe(run: Subscriber<T>): () => void
  /** Sets the key (a deep-equal value changes nothing). */
  set(value: T): void
  /** Sets the key to `fn(current value)`; not locked. */
  update(fn: (value: T | undefined) => T): void
  /** The current value, binding nothing. */
  get(): T | undefined
}

/** What a key store needs from a session (its `get` and `set`). */
export interface KeyHost extends TrackerHost {
  get(key: string): unknown
  set(key: string, value: never): void
}

/** The key's value after each change, and not now. See {@link subscribeTo}. */
export const subscribeKey = <T>(
  host: KeyHost,
  key: string,
  listener: Subscriber<T>,
  options: { immediate?: boolean } = {}
): (() => void) => {
  if (typeof key !== 'string') throw new TypeError('server state keys are strings')
  return subscribeTo(host, () => host.get(key) as T | undefined, listener, options)
}

export const keyStore = <T>(host: KeyHost, key: string): KeyStore<T> => {
  if (typeof key !== 'string') throw new TypeError('server state keys are strings')
  const get = () => untracked(host, () => host.get(key) as T | undefined)
  return {
    subscribe: (run) => subscribeKey(host, key, run, { immediate: true }),
    set: (value) => host.set(key, value as never),
    update: (fn) => host.set(key, fn(get()) as never),
    get
  }
}
