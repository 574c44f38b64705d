/**
 * The sessions of one room, as their HELLO names them (`HELLO_FENCES`): which connections each
 * session has, and which of its commits the room applied. A session opens a new socket when it
 * gives the old one up, and the old one may be half-open: the relay still reads it, and a COMMIT
 * on it may arrive after the session has reconnected. So a new connection's HELLO fences the
 * session's earlier ones (the room closes them: their leases end, nothing more of them is read),
 * and the commits the session asks about are answered from what the room applied before that:
 * applied, or abandoned for good. Never "unknown" while the room knows the session.
 *
 * A session's commits are told apart by their socket's number and their place on it: a commit
 * on a retained lease reuses its request id. Only the last applied commit of each socket is
 * kept (a session has one commit in flight at a time). Records outlive their connections, up to
 * {@link MAX_IDLE_SESSIONS} a room, so that a session whose old connection the relay saw close
 * first is still answered from the record; past that, and after a restart, the room answers
 * from its doc (`FateQuestion.client`/`end`/`deletions`), which no old connection can change.
 *
 * @example
 *   const fences = new SessionFences<Peer>()
 *   for (const old of fences.hello(peer, 'k3f…', 2)) old.fail(CLOSE.superseded, 'superseded')
 *   const index = fences.committed(peer)        // at each COMMIT of a fenced peer
 *   fences.applied(peer, index)                 // once it is applied
 *   fences.fate('k3f…', question)               // true, false, or undefined (not known here)
 *   fences.left(peer)
 */
import type { FateQuestion } from '../../protocol/messages.js'
import type { SessionSocket } from './leases.js'

/** Sessions without a connection whose records a room keeps; the oldest go first. */
export const MAX_IDLE_SESSIONS = 1024
/** Sockets a session's record remembers; the oldest go first. */
const MAX_SOCKETS = 8

interface SessionRecord<P> {
  readonly peers: Set<P>
  /** By socket number: the place of the last COMMIT applied on it (0: none). */
  readonly applied: Map<number, number>
}

interface PeerState {
  readonly session: string
  readonly socket: number
  /** COMMITs read from it so far. */
  commits: number
}

export class SessionFences<P extends object> {
  private readonly sessions = new Map<string, SessionRecord<P>>()
  private readonly peers = new WeakMap<P, PeerState>()

  /**
   * `peer` opened socket number `socket` of `session`: returns the session's other connections,
   * which the caller closes before it answers anything.
   */
  hello(peer: P, session: string, socket: number): P[] {
    let record = this.sessions.get(session)
    if (!record) {
      record = { peers: new Set(), applied: new Map() }
      this.sessions.set(session, record)
    }
    this.sessions.delete(session) // re-inserted last: idle records are dropped oldest first
    this.sessions.set(session, record)
    const earlier = [...record.peers].filter((p) => p !== peer)
    record.peers.add(peer)
    this.peers.set(peer, { session, socket, commits: 0 })
    if (!record.applied.has(socket)) record.applied.set(socket, 0)
    while (record.applied.size > MAX_SOCKETS) record.applied.delete(record.applied.keys().next().value!)
    return earlier
  }

  /** A COMMIT from `peer`: its place on the socket, or 0 if the peer named no session. */
  committed(peer: P): number {
    const state = this.peers.get(peer)
    return state ? ++state.commits : 0
  }

  /** The COMMIT at `index` on `peer`'s socket was applied. */
  applied(peer: P, index: number): void {
    const state = this.peers.get(peer)
    if (!state || index === 0) return
    this.sessions.get(state.session)?.applied.set(state.socket, index)
  }

  /** The session and socket number `peer` named, if it named one. */
  socketOf(peer: P): SessionSocket | undefined {
    const state = this.peers.get(peer)
    return state && { session: state.session, socket: state.socket }
  }

  /** Whether the commit was applied, from the record; undefined if this room has no record of its socket. */
  fate(session: string, q: FateQuestion): boolean | undefined {
    const last = this.sessions.get(session)?.applied.get(q.socket)
    return last === undefined ? undefined : last >= q.index
  }

  /** `peer` left the room. Its session's record stays, within {@link MAX_IDLE_SESSIONS}. */
  left(peer: P): void {
    const state = this.peers.get(peer)
    if (!state) return
    this.peers.delete(peer)
    this.sessions.get(state.session)?.peers.delete(peer)
    if (this.sessions.size <= MAX_IDLE_SESSIONS) return
    for (const [session, record] of this.sessions) {
      if (this.sessions.size <= MAX_IDLE_SESSIONS) break
      if (record.peers.size === 0) this.sessions.delete(session)
    }
  }
}
