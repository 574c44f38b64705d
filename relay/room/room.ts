/**
 * One room: a Y.Doc, its awareness, its connections and its lease table.
 *
 * Every frame goes through one queue, handled as a batch: applied, stored, then its effects in
 * order. Why, and the limits it keeps: docs/architecture.md, "A room's pipeline".
 *
 * @example
 *   const room = await Room.load('default', context)
 *   room.join(peer)              // sends sync step 1 and the awareness states
 *   room.receive(peer, frame)    // queued, then handled in order
 *   room.leave(peer)
 */
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import * as awarenessProtocol from 'y-protocols/awareness'
import * as syncProtocol from 'y-protocols/sync'
import {
  MESSAGE_AWARENESS,
  MESSAGE_QUERY_AWARENESS,
  MESSAGE_SYNC,
  MESSAGE_YSS,
  YSS_CALL,
  YSS_COMMIT,
  YSS_DENIED,
  YSS_RESULT,
  YSS_DONE,
  YSS_FLUSHED,
  YSS_GRANT,
  YSS_RETAINED,
  YSS_REVOKE,
  decodeYss,
  encodeYss,
  type YssMessage
} from '../../protocol/messages.js'
import { CLOSE } from '../../protocol/close-codes.js'
import { LeaseTable } from '../locks/lease-table.js'
import type { LeaseCallbacks, LeaseTableFactory, Leases, SessionSocket } from '../locks/leases.js'
import { isUnavailable } from '../store/unavailable.js'
import { grantStateVector, handleLockMessage, type LockContext } from '../locks/lock-messages.js'
import { SessionFences } from '../locks/session-fences.js'
import { KeyChanges } from '../locks/key-changes.js'
import { PeerError, mayPublishPresence, mayWrite, parsePeerUpdate, type Peer } from '../peer.js'
import { MutationOnlyKeys } from './mutation-only.js'
import type { RoomStore, StorePosition } from '../store/room-store.js'
import type { Bus } from './bus.js'
import type { Metrics } from '../metrics.js'
import type { Logger } from '../log.js'
import type { LogLimiter } from '../log-limiter.js'
import type { Limits } from '../limits.js'
import { updateCost } from './update-cost.js'
import { UpdateWork } from './update-work.js'
import { RoomSize } from './room-size.js'
import { PendingUpdates, RETRIES, encodeIntegrated } from './pending.js'
import { Presence } from './presence.js'
import { DEFAULT_WAITER_HOLD_MS, WaiterHold, merged, updateFrame, type Schedule } from './outbox.js'
import { asBuffer } from '../as-buffer.js'

export interface RoomContext {
  store: RoomStore
  bus: Bus
  metrics: Metrics
  log: Logger
  leaseMs: number
  /** Compact the room's store after this many appends. */
  compactEvery: number
  limits: Limits
  /** For lines a client can cause over and over: once a minute per kind (never per room: a client picks it). */
  limited: LogLimiter
  /** Called when the room dropped itself (see {@link Room.failed}). */
  onFailed(room: Room): void
  /** The rooms' lease tables when several relays share them; default the in-process {@link LeaseTable}. */
  leaseTables?: LeaseTableFactory<Peer>
  /**
   * How long a peer waiting for a lock may have others' doc updates held back, to get them
   * merged into one frame (at the latest with its GRANT); 0 holds nothing. Default
   * {@link DEFAULT_WAITER_HOLD_MS}. Only with a lease table that tells who waits (`Leases.waits`).
   */
  waiterHoldMs?: number
  /** The timer of that bound; tests pass their own clock. */
  schedule?: Schedule
  /**
   * Patterns of the keys only mutations may write (`balance:*`): any other peer's update or commit
   * that writes one is refused (mutation-only.ts). Default none.
   */
  mutationOnlyKeys?: readonly string[]
  /**
   * Runs a peer's CALL of a server mutation (relay/mutations/), answering it with RESULT through
   * {@link Room.send}. Without it, every CALL is answered `no_such_mutation`.
   */
  onCall?(room: Room, peer: Peer, call: Call): void
}

/** A peer's CALL of a server mutation. */
export type Call = Extract<YssMessage, { type: typeof YSS_CALL }>

const LOAD = Symbol('load')
/** The origin of another relay's update from the bus. */
const BUS = Symbol('bus')
/** The origin of this relay's own update read back from the bus (a lock commit under a shared lease). */
const BUS_OWN = Symbol('bus, written here')

/**
 * Where a transaction of a room's doc came from: `local` when a session of this relay wrote it
 * (its update, its lock commit, read back from the bus or not), `cluster` when another relay did.
 */
export type CommitOrigin = 'local' | 'cluster'

/** The {@link CommitOrigin} of a transaction's `origin`. */
export const commitOrigin = (origin: unknown): CommitOrigin => (origin === BUS ? 'cluster' : 'local')

type Item = { peer: Peer; frame: Uint8Array } | { remote: Uint8Array; own: boolean } | { run: () => void }

interface Batch {
  /** Updates from peers, stored as one write. */
  updates: Uint8Array[]
  /** Every update applied, peers' and the bus's: broadcast as one merged update. */
  outgoing: Uint8Array[]
  effects: Array<() => void>
  /** A sync step 1 came: with a shared bus, answer it only once every update stored before it is here. */
  barrier?: boolean
  /** Peers whose sync step 1 is answered in this batch, with the state vector to answer. */
  syncAnswers: Map<Peer, Map<number, number>>
  /** COMMITs each peer sent in this batch: each is an open request until the batch's replies go. */
  commits: Map<Peer, number>
  /** Peers whose query awareness is answered in this batch. */
  awarenessAnswers: Set<Peer>
  /** Peers sent a lock reply in this batch (GRANT, DONE, DENIED, FLUSHED, ACCESS): corked. */
  replied: Set<Peer>
  /** Of those, the peers granted a lock: written first, as a hand-over waits for its GRANT. */
  urgent: Set<Peer>
}

/** The lowest clock of each client in either state vector: an answer to both. */
const lowest = (a: Map<number, number>, b: Map<number, number>): Map<number, number> => {
  const both = new Map<number, number>()
  for (const [client, clock] of a) {
    const other = b.get(client)
    if (other !== undefined) both.set(client, Math.min(clock, other))
  }
  return both
}

const frame = (write: (e: encoding.Encoder) => void): Uint8Array => {
  const e = encoding.createEncoder()
  write(e)
  return encoding.toUint8Array(e)
}

export class Room {
  readonly doc = new Y.Doc()
  readonly awareness = new awarenessProtocol.Awareness(this.doc)
  readonly peers = new Set<Peer>()
  readonly leases: Leases<Peer>
  readonly size: RoomSize
  private readonly presence: Presence<Peer>
  private readonly pending: PendingUpdates<Peer>
  /**
   * FLUSH requests of peers whose updates wait as pending structs: answered once they are
   * integrated and stored; `drops`, what was pending had been dropped that many times when the
   * peer was last asked for what is missing; `answer`, whether that request was made after a
   * drop, so that the flush waits for the peer's answer (its sync step 2), which sends again
   * what was dropped.
   */
  private readonly flushes = new Map<Peer, { ids: number[]; drops: number; answer: boolean }>()
  /** Every frame to a peer goes through it: a lock waiter's updates are held back and merged. */
  private readonly out: WaiterHold
  private readonly queue: Item[] = []
  private batch: Batch | null = null
  private draining: Promise<void> | null = null
  private appendsSinceCompact = 0
  /** The store's position of what the room loaded and appended: what a compaction covers. */
  private stored: StorePosition = 0
  private readonly unsubscribe: () => void
  private readonly stopPresence: (() => void) | undefined
  /** Until the store is read, frames and bus updates wait in the queue. */
  private loading = true
  /** Set when the room can no longer be trusted in memory; it is then dropped. */
  failed = false
  /** What the room lends its lock messages. */
  readonly lockContext: LockContext
  /** The doc's state vector as GRANT and RETAINED carry it, until the doc changes: once a batch, not once a reply. */
  private encodedStateVector: Uint8Array | null = null
  private readonly storedListeners = new Set<() => void>()
  /** The keys only mutations may write, and the check of peers' updates against them. */
  private readonly mutationOnly: MutationOnlyKeys

  private constructor(
    readonly name: string,
    private readonly ctx: RoomContext
  ) {
    this.awareness.setLocalState(null)
    this.size = new RoomSize(ctx.limits.maxRoomBytes, () => Y.encodeStateAsUpdate(this.doc).length)
    this.presence = new Presence(this.awareness, ctx.limits)
    this.pending = new PendingUpdates(this.doc, ctx.limits.maxPendingBytes)
    this.mutationOnly = new MutationOnlyKeys(ctx.mutationOnlyKeys ?? [])
    const callbacks: LeaseCallbacks<Peer> = {
      leaseMs: ctx.leaseMs,
      onGrant: (r) => {
        ctx.metrics.inc('locks_granted_total')
        this.urgentReply(r.holder)
        this.defer(() => {
          if (!r.holder.closed) this.out.send(r.holder, encodeYss({ type: YSS_GRANT, id: r.id, stateVector: this.stateVector() }))
        })
      },
      onExpire: (r) => {
        ctx.metrics.inc('locks_expired_total')
        ctx.limited.warn('lease-expired', 'lock lease expired', {
          room: name,
          peer: r.holder.id,
          keyCount: r.keys.length,
          keys: r.keys.slice(0, 8).join(',')
        })
      },
      onDeny: (r, reason) => this.defer(() => this.out.send(r.holder, encodeYss({ type: YSS_DENIED, id: r.id, reason }))),
      onRevoke: (r) => {
        ctx.metrics.inc('locks_revoked_total')
        // A waiter's grant waits for the holder's answer: written first, like a GRANT.
        this.urgentReply(r.holder)
        this.defer(() => this.out.send(r.holder, encodeYss({ type: YSS_REVOKE, id: r.id })))
      }
    }
    this.leases = ctx.leaseTables?.(name, callbacks) ?? new LeaseTable<Peer>(callbacks)
    const waits = this.leases.waits?.bind(this.leases)
    this.out = new WaiterHold(waits ? (ctx.waiterHoldMs ?? DEFAULT_WAITER_HOLD_MS) : 0, waits ?? (() => false), ctx.schedule)
    this.doc.on('update', (update: Uint8Array, origin: unknown) => {
      this.encodedStateVector = null
      if (origin === LOAD) return
      this.size.grew(update)
      const batch = this.batch!
      if (origin !== BUS && origin !== BUS_OWN) batch.updates.push(update)
      // A batch's updates go out as one merged update, at the place of the first: a burst costs
      // one frame a peer, not one a peer and update. Replies queued after it still follow it.
      if (batch.outgoing.push(update) === 1) batch.effects.push(() => this.broadcastUpdates(batch))
    })
    this.awareness.on('update', (change: { added: number[]; updated: number[]; removed: number[] }, origin: unknown) => {
      const changed = [...change.added, ...change.updated, ...change.removed]
      this.broadcast(
        frame((e) => {
          encoding.writeVarUint(e, MESSAGE_AWARENESS)
          encoding.writeVarUint8Array(e, awarenessProtocol.encodeAwarenessUpdate(this.awareness, changed))
        })
      )
      this.presence.changed(change, origin)
    })
    this.lockContext = {
      doc: this.doc,
      leases: this.leases,
      limits: ctx.limits,
      reply: (peer, reply) => {
        this.batch!.replied.add(peer)
        this.batch!.effects.push(() => this.out.send(peer, encodeYss(reply)))
      },
      replyRetained: (peer, id, sent) => {
        ctx.metrics.inc('locks_retained_total')
        // The holder's next lock waits for it: written first, like a GRANT.
        this.urgentReply(peer)
        this.batch!.effects.push(() => {
          sent()
          if (!peer.closed) this.out.send(peer, encodeYss({ type: YSS_RETAINED, id, stateVector: this.stateVector() }))
        })
      },
      retainers: new WeakSet<Peer>(),
      flush: (peer, id) => this.flush(peer, id),
      keyChanges: new KeyChanges(this.doc),
      retainedSince: new WeakMap(),
      check: (update) => this.checkUpdate(update),
      apply: (peer, update) => this.applyParsedUpdate(peer, update),
      refused: (peer, limit, detail) => {
        ctx.metrics.limitHit(limit)
        ctx.limited.warn(`lock-limit:${limit}`, 'lock request denied: over a limit', { room: name, conn: peer.id, limit, detail })
      },
      fences: new SessionFences<Peer>(),
      mutationOnlyKeys: this.mutationOnly.patterns,
      mutationOnlyWrite: (peer, update) => this.mutationOnly.refusal(this.doc, peer, update),
      ...(this.leases.commit ? { commitShared: (peer: Peer, id: number, update: Uint8Array) => this.commitShared(peer, id, update) } : {}),
      ...(this.leases.fenceSession
        ? { fenceShared: (peer: Peer, from: SessionSocket, answers: () => YssMessage[]) => this.fenceShared(peer, from, answers) }
        : {})
    }
    // Subscribed before the store is read, so that no other relay's update falls in between;
    // updates are idempotent, so one that is also in the store is harmless.
    // While a batch is being stored, another relay's update is applied into it: a shared bus
    // passes updates in the store's order, so they go out before the batch's own replies.
    this.unsubscribe = ctx.bus.subscribe(
      name,
      (update, own = false) => (this.batch && !this.failed ? this.applyRemote(update, own) : this.enqueue({ remote: update, own })),
      (err) => this.fail('updates from the shared store were lost', err)
    )
    this.stopPresence = ctx.bus.presence?.(name, this.awareness)
  }

  /**
   * Loads a room from the store. Rejects, and serves nothing, if the store cannot read it or
   * its history does not load completely (an update whose dependencies are missing).
   */
  static async load(name: string, ctx: RoomContext): Promise<Room> {
    const room = new Room(name, ctx)
    try {
      const { updates, position } = await ctx.store.load(name)
      room.stored = position
      let bytes = 0
      for (const u of updates) bytes += u.length
      room.size.measured(bytes)
      room.doc.transact(() => {
        for (const u of updates) Y.applyUpdate(room.doc, u, LOAD)
      }, LOAD)
      if (room.doc.store.pendingStructs || room.doc.store.pendingDs) {
        throw new Error('the stored history is incomplete: some updates depend on updates that are missing')
      }
      room.appendsSinceCompact = updates.length > 1 ? ctx.compactEvery : 0
    } catch (err) {
      room.destroy()
      throw err
    }
    room.loading = false
    room.kick()
    return room
  }

  join(peer: Peer): void {
    // Dropped between its load and this join (its relay reset, say): it would never answer.
    if (this.failed) {
      peer.fail(CLOSE.tryAgainLater, 'room failed; reconnect')
      return
    }
    this.peers.add(peer)
    peer.send(this.step1())
    const states = [...this.awareness.getStates().keys()]
    if (states.length > 0) peer.send(this.awarenessFrame(states))
  }

  leave(peer: Peer): void {
    if (!this.peers.delete(peer)) return
    this.out.drop(peer)
    this.leases.dropHolder(peer)
    this.pending.left(peer)
    this.flushes.delete(peer)
    this.presence.leave(peer)
    this.lockContext.fences.left(peer)
  }

  receive(peer: Peer, data: Uint8Array): void {
    this.enqueue({ peer, frame: data })
  }

  /**
   * Calls `listener` at the end of each batch: once its updates are stored and broadcast (with
   * its other effects), before the next batch is applied, so the doc then holds only what is
   * stored. A batch that is not stored (the room fails) never calls it. The room's change feed
   * (relay/feed/) releases its events there. Returns the unsubscribe.
   */
  onStored(listener: () => void): () => void {
    this.storedListeners.add(listener)
    return () => this.storedListeners.delete(listener)
  }

  /** Whether a batch is applied and not yet stored: the doc then holds changes that are not stored. */
  get storing(): boolean {
    return this.batch !== null
  }

  /**
   * Sends `peer` a message 100 after everything the room has handled so far is stored and
   * broadcast (after the batch in hand, or at once if there is none): so a RESULT follows, on its
   * socket, the broadcast of the mutation's writes.
   */
  send(peer: Peer, message: YssMessage): void {
    this.defer(() => {
      if (!peer.closed && this.peers.has(peer)) this.out.send(peer, encodeYss(message))
    })
  }

  /** Resolves once everything queued so far is handled, stored and sent. */
  async idle(): Promise<void> {
    while (this.draining) await this.draining
  }

  /** Writes the whole room as one update in place of its history. */
  async compact(): Promise<void> {
    await this.idle()
    if (this.appendsSinceCompact === 0 || this.failed) return
    await this.compactStore()
  }

  /**
   * The doc's state vector, encoded once until the doc changes: in a room with many client ids it
   * costs as much as a transaction, and 256 GRANTs in one batch computed it 256 times (30 s).
   */
  private stateVector(): Uint8Array {
    this.encodedStateVector ??= grantStateVector(this.doc)
    return this.encodedStateVector
  }

  /** `peer` gets a reply in this batch that others wait for: corked with the rest, written first. */
  private urgentReply(peer: Peer): void {
    this.batch?.urgent.add(peer)
    this.batch?.replied.add(peer)
  }

  private async compactStore(): Promise<void> {
    // Never what the doc holds pending: in the store it would make every later load fail.
    const whole = encodeIntegrated(this.doc)
    this.size.measured(whole.length)
    await this.ctx.store.compact(this.name, whole, this.stored)
    this.appendsSinceCompact = 0
  }

  destroy(): void {
    this.unsubscribe()
    this.stopPresence?.()
    this.leases.close?.()
    this.out.close()
    this.awareness.destroy()
    this.doc.destroy()
  }

  private enqueue(item: Item): void {
    this.queue.push(item)
    this.kick()
  }

  /**
   * Starts a drain unless one runs. A drain that awaited nothing ends a microtask before
   * `draining` is cleared, and ws hands over every frame of one TCP read in between: those
   * frames would wait for the next one, so the drain restarts itself when it ends.
   */
  private kick(): void {
    if (this.draining || this.queue.length === 0 || this.failed || this.loading) return
    this.draining = this.drain().finally(() => {
      this.draining = null
      this.kick()
    })
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0 && !this.failed) {
      const items = this.queue.splice(0)
      const batch: Batch = {
        updates: [],
        outgoing: [],
        effects: [],
        syncAnswers: new Map(),
        commits: new Map(),
        awarenessAnswers: new Set(),
        replied: new Set(),
        urgent: new Set()
      }
      this.batch = batch
      for (const item of items) {
        if ('remote' in item) this.applyRemote(item.remote, item.own)
        else if ('run' in item) batch.effects.push(item.run)
        else if (!item.peer.closed) this.handle(item.peer, item.frame)
        else this.handleClosed(item.peer, item.frame)
        if (this.failed) return
      }
      if (batch.updates.length > 0) {
        const update = merged(batch.updates)
        // Without bus updates, the broadcast is the same merge: do it once.
        if (batch.updates.length === batch.outgoing.length) batch.outgoing = [update]
        try {
          this.stored = await this.ctx.store.append(this.name, update)
        } catch (err) {
          this.fail('store write failed', err)
          return
        }
        this.ctx.metrics.inc('store_writes_total')
        this.ctx.metrics.inc('store_bytes_total', update.length)
        this.appendsSinceCompact++
        void this.ctx.bus
          .publish(this.name, update)
          .catch((err) => this.ctx.log.error('bus publish failed', { room: this.name, error: String(err) }))
      } else if (batch.barrier && this.ctx.bus.barrier) {
        try {
          await this.ctx.bus.barrier(this.name)
        } catch (err) {
          this.fail('the shared store could not be read', err)
          return
        }
      }
      if (this.failed) return // an update of another relay, applied into the batch meanwhile, failed
      if (this.flushes.size > 0) this.settleFlushes()
      this.batch = null
      this.runEffects(batch)
      // A waiter that cancelled, or was granted with nothing else to send: what was held goes now.
      this.out.settle()
      for (const listener of this.storedListeners) listener()
      if (this.appendsSinceCompact >= this.ctx.compactEvery) {
        await this.compactStore().catch((err) => this.ctx.log.error('compaction failed', { room: this.name, error: String(err) }))
      }
    }
  }

  /**
   * Runs a batch's effects in order. The sockets of the peers that get a lock reply in it are
   * corked meanwhile, so that a peer's broadcast and its reply (DONE, or the next holder's GRANT)
   * leave in one write and wake it once. A batch that grants a lock corks every peer, and writes
   * the new holders first: every hand-over waits for its GRANT. In a batch without lock replies
   * (most of them) each frame is written as it comes. The order of the frames on each socket is
   * the effects' order either way.
   */
  private runEffects(batch: Batch): void {
    if (batch.effects.length === 0) return
    const corked = batch.urgent.size > 0 ? [...this.peers] : [...batch.replied].filter((peer) => this.peers.has(peer))
    for (const peer of corked) peer.cork?.()
    try {
      for (const effect of batch.effects) effect()
    } finally {
      for (const peer of corked) if (batch.urgent.has(peer)) peer.uncork?.()
      for (const peer of corked) if (!batch.urgent.has(peer)) peer.uncork?.()
    }
  }

  /** Applies a stored update from the bus (`own`: written through this relay); one that fails leaves memory unlike the store. */
  private applyRemote(update: Uint8Array, own: boolean): void {
    try {
      Y.applyUpdate(this.doc, update, own ? BUS_OWN : BUS)
    } catch (err) {
      this.fail('an update from the bus failed to apply', err)
    }
  }

  /** Drops the room: its memory can no longer be trusted to match the store. */
  private fail(what: string, err: unknown): void {
    this.failed = true
    this.queue.length = 0
    this.ctx.metrics.inc('errors_total')
    const unavailable = isUnavailable(err)
    // A store that is down fails every room that writes: say so once a minute, not per room.
    if (unavailable) this.ctx.limited.warn(`unavailable:${what}`, what, { room: this.name, error: String(err) })
    else this.ctx.log.error(what, { room: this.name, error: String(err) })
    for (const peer of this.peers)
      peer.fail(
        unavailable ? CLOSE.tryAgainLater : CLOSE.internalError,
        unavailable ? 'store unreachable; try again later' : 'room failed; reconnect'
      )
    this.ctx.onFailed(this)
  }

  /**
   * Runs `effect` after the batch in hand is stored, or now if there is none; after the queued
   * updates of other relays if some wait (a shared lease table grants between batches).
   */
  private defer(effect: () => void): void {
    if (this.batch) this.batch.effects.push(effect)
    else if (this.queue.length > 0 || this.loading) this.enqueue({ run: effect })
    else effect()
  }

  /**
   * A commit under a shared lease: the table checks the lease and stores the update in one
   * atomic step; the update reaches this doc read back from the store, like any other, and
   * DONE follows its broadcast. If it cannot tell whether the update was stored, the peer is
   * closed with 1013: it learns the outcome from the room's state once it reconnects.
   */
  private commitShared(peer: Peer, id: number, update: Uint8Array): void {
    this.leases.commit!(peer, id, update, this.lockContext.fences.socketOf(peer)).then(
      (outcome) =>
        this.defer(() =>
          this.out.send(peer, encodeYss(outcome.ok ? { type: YSS_DONE, id } : { type: YSS_DENIED, id, reason: outcome.reason }))
        ),
      (err) => peer.fail(CLOSE.tryAgainLater, `lock commit outcome unknown: ${(err as Error).message}`)
    )
  }

  /**
   * A fencing HELLO with a shared lease table: the session's earlier sockets are fenced in Redis,
   * on every relay; once this relay has read every update stored before, the fate answers are
   * read from its doc and sent. If Redis cannot tell, the peer is closed with 1013: its next
   * connection asks again.
   */
  private fenceShared(peer: Peer, from: SessionSocket, answers: () => YssMessage[]): void {
    this.leases.fenceSession!(from.session, from.socket).then(
      () =>
        this.defer(() => {
          for (const m of answers()) this.out.send(peer, encodeYss(m))
        }),
      (err) => peer.fail(CLOSE.tryAgainLater, `session fence not recorded: ${(err as Error).message}`)
    )
  }

  private handle(peer: Peer, data: Uint8Array): void {
    try {
      const d = decoding.createDecoder(data)
      const type = decoding.readVarUint(d)
      switch (type) {
        case MESSAGE_SYNC:
          this.handleSync(peer, d)
          break
        case MESSAGE_AWARENESS: {
          const update = decoding.readVarUint8Array(d)
          if (!mayPublishPresence(peer)) break
          for (const limit of this.presence.apply(peer, update)) {
            this.ctx.metrics.limitHit(limit)
            this.ctx.limited.warn(`presence-limit:${limit}`, 'awareness states dropped: over a limit', {
              room: this.name,
              conn: peer.id,
              limit
            })
          }
          break
        }
        case MESSAGE_QUERY_AWARENESS:
          this.answerAwareness(peer)
          break
        case MESSAGE_YSS: {
          const m = decodeYss(d)
          if (m.type === YSS_CALL) this.call(peer, m)
          else if (m.type !== YSS_COMMIT || this.mayCommit(peer, m.id)) handleLockMessage(this.lockContext, peer, m)
          break
        }
        default:
          throw new PeerError(CLOSE.protocolError, `unknown message type ${type}`)
      }
      if (decoding.hasContent(d)) throw new PeerError(CLOSE.protocolError, 'trailing bytes after the message')
    } catch (err) {
      const e = err instanceof PeerError ? err : new PeerError(CLOSE.protocolError, `malformed message: ${(err as Error).message}`)
      if (e.limit) peer.overLimit(e.limit, e.code, e.message)
      else peer.fail(e.code, e.message)
    }
  }

  /** A CALL: run by the relay's mutations, if it has any, for a peer that may write. */
  private call(peer: Peer, m: Call): void {
    const refuse = (code: 'read_only' | 'no_such_mutation', message: string) =>
      this.lockContext.reply(peer, { type: YSS_RESULT, id: m.id, ok: false, code, message })
    if (!mayWrite(peer)) refuse('read_only', 'this connection may read the room but not write it')
    else if (!this.ctx.onCall) refuse('no_such_mutation', `this relay runs no mutations (asked for ${JSON.stringify(m.name)})`)
    else this.ctx.onCall(this, peer, m)
  }

  /**
   * A COMMIT counts as an open lock request until its reply goes, at the end of the batch: past
   * `maxLockRequests` in one batch it is DENIED, unapplied. Without it, COMMITs on one retained
   * lease escape the cap on requests, each answered with the room's whole state vector.
   */
  private mayCommit(peer: Peer, id: number): boolean {
    const commits = this.batch!.commits
    const n = (commits.get(peer) ?? 0) + 1
    commits.set(peer, n)
    const max = this.ctx.limits.maxLockRequests
    if (n <= max) return true
    const detail = `over ${max} commits in one batch`
    this.lockContext.refused(peer, 'maxLockRequests', detail)
    this.lockContext.reply(peer, { type: YSS_DENIED, id, reason: `too many open lock requests on this connection: ${detail}` })
    return false
  }

  /**
   * A frame read before its connection closed, handled after the close (a tab that writes and
   * closes: its last frames and the close often come in one read). Its updates are applied, if
   * the peer may write, as a stock relay applies what it read before a close. Nothing else of it
   * is: its lock messages never (its leases ended as it left, and a fenced connection's COMMIT
   * must never apply: docs/locks.md), nor its presence (removed as it left), nor its requests
   * (nobody to answer).
   */
  private handleClosed(peer: Peer, data: Uint8Array): void {
    if (!mayWrite(peer)) return
    try {
      const d = decoding.createDecoder(data)
      if (decoding.readVarUint(d) !== MESSAGE_SYNC) return
      const sub = decoding.readVarUint(d)
      if (sub !== syncProtocol.messageYjsSyncStep2 && sub !== syncProtocol.messageYjsUpdate) return
      this.applyPeerUpdate(peer, decoding.readVarUint8Array(d))
    } catch {
      // Bad input of a closed connection: nothing to close, and what it applied is in the batch.
    } finally {
      // It left already: what it leaves pending would outlive it, with nobody to send what it lacks.
      this.pending.left(peer)
    }
  }

  private handleSync(peer: Peer, d: decoding.Decoder): void {
    const sub = decoding.readVarUint(d)
    if (sub === syncProtocol.messageYjsSyncStep1) {
      // Throws on a malformed state vector, before any effect is queued.
      const sv = Y.decodeStateVector(decoding.readVarUint8Array(d))
      if (this.ctx.bus.barrier) this.batch!.barrier = true
      this.answerSync(peer, sv)
    } else if (sub === syncProtocol.messageYjsSyncStep2 || sub === syncProtocol.messageYjsUpdate) {
      const update = decoding.readVarUint8Array(d)
      // A read-only peer's updates are dropped, not refused: a stock client always sends a step 2.
      if (mayWrite(peer)) this.applyPeerUpdate(peer, update)
      else if (update.length > 2) this.ctx.metrics.inc('read_only_updates_dropped_total') // [0, 0] is the empty update
      // The answer to a request for what is missing (askForMissing).
      const waiting = sub === syncProtocol.messageYjsSyncStep2 ? this.flushes.get(peer) : undefined
      if (waiting) waiting.answer = false
    } else {
      throw new PeerError(CLOSE.protocolError, `unknown sync message ${sub}`)
    }
  }

  /**
   * A peer's update, checked and applied. One that writes a key only mutations may write is
   * refused whole: its connection is closed with 4423, or with 1008 (retry) when what it writes
   * cannot be told until what it builds on comes (mutation-only.ts).
   */
  private applyPeerUpdate(peer: Peer, update: Uint8Array): void {
    this.checkUpdate(update)
    const refusal = this.mutationOnly.refusal(this.doc, peer, update)
    if (refusal !== null) {
      this.ctx.metrics.inc('mutation_only_refusals_total')
      throw new PeerError(refusal.undecided ? CLOSE.policyViolation : CLOSE.mutationOnly, refusal.reason)
    }
    this.applyParsedUpdate(peer, update)
    const over = this.pending.applied(peer)
    if (!over) return
    const reason = `updates that wait for missing updates passed ${this.ctx.limits.maxPendingBytes} bytes, or were re-read ${RETRIES} times that`
    for (const sender of over) if (sender !== peer) sender.overLimit('maxPendingBytes', CLOSE.policyViolation, reason)
    if (over.includes(peer)) throw new PeerError(CLOSE.policyViolation, reason, 'maxPendingBytes')
  }

  /**
   * Throws a {@link PeerError} unless `update` parses and is within the limits: at most
   * `maxUpdateItems` structs, deleted ranges and client entries, at most `maxUpdateWork` of work on
   * the room's structs (update-work.ts), and not able to grow the room past `maxRoomBytes`.
   * Costs O(update × log(room)), never O(room).
   */
  private checkUpdate(update: Uint8Array): void {
    const { maxUpdateItems, maxUpdateWork, maxRoomBytes } = this.ctx.limits
    let items: number
    const work = new UpdateWork(this.doc, maxUpdateWork)
    try {
      items = updateCost(update, maxUpdateItems, work).items
    } catch (err) {
      throw new PeerError(CLOSE.invalidPayload, `update does not parse: ${(err as Error).message}`)
    }
    if (items > maxUpdateItems) {
      throw new PeerError(
        CLOSE.tooLarge,
        `update carries over ${maxUpdateItems} items (structs and deleted ranges, and client entries)`,
        'maxUpdateItems'
      )
    }
    if (work.total > maxUpdateWork) {
      throw new PeerError(
        CLOSE.tooLarge,
        `update would make the relay walk or split over ${maxUpdateWork} structs' worth of the room`,
        'maxUpdateWork'
      )
    }
    parsePeerUpdate(update)
    if (!this.size.admits(update.length, items)) {
      throw new PeerError(CLOSE.tooLarge, `room is full: the update could grow it past ${maxRoomBytes} bytes`, 'maxRoomBytes')
    }
  }

  /**
   * FLUSH: FLUSHED once the batch in hand is stored, unless updates of `peer` wait as pending
   * structs (they build on an update the relay lacks, one that reached the client over a
   * BroadcastChannel, say): then the relay asks the peer for what is missing with a sync step 1,
   * which a client answers with a step 2 of everything the relay lacks, and answers once they
   * are integrated and stored ({@link settleFlushes}).
   */
  private flush(peer: Peer, id: number): void {
    const waiting = this.flushes.get(peer)
    if (waiting) waiting.ids.push(id)
    else if (this.pending.holds(peer)) {
      this.flushes.set(peer, { ids: [id], drops: this.pending.drops, answer: false })
      this.askForMissing(peer)
    } else this.lockContext.reply(peer, { type: YSS_FLUSHED, id })
  }

  /**
   * At the end of a batch, answers the waiting flushes of the peers whose pending updates are
   * now integrated. A peer whose pending updates were dropped (over the limit, with another
   * sender's) is asked again: they are not stored.
   */
  private settleFlushes(): void {
    for (const [peer, waiting] of this.flushes) {
      if (waiting.answer || this.pending.holds(peer)) continue
      if (waiting.drops !== this.pending.drops) {
        waiting.drops = this.pending.drops
        waiting.answer = true
        this.askForMissing(peer)
        continue
      }
      this.flushes.delete(peer)
      for (const id of waiting.ids) this.lockContext.reply(peer, { type: YSS_FLUSHED, id })
    }
  }

  /** Sends `peer` the doc's sync step 1 once the batch in hand is stored: its answer carries what the relay lacks. */
  private askForMissing(peer: Peer): void {
    this.batch!.effects.push(() => this.out.send(peer, this.step1()))
  }

  /** The doc's sync step 1: its state vector. */
  private step1(): Uint8Array {
    return frame((e) => {
      encoding.writeVarUint(e, MESSAGE_SYNC)
      syncProtocol.writeSyncStep1(e, this.doc)
    })
  }

  /** Queues a sync step 2 for `peer`: one a batch, answering every step 1 it sent in the batch. */
  private answerSync(peer: Peer, sv: Map<number, number>): void {
    const answers = this.batch!.syncAnswers
    const queued = answers.get(peer)
    answers.set(peer, queued ? lowest(queued, sv) : sv)
    if (queued) return
    this.batch!.effects.push(() => {
      if (peer.closed || !this.out.reserve(peer, this.size.bytes)) return
      this.out.send(
        peer,
        frame((e) => {
          encoding.writeVarUint(e, MESSAGE_SYNC)
          encoding.writeVarUint(e, syncProtocol.messageYjsSyncStep2)
          encoding.writeVarUint8Array(e, Y.encodeStateAsUpdate(this.doc, Y.encodeStateVector(answers.get(peer)!)))
        })
      )
    })
  }

  /** Queues every awareness state for `peer`: once a batch. */
  private answerAwareness(peer: Peer): void {
    const answers = this.batch!.awarenessAnswers
    if (answers.has(peer)) return
    answers.add(peer)
    this.batch!.effects.push(() => {
      if (peer.closed || !this.out.reserve(peer, this.presence.bytes)) return
      this.out.send(peer, this.awarenessFrame([...this.awareness.getStates().keys()]))
    })
  }

  /** Applies a peer's update that {@link parsePeerUpdate} accepted. */
  private applyParsedUpdate(peer: Peer, update: Uint8Array): void {
    try {
      Y.applyUpdate(this.doc, update, peer)
    } catch (err) {
      // It parsed but failed halfway in. What Yjs integrated before the throw was emitted as an
      // 'update' and is in this batch, so memory and store still agree: only this peer goes.
      throw new PeerError(CLOSE.invalidPayload, `update failed to apply: ${(err as Error).message}`)
    }
  }

  private awarenessFrame(clients: number[]): Uint8Array {
    return frame((e) => {
      encoding.writeVarUint(e, MESSAGE_AWARENESS)
      encoding.writeVarUint8Array(e, awarenessProtocol.encodeAwarenessUpdate(this.awareness, clients))
    })
  }

  private broadcastUpdates(batch: Batch): void {
    const update = merged(batch.outgoing)
    this.out.update(this.peers, update, asBuffer(updateFrame(update)))
  }

  private broadcast(message: Uint8Array): void {
    const buffer = asBuffer(message)
    for (const peer of this.peers) this.out.send(peer, buffer)
  }
}
