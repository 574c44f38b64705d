/**
 * The simulation's backend (the `backend` step group): the relay's real {@link RoomBackends} on
 * the harness's rooms, driven in-process through {@link RoomAccess} as the HTTP routes drive it,
 * and a recorder that finds, in each update the backend peer sends, the items of the backend's
 * writes, so that the invariants on re-runs (loud and quiet) and on storage hold for them as for
 * the sessions' writes.
 *
 * The recorder reads the updates as they leave the peer (`update`, `commit`): a set is told by its
 * unique value `{ w: id }`; a force by its entry of `yss:forces`, whose key is in the entry's name
 * or, for a later force of the same entry, in the entry the item follows (its origin, an item the
 * same shadow sent before).
 *
 * A relay restart closes the backends (everything under way fails with `BackendClosedError`)
 * and starts new ones on the new registry, as a new relay process would.
 *
 * @example
 *   const backend = new SimBackend(net, model)
 *   const access = await backend.access()
 *   backend.expect({ id: 7, key: 'a', kind: 'set', quiet: false })
 *   await access.write({ set: { a: { w: 7 } } })
 *   backend.recorded(7)   // the write's client and clocks, once sent
 */
import * as Y from 'yjs'
import { RoomBackends, type RoomAccess } from '../../relay/backend/backends.js'
import type { RoomBackend } from '../../relay/backend/room-backend.js'
import { BackendPeer } from '../../relay/backend/backend-peer.js'
import { resolveLimits } from '../../relay/limits.js'
import { FORCES, STATE } from '../../protocol/doc-names.js'
import { forcedKey } from '../../protocol/doc-writes.js'
import type { Network } from '../harness/index.js'
import type { Model, WriteRecord } from './model.js'

/** The name backend writes and leases go by in the model and the trace. */
export const BACKEND = 'HTTP'

/** The relay's lease time, the harness's default: the backends reckon with the same. */
export const BACKEND_LEASE_MS = 10_000

/** A write the backend was asked to make, whose items the recorder looks for. */
export interface ExpectedWrite {
  id: number
  key: string
  kind: 'set' | 'force'
  quiet: boolean
}

interface Place {
  root: string
  sub: string | null
}

export class SimBackend {
  backends: RoomBackends
  /** Grows at each relay restart: a lease of an earlier incarnation is gone. */
  incarnation = 0
  private readonly watched = new WeakSet<RoomBackend>()
  /** Where each item the backend sent lies, by `client:clock`. */
  private readonly places = new Map<string, Place>()
  private readonly sets = new Map<number, ExpectedWrite>()
  private readonly forces = new Map<string, ExpectedWrite[]>()
  private readonly records = new Map<number, WriteRecord>()

  constructor(
    private readonly net: Network,
    private readonly model: Model,
    private readonly room: string
  ) {
    this.backends = this.start()
  }

  /** The room's calls; the room's backend is opened (and watched) first. */
  async access(): Promise<RoomAccess> {
    this.watch(await this.backends.backend(this.room))
    return this.backends.room(this.room)
  }

  /** Look for this write's items in what the backend sends. */
  expect(w: ExpectedWrite): void {
    if (w.kind === 'set') this.sets.set(w.id, w)
    else this.forces.set(w.key, [...(this.forces.get(w.key) ?? []), w])
  }

  /** Stop looking for the write's items: it failed. */
  forget(w: ExpectedWrite): void {
    this.sets.delete(w.id)
    const queue = this.forces.get(w.key)
    if (queue?.includes(w)) queue.splice(queue.indexOf(w), 1)
  }

  /** The write's record, once its items were sent. */
  recorded(id: number): WriteRecord | undefined {
    return this.records.get(id)
  }

  /** Open leases of the backends (waiting or held). */
  get openLeases(): number {
    return this.backends.openLeases
  }

  /** Whether `peer` is a backend's. */
  owns(peer: unknown): boolean {
    return peer instanceof BackendPeer
  }

  /** The relay restarts: the backends close, the rooms reload from the store, new backends start. */
  async restartRelay(): Promise<void> {
    await this.backends.close()
    await this.net.restartRelay()
    this.incarnation++
    this.backends = this.start()
  }

  close(): Promise<void> {
    return this.backends.close()
  }

  private start(): RoomBackends {
    return new RoomBackends({ rooms: this.net.rooms, leaseMs: BACKEND_LEASE_MS, limits: resolveLimits({}), metrics: this.net.metrics })
  }

  private watch(backend: RoomBackend): void {
    if (this.watched.has(backend)) return
    this.watched.add(backend)
    const peer = backend.peer
    const update = peer.update.bind(peer)
    const commit = peer.commit.bind(peer)
    peer.update = (u: Uint8Array) => {
      this.sent(u)
      update(u)
    }
    peer.commit = (id: number, u: Uint8Array) => {
      if (u.length > 0) this.sent(u)
      commit(id, u)
    }
  }

  private sent(update: Uint8Array): void {
    for (const s of Y.decodeUpdate(update).structs) {
      if (!(s instanceof Y.Item)) continue
      const parent = s.parent as unknown
      const place: Place | undefined =
        typeof parent === 'string'
          ? { root: parent, sub: s.parentSub }
          : s.origin
            ? this.places.get(`${s.origin.client}:${s.origin.clock}`)
            : undefined
      for (let i = 0; i < s.length; i++) if (place) this.places.set(`${s.id.client}:${s.id.clock + i}`, place)
      const values = s.content instanceof Y.ContentAny ? (s.content as Y.ContentAny & { arr: unknown[] }).arr : []
      values.forEach((value, i) => {
        const id = (value as { w?: unknown } | null)?.w
        const expected = typeof id === 'number' ? this.sets.get(id) : undefined
        if (expected && (place === undefined || (place.root === STATE && place.sub === expected.key))) {
          this.sets.delete(expected.id)
          this.record(expected, s.id.client, s.id.clock + i, s.id.clock + i + 1)
        }
      })
      if (place?.root === FORCES && place.sub !== null) {
        const queue = this.forces.get(forcedKey(place.sub))
        const expected = queue?.shift()
        if (expected) this.record(expected, s.id.client, s.id.clock, s.id.clock + s.length)
      }
    }
  }

  private record(w: ExpectedWrite, client: number, clock: number, end: number): void {
    const record = this.model.write({ id: w.id, session: BACKEND, key: w.key, kind: w.kind, quiet: w.quiet, client, clock, end })
    this.records.set(w.id, record)
  }
}
