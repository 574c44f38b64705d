/**
 * The relay's abuse limits: what one socket, one update, one room or one connection's locks and
 * presence may cost the relay. Each default is far above what a real deployment uses; each is a
 * `startRelay` option and a CLI flag, and each time one is hit `/metrics` counts it in
 * `yss_limit_hits_total{limit="<snake_case name>"}`. docs/limits.md says what a client sees then.
 *
 * @example
 *   const limits = resolveLimits({ maxRoomBytes: 8 * MiB }) // the rest at their defaults
 *   limits.maxQueuedBytes                                  // 67108864
 */
const MiB = 1024 * 1024
const KiB = 1024

export interface Limits {
  /**
   * Bytes queued for one socket and not yet taken by the network. A frame that would queue more
   * behind what is already waiting (or an answer that would encode more) closes the socket with
   * 1008: it does not read. A frame to a drained socket always goes. Default 64 MiB (twice `maxRoomBytes`).
   */
  maxQueuedBytes: number
  /**
   * Bytes queued for all sockets together. A frame that would pass it closes the sockets that
   * hold the most with 1013 (try again later) until it fits, before anything is encoded. Default
   * 256 MiB, for a relay of 1 GB.
   */
  maxQueuedBytesTotal: number
  /**
   * How long a socket may take to drain what was queued for it, whatever it sends meanwhile;
   * one that has not is closed with 1008. Default 60,000 ms (a full `maxQueuedBytes` at 1.1 MB/s).
   */
  maxDrainMs: number
  /**
   * WebSockets one client address may hold open (loopback addresses are not counted unless
   * `capLoopback`); another upgrade from it is answered HTTP 429. 0: no cap. Default 256.
   */
  maxConnectionsPerAddress: number
  /**
   * Structs plus deleted ranges plus client entries in one update; a larger update is refused with
   * 4413 before it is applied. Default 100,000.
   */
  maxUpdateItems: number
  /**
   * Work one update may make the relay do on what the room holds: structs walked by its deleted
   * ranges plus 200 for each item it would split (relay/update-work.ts); about 11 ns a unit. A
   * larger update is refused with 4413 before it is applied. Default 5,000,000 (about 50 ms).
   */
  maxUpdateWork: number
  /**
   * A room's size, as an update of the whole room (what a joining client downloads). An update
   * that could grow it past this is refused with 4413. Default 32 MiB: as many struct objects in
   * memory take about 20 times that.
   */
  maxRoomBytes: number
  /**
   * Bytes of updates a room holds that wait for updates it does not have (they are never stored;
   * deletes count 16 times their bytes, as every later update re-reads them). Past it they are
   * dropped and the connection that sent the last is closed with 1008; they are dropped too once
   * every connection that sent them has gone. Default 64 KiB.
   */
  maxPendingBytes: number
  /** Lock requests one connection may have open (held or waiting); more are DENIED. Default 256. */
  maxLockRequests: number
  /** Characters of keys one connection's open lock requests may name; more are DENIED. Default 65,536. */
  maxLockKeyChars: number
  /** Awareness states (client ids) one connection may publish; more are dropped. Default 4. */
  maxAwarenessStates: number
  /** Bytes of one awareness state, JSON-encoded; a larger one is dropped. Default 64 KiB. */
  maxAwarenessBytes: number
  /**
   * Rooms kept loaded with no connection, waiting out `idleUnloadMs`; past it the longest idle is
   * unloaded at once (compacted first). Default 1,000.
   */
  maxIdleRooms: number
  /** Frames one connection may send before its room is loaded; more close it with 1008. Default 1,024. */
  maxEarlyFrames: number
  /** Bytes one connection may send before its room is loaded; more close it with 1008. Default 16 MiB. */
  maxEarlyBytes: number
  /** Bytes of one request body of the HTTP API; a larger one is answered 413, unread. Default 1 MiB. */
  maxHttpBodyBytes: number
  /**
   * Requests of the HTTP API (`/rooms/…`) in progress at once, relay-wide, long polls included; more
   * are answered 429 at once. Default 1,024.
   */
  maxHttpRequests: number
  /**
   * HTTP leases open at once, relay-wide, waiting or held; another request is answered 429. A room's
   * HTTP leases are also one holder's requests, capped by `maxLockRequests`. Default 4,096.
   */
  maxHttpLeases: number
  /**
   * Server-Sent Events streams (`GET /rooms/<room>/events`) open on the relay; another is
   * answered HTTP 429. Each also counts against `maxConnectionsPerAddress`, and what is queued
   * for it against `maxQueuedBytes`, `maxQueuedBytesTotal` and `maxDrainMs`, as a socket's. Default 1,024.
   */
  maxEventStreams: number
  /**
   * Webhook batches one room may have waiting for delivery (per webhook); past it the oldest
   * waiting batch is dropped, and the next delivery counts its changes in `dropped`. Default 64.
   */
  maxWebhookBatchesPerRoom: number
  /** Webhook batches all rooms together may have waiting; past it the oldest of the fullest room's is dropped. Default 4,096. */
  maxWebhookBatches: number
}

export type LimitOptions = Partial<Limits>

export const DEFAULT_LIMITS: Readonly<Limits> = {
  maxQueuedBytes: 64 * MiB,
  maxQueuedBytesTotal: 256 * MiB,
  maxDrainMs: 60_000,
  maxConnectionsPerAddress: 256,
  maxUpdateItems: 100_000,
  maxUpdateWork: 5_000_000,
  maxRoomBytes: 32 * MiB,
  maxPendingBytes: 64 * KiB,
  maxLockRequests: 256,
  maxLockKeyChars: 64 * KiB,
  maxAwarenessStates: 4,
  maxAwarenessBytes: 64 * KiB,
  maxIdleRooms: 1_000,
  maxEarlyFrames: 1_024,
  maxEarlyBytes: 16 * MiB,
  maxHttpBodyBytes: MiB,
  maxHttpRequests: 1_024,
  maxHttpLeases: 4_096,
  maxEventStreams: 1_024,
  maxWebhookBatchesPerRoom: 64,
  maxWebhookBatches: 4_096
}

export type LimitName = keyof Limits

export const LIMIT_NAMES = Object.keys(DEFAULT_LIMITS) as LimitName[]

/** `maxRoomBytes` → `room_bytes`: the label of a limit in `/metrics`. */
export const limitLabel = (name: LimitName): string =>
  name.replace(/^max/, '').replace(/[A-Z]/g, (c, i: number) => (i > 0 ? '_' : '') + c.toLowerCase())

/** The limits of `options`, defaults for the rest. */
export const resolveLimits = (options: LimitOptions): Limits => {
  const limits = { ...DEFAULT_LIMITS }
  for (const name of LIMIT_NAMES) {
    const value = options[name]
    if (value === undefined) continue
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative integer, not ${value}`)
    limits[name] = value
  }
  return limits
}
