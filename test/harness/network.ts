/**
 * A deterministic network in one process: the real relay rooms ({@link RoomRegistry}, {@link Room},
 * a {@link MemoryStore} or the test's own store, a {@link HarnessBus}) and real client sessions
 * (`connect()` with `broadcastChannel: false`), joined by {@link Link}s whose frames move only
 * when the test says so. It carries the idea of Yjs's own `TestConnector` (tests/testHelper.js)
 * to our client and relay: nothing is delivered by itself, so any interleaving can be written
 * down and replayed.
 *
 * - **Sessions.** `session(name, room)` connects one with the harness's WebSocket class, the
 *   URL parameter `harness=<name>` naming its links, and `maxBackoffMs: 0`, so that a dropped
 *   session opens its next socket on the next timer turn; `nextLink(name)` awaits that socket.
 * - **Delivery.** `deliver(link, 'up' | 'down', n)` moves up to `n` events of one direction;
 *   `deliverBatch(links)` hands the relay every frame the links sent, as one batch of the room
 *   (one merged broadcast); `flushAll()` delivers everything not held until nothing moves
 *   (bounded), letting the clients' microtasks run between rounds. Deliveries to the relay end
 *   with `await rooms.idle()`: every batch applied, stored and its effects sent.
 * - **Faults.** `hold(link)`/`release(link)` per direction; `drop(link)` loses the connection
 *   both ways; `offline(name)` drops a session's link and holds every socket it opens until
 *   `online(name)`; `reconnect(name)` lets it back and flushes until it has re-synced;
 *   `giveUp(link)` closes a socket from the client's side with its frames still in flight (held
 *   until released, as a half-open TCP connection delivers them late); `restartRelay()` drops
 *   every connection and serves the rooms afresh from the store. `grant` makes a client
 *   read-only, as the relay's access control would, and so does
 *   `grants.set(name, grant)` for `name`'s next connections.
 * - **Errors.** Whatever a client's socket handler throws is caught and kept in `escaped`, as a
 *   browser reports an error thrown by an event listener; `close()` throws if any was left there
 *   (`takeEscaped()` takes them).
 *
 * A room handles the first frame that finds it idle at once, alone; frames that arrive while a
 * batch is being stored wait and are handled together. `deliverBatch` therefore opens a drain
 * with an empty update from the bus (it changes nothing, is neither stored nor sent) before it
 * enqueues the frames, all in one tick: they are handled as one batch.
 *
 * @example
 *   const net = new Network()
 *   const a = await net.session('A', 'r')
 *   const b = await net.session('B', 'r')
 *   net.hold(net.link('B'), 'down')
 *   a.set('k', 1)
 *   await net.flushAll()                 // stored and sent, but B holds it back
 *   net.release(net.link('B'))
 *   await net.flushAll()                 // now B reads k === 1
 *   await net.close()
 */
import * as Y from 'yjs'
import { RoomRegistry } from '../../relay/room/registry.js'
import type { RoomStore } from '../../relay/store/room-store.js'
import { MemoryStore } from '../../relay/store/memory-store.js'
import { Metrics } from '../../relay/metrics.js'
import { resolveLimits, type LimitOptions } from '../../relay/limits.js'
import { LogLimiter } from '../../relay/log-limiter.js'
import type { Room } from '../../relay/room/room.js'
import type { PeerGrant } from '../../relay/peer.js'
import type { Schedule } from '../../relay/room/outbox.js'
import { CLOSE } from '../../protocol/close-codes.js'
import { roomFromPath } from '../../protocol/room-names.js'
import { connect, type ConnectOptions, type ServerState } from '../../client/index.js'
import { memoryLogger, within } from '../support/helpers.js'
import { FakeSocket, fakeWebSocket } from './fake-socket.js'
import { Link, type Direction } from './link.js'
import { HarnessPeer } from './relay-peer.js'
import { HarnessBus } from './harness-bus.js'

/** The URL sessions of the harness connect to; nothing listens there. */
export const HARNESS_URL = 'ws://harness.test'

/** An update that changes nothing: opens a drain of a room without touching its doc. */
const EMPTY_UPDATE = Y.encodeStateAsUpdate(new Y.Doc())

export interface NetworkOptions {
  /** The relay's store. Default: a fresh {@link MemoryStore}. */
  store?: RoomStore
  /** The relay's lease time. Default 10 s. */
  leaseMs?: number
  /** Compact a room's store after this many appends. Default 500. */
  compactEvery?: number
  /** The relay's `waiterHoldMs`. Default the relay's. */
  waiterHoldMs?: number
  /** The timer of that bound: pass one to move its time by hand. Default `setTimeout`. */
  schedule?: Schedule
  /** What the relay lets the client named `client` do (a read-only session, say). Default: everything. */
  grant?: (client: string) => PeerGrant | undefined
  /** Bound of every wait (a session's sync, a new socket), in ms. Default 5 s. */
  timeout?: number
  /** Rounds after which `flushAll()` gives up as never quiet. Default 200. */
  maxRounds?: number
  /** The relay's limits (`maxPendingBytes`, …). Default the relay's. */
  limits?: LimitOptions
}

export class Network {
  readonly store: RoomStore
  readonly bus = new HarnessBus()
  readonly log = memoryLogger()
  readonly metrics = new Metrics()
  /** The relay's rooms; a new registry after {@link restartRelay}. */
  rooms: RoomRegistry
  /** The WebSocket class of this network, for `connect({ WebSocketPolyfill })` or by hand. */
  readonly WebSocket: new (
    url: string
  ) => FakeSocket
  /** Every link so far, oldest first. */
  readonly links: Link[] = []
  /** The sessions made by {@link session} or {@link connect}, by name. */
  readonly sessions = new Map<string, ServerState<any>>()
  /** What the relay lets the connections of a client do, by name, as its access control would; absent, everything. */
  readonly grants = new Map<string, PeerGrant>()
  /** Errors thrown by a client's socket handlers, with the link they came in on. */
  readonly escaped: Array<{ link: Link; error: unknown }> = []
  private readonly offlineClients = new Set<string>()
  private readonly bySocket = new Map<FakeSocket, Link>()
  private readonly linkWaiters: Array<{ client: string; resolve: (link: Link) => void }> = []
  private readonly timeout: number
  private readonly maxRounds: number
  private readonly options: NetworkOptions

  constructor(options: NetworkOptions = {}) {
    this.store = options.store ?? new MemoryStore()
    this.timeout = options.timeout ?? 5_000
    this.maxRounds = options.maxRounds ?? 200
    this.options = options
    this.rooms = this.newRegistry()
    this.WebSocket = fakeWebSocket({
      created: (socket) => this.created(socket),
      sent: (socket, frame) => {
        this.linkOf(socket).up.push({ kind: 'frame', frame })
      },
      closedByClient: (socket, code, reason) => this.closedByClient(this.linkOf(socket), code, reason)
    })
  }

  /** A session of `room` named `name`, not yet synced: its socket waits for the test. */
  connect<S extends object = Record<string, any>>(name: string, room: string, options: ConnectOptions = {}): ServerState<S> {
    if (this.sessions.has(name)) throw new Error(`harness: a session named ${name} exists`)
    const session = connect<S>({
      url: HARNESS_URL,
      room,
      WebSocketPolyfill: this.WebSocket,
      broadcastChannel: false,
      maxBackoffMs: 0,
      ...options,
      params: { ...options.params, harness: name }
    })
    this.sessions.set(name, session)
    return session
  }

  /** A session of `room` named `name`, synced with the relay (everything not held is flushed). */
  async session<S extends object = Record<string, any>>(name: string, room: string, options: ConnectOptions = {}): Promise<ServerState<S>> {
    const session = this.connect<S>(name, room, options)
    await this.flushAll()
    await within(session.ready, this.timeout, `session ${name} to sync`)
    return session
  }

  /** The relay's room, loaded if it is not. */
  room(name: string): Promise<Room> {
    return this.rooms.open(name)
  }

  /** The latest link of the session or client `name`. */
  link(name: string): Link {
    for (let i = this.links.length - 1; i >= 0; i--) if (this.links[i]!.client === name) return this.links[i]!
    throw new Error(`harness: ${name} has no link`)
  }

  hold(link: Link, direction?: Direction): void {
    if (direction !== 'down') link.held.up = true
    if (direction !== 'up') link.held.down = true
  }

  release(link: Link, direction?: Direction): void {
    if (direction !== 'down') link.held.up = false
    if (direction !== 'up') link.held.down = false
  }

  /**
   * Delivers up to `n` events of `link` in `direction`, held or not; returns how many. Up, it
   * ends once the room has handled, stored and sent everything.
   */
  deliver(link: Link, direction: Direction, n = Infinity): Promise<number> {
    return direction === 'down' ? this.deliverDown(link, n) : this.deliverUp([link], n)
  }

  /**
   * Hands the relay every frame the links sent, in the order of `links`, as one batch of their
   * room: their updates are stored as one write and broadcast as one merged update.
   */
  async deliverBatch(links: Link[]): Promise<number> {
    const rooms = new Set(links.map((l) => l.peer?.room))
    const room = [...rooms][0]
    if (rooms.size !== 1 || !room) throw new Error('deliverBatch: the links must be open, in one room')
    if (this.bus.deliver(room.name, EMPTY_UPDATE) === 0) throw new Error(`deliverBatch: room ${room.name} is not on the bus`)
    return this.deliverUp(links, Infinity)
  }

  /**
   * Delivers everything that is not held, both ways, round after round, until a round moves
   * nothing. Between rounds the clients' pending microtasks run (a lock's function after its
   * grant, say). Timers are not waited for: see {@link nextLink}.
   */
  async flushAll(): Promise<void> {
    for (let round = 0; round < this.maxRounds; round++) {
      await this.settle()
      let moved = false
      for (const link of [...this.links]) {
        if (link.deliverable('down')) moved = (await this.deliverDown(link, Infinity)) > 0 || moved
      }
      await this.settle()
      for (const link of [...this.links]) {
        if (link.deliverable('up')) moved = (await this.deliverUp([link], Infinity)) > 0 || moved
      }
      if (!moved) return
    }
    throw new Error(`flushAll: still delivering after ${this.maxRounds} rounds`)
  }

  /** The connection is lost both ways: what is in flight is gone, both ends see it close. */
  drop(link: Link): void {
    const open = link.state !== 'closed'
    link.clear()
    link.state = 'closed'
    link.ended ??= { by: 'drop', code: 1006, reason: '' }
    link.peer?.detach()
    if (open) this.guard(link, () => link.socket.lose(1006, '', false))
  }

  /** Drops `name`'s connection; the sockets it opens stay connecting (held) until {@link online}. */
  offline(name: string): void {
    this.offlineClients.add(name)
    for (const link of this.links) if (link.client === name && link.state !== 'closed') this.drop(link)
  }

  /** Lets `name`'s sockets connect again: its held connecting socket opens at the next flush. */
  online(name: string): void {
    this.offlineClients.delete(name)
    for (const link of this.links) if (link.client === name && link.state !== 'closed') this.release(link)
  }

  /**
   * `name`'s connecting socket: the one it has, or the next it opens (a reconnection runs on a
   * zero-delay timer). Rejects after the harness's timeout.
   */
  nextLink(name: string): Promise<Link> {
    for (let i = this.links.length - 1; i >= 0; i--) {
      const link = this.links[i]!
      if (link.client === name) {
        if (link.state === 'connecting') return Promise.resolve(link)
        break
      }
    }
    return within(new Promise<Link>((resolve) => this.linkWaiters.push({ client: name, resolve })), this.timeout, `a new socket of ${name}`)
  }

  /** Brings `name` back online, awaits its new socket and flushes until it has re-synced. */
  async reconnect(name: string): Promise<Link> {
    this.online(name)
    // A reconnection runs on a zero-delay timer: a flush since the drop may have delivered its
    // socket's open already, and then that open socket is the one to wait for.
    const newest = [...this.links].reverse().find((l) => l.client === name)
    const link = newest?.state === 'open' ? newest : await this.nextLink(name)
    await this.flushAll()
    const session = this.sessions.get(name)
    if (session && !session.connection.synced) throw new Error(`reconnect: ${name} did not re-sync (is its link held?)`)
    return link
  }

  /**
   * The relay restarts from its store, as after a crash: every connection is lost both ways
   * (what was in flight is gone), the rooms and their leases are dropped, and the next
   * connections load the rooms afresh from the store.
   */
  async restartRelay(): Promise<void> {
    for (const link of this.links) if (link.state !== 'closed') this.drop(link)
    await this.rooms.idle().catch(() => {})
    await this.rooms.close()
    this.rooms = this.newRegistry()
  }

  /**
   * The client gives its socket up on its own, as y-websocket's silence watchdog does, while the
   * frames it sent are still in flight: they stay queued, held, and reach the relay (before the
   * close) only when the test releases or delivers them, after the session's next socket synced
   * if the test likes. The relay still counts the old connection as open until then.
   */
  giveUp(link: Link): void {
    if (link.state !== 'open') return
    link.held.up = true
    const socket = link.socket
    // y-websocket handles its own close like a close event: a new socket, on its back-off timer.
    this.guard(link, () => socket.onclose?.({ type: 'close', code: 1006, reason: 'given up', wasClean: false }))
    if (socket.readyState !== FakeSocket.CLOSED) socket.close(1006, 'given up')
  }

  private newRegistry(): RoomRegistry {
    const options = this.options
    return new RoomRegistry(
      {
        limits: resolveLimits(this.options.limits ?? {}),
        limited: new LogLimiter(this.log, 60_000),
        store: this.store,
        bus: this.bus,
        metrics: this.metrics,
        log: this.log,
        leaseMs: options.leaseMs ?? 10_000,
        compactEvery: options.compactEvery ?? 500,
        ...(options.waiterHoldMs !== undefined ? { waiterHoldMs: options.waiterHoldMs } : {}),
        ...(options.schedule ? { schedule: options.schedule } : {})
      },
      60 * 60_000
    )
  }

  /** Waits until every loaded room has handled, stored and sent what it has queued. */
  idle(): Promise<void> {
    return this.rooms.idle()
  }

  /** Lets every pending microtask run (one turn of the event loop); no timer is waited for. */
  settle(): Promise<void> {
    return new Promise((resolve) => setImmediate(resolve))
  }

  /** The room as its store holds it, in a fresh doc. */
  async storedDoc(room: string): Promise<Y.Doc> {
    const doc = new Y.Doc()
    for (const update of (await this.store.load(room)).updates) Y.applyUpdate(doc, update)
    return doc
  }

  /** Returns and forgets the errors that escaped into socket handlers. */
  takeEscaped(): Array<{ link: Link; error: unknown }> {
    return this.escaped.splice(0)
  }

  /** Closes every session, link and room. Throws if an error escaped into a socket handler and was not taken. */
  async close(): Promise<void> {
    for (const session of this.sessions.values()) session.close()
    for (const link of this.links) {
      link.clear()
      link.state = 'closed'
      link.peer?.detach()
    }
    await this.rooms.idle().catch(() => {})
    await this.rooms.close()
    await this.bus.close()
    await this.store.close()
    const escaped = this.takeEscaped()
    if (escaped.length > 0) {
      throw new Error(`errors escaped into socket handlers: ${escaped.map((e) => `${e.link}: ${String(e.error)}`).join('; ')}`)
    }
  }

  private created(socket: FakeSocket): void {
    const url = new URL(socket.url)
    const room = roomFromPath(url.pathname)
    if (room === null) throw new TypeError(`harness: ${socket.url} names no room`)
    const link = new Link(url.searchParams.get('harness') ?? 'anonymous', room, socket)
    if (this.offlineClients.has(link.client)) this.hold(link)
    this.links.push(link)
    this.bySocket.set(socket, link)
    for (let i = this.linkWaiters.length - 1; i >= 0; i--) {
      const waiter = this.linkWaiters[i]!
      if (waiter.client !== link.client) continue
      this.linkWaiters.splice(i, 1)
      waiter.resolve(link)
    }
  }

  private linkOf(socket: FakeSocket): Link {
    const link = this.bySocket.get(socket)
    if (!link) throw new Error('harness: a socket of another network')
    return link
  }

  private closedByClient(link: Link, code: number, reason: string): void {
    if (link.state === 'closed') return
    link.down.length = 0
    link.ended ??= { by: 'client', code, reason }
    // The relay learns of it after the frames sent before it; a socket still connecting never reached it.
    if (link.state === 'open') link.up.push({ kind: 'close', code, reason })
    link.state = 'closed'
  }

  private async deliverDown(link: Link, n: number): Promise<number> {
    let count = 0
    while (count < n && link.down.length > 0) {
      const event = link.down.shift()!
      count++
      if (event.kind === 'open') await this.open(link)
      else if (event.kind === 'frame') {
        link.delivered.down.push(event.frame)
        this.guard(link, () => link.socket.receive(event.frame))
      } else {
        link.state = 'closed'
        link.up.length = 0
        this.guard(link, () => link.socket.lose(event.code, event.reason, true))
      }
    }
    return count
  }

  /** Enqueues up to `n` events of each link into its room, all in this tick, then awaits the rooms. */
  private async deliverUp(links: Link[], n: number): Promise<number> {
    let count = 0
    for (const link of links) {
      for (let i = 0; i < n && link.up.length > 0; i++) {
        const event = link.up.shift()!
        count++
        const peer = link.peer
        if (!peer || peer.closed) continue // the relay no longer reads this connection
        if (event.kind === 'frame') {
          link.delivered.up.push(event.frame)
          peer.room.receive(peer, event.frame)
        } else {
          peer.detach()
        }
      }
    }
    await this.rooms.idle()
    return count
  }

  /** The handshake completes: the relay joins the link to its room, then the client's socket opens. */
  private async open(link: Link): Promise<void> {
    if (link.state !== 'connecting') return
    let room: Room
    try {
      room = await this.rooms.open(link.room)
    } catch {
      link.state = 'closed'
      link.ended = { by: 'relay', code: CLOSE.internalError, reason: 'room failed to load' }
      this.guard(link, () => link.socket.lose(CLOSE.internalError, 'room failed to load', true))
      return
    }
    if (link.state !== 'connecting') return this.rooms.released(room)
    link.peer = new HarnessPeer(link, room, this.rooms, this.log, this.grants.get(link.client) ?? this.options.grant?.(link.client))
    link.state = 'open'
    room.join(link.peer)
    this.guard(link, () => link.socket.open())
  }

  private guard(link: Link, fn: () => void): void {
    try {
      fn()
    } catch (error) {
      this.escaped.push({ link, error })
    }
  }
}
