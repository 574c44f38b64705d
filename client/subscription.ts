/**
 * A plain subscription, for code that is not a tracker: a listener called with a value each
 * time what it was read from changes, in any session. Built on a {@link Tracker}, so it binds
 * and is notified exactly as a Lit element or a `watch()` is, and `Bindings.count(key)` counts it.
 *
 * - `subscribeTo(host, read, listener)` runs `read` under its own tracker, then calls
 *   `listener(read())` after each change of what `read` read (once a transaction, however many
 *   of those keys changed, and once a forced re-run). It does **not** call the listener at once;
 *   pass `{ immediate: true }` for that (Svelte-store style).
 * - The listener runs outside every tracker: what it reads binds nothing, even when the change
 *   was written during some other tracker's run (a Lit render).
 * - The returned function unsubscribes: the tracker is disposed, nothing stays bound.
 *
 * @example
 *   const stop = subscribeTo(server, () => server.get('count'), (count) => console.log(count))
 *   stop()
 */
import type { ChangeListener, Tracker } from './tracker.js'

/** What a subscription needs from a session: a tracker. */
export interface TrackerHost {
  tracker(onChange: ChangeListener): Tracker
}

/** Runs `fn` binding nothing: its reads go to a throw-away tracker, not to a tracker running now. */
export const untracked = <R>(host: TrackerHost, fn: () => R): R => {
  const t = host.tracker(() => {})
  try {
    return t.run(fn)
  } finally {
    t.dispose()
  }
}

export const subscribeTo = <T>(
  host: TrackerHost,
  read: () => T,
  listener: (value: T) => void,
  options: { immediate?: boolean } = {}
): (() => void) => {
  const t: Tracker = host.tracker(() => {
    // The read runs again under the subscription's own tracker, which keeps it bound.
    const value = t.run(read)
    untracked(host, () => listener(value))
  })
  const first = t.run(read)
  if (options.immediate) {
    try {
      untracked(host, () => listener(first))
    } catch (err) {
      t.dispose()
      throw err
    }
  }
  return () => t.dispose()
}
