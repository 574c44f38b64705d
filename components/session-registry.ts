/**
 * The shared sessions of a page: one connection per (url, room), however many elements show it.
 * Each element holds a lease; the session closes once the last lease is released and no element
 * took it back before the next task (so moving an element within the page keeps the connection),
 * and not before the locks and flushes asked of it have settled: a lock in flight when its last
 * holder left still resolves once its writes are stored, instead of failing as the session closes.
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
  /** The pending close of a session whose last lease was released: `keep` calls it off. */
  closing?: { keep: () => void }
}

const entries = new Map<string, Entry>()
/** Ends of the pending closes: what {@link releasesSettled} waits for. */
const undecided = new Set<Promise<void>>()

/**
 * Resolves once every release made so far is decided: its session closed, or kept because an
 * element took it back. A session still open after it is kept, not merely not closed yet (for
 * tests and tools; elements do not need it).
 *
 * @example
 *   element.remove()
 *   await releasesSettled()
 *   session.closed // final for that release
 */
export const releasesSettled = async (): Promise<void> => {
  await Promise.all(undecided)
}

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
  held.closing?.keep()
  held.users++
  let released = false
  return {
    session: held.session,
    release: () => {
      if (released) return
      released = true
      if (--held.users > 0) return
      let settle!: () => void
      const end = new Promise<void>((resolve) => {
        settle = resolve
      })
      undecided.add(end)
      void end.then(() => undecided.delete(end))
      let kept = false
      const keep = () => {
        kept = true
        clearTimeout(timer)
        held.closing = undefined
        settle()
      }
      const close = () => {
        if (kept) return
        held.closing = undefined
        try {
          if (entries.get(id) === held) entries.delete(id)
          held.session.close()
        } finally {
          settle()
        }
      }
      // A task later, once what it was asked to do has settled (a lock's timeout bounds that).
      const timer = setTimeout(() => {
        void held.session.settled().then(close)
      }, 0)
      held.closing = { keep }
    }
  }
}
