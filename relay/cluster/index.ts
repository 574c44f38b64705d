/**
 * Several relays serving the same rooms, on Redis and PostgreSQL: what `startRelay({ redis,
 * postgres })` (and `y-server-state-relay --redis URL --postgres URL`) runs on. It puts together
 * the room streams (store and bus, `shared-rooms.ts`), the shared lease tables
 * (`shared-leases.ts`), presence (`presence.ts`), the relay's liveness (`liveness.ts`) and the
 * compaction jobs (`compactor.ts`), over three Redis connections (commands, the stream reader,
 * pub/sub: rooms' news, grants, presence) and a small PostgreSQL pool.
 *
 * Start: Redis must answer (its durability settings are checked, see `redis-client.ts`);
 * PostgreSQL may be down (rooms never compacted, and rooms whose stream still starts at update 1,
 * are served from Redis alone; compaction waits). The compaction grace must be at least twice
 * the liveness (`grace.ts`).
 *
 * Hung dependencies: every Redis command and PostgreSQL query has a time limit
 * (`timeoutMs`), and `health()` asks each with a deadline (a Redis PING, a `SELECT 1`), so a
 * Redis or PostgreSQL that stopped answering reads as down (1013, 503) within seconds.
 *
 * @example
 *   const cluster = await startCluster({ redis: 'redis://127.0.0.1:6379', postgres: 'postgres://postgres@127.0.0.1/app', log, leaseMs: 10_000 })
 *   const relay = await startRelay({ store: cluster.store, bus: cluster.bus, … }) // startRelay does this for you
 *   await cluster.health()   // { ok: true, problems: [] }
 *   await cluster.close()
 */
import type { Logger } from '../log.js'
import type { Peer } from '../peer.js'
import type { LeaseTableFactory } from '../locks/leases.js'
import { UnavailableError } from '../store/unavailable.js'
import { ClusterKeys } from './keys.js'
import { checkRedisSettings, redisClient, untilReady } from './redis-client.js'
import { Snapshots } from './snapshots.js'
import { SharedRooms } from './shared-rooms.js'
import { SharedLeases, parseGrant } from './shared-leases.js'
import { Presence } from './presence.js'
import { Liveness } from './liveness.js'
import { Compactor, type CompactionTiming } from './compactor.js'
import { ClusterMetrics } from './cluster-metrics.js'
import { DEFAULT_GRACE_MS, DEFAULT_LIVENESS_MS, graceProblem } from './grace.js'
import { bounded } from './bounded.js'

/** The options of `startRelay` that put a relay in a cluster (the CLI's `--redis`, `--postgres`, …). */
export interface ClusterRelayOptions {
  /**
   * Share rooms with every relay configured with the same Redis and PostgreSQL (`redis://HOST:PORT`,
   * `postgres://…`; both are needed): the store, the bus and the lock tables then live there
   * (see relay/cluster). Overrides `store`, `dataDir`, `memory` and `bus`.
   */
  redis?: string
  postgres?: string
  /** Tuning of the cluster parts (key prefix, liveness, compaction timing…). */
  cluster?: Omit<ClusterOptions, 'redis' | 'postgres' | 'log'>
}

export interface ClusterOptions {
  /** `redis://HOST:PORT` (also `rediss://`, with a password or a database number). */
  redis: string
  /** `postgres://USER@HOST:PORT/DB`. */
  postgres: string
  log: Logger
  /** Key prefix in Redis; relays with the same Redis and prefix share their rooms. Default `yss`. */
  prefix?: string
  /** The PostgreSQL table of room snapshots. Default `yss_rooms`. */
  table?: string
  /** Start even if Redis's append-only file is off or it may evict keys (tests and benches only). */
  redisUnsafe?: boolean
  /** A relay whose liveness key is not renewed for this long is presumed dead. Default 5 s. */
  livenessMs?: number
  /** How often waiting lock requests poll Redis, besides the published grants. Default 500 ms. */
  lockPollMs?: number
  /** How often a dead relay's presence is looked for. Default 1 s. */
  presenceCheckMs?: number
  /** How long a Redis command or PostgreSQL query, or a wait for the stream, may take before it counts as unreachable. Default 5 s. */
  timeoutMs?: number
  compaction?: Partial<CompactionTiming>
}

/** How long `health()` waits for Redis's and PostgreSQL's answers. */
const HEALTH_DEADLINE_MS = 2_000

export interface Cluster {
  readonly store: SharedRooms
  readonly bus: SharedRooms
  readonly leaseTables: LeaseTableFactory<Peer>
  /** Whether Redis and PostgreSQL answer. */
  health(): Promise<{ ok: boolean; problems: string[] }>
  /** The cluster's counters and gauges as Prometheus text. */
  renderMetrics(): string
  close(): Promise<void>
}

export const startCluster = async (o: ClusterOptions): Promise<Cluster> => {
  const livenessMs = o.livenessMs ?? DEFAULT_LIVENESS_MS
  const compaction: CompactionTiming = { intervalMs: 1_000, lockMs: 30_000, graceMs: DEFAULT_GRACE_MS, delayMs: 10_000, ...o.compaction }
  const grace = graceProblem(livenessMs, compaction.graceMs)
  if (grace)
    throw new Error(
      `cluster.compaction.graceMs ${grace}: a relay that stalls short of its liveness must still find in the stream what it missed`
    )
  const timeoutMs = o.timeoutMs ?? 5_000
  const keys = new ClusterKeys(o.prefix ?? 'yss')
  const metrics = new ClusterMetrics()
  const redis = redisClient(o.redis, 'commands', timeoutMs)
  const reader = redisClient(o.redis, 'stream-reader', timeoutMs)
  const subscriber = redisClient(o.redis, 'pubsub', timeoutMs)
  const quiet = () => {} // ioredis reports every failed reconnection; /healthz and the logs below say enough
  for (const c of [redis, reader, subscriber]) c.on('error', quiet)
  const snapshots = new Snapshots(o.postgres, o.table, timeoutMs)
  const quit = async () => {
    for (const c of [redis, reader, subscriber]) c.disconnect()
    await snapshots.close().catch(() => {})
  }
  try {
    await Promise.all([untilReady(redis), untilReady(reader), untilReady(subscriber)])
    await checkRedisSettings(redis, o.log, o.redisUnsafe ?? false)
  } catch (err) {
    await quit()
    throw err instanceof UnavailableError
      ? new Error(`cannot reach Redis at ${o.redis.replace(/\/\/[^@/]*@/, '//…@')}: ${err.message}`)
      : err
  }
  try {
    await snapshots.open()
  } catch (err) {
    o.log.warn('PostgreSQL is unreachable at start: serving from Redis; compaction waits for it', { error: String(err) })
  }

  const tables = new Map<string, SharedLeases<unknown>>()
  let rooms: SharedRooms | null = null
  const liveness = new Liveness(redis, keys, livenessMs, o.log, () => {
    metrics.inc('liveness_lost_total')
    rooms?.failAll(new UnavailableError('this relay was presumed dead by the others; reconnect'))
  })
  await liveness.start()
  const relayId = () => liveness.id
  const presence = new Presence(redis, subscriber, keys, relayId, metrics, o.presenceCheckMs ?? 1_000)
  rooms = new SharedRooms({
    redis,
    reader,
    subscriber,
    keys,
    snapshots,
    relayId,
    log: o.log,
    metrics,
    compactDelayMs: compaction.delayMs,
    waitMs: 2 * timeoutMs,
    presence: (room, awareness) => presence.attach(room, awareness)
  })
  const shared = rooms
  await shared.start()

  // Grants for this relay's requests, published by whichever relay's script handed the keys over.
  let grantChannel = keys.grants(relayId())
  subscriber.on('messageBuffer', (channel: Buffer, message: Buffer) => {
    if (channel.toString() !== grantChannel) return
    const grant = parseGrant(message)
    if (!grant) return
    // The committed update first: the grant then finds it read, with no XREAD in between.
    if (grant.entry) shared.offer(grant.room, grant.entry)
    tables.get(grant.room)?.remoteGrant(grant.fence, grant.n)
  })
  await subscriber.subscribe(grantChannel)
  liveness.onChange((id) => {
    const old = grantChannel
    grantChannel = keys.grants(id)
    subscriber.unsubscribe(old).catch(() => {})
    subscriber.subscribe(grantChannel).catch(() => {})
  })

  const compactor = new Compactor({ redis, keys, rooms, snapshots, relayId, log: o.log, metrics }, compaction)
  compactor.start()

  const leaseTables: LeaseTableFactory<Peer> = (room, callbacks) =>
    new SharedLeases<Peer>(room, callbacks, {
      redis,
      keys,
      relayId,
      presumedDead: (id) => liveness.lost(id),
      reached: (r, n) => shared.reached(r, n),
      stored: (r, entry) => shared.offer(r, entry),
      log: o.log,
      metrics,
      pollMs: o.lockPollMs ?? 500,
      compactDelayMs: compaction.delayMs,
      register: (r, table) => {
        tables.set(r, table)
        return () => {
          if (tables.get(r) === table) tables.delete(r)
        }
      }
    })

  let closed: Promise<void> | null = null
  return {
    store: rooms,
    bus: rooms,
    leaseTables,
    health: async () => {
      const problems: string[] = []
      const [redisUp, postgresUp] = await Promise.all([
        redis.status === 'ready' &&
          bounded(redis.ping(), HEALTH_DEADLINE_MS, 'Redis PING').then(
            () => true,
            () => false
          ),
        snapshots.reachable(HEALTH_DEADLINE_MS)
      ])
      if (!redisUp) problems.push('redis unreachable')
      if (!postgresUp) problems.push('postgres unreachable')
      return { ok: problems.length === 0, problems }
    },
    renderMetrics: () => {
      void snapshots.reachable() // refreshes what `up` says, at most once a second
      return metrics.render({ redis_up: redis.status === 'ready' ? 1 : 0, postgres_up: snapshots.up ? 1 : 0, rooms_streamed: shared.size })
    },
    close: () => {
      closed ??= (async () => {
        await compactor.stop()
        presence.close()
        await shared.close()
        await liveness.stop()
        await quit()
      })()
      return closed
    }
  }
}
