/**
 * The shared sessions of a page: one connection per (url, room), however many elements show it.
 * Each element holds a lease; the session closes once the last lease is released and no element
 * took it back before the next task (so moving an element within the page keeps the connection).
 *
 * @example
 *   const lease = acquireSession(undefined, 'default') // the page's own relay
 *   lease.session.get('count')
 *   lease.release()
 */
import { connect, type ServerState } from '../client/index.js'

/** A hold on a shared session. `release` is idempotent. */
export interface SessionLease {
  readonly session: ServerState
  release(): void
}

interface Entry {
  session: ServerState
  users: number
  closing?: ReturnType<typeof setTimeout>
}

const entries = new Map<string, Entry>()

/**
 * The shared session of `url` (default: the page's own relay) and `room` (default `default`).
 * Throws a TypeError for an invalid room name, like `connect()`.
 */
export const acquireSession = (url?: string, room?: string): SessionLease => {
  const id = JSON.stringify([url ?? null, room ?? 'default'])
  let entry = entries.get(id)
  if (!entry || entry.session.closed) {
    entry = { session: connect({ url, room }), users: 0 }
    entries.set(id, entry)
  }
  const held = entry
  clearTimeout(held.closing)
  held.users++
  let released = false
  return {
    session: held.session,
    release: () => {
      if (released) return
      released = true
      if (--held.users > 0) return
      held.closing = setTimeout(() => {
        if (held.users > 0) return
        if (entries.get(id) === held) entries.delete(id)
        held.session.close()
      }, 0)
    }
  }
}
