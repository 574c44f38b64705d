/**
 * The Redis connections of a relay in a cluster, set up so that nothing is acknowledged twice or
 * by guess: a command is sent once (never replayed after a reconnect: a replayed append would
 * store an update twice, a replayed lock commit could be refused after it was stored), and
 * fails at once while Redis is unreachable instead of waiting in a queue. ioredis reconnects by
 * itself; the relay's rooms close their sessions with 1013 meanwhile (see `UnavailableError`).
A Redis that hangs (stopped, not refusing) leaves the connection open: every command times out
after `timeoutMs` instead, and reads as unreachable too.
 *
 * `checkRedisSettings` reads what the durability promise needs, where CONFIG GET is allowed:
 * `appendonly yes` (else a Redis restart loses acknowledged updates) and `maxmemory-policy
 * noeviction` (else Redis may evict a room's stream or lease keys). It refuses to start without
 * them unless `unsafe` is set, and warns if `appendfsync` is not `always` (a power cut may then
 * lose the last second).
 *
 * @example
 *   const redis = redisClient('redis://127.0.0.1:6379', 'commands')
 *   await untilReady(redis)
 *   await checkRedisSettings(redis, log, false)
 */
import { Redis } from 'ioredis'
import type { Logger } from '../log.js'
import { UnavailableError } from '../store/unavailable.js'

export const redisClient = (url: string, name: string, timeoutMs = 5_000): Redis =>
  new Redis(url, {
    commandTimeout: timeoutMs,
    connectionName: `y-server-state:${name}`,
    lazyConnect: false,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    enableReadyCheck: true,
    connectTimeout: 2_000,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 1_000)
  })

/** Resolves once `redis` is ready; rejects after `timeoutMs`. */
export const untilReady = (redis: Redis, timeoutMs = 10_000): Promise<void> => {
  if (redis.status === 'ready') return Promise.resolve()
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      redis.off('ready', ready)
      reject(new UnavailableError(`Redis not reachable within ${timeoutMs} ms`))
    }, timeoutMs)
    const ready = () => {
      clearTimeout(timer)
      resolve()
    }
    redis.once('ready', ready)
  })
}

/** Wraps a failed Redis call: a connection problem becomes an {@link UnavailableError}. */
export const redisFailure = (err: unknown): Error => {
  const e = err as Error & { name?: string }
  if (e instanceof UnavailableError) return e
  // Replies that mean "not now": out of memory (noeviction), loading its append-only file, a
  // script running too long, a replica, no primary. Other replies are errors of ours.
  if (e?.name === 'ReplyError' && !/^(OOM|LOADING|BUSY|READONLY|MASTERDOWN|TRYAGAIN)/.test(e.message)) return e
  return new UnavailableError(`Redis: ${e?.message ?? String(err)}`)
}

export interface RedisSettings {
  appendonly?: string
  appendfsync?: string
  'maxmemory-policy'?: string
}

export const checkRedisSettings = async (redis: Redis, log: Logger, unsafe: boolean): Promise<RedisSettings> => {
  const settings: RedisSettings = {}
  for (const name of ['appendonly', 'appendfsync', 'maxmemory-policy'] as const) {
    try {
      const reply = (await redis.config('GET', name)) as string[]
      if (reply.length === 2) settings[name] = reply[1]
    } catch (err) {
      log.warn('cannot read a Redis setting (CONFIG GET refused): make sure of it yourself', { setting: name, error: String(err) })
    }
  }
  const problems: string[] = []
  if (settings.appendonly !== undefined && settings.appendonly !== 'yes')
    problems.push('appendonly must be yes (an acknowledged update must survive a Redis restart)')
  if (settings['maxmemory-policy'] !== undefined && settings['maxmemory-policy'] !== 'noeviction') {
    problems.push(
      `maxmemory-policy must be noeviction, not ${settings['maxmemory-policy']} (Redis must never evict a room's stream or locks)`
    )
  }
  if (problems.length > 0) {
    if (!unsafe)
      throw new Error(
        `Redis is not set up for durability: ${problems.join('; ')}. Fix its configuration, or pass --redis-unsafe for a test`
      )
    log.warn('Redis is not set up for durability; running anyway (--redis-unsafe)', { problems: problems.join('; ') })
  }
  if (settings.appendfsync !== undefined && settings.appendfsync !== 'always') {
    log.warn('Redis appendfsync is not always: a power cut may lose the last second of acknowledged updates', {
      appendfsync: settings.appendfsync
    })
  }
  return settings
}
