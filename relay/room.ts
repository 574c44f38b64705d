/**
 * One room: a Y.Doc, its awareness, its connections and its lease table.
 *
 * Every frame of every connection goes through one queue. The room handles what is queued as a
 * batch: it applies the updates, stores them (one write for the batch), and only then runs the
 * batch's effects in order: broadcasts, replies, lock grants and acknowledgements. So nothing is
 * echoed before it is stored, and a grant or an acknowledgement always follows, on the same
 * socket, every update that came before it.
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
import { MESSAGE_AWARENESS, MESSAGE_QUERY_AWARENESS, MESSAGE_SYNC, MESSAGE_YSS, YSS_GRANT, decodeYss, encodeYss } from '../protocol/messages.js'
import { CLOSE } from '../protocol/close-codes.js'
import { LeaseTable } from './leases.js'
import { grantStateVector, handleLockMessage, type LockContext } from './lock-messages.js'
import { PeerError, mayPublishPresence, mayWrite, parsePeerUpdate, type Peer } from './peer.js'
import type { RoomStore, StorePosition } from './store.js'
import type { Bus } from './bus.js'
import type { Metrics } from './metrics.js'
import type { Logger } from './log.js'

export interface RoomContext {
  store: RoomStore
  bus: Bus
  metrics: Metrics
  log: Logger
  leaseMs: number
  /** Compact the room's store after this many appends. */
  compactEvery: number
  /** Called when the room dropped itself (see {@link Room.failed}). */
  onFailed(room: Room): void
}

const LOAD = Symbol('load')
const BUS = Symbol('bus')

type Item = { peer: Peer; frame: Uint8Array } | { remote: Uint8Array }

interface Batch {
  /** Updates from peers, stored as one write. */
  updates: Uint8Array[]
  /** Every update applied, peers' and the bus's: broadcast as one merged update. */
  outgoing: Uint8Array[]
  effects: Array<() => void>
  /** Peers sent a lock reply in this batch (GRANT, DONE, DENIED, FLUSHED, ACCESS): corked. */
  replied: Set<Peer>
  /** Of those, the peers granted a lock: written first, as a hand-over waits for its GRANT. */
  urgent: Set<Peer>
}

const merged = (updates: Uint8Array[]): Uint8Array => (updates.length === 1 ? updates[0]! : Y.mergeUpdates(updates))

const frame = (write: (e: encoding.Encoder) => void): Uint8Array => {
  const e = encoding.createEncoder()
  write(e)
  return encoding.toUint8Array(e)
}

export class Room {
  readonly doc = new Y.Doc()
  readonly awareness = new awarenessProtocol.Awareness(this.doc)
  readonly peers = new Set<Peer>()
  readonly leases: LeaseTable<Peer>
  /** Awareness client ids each peer controls, removed when it leaves. */
  private readonly controlled = new Map<Peer, Set<number>>()
  private readonly queue: Item[] = []
  private batch: Batch | null = null
  private draining: Promise<void> | null = null
  private appendsSinceCompact = 0
  /** The store's position of what the room loaded and appended: what a compaction covers. */
  private stored: StorePosition = 0
  private readonly unsubscribe: () => void
  /** Until the store is read, frames and bus updates wait in the queue. */
  private loading = true
  /** Set when the room can no longer be trusted in memory; it is then dropped. */
  failed = false
  /** What the room lends its lock messages. */
  readonly lockContext: LockContext

  private constructor(readonly name: string, private readonly ctx: RoomContext) {
    this.awareness.setLocalState(null)
    this.leases = new LeaseTable<Peer>({
      leaseMs: ctx.leaseMs,
      onGrant: (r) => {
        ctx.metrics.inc('locks_granted_total')
        this.batch?.urgent.add(r.holder)
        this.batch?.replied.add(r.holder)
        this.defer(() => r.holder.send(encodeYss({ type: YSS_GRANT, id: r.id, stateVector: grantStateVector(this.doc) })))
      },
      onExpire: (r) => {
        ctx.metrics.inc('locks_expired_total')
        ctx.log.warn('lock lease expired', { room: name, peer: r.holder.id, keys: r.keys.join(',') })
      }
    })
    this.doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin === LOAD) return
      const batch = this.batch!
      if (origin !== BUS) batch.updates.push(update)
      // A batch's updates go out as one merged update, at the place of the first: a burst costs
      // one frame a peer, not one a peer and update. Replies queued after it still follow it.
      if (batch.outgoing.push(update) === 1) batch.effects.push(() => this.broadcastUpdates(batch))
    })
    this.awareness.on('update', ({ added, updated, removed }: Record<string, number[]>, origin: unknown) => {
      const changed = [...added!, ...updated!, ...removed!]
      const mine = this.controlled.get(origin as Peer)
      if (mine) {
        for (const id of [...added!, ...updated!]) mine.add(id)
        for (const id of removed!) mine.delete(id)
      }
      this.broadcast(frame((e) => {
        encoding.writeVarUint(e, MESSAGE_AWARENESS)
        encoding.writeVarUint8Array(e, awarenessProtocol.encodeAwarenessUpdate(this.awareness, changed))
      }))
    })
    this.lockContext = {
      doc: this.doc,
      leases: this.leases,
      reply: (peer, reply) => {
        this.batch!.replied.add(peer)
        this.batch!.effects.push(() => peer.send(encodeYss(reply)))
      },
      apply: (peer, update) => this.applyParsedUpdate(peer, update)
    }
    // Subscribed before the store is read, so that no other relay's update falls in between;
    // updates are idempotent, so one that is also in the store is harmless.
    this.unsubscribe = ctx.bus.subscribe(name, (update) => this.enqueue({ remote: update }))
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
    this.peers.add(peer)
    this.controlled.set(peer, new Set())
    peer.send(frame((e) => {
      encoding.writeVarUint(e, MESSAGE_SYNC)
      syncProtocol.writeSyncStep1(e, this.doc)
    }))
    const states = [...this.awareness.getStates().keys()]
    if (states.length > 0) peer.send(this.awarenessFrame(states))
  }

  leave(peer: Peer): void {
    if (!this.peers.delete(peer)) return
    this.leases.dropHolder(peer)
    const ids = this.controlled.get(peer)
    this.controlled.delete(peer)
    if (ids && ids.size > 0) awarenessProtocol.removeAwarenessStates(this.awareness, [...ids], null)
  }

  receive(peer: Peer, data: Uint8Array): void {
    this.enqueue({ peer, frame: data })
  }

  /** Resolves once everything queued so far is handled, stored and sent. */
  async idle(): Promise<void> {
    while (this.draining) await this.draining
  }

  /** Writes the whole room as one update in place of its history. */
  async compact(): Promise<void> {
    await this.idle()
    if (this.appendsSinceCompact === 0 || this.failed) return
    await this.ctx.store.compact(this.name, Y.encodeStateAsUpdate(this.doc), this.stored)
    this.appendsSinceCompact = 0
  }

  destroy(): void {
    this.unsubscribe()
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
      const batch: Batch = (this.batch = { updates: [], outgoing: [], effects: [], replied: new Set(), urgent: new Set() })
      for (const item of items) {
        if ('remote' in item) this.applyRemote(item.remote)
        else if (!item.peer.closed) this.handle(item.peer, item.frame)
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
        void this.ctx.bus.publish(this.name, update).catch((err) => this.ctx.log.error('bus publish failed', { room: this.name, error: String(err) }))
      }
      this.batch = null
      this.runEffects(batch)
      if (this.appendsSinceCompact >= this.ctx.compactEvery) {
        await this.ctx.store.compact(this.name, Y.encodeStateAsUpdate(this.doc), this.stored).then(
          () => { this.appendsSinceCompact = 0 },
          (err) => this.ctx.log.error('compaction failed', { room: this.name, error: String(err) })
        )
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

  /** Applies another relay's stored update; one that fails leaves memory unlike the store. */
  private applyRemote(update: Uint8Array): void {
    try {
      Y.applyUpdate(this.doc, update, BUS)
    } catch (err) {
      this.fail('an update from the bus failed to apply', err)
    }
  }

  /** Drops the room: its memory can no longer be trusted to match the store. */
  private fail(what: string, err: unknown): void {
    this.failed = true
    this.queue.length = 0
    this.ctx.metrics.inc('errors_total')
    this.ctx.log.error(what, { room: this.name, error: String(err) })
    for (const peer of this.peers) peer.fail(CLOSE.internalError, 'room failed; reconnect')
    this.ctx.onFailed(this)
  }

  /** Runs `effect` after the batch in hand is stored, or now if there is none. */
  private defer(effect: () => void): void {
    if (this.batch) this.batch.effects.push(effect)
    else effect()
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
          if (mayPublishPresence(peer)) awarenessProtocol.applyAwarenessUpdate(this.awareness, update, peer)
          break
        }
        case MESSAGE_QUERY_AWARENESS:
          this.batch!.effects.push(() => peer.send(this.awarenessFrame([...this.awareness.getStates().keys()])))
          break
        case MESSAGE_YSS:
          handleLockMessage(this.lockContext, peer, decodeYss(d))
          break
        default:
          throw new PeerError(CLOSE.protocolError, `unknown message type ${type}`)
      }
      if (decoding.hasContent(d)) throw new PeerError(CLOSE.protocolError, 'trailing bytes after the message')
    } catch (err) {
      const e = err instanceof PeerError ? err : new PeerError(CLOSE.protocolError, `malformed message: ${(err as Error).message}`)
      peer.fail(e.code, e.message)
    }
  }

  private handleSync(peer: Peer, d: decoding.Decoder): void {
    const sub = decoding.readVarUint(d)
    if (sub === syncProtocol.messageYjsSyncStep1) {
      const sv = decoding.readVarUint8Array(d)
      Y.decodeStateVector(sv) // throws on a malformed one, before any effect is queued
      this.batch!.effects.push(() => peer.send(frame((e) => {
        encoding.writeVarUint(e, MESSAGE_SYNC)
        encoding.writeVarUint(e, syncProtocol.messageYjsSyncStep2)
        encoding.writeVarUint8Array(e, Y.encodeStateAsUpdate(this.doc, sv))
      })))
    } else if (sub === syncProtocol.messageYjsSyncStep2 || sub === syncProtocol.messageYjsUpdate) {
      const update = decoding.readVarUint8Array(d)
      // A read-only peer's updates are dropped, not refused: a stock client always sends a step 2.
      if (mayWrite(peer)) this.applyPeerUpdate(peer, update)
      else if (update.length > 2) this.ctx.metrics.inc('read_only_updates_dropped_total') // [0, 0] is the empty update
    } else {
      throw new PeerError(CLOSE.protocolError, `unknown sync message ${sub}`)
    }
  }

  private applyPeerUpdate(peer: Peer, update: Uint8Array): void {
    parsePeerUpdate(update)
    this.applyParsedUpdate(peer, update)
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
    this.broadcast(frame((e) => {
      encoding.writeVarUint(e, MESSAGE_SYNC)
      syncProtocol.writeUpdate(e, update)
    }))
  }

  private broadcast(message: Uint8Array): void {
    // ws wraps a plain Uint8Array in a Buffer on every send: wrap it once for all the peers.
    const buffer = Buffer.from(message.buffer, message.byteOffset, message.byteLength)
    for (const peer of this.peers) peer.send(buffer)
  }
}
