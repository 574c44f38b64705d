/**
 * Several relays serving the same rooms, on Redis and PostgreSQL: what `startRelay({ redis,
 * postgres })` (and `y-server-state-relay --redis URL --postgres URL`) runs on. It puts together
 * the room streams (store and bus, `shared-rooms.ts`), the shared lease tables
 * (`shared-leases.ts`), presence (`presence.ts`), the relay's liveness (`liveness.ts`) and the
 * compaction jobs (`compactor.ts`), over three Redis connections (commands, the blocking stream
 * reader, pub/sub) and a small PostgreSQL pool.
 *
 * Start: Redis must answer (its durability settings are checked, see `redis-client.ts`);
 * PostgreSQL may be down (rooms never compacted, and rooms whose stream still starts at update 1,
 * are served from Redis alone; compaction waits).
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
import { SharedLeases } from './shared-leases.js'
import { Presence } from './presence.js'
import { Liveness } from './liveness.js'
import { Compactor, type CompactionTiming } from './compactor.js'
import { ClusterMetrics } from './cluster-metrics.js'

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
  compaction?: Partial<CompactionTiming>
}

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
  const keys = new ClusterKeys(o.prefix ?? 'yss')
  const metrics = new ClusterMetrics()
  const redis = redisClient(o.redis, 'commands')
  const reader = redisClient(o.redis, 'stream-reader')
  const subscriber = redisClient(o.redis, 'pubsub')
  const quiet = () => {} // ioredis reports every failed reconnection; /healthz and the logs below say enough
  for (const c of [redis, reader, subscriber]) c.on('error', quiet)
  const snapshots = new Snapshots(o.postgres, o.table)
  const quit = async () => {
    for (const c of [redis, reader, subscriber]) c.disconnect()
    await snapshots.close().catch(() => {})
  }
  try {
    await Promise.all([untilReady(redis), untilReady(reader), untilReady(subscriber)])
    await checkRedisSettings(redis, o.log, o.redisUnsafe ?? false)
  } catch (err) {
    await quit()
    throw err instanceof UnavailableError ? new Error(`cannot reach Redis at ${o.redis.replace(/\/\/[^@/]*@/, '//…@')}: ${err.message}`) : err
  }
  try {
    await snapshots.open()
  } catch (err) {
    o.log.warn('PostgreSQL is unreachable at start: serving from Redis; compaction waits for it', { error: String(err) })
  }

  const tables = new Map<string, SharedLeases<unknown>>()
  let rooms: SharedRooms | null = null
  const liveness = new Liveness(redis, keys, o.livenessMs ?? 5_000, o.log, () => {
    metrics.inc('liveness_lost_total')
    rooms?.failAll(new UnavailableError('this relay was presumed dead by the others; reconnect'))
  })
  await liveness.start()
  const relayId = () => liveness.id
  const presence = new Presence(redis, subscriber, keys, relayId, metrics, o.presenceCheckMs ?? 1_000)
  const compaction: CompactionTiming = { intervalMs: 1_000, lockMs: 30_000, graceMs: 60_000, delayMs: 10_000, ...o.compaction }
  rooms = new SharedRooms({
    redis, reader, keys, snapshots, relayId, log: o.log, metrics, compactDelayMs: compaction.delayMs,
    presence: (room, awareness) => presence.attach(room, awareness)
  })
  const shared = rooms

  // Grants for this relay's requests, published by whichever relay's script handed the keys over.
  let grantChannel = keys.grants(relayId())
  subscriber.on('message', (channel: string, message: string) => {
    if (channel !== grantChannel) return
    const a = message.indexOf('\n')
    const b = message.indexOf('\n', a + 1)
    if (a < 0 || b < 0) return
    tables.get(message.slice(b + 1))?.remoteGrant(Number(message.slice(0, a)), Number(message.slice(a + 1, b)))
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

  const leaseTables: LeaseTableFactory<Peer> = (room, callbacks) => new SharedLeases<Peer>(room, callbacks, {
    redis,
    keys,
    relayId,
    reached: (r, n) => shared.reached(r, n),
    log: o.log,
    metrics,
    pollMs: o.lockPollMs ?? 500,
    compactDelayMs: compaction.delayMs,
    register: (r, table) => {
      tables.set(r, table)
      return () => { if (tables.get(r) === table) tables.delete(r) }
    }
  })

  let closed: Promise<void> | null = null
  return {
    store: rooms,
    bus: rooms,
    leaseTables,
    health: async () => {
      const problems: string[] = []
      if (redis.status !== 'ready') problems.push('redis unreachable')
      if (!(await snapshots.reachable())) problems.push('postgres unreachable')
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

