/**
 * The relay's side of message 100: lock requests, commits, flushes and the HELLO that our client
 * sends on each socket open (answered with the connection's ACCESS), handled in a room's ordered
 * pipeline. Replies are effects of the batch, so each follows, on its socket, the broadcast of
 * every update that came before it. A read-only connection's lock requests and commits are DENIED.
 *
 * A commit is applied only if its lease is held and it integrates completely: every item it
 * builds on, and every item it deletes, is in the room or in the commit itself. Otherwise it is
 * DENIED and nothing of it is applied: a commit left pending in the doc would be acknowledged
 * without being stored or broadcast.
 *
 * Retained leases: a client whose HELLO says it can ({@link HELLO_RETAINS}), and whose commit
 * finds nobody waiting for its keys, keeps the lease (RETAINED in place of DONE), if the lease
 * table can (`Leases.retain`; a table shared by several relays cannot, and answers DONE as ever).
 * Its next COMMIT on that request id needs no ACQUIRE; the table revokes it when someone waits.
 * That COMMIT is DENIED as stale ({@link DENIED_STALE}), and the lease released, if a key of the
 * lease was written since the RETAINED went out (relay/key-changes.ts): its lock did not see it.
 *
 * Fencing: a HELLO with {@link HELLO_FENCES} names its session. The room closes the session's
 * earlier connections at once (relay/session-fences.ts: their leases end, nothing more of them is
 * read, a half-open one's late COMMIT included), then answers each commit the HELLO asks about
 * with DONE (applied before the fence) or DENIED (abandoned: it never will be), after ACCESS and
 * before the sync step 2 of the new connection. With a shared lease table the fence is recorded
 * in Redis too (its commit script then refuses the session's earlier sockets on any relay), and
 * the answers follow once this relay has read every update stored before it.
 *
 * A COMMIT that writes a key only mutations may write is DENIED ({@link DENIED_MUTATION_ONLY}),
 * nothing applied; a client whose HELLO has {@link HELLO_MUTATIONS} is told those keys' patterns
 * before its ACCESS, so that it refuses such writes itself.
 *
 * A connection may have `maxLockRequests` requests open, naming `maxLockKeyChars` characters of
 * keys between them; a request past either is DENIED at once and never queued. A commit is costed
 * like any update (the room's `check`) before it is parsed in full.
 *
 * @example
 *   handleLockMessage(room.lockContext, peer, decodeYss(decoder))
 */
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import {
  DENIED_MUTATION_ONLY,
  DENIED_STALE,
  HELLO_MUTATIONS,
  HELLO_RETAINS,
  YSS_ACCESS,
  YSS_ACQUIRE,
  YSS_CANCEL,
  YSS_COMMIT,
  YSS_DENIED,
  YSS_DONE,
  YSS_FLUSH,
  YSS_HELLO,
  YSS_MUTATION_ONLY,
  type FateQuestion,
  type HelloFence,
  type YssMessage
} from '../../protocol/messages.js'
import { CLOSE } from '../../protocol/close-codes.js'
import { PeerError, mayWrite, type Peer } from '../peer.js'
import type { Leases, SessionSocket } from './leases.js'
import type { LimitName, Limits } from '../limits.js'
import type { SessionFences } from './session-fences.js'
import type { KeyChanges } from './key-changes.js'

/** What a room lends its lock messages. */
export interface LockContext {
  readonly doc: Y.Doc
  readonly leases: Leases<Peer>
  readonly limits: Pick<Limits, 'maxLockRequests' | 'maxLockKeyChars'>
  /** Sends `reply` to `peer` once the batch in hand is stored and broadcast. */
  reply(peer: Peer, reply: YssMessage): void
  /**
   * Sends RETAINED for request `id` once the batch in hand is stored and broadcast, with the doc's
   * state vector then; calls `sent` as it takes it.
   */
  replyRetained(peer: Peer, id: number, sent: () => void): void
  /** When each key last changed: a retained lease's commit is checked against it. */
  readonly keyChanges: KeyChanges
  /** For each retained lease (by peer and request id), when its state was sent, and its keys. */
  readonly retainedSince: WeakMap<Peer, Map<number, { seen: number; keys: readonly string[] }>>
  /** The peers whose HELLO said they can hold a retained lease. */
  readonly retainers: WeakSet<Peer>
  /** Throws a PeerError unless a peer's update parses and is within the room's limits. */
  check(update: Uint8Array): void
  /** Applies a checked peer update to the doc, in the batch in hand. */
  apply(peer: Peer, update: Uint8Array): void
  /** Set when the lease table is shared by several relays: checks the lease and stores the commit atomically, then replies. */
  commitShared?(peer: Peer, id: number, update: Uint8Array): void
  /** Answers FLUSH `id` with FLUSHED once everything `peer` sent before it is stored. */
  flush(peer: Peer, id: number): void
  /** Counts and logs a request DENIED by `limit`. */
  refused(peer: Peer, limit: LimitName, detail: string): void
  /** The room's sessions, for fencing (HELLO_FENCES). */
  readonly fences: SessionFences<Peer>
  /**
   * Set when the lease table is shared by several relays: fences the session in the shared table
   * (its earlier sockets' commits are refused on every relay from then on), then, once this relay
   * has read every update stored before, sends `peer` the replies `answers` makes then.
   */
  fenceShared?(peer: Peer, from: SessionSocket, answers: () => YssMessage[]): void
  /** Patterns of the keys only mutations may write: told to a client whose HELLO has {@link HELLO_MUTATIONS}. */
  readonly mutationOnlyKeys?: readonly string[]
  /** Why `peer` may not apply `update` (it writes a mutation-only key), or null if it may. */
  mutationOnlyWrite?(peer: Peer, update: Uint8Array): { reason: string } | null
}

const READ_ONLY = 'read-only: this connection may read the room but not write it'

export const handleLockMessage = (ctx: LockContext, peer: Peer, m: YssMessage): void => {
  switch (m.type) {
    case YSS_ACQUIRE:
      for (let i = 1; i < m.keys.length; i++) {
        if (!(m.keys[i - 1]! < m.keys[i]!)) throw new PeerError(CLOSE.protocolError, 'lock keys must be sorted and unique')
      }
      if (!mayWrite(peer)) {
        ctx.reply(peer, { type: YSS_DENIED, id: m.id, reason: READ_ONLY })
        break
      }
      if (!withinLimits(ctx, peer, m.id, m.keys)) break
      ctx.leases.acquire(peer, m.id, m.keys)
      break
    case YSS_COMMIT: {
      const index = ctx.fences.committed(peer)
      if (!mayWrite(peer)) {
        ctx.reply(peer, { type: YSS_DENIED, id: m.id, reason: READ_ONLY })
        break
      }
      if (!ctx.leases.isGranted(peer, m.id)) {
        ctx.reply(peer, { type: YSS_DENIED, id: m.id, reason: 'the lease is not held: it expired or was never granted' })
        break
      }
      if (staleOnRetained(ctx, peer, m.id)) {
        ctx.leases.release(peer, m.id)
        ctx.reply(peer, {
          type: YSS_DENIED,
          id: m.id,
          reason: `${DENIED_STALE} a key of the retained lease was written since the relay sent its state; run the lock again under a fresh grant`
        })
        break
      }
      if (m.update.length > 0) {
        ctx.check(m.update)
        if (!integrates(ctx.doc, m.update)) {
          ctx.leases.release(peer, m.id)
          ctx.reply(peer, { type: YSS_DENIED, id: m.id, reason: 'the writes depend on an update the relay does not have' })
          break
        }
        const refused = ctx.mutationOnlyWrite?.(peer, m.update)
        if (refused) {
          ctx.leases.release(peer, m.id)
          ctx.reply(peer, { type: YSS_DENIED, id: m.id, reason: `${DENIED_MUTATION_ONLY} ${refused.reason}` })
          break
        }
        if (ctx.commitShared) {
          ctx.commitShared(peer, m.id, m.update)
          break
        }
        ctx.apply(peer, m.update)
      }
      ctx.fences.applied(peer, index)
      if (ctx.retainers.has(peer) && ctx.leases.retain?.(peer, m.id)) {
        const keys = ctx.leases.keysOf?.(peer, m.id) ?? []
        let leases = ctx.retainedSince.get(peer)
        if (!leases) {
          leases = new Map()
          ctx.retainedSince.set(peer, leases)
        }
        const retained = leases
        ctx.replyRetained(peer, m.id, () => retained.set(m.id, { seen: ctx.keyChanges.now, keys }))
        break
      }
      ctx.leases.release(peer, m.id)
      ctx.reply(peer, { type: YSS_DONE, id: m.id })
      break
    }
    case YSS_CANCEL:
      ctx.retainedSince.get(peer)?.delete(m.id)
      ctx.leases.release(peer, m.id)
      break
    case YSS_FLUSH:
      ctx.flush(peer, m.id)
      break
    case YSS_HELLO:
      // A read-only connection is never granted a lease, so it never retains one either.
      if ((m.id & HELLO_RETAINS) !== 0 && mayWrite(peer)) ctx.retainers.add(peer)
      // Fenced first: from here on nothing of the session's earlier connections is applied.
      if (m.fence) fence(ctx, peer, m.fence)
      // Before ACCESS: a client holds its writes until ACCESS, so it checks them against these.
      if ((m.id & HELLO_MUTATIONS) !== 0) ctx.reply(peer, { type: YSS_MUTATION_ONLY, id: 0, patterns: ctx.mutationOnlyKeys ?? [] })
      ctx.reply(peer, { type: YSS_ACCESS, id: m.id, access: peer.grant?.access ?? 'write', user: peer.grant?.user ?? '' })
      if (!m.fence) break
      if (ctx.fenceShared) {
        // The answers are read from the doc once it holds every commit stored before the fence.
        const { session, socket, commits } = m.fence
        ctx.fenceShared(peer, { session, socket }, () => commits.map((q) => fate(q, appliedInDoc(ctx.doc, q))))
      } else {
        for (const q of m.fence.commits) ctx.reply(peer, fate(q, ctx.fences.fate(m.fence.session, q) ?? appliedInDoc(ctx.doc, q)))
      }
      break
    default:
      throw new PeerError(CLOSE.protocolError, `unexpected y-server-state message ${m.type} from a client`)
  }
}

/**
 * Whether a COMMIT on a retained lease comes after a write to one of the lease's keys that the
 * room applied since it sent the lease's state: the lock ran without a GRANT, on that state, so
 * it did not see the write. (A COMMIT under a GRANT is not checked: it ran on the grant's state.)
 */
const staleOnRetained = (ctx: LockContext, peer: Peer, id: number): boolean => {
  const leases = ctx.retainedSince.get(peer)
  const lease = leases?.get(id)
  if (!lease) return false
  leases!.delete(id)
  return ctx.keyChanges.since(lease.seen, lease.keys)
}

/** Closes the session's earlier connections: their leases end, and nothing more of them is read. */
const fence = (ctx: LockContext, peer: Peer, f: HelloFence): void => {
  for (const old of ctx.fences.hello(peer, f.session, f.socket)) {
    // Only a connection of the same user: a session id alone does not let one user close another's.
    if (old.grant?.user !== peer.grant?.user) continue
    old.fail(CLOSE.superseded, 'superseded by a newer connection of the same session')
  }
}

/** The answer to a fate question: DONE if the room applied the commit, else DENIED, for good. */
const fate = (q: FateQuestion, applied: boolean): YssMessage =>
  applied
    ? { type: YSS_DONE, id: q.id }
    : {
        type: YSS_DENIED,
        id: q.id,
        reason: 'abandoned: the commit did not reach the relay before the session reconnected; it never will be applied'
      }

/**
 * Whether the doc holds a commit, for a session this room has no record of (the relay restarted,
 * or forgot it): its items (the clocks of its own client id up to `end`) and its deletions.
 */
const appliedInDoc = (doc: Y.Doc, q: FateQuestion): boolean => {
  if (Y.getState(doc.store, q.client) < q.end) return false
  if (q.deletions.length === 0) return true
  const { ds } = Y.decodeUpdate(q.deletions)
  if (ds.clients.size === 0) return true
  const deleted = Y.createDeleteSetFromStructStore(doc.store)
  for (const [client, ranges] of ds.clients) {
    for (const r of ranges) {
      for (let clock = r.clock; clock < r.clock + r.len; clock++) if (!Y.isDeleted(deleted, Y.createID(client, clock))) return false
    }
  }
  return true
}

/** Whether `peer` may open one more request for `keys`; if not, the request is DENIED. */
const withinLimits = (ctx: LockContext, peer: Peer, id: number, keys: readonly string[]): boolean => {
  const { maxLockRequests, maxLockKeyChars } = ctx.limits
  const load = ctx.leases.load?.(peer)
  if (!load) return true // a table shared by several relays keeps its queues in Redis
  let chars = load.keyChars
  for (const k of keys) chars += k.length
  const [limit, detail] =
    load.requests >= maxLockRequests
      ? (['maxLockRequests', `${maxLockRequests} lock requests open`] as const)
      : chars > maxLockKeyChars
        ? (['maxLockKeyChars', `over ${maxLockKeyChars} characters of keys in open lock requests`] as const)
        : [null, '']
  if (!limit) return true
  ctx.refused(peer, limit, detail)
  ctx.reply(peer, { type: YSS_DENIED, id, reason: `too many open lock requests on this connection: ${detail}` })
  return false
}

/**
 * The doc's state vector, as a GRANT carries it: what `Y.encodeStateVector` writes, without
 * sorting the clients first (a state vector is read into a map, in any order), which is most of
 * its cost in a room whose history has thousands of client ids (10,000: 0.6 ms instead of 2.3).
 */
export const grantStateVector = (doc: Y.Doc): Uint8Array => {
  const e = encoding.createEncoder()
  const clients = doc.store.clients
  encoding.writeVarUint(e, clients.size)
  for (const [client, structs] of clients) {
    const last = structs[structs.length - 1]!
    encoding.writeVarUint(e, client)
    encoding.writeVarUint(e, last.id.clock + last.length)
  }
  return encoding.toUint8Array(e)
}

/**
 * Whether `update` would integrate into `doc` completely, leaving nothing pending: each client's
 * structs start at or before what the doc holds, and every item they refer to (origin, right
 * origin, parent) and every range they delete is in the doc or in the update.
 */
export const integrates = (doc: Y.Doc, update: Uint8Array): boolean => {
  const { structs, ds } = Y.decodeUpdate(update)
  const carried = new Map<number, { from: number; to: number }>()
  for (const s of structs) {
    if (s instanceof Y.Skip) return false // a gap inside the update: something is missing
    const range = carried.get(s.id.client)
    if (!range) carried.set(s.id.client, { from: s.id.clock, to: s.id.clock + s.length })
    else if (s.id.clock === range.to) range.to = s.id.clock + s.length
    else return false
  }
  for (const [client, { from }] of carried) if (from > Y.getState(doc.store, client)) return false
  const has = (client: number, clock: number): boolean => {
    if (clock < Y.getState(doc.store, client)) return true
    const range = carried.get(client)
    return range !== undefined && range.from <= clock && clock < range.to
  }
  const hasId = (id: Y.ID | null): boolean => id === null || has(id.client, id.clock)
  for (const s of structs) {
    if (!(s instanceof Y.Item)) continue
    if (!hasId(s.origin) || !hasId(s.rightOrigin)) return false
    if (s.parent instanceof Y.ID && !hasId(s.parent)) return false
  }
  for (const [client, ranges] of ds.clients) {
    for (const r of ranges) if (!has(client, r.clock + r.len - 1)) return false
  }
  return true
}
