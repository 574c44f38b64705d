/**
 * The simulated system: one relay (the real room pipeline on the deterministic harness network,
 * with a {@link SimStore}), three writing sessions A, B, C (A and B paired over a simulated
 * BroadcastChannel when the `channel` operations are on) and a read-only session R, all of one
 * room; with the `backend` operations, the relay's backends in that room too (backend.ts). Each session has one tracker for each watched key, like a component that reads it; the
 * world records every notification so that the invariants can tell who re-ran for what.
 *
 * Time is virtual (node:test's mock timers): nothing happens on a timer unless the simulation
 * ticks, so a seed replays exactly. `settle()` lets microtasks and zero-delay timers (a socket's
 * reconnection) run.
 *
 * @example
 *   const world = new World(model, hooks, { channel: true })
 *   await world.start()
 *   world.live()            // the sessions not closed
 *   await world.quiesce()   // everything delivered, every timer due run
 */
import * as Y from 'yjs'
import { mock } from 'node:test'
import { Network, ChannelPair, type Link } from '../harness/index.js'
import type { ServerState, Tracker } from '../../client/index.js'
import { SimStore } from './sim-store.js'
import { WATCHED, type Model } from './model.js'
import { SimBackend } from './backend.js'

export const ROOM = 'sim'
export const WRITERS = ['A', 'B', 'C'] as const
export const READER = 'R'

export interface WatchedKey {
  key: string
  tracker: Tracker
  /** Per client id, the highest clock the session's doc held at one of this tracker's notifications. */
  seen: Map<number, number>
  notifications: number
}

export interface SimSession {
  slot: string
  /** The harness name: slot and incarnation, `A1`, `A2`… */
  name: string
  s: ServerState<any>
  readOnly: boolean
  closed: boolean
  watched: Map<string, WatchedKey>
  /** The transaction being handled, from `beforeObserverCalls` until its `afterTransaction` ends. */
  current: Y.Transaction | null
}

/** Called on each notification of a session's tracker, inside the transaction that caused it. */
export type OnNotified = (session: SimSession, watched: WatchedKey) => void

export class World {
  readonly store: SimStore
  readonly net: Network
  readonly sessions = new Map<string, SimSession>()
  readonly all: SimSession[] = []
  pair: ChannelPair | null = null
  /** The relay's backends in the room, if the `backend` steps are on. */
  readonly backend: SimBackend | null
  private readonly incarnations = new Map<string, number>()

  constructor(
    readonly model: Model,
    private readonly onNotified: OnNotified,
    readonly channel: boolean,
    backend = false
  ) {
    // With backends, a store that takes a turn: their answers' reactions run within microtasks.
    this.store = new SimStore(backend)
    this.net = new Network({
      store: this.store,
      maxRounds: 1_000,
      grant: (client) => (client.startsWith(READER) ? { access: 'read', presence: true } : undefined)
    })
    this.backend = backend ? new SimBackend(this.net, model, ROOM) : null
  }

  /** The relay restarts from its store (its backends with it): every connection and lease is lost. */
  async restartRelay(): Promise<void> {
    if (this.backend) await this.backend.restartRelay()
    else await this.net.restartRelay()
  }

  async start(): Promise<void> {
    for (const slot of [...WRITERS, READER]) this.incarnate(slot)
    await this.deliverAll()
    this.pairTabs()
    for (const ss of this.sessions.values()) {
      if (!ss.s.connection.synced) throw new Error(`sim: ${ss.name} did not sync at the start`)
    }
  }

  /** A new session in `slot` (its first, or after the last one closed). */
  incarnate(slot: string): SimSession {
    const n = (this.incarnations.get(slot) ?? 0) + 1
    this.incarnations.set(slot, n)
    const name = `${slot}${n}`
    const s = this.net.connect(name, ROOM, { lockTimeout: 10_000 })
    const ss: SimSession = { slot, name, s, readOnly: slot === READER, closed: false, watched: new Map(), current: null }
    s.doc.on('beforeObserverCalls', (tr: Y.Transaction) => {
      ss.current = tr
    })
    // Registered after the session's own change detection, so it runs after the notifications.
    s.doc.on('afterTransaction', () => {
      ss.current = null
    })
    for (const key of WATCHED) {
      const watched: WatchedKey = { key, tracker: null as unknown as Tracker, seen: new Map(), notifications: 0 }
      watched.tracker = s.tracker(() => {
        watched.notifications++
        for (const client of s.doc.store.clients.keys()) {
          const clock = Y.getState(s.doc.store, client)
          if ((watched.seen.get(client) ?? 0) < clock) watched.seen.set(client, clock)
        }
        this.onNotified(ss, watched)
      })
      watched.tracker.run(() => s.get(key))
      ss.watched.set(key, watched)
    }
    this.sessions.set(slot, ss)
    this.all.push(ss)
    return ss
  }

  /** Pairs the sessions of A and B over a (new) BroadcastChannel, if the channel steps are on. */
  pairTabs(): void {
    if (!this.channel) return
    this.pair?.close()
    this.pair = new ChannelPair(this.sessions.get('A')!.s, this.sessions.get('B')!.s)
  }

  /** The sessions not closed. */
  live(): SimSession[] {
    return [...this.sessions.values()].filter((ss) => !ss.closed)
  }

  /** The relay's doc of the room, if the room is loaded. */
  relayDoc(): Y.Doc | null {
    return this.net.rooms.loaded().find((r) => r.name === ROOM)?.doc ?? null
  }

  /** The links that still carry something or may: not closed, or closed with frames queued. */
  links(): Link[] {
    return this.net.links.filter((l) => l.state !== 'closed' || l.up.length > 0 || l.down.length > 0)
  }

  /** Lets microtasks, immediates and zero-delay timers run, in a fixed order. */
  async settle(): Promise<void> {
    for (let i = 0; i < 3; i++) {
      await this.net.settle()
      mock.timers.tick(0)
    }
    await this.net.settle()
  }

  /** Delivers everything not held, running zero-delay timers between, until nothing moves. */
  async deliverAll(): Promise<void> {
    for (let i = 0; i < 50; i++) {
      await this.settle()
      const before = this.net.links.length
      const moving = this.net.links.some((l) => l.deliverable('up') || l.deliverable('down'))
      await this.net.flushAll()
      await this.settle()
      if (!moving && this.net.links.length === before) return
    }
  }

  /**
   * Everything reaches everyone: holds released, sessions online, the BroadcastChannel drained,
   * then time runs on (leases and lock timeouts expire), until nothing is left to happen.
   */
  async quiesce(): Promise<void> {
    // A backend's lease may be granted late in a wait of up to 20 s and then held past its end.
    const rounds = this.backend ? 9 : 6
    for (let round = 0; round < rounds; round++) {
      for (const link of this.net.links) this.net.release(link)
      for (const ss of this.sessions.values()) this.net.online(ss.name)
      if (this.pair) {
        const [a, b] = [this.sessions.get('A')!.s, this.sessions.get('B')!.s]
        while (this.pair.pending(a) + this.pair.pending(b) > 0) {
          this.pair.forward(a)
          this.pair.forward(b)
        }
      }
      await this.deliverAll()
      mock.timers.tick(round < 3 ? 100 : 11_000)
      await this.deliverAll()
    }
  }

  async close(): Promise<void> {
    this.pair?.close()
    await this.backend?.close()
    await this.net.close()
  }
}
