/**
 * The connection of a session: one y-websocket socket to one room, its status, reconnection with
 * jitter, its token and access, and the routing of our own message 100 (requests by id, and
 * flushes).
 *
 * On each socket open it sends HELLO before anything else, and the relay answers with ACCESS
 * (`write` or `read`, and the user) before its sync step 2: so the session knows its access once
 * it is connected. Just before ACCESS, the relay tells the patterns of the keys only its server
 * mutations may write ({@link Connection.mutationOnly}); a relay that does not speak of them
 * has none. Until the relay has said it the first time, the session holds its writes
 * (client/session.ts) and the BroadcastChannel stays shut, so that nothing of a session that
 * turns out read-only reaches another tab; the channel opens once the access is `write`.
 *
 * The `token` option, a function, is called before each connection attempt; a connection that
 * was accepted and then closed with 4401 (its token expired) reconnects with a fresh token, while
 * a token refused at connection closes the session for good.
 *
 * It tells the rest of the session about the socket through three hooks: `resynced` (synced
 * again with the relay, after a connect or reconnect), `lost` (the socket closed) and `closed`
 * (the session is over for good, with the error that pending work rejects with).
 *
 * @example
 *   const conn = new Connection(doc, { url: 'ws://127.0.0.1:1234', room: 'default' })
 *   conn.onStatus((s) => console.log(s))   // 'connecting' → 'connected'
 *   await conn.flush()                      // the relay stored everything sent so far
 *   conn.close(new Error('bye'))
 */
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import { ObservableV2 } from 'lib0/observable'
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import * as bc from 'lib0/broadcastchannel'
import * as syncProtocol from 'y-protocols/sync'
import { uuidv4 } from 'lib0/random'
import {
  HELLO_FENCES,
  HELLO_MUTATIONS,
  HELLO_RETAINS,
  MAX_FATE_QUESTIONS,
  MESSAGE_SYNC,
  MESSAGE_YSS,
  YSS_ACCESS,
  YSS_COMMIT,
  YSS_FLUSH,
  YSS_FLUSHED,
  YSS_HELLO,
  YSS_MUTATION_ONLY,
  YSS_REVOKE,
  decodeYss,
  encodeYss,
  type Access,
  type FateQuestion,
  type YssMessage
} from '../protocol/messages.js'
import { CLOSE, isRefusal } from '../protocol/close-codes.js'
import { roomNameProblem, roomPath } from '../protocol/room-names.js'
import { SessionClosedError } from './errors.js'
import { claimsOf, tokenFor, type TokenOption } from './access.js'
import { keyMatches } from '../protocol/patterns.js'

export type Status = 'connecting' | 'connected' | 'disconnected'

export interface ConnectionOptions {
  /**
   * The relay, `ws://host:port` (with a path prefix if it has one). Default in a browser: the
   * page's own host. Several relays of one cluster (`['ws://a:1234', 'ws://b:1234']`): the
   * session starts with the first and moves to the next each time a socket closes or fails.
   */
  url?: string | readonly string[]
  /** The room; default `default`. Any name a stock y-websocket client may use, up to 2,048 bytes. */
  room?: string
  /** A WebSocket implementation where there is no global one (Node 20: `ws`). */
  WebSocketPolyfill?: unknown
  /** Query parameters added to the connection URL. */
  params?: Record<string, string>
  /**
   * Sync same-origin tabs over BroadcastChannel too (y-websocket's default), once the relay has
   * said this session may write. Default true.
   */
  broadcastChannel?: boolean
  /** Longest wait between reconnection attempts, before jitter. Default 2500 ms. */
  maxBackoffMs?: number
  /**
   * The relay's access token, sent as the `token` query parameter: a string, or a function (sync
   * or async) called before every connection attempt, so that a session refreshes an expired
   * token without a new session. A function that throws counts as a failed attempt (retried).
   */
  token?: TokenOption
}

type Events = { status: (status: Status) => void; access: (access: Access) => void }

/**
 * Asks a Node `ws` socket for each message as a view of the bytes it read, rather than a fresh
 * ArrayBuffer (allocated outside the JavaScript heap and freed by a later collection): y-websocket
 * copies the message anyway, into a small array on the heap. The platform's own WebSocket (a
 * browser's, Node 22's) is left as y-websocket set it, to ArrayBuffers: it knows no `nodebuffer`,
 * and a browser logs a warning for each socket told it. Any other polyfill that does not take the
 * value (some fall back to blobs) is set back to ArrayBuffers.
 */
const receiveAsBuffers = (ws: WebSocket | null): void => {
  if (!ws || (typeof WebSocket === 'function' && ws instanceof WebSocket)) return
  const socket = ws as { binaryType: string }
  socket.binaryType = 'nodebuffer'
  if (socket.binaryType !== 'nodebuffer') socket.binaryType = 'arraybuffer'
}

const defaultUrl = (): string => {
  const loc = (globalThis as { location?: Location }).location
  if (!loc) throw new TypeError('connect(): pass { url } outside a browser')
  return `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}`
}

export class Connection extends ObservableV2<Events> {
  readonly provider: WebsocketProvider
  readonly room: string
  /** Resolves once synced with the relay for the first time; rejects if the session closes first. */
  readonly ready: Promise<void>
  /** Called after each (re)sync with the relay. */
  readonly resynced = new Set<() => void>()
  /** Called when the socket closes. */
  readonly lost = new Set<() => void>()
  /** Called once, when the session closes for good. */
  readonly closed = new Set<(err: Error) => void>()
  /** Called with the access each time the relay says it (ACCESS). */
  readonly accessSaid = new Set<(access: Access) => void>()
  /** Called with the request id of a retained lease that the relay asks back (REVOKE). */
  readonly revoked = new Set<(id: number) => void>()
  /**
   * Commits sent on an earlier socket and never answered there: each new socket's HELLO asks the
   * relay their fate, and the relay answers DONE or DENIED under their ids (client/lock.ts).
   */
  readonly unsettled = new Map<number, FateQuestion>()
  /** The session's id in every HELLO: the relay fences the session's earlier connections by it. */
  private readonly session = uuidv4()
  /** The open socket's number in the session (from 1), and the COMMITs sent on it. */
  private socketNumber = 0
  private commitsOnSocket = 0
  private readonly requests = new Map<number, (m: YssMessage) => void>()
  /** Deletions that came over the BroadcastChannel and may not have reached the relay. */
  private channelDeletions: Uint8Array[] = []
  /** Those of them that the sync step 2 this socket sent carried: forgotten once it has synced. */
  private deletionsInStep2: readonly Uint8Array[] = []
  private nextId = 1
  private _status: Status = 'connecting'
  private _isClosed = false
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined
  private _access: Access = 'write'
  private _accessKnown = false
  /** Whether the BroadcastChannel is wanted (the `broadcastChannel` option), once the access is `write`. */
  private readonly channel: boolean
  private _user: string | undefined
  /** The relay's mutation-only key patterns, as it last told them. */
  private mutationOnlyPatterns: readonly string[] = []
  private readonly params: Record<string, string>
  private readonly token: TokenOption | undefined
  private readonly maxBackoff: number
  /** Whether the open socket has synced: the relay accepted it. */
  private socketSynced = false
  /** Whether this socket answered the relay's sync step 1: its sync step 2 went out (see {@link sendLocalUpdates}). */
  private step2Sent = false
  /** Set when the socket that just closed with 4401 is to be retried with a fresh token. */
  private refreshToken = false
  /** The relays to rotate through, and the one in use. */
  private readonly urls: string[]
  private urlIndex = 0

  constructor(doc: Y.Doc, options: ConnectionOptions) {
    super()
    const room = options.room ?? 'default'
    const problem = roomNameProblem(room)
    if (problem !== null) throw new TypeError(`connect(): invalid room name ${JSON.stringify(room)}: ${problem}`)
    this.room = room
    this.maxBackoff = options.maxBackoffMs ?? 2500
    this.params = options.params ?? {}
    this.token = options.token
    this.channel = options.broadcastChannel !== false
    this.urls = (typeof options.url === 'string' ? [options.url] : options.url ? [...options.url] : [defaultUrl()]).map((u) =>
      u.replace(/\/+$/, '')
    )
    if (this.urls.length === 0) throw new TypeError('connect(): url is an empty list')
    // Connected below, once the token is known: y-websocket builds the URL when it connects.
    this.provider = new WebsocketProvider(this.urls[0]!, roomPath(room), doc, {
      connect: false,
      params: this.params,
      // Opened once the relay says this session may write (accessFromRelay).
      disableBc: true,
      maxBackoffTime: this.maxBackoff,
      ...(options.WebSocketPolyfill ? { WebSocketPolyfill: options.WebSocketPolyfill as typeof WebSocket } : {})
    })
    this.provider.messageHandlers[MESSAGE_YSS] = (_encoder, decoder) => {
      const m = decodeYss(decoder)
      if (m.type === YSS_ACCESS) this.accessFromRelay(m.access, m.user || undefined)
      else if (m.type === YSS_MUTATION_ONLY) this.mutationOnlyPatterns = m.patterns
      else if (m.type === YSS_REVOKE) for (const hook of [...this.revoked]) hook(m.id)
      else this.requests.get(m.id)?.(m)
    }
    this.noteChannelDeletions(doc)
    this.sendLocalUpdates(doc)
    this.skipEncodingReceived(doc)
    this.ready = new Promise<void>((resolve, reject) => {
      this.provider.on('sync', (synced: boolean) => {
        if (synced) resolve()
      })
      this.closed.add(reject)
    })
    this.ready.catch(() => {})
    this.provider.on('status', ({ status }) => {
      // Emitted as the socket is created, before it can receive anything.
      if (status === 'connecting') receiveAsBuffers(this.provider.ws)
      // Emitted as the socket opens, before the provider sends its sync step 1.
      // Its id says that this client can hold a retained lease (client/retained-leases.ts), and
      // that it names its session, so that the relay fences the session's earlier connections
      // and tells the fate of the commits they left unanswered, and that it speaks mutations.
      if (status === 'connected') this.hello()
      if (status === 'disconnected') this.setStatus('disconnected')
      else if (status === 'connecting' && this._status !== 'connected') this.setStatus('connecting')
    })
    this.provider.on('sync', (synced: boolean) => {
      if (!synced) return
      // A relay that does not speak message 100 never says ACCESS: it has no read-only sessions.
      if (!this._accessKnown) this.accessFromRelay(this._access, this._user)
      // The sync step 2 this socket sent carried the whole delete set the doc had then; a
      // deletion that came over the channel after it went out is still unknown to the relay.
      const sent = new Set(this.deletionsInStep2)
      this.channelDeletions = this.channelDeletions.filter((d) => !sent.has(d))
      this.deletionsInStep2 = []
      this.socketSynced = true
      this.setStatus('connected')
      for (const hook of [...this.resynced]) hook()
    })
    this.provider.on('connection-close', (event) => {
      this.refreshToken = event?.code === CLOSE.unauthorized && this.socketSynced && typeof this.token === 'function'
      this.socketSynced = false
      this.step2Sent = false
      this.deletionsInStep2 = []
      for (const hook of [...this.lost]) hook()
      this.scheduleReconnect(event?.code)
    })
    this.provider.on('closed', ({ code, reason }) => {
      if (this.refreshToken) return
      this.close(new SessionClosedError(`the relay closed the session for good (${code}: ${reason})`))
    })
    this.connectNow()
  }

  /** `write`, or `read` for a session whose writes the relay drops: from the token, then from the relay. */
  get access(): Access {
    return this._access
  }

  /** Whether the relay has said the access (`access` is assumed until then). */
  get accessKnown(): boolean {
    return this._accessKnown
  }

  /**
   * Whether only the relay's server mutations may write `key`, as the relay told it on this or
   * the last connection (it tells it before ACCESS, so it is known once `accessKnown` is).
   */
  mutationOnly(key: string): boolean {
    return this.mutationOnlyPatterns.length > 0 && keyMatches(this.mutationOnlyPatterns, key)
  }

  /** The user the relay (or the token's `sub`) names, if any. */
  get user(): string | undefined {
    return this._user
  }

  /** Calls `listener` when the access or the user changes; returns a function that stops it. */
  onAccess(listener: (access: Access) => void): () => void {
    this.on('access', listener)
    return () => this.off('access', listener)
  }

  get status(): Status {
    return this._status
  }

  /** Whether the session is over: closed, or refused by the relay for good. */
  get isClosed(): boolean {
    return this._isClosed
  }

  /** Whether the socket is open and synced: a request sent now reaches the relay. */
  get synced(): boolean {
    return this.provider.synced
  }

  /**
   * Resolves once the status is `connected` (at once if it is); rejects with `timedOut()` after
   * `timeout` ms, or with the session's error if it closes first.
   */
  untilConnected(timeout: number, timedOut: () => Error): Promise<void> {
    if (this._status === 'connected') return Promise.resolve()
    return new Promise((resolve, reject) => {
      const stop = this.onStatus((status) => {
        if (status !== 'connected') return
        done()
        resolve()
      })
      const timer = setTimeout(() => {
        done()
        reject(timedOut())
      }, timeout)
      const onClose = (err: Error) => {
        done()
        reject(err)
      }
      this.closed.add(onClose)
      const done = () => {
        stop()
        clearTimeout(timer)
        this.closed.delete(onClose)
      }
    })
  }

  /** Calls `listener` with each new status; returns a function that stops it. */
  onStatus(listener: (status: Status) => void): () => void {
    this.on('status', listener)
    return () => this.off('status', listener)
  }

  /** A request id, unique among this session's requests. */
  newRequestId(): number {
    return this.nextId++
  }

  /** Sends a message 100 if the socket is open; returns whether it was sent. */
  send(m: YssMessage): boolean {
    const ws = this.provider.ws
    if (!this.provider.wsconnected || !ws || ws.readyState !== 1) return false
    ws.send(encodeYss(m))
    return true
  }

  /**
   * Sends a COMMIT if the socket is open; returns where it went (the socket's number and the
   * commit's place on it, for a {@link FateQuestion}), or null if it was not sent.
   */
  sendCommit(id: number, update: Uint8Array): { socket: number; index: number } | null {
    if (!this.send({ type: YSS_COMMIT, id, update })) return null
    return { socket: this.socketNumber, index: ++this.commitsOnSocket }
  }

  private hello(): void {
    this.socketNumber++
    this.commitsOnSocket = 0
    const commits = [...this.unsettled.values()].slice(-MAX_FATE_QUESTIONS)
    this.send({
      type: YSS_HELLO,
      id: HELLO_RETAINS | HELLO_FENCES | HELLO_MUTATIONS,
      fence: { session: this.session, socket: this.socketNumber, commits }
    })
  }

  /** Routes replies to request `id` to `handler` until the returned function is called. */
  onReply(id: number, handler: (m: YssMessage) => void): () => void {
    this.requests.set(id, handler)
    return () => this.requests.delete(id)
  }

  /**
   * Resolves once the relay has stored everything this session sent so far: it acknowledges a
   * flush after storing everything it received before it, on the same socket. Offline, it waits
   * for the reconnection. If what it sent builds on updates the relay lacks (ones that came over
   * the BroadcastChannel), the relay asks for them with a sync step 1, which the provider
   * answers, and acknowledges once they are stored.
   */
  flush(): Promise<void> {
    if (this._isClosed) return Promise.reject(new SessionClosedError('flush() after close()'))
    const id = this.newRequestId()
    return new Promise<void>((resolve, reject) => {
      const attempt = () => {
        if (this.provider.synced) this.send({ type: YSS_FLUSH, id })
      }
      const off = this.onReply(id, (m) => {
        if (m.type === YSS_FLUSHED) {
          done()
          resolve()
        }
      })
      const done = () => {
        off()
        this.resynced.delete(attempt)
        this.closed.delete(fail)
      }
      const fail = (err: Error) => {
        done()
        reject(err)
      }
      this.resynced.add(attempt)
      this.closed.add(fail)
      attempt()
    })
  }

  /**
   * Takes the deletions that came over the BroadcastChannel and may not have reached the relay,
   * as one update without items, or null. A deletion advances no clock, so a state vector cannot
   * tell that the relay lacks it: a lock commit carries these. Give them back with
   * {@link returnChannelDeletions} if the commit fails.
   */
  takeChannelDeletions(): Uint8Array | null {
    const taken = this.channelDeletions
    this.channelDeletions = []
    return taken.length === 0 ? null : Y.mergeUpdates(taken)
  }

  returnChannelDeletions(deletions: Uint8Array): void {
    this.channelDeletions.unshift(deletions)
  }

  /** Disconnects for good; every `closed` hook runs once with `err`. */
  close(err: Error): void {
    if (this._isClosed) return
    this._isClosed = true
    clearTimeout(this.reconnectTimer)
    this.provider.destroy()
    // The provider leaves its awareness (and the awareness's interval timer) to its owner.
    this.provider.awareness.destroy()
    this.setStatus('disconnected')
    for (const hook of [...this.closed]) hook(err)
    this.closed.clear()
  }

  /**
   * Yjs encodes each transaction's update again whenever the doc has an `update` listener, and the
   * provider's listener is there only to send local changes: it ignores what the provider itself
   * applied (from the relay or the BroadcastChannel). So that a received update is not encoded
   * for nothing (a third of the JavaScript a received commit costs), the provider's listener is
   * taken off for exactly those transactions: Yjs asks for `update` listeners right after
   * `afterTransactionCleanup`, transaction by transaction, and a write a listener makes while a
   * received update is applied is a transaction of its own, which puts it back.
   */
  private skipEncodingReceived(doc: Y.Doc): void {
    const provider = this.provider
    const send = provider._updateHandler
    let listening = true
    const decide = (tr: Y.Transaction) => {
      if ((tr.origin !== provider) === listening) return
      listening = !listening
      if (listening) doc.on('update', send)
      else doc.off('update', send)
    }
    doc.on('afterTransactionCleanup', decide)
    this.closed.add(() => doc.off('afterTransactionCleanup', decide))
  }

  /**
   * Replaces y-websocket's sender of local updates by one that sends them on a socket only once
   * that socket's sync step 2 went out; until then the step 2 carries them. An update sent before
   * it builds on what the session wrote while offline, which the relay lacks: the relay holds its
   * items as pending structs but applies its deletions at once, so a write that replaces a stored
   * value (a set, a force's count) deletes it there, and if the session closes before its step 2
   * the stored value is lost for good (test/sim/README.md, finding 11). The BroadcastChannel, which
   * the other tabs keep in sync by itself, still gets every update at once.
   */
  private sendLocalUpdates(doc: Y.Doc): void {
    const provider = this.provider
    doc.off('update', provider._updateHandler)
    provider._updateHandler = (update: Uint8Array, origin: unknown) => {
      if (origin === provider) return
      const encoder = encoding.createEncoder()
      encoding.writeVarUint(encoder, MESSAGE_SYNC)
      syncProtocol.writeUpdate(encoder, update)
      const message = encoding.toUint8Array(encoder)
      const ws = provider.ws
      if (this.step2Sent && provider.wsconnected && ws && ws.readyState === ws.OPEN) ws.send(message)
      if (provider.bcconnected) bc.publish(provider.bcChannel, message, provider)
    }
    doc.on('update', provider._updateHandler)
  }

  /** Keeps the delete set of every update the provider applies from its BroadcastChannel. */
  private noteChannelDeletions(doc: Y.Doc): void {
    const handleSync = this.provider.messageHandlers[MESSAGE_SYNC]!
    const keep = (update: Uint8Array) => {
      const deletions = Y.diffUpdate(update, Y.encodeStateVectorFromUpdate(update))
      if (Y.decodeUpdate(deletions).ds.clients.size === 0) return
      // Merged now and then, so that a tab that never locks keeps one compact delete set.
      if (this.channelDeletions.push(deletions) > 64) this.channelDeletions = [Y.mergeUpdates(this.channelDeletions)]
    }
    this.provider.messageHandlers[MESSAGE_SYNC] = (encoder, decoder, provider, emitSynced, type) => {
      // y-websocket reads its socket with emitSynced true and its channel with it false.
      if (emitSynced) {
        // The relay's sync step 1 on connecting: the reply, a step 2 of the doc as it is now,
        // carries every deletion so far. (The relay sends another one later to ask for what a
        // flush waits for.)
        const step1 = decoding.peekVarUint(decoder) === syncProtocol.messageYjsSyncStep1
        if (!this.provider.synced && step1) {
          this.deletionsInStep2 = [...this.channelDeletions]
        }
        const handled = handleSync(encoder, decoder, provider, emitSynced, type)
        // The reply, written into `encoder`, goes out as this returns, before any later update.
        if (step1) this.step2Sent = true
        return handled
      }
      doc.on('update', keep)
      try {
        handleSync(encoder, decoder, provider, emitSynced, type)
      } finally {
        doc.off('update', keep)
      }
    }
  }

  private scheduleReconnect(code: number | undefined): void {
    if (this._isClosed || !this.provider.shouldConnect) return
    if (isRefusal(code) && !this.refreshToken) return
    this.provider.shouldConnect = false
    if (this.urls.length > 1) {
      this.urlIndex = (this.urlIndex + 1) % this.urls.length
      this.provider.serverUrl = this.urls[this.urlIndex]!
    }
    this.retryLater()
  }

  /**
   * Connects after a back-off with jitter, in place of y-websocket's fixed one, so that the
   * sessions of a restarted relay do not all come back in the same millisecond.
   */
  private retryLater(): void {
    const base = Math.min(2 ** (this.provider.wsUnsuccessfulReconnects + 1) * 100, this.maxBackoff)
    clearTimeout(this.reconnectTimer)
    this.reconnectTimer = setTimeout(() => this.connectNow(), base / 2 + (Math.random() * base) / 2)
  }

  /** Gets the token (calling the option's function), then connects with it in the URL. */
  private connectNow(): void {
    if (this._isClosed) return
    let token: string | undefined | Promise<string>
    try {
      token = tokenFor(this.token)
    } catch {
      this.tokenFailed()
      return
    }
    if (typeof token === 'object' && typeof token?.then === 'function')
      token.then(
        (t) => this.connectWith(t),
        () => this.tokenFailed()
      )
    else this.connectWith(token as string | undefined)
  }

  private connectWith(token: string | undefined): void {
    if (this._isClosed) return
    this.provider.params = token ? { ...this.params, token } : this.params
    const claims = token ? claimsOf(token) : null
    if (claims) this.setAccess(claims.access, claims.user)
    this.provider.connect()
  }

  /** A token function that threw: a failed attempt, retried after the back-off. */
  private tokenFailed(): void {
    if (this._isClosed) return
    this.provider.wsUnsuccessfulReconnects++
    this.setStatus('disconnected')
    this.retryLater()
  }

  /** The access the relay says: the channel opens (write) or shuts (read), and the `accessSaid` hooks run. */
  private accessFromRelay(access: Access, user: string | undefined): void {
    this._accessKnown = true
    this.setAccess(access, user)
    const provider = this.provider
    if (access === 'write' && this.channel && provider.disableBc) {
      provider.disableBc = false
      if (provider.shouldConnect) provider.connectBc()
    } else if (access === 'read') {
      if (provider.bcconnected) provider.disconnectBc()
      provider.disableBc = true
    }
    for (const hook of [...this.accessSaid]) hook(access)
  }

  private setAccess(access: Access, user: string | undefined): void {
    if (this._access === access && this._user === user) return
    this._access = access
    this._user = user
    this.emit('access', [access])
  }

  private setStatus(status: Status): void {
    if (this._status === status) return
    this._status = status
    this.emit('status', [status])
  }
}
