/**
 * The relay's command-line flags for running several relays, parsed into the `redis`, `postgres`
 * and `cluster` options of `startRelay`. `REDIS_URL` and `DATABASE_URL` in the environment do
 * what `--redis` and `--postgres` do; a flag wins. This module loads no Redis or PostgreSQL
 * client: a relay without them never loads those.
 *
 * @example
 *   clusterFromCli({ redis: 'redis://127.0.0.1:6379' }, { DATABASE_URL: 'postgres://…' }, (m) => new UsageError(m))
 *   // { redis: 'redis://127.0.0.1:6379', postgres: 'postgres://…', cluster: {} }
 */
import type { ClusterRelayOptions } from './index.js'
import { DEFAULT_GRACE_MS, DEFAULT_LIVENESS_MS, graceProblem } from './grace.js'

export const CLUSTER_FLAGS = {
  redis: { type: 'string' },
  postgres: { type: 'string' },
  'redis-prefix': { type: 'string' },
  'redis-unsafe': { type: 'boolean' },
  'liveness-ms': { type: 'string' },
  'compact-delay-ms': { type: 'string' },
  'compact-grace-ms': { type: 'string' },
  'compact-interval-ms': { type: 'string' },
  'compact-lock-ms': { type: 'string' }
} as const

export const CLUSTER_HELP = `
Several relays (every relay with the same Redis and PostgreSQL serves the same rooms):
  --redis URL               redis://HOST:PORT, the rooms' streams and locks (env REDIS_URL);
                            Redis needs appendonly yes and maxmemory-policy noeviction
  --postgres URL            postgres://USER@HOST:PORT/DB, compacted rooms (env DATABASE_URL)
  --redis-prefix PREFIX     prefix of the relay's Redis keys (default yss)
  --redis-unsafe            start even if Redis may lose or evict data (tests only)
  --liveness-ms N           a relay silent this long is presumed dead: its locks and
                            presence go (default 5000)
  --compact-delay-ms N      compact a room this long after its first new update (default 10000)
  --compact-grace-ms N      keep stream entries this long after compaction (default 60000;
                            at least twice --liveness-ms)
  --compact-interval-ms N   how often a relay looks for a compaction job (default 1000)
  --compact-lock-ms N       a compaction job not finished within this is taken over (default 30000)
`

type Values = { [K in keyof typeof CLUSTER_FLAGS]?: (typeof CLUSTER_FLAGS)[K]['type'] extends 'boolean' ? boolean : string }

export const clusterFromCli = (values: Values, env: NodeJS.ProcessEnv, usage: (message: string) => Error): ClusterRelayOptions => {
  const redis = values.redis ?? (env.REDIS_URL || undefined)
  const postgres = values.postgres ?? (env.DATABASE_URL || undefined)
  const tuning = Object.keys(CLUSTER_FLAGS).filter((f) => f !== 'redis' && f !== 'postgres' && values[f as keyof Values] !== undefined)
  if (redis === undefined && postgres === undefined) {
    if (tuning.length > 0) throw usage(`--${tuning[0]} needs --redis and --postgres`)
    return {}
  }
  if (redis === undefined) throw usage('--postgres needs --redis too (or REDIS_URL): rooms are shared through both')
  if (postgres === undefined) throw usage('--redis needs --postgres too (or DATABASE_URL): rooms are compacted into it')
  if (!/^rediss?:\/\//.test(redis)) throw usage(`--redis must be a redis:// URL, not "${redis}"`)
  if (!/^postgres(ql)?:\/\//.test(postgres)) throw usage(`--postgres must be a postgres:// URL, not "${postgres}"`)
  const ms = (flag: keyof Values, min: number): number | undefined => {
    const v = values[flag] as string | undefined
    if (v === undefined) return undefined
    if (!/^\d+$/.test(v) || Number(v) < min) throw usage(`--${flag} must be an integer of at least ${min}, not "${v}"`)
    return Number(v)
  }
  const compaction = {
    ...(ms('compact-delay-ms', 0) !== undefined ? { delayMs: ms('compact-delay-ms', 0)! } : {}),
    ...(ms('compact-grace-ms', 0) !== undefined ? { graceMs: ms('compact-grace-ms', 0)! } : {}),
    ...(ms('compact-interval-ms', 10) !== undefined ? { intervalMs: ms('compact-interval-ms', 10)! } : {}),
    ...(ms('compact-lock-ms', 100) !== undefined ? { lockMs: ms('compact-lock-ms', 100)! } : {})
  }
  const livenessMs = ms('liveness-ms', 300)
  const grace = graceProblem(livenessMs ?? DEFAULT_LIVENESS_MS, compaction.graceMs ?? DEFAULT_GRACE_MS)
  if (grace)
    throw usage(`--compact-grace-ms ${grace}: a relay that stalls short of its liveness must still find in the stream what it missed`)
  return {
    redis,
    postgres,
    cluster: {
      ...(values['redis-prefix'] !== undefined ? { prefix: values['redis-prefix'] } : {}),
      ...(values['redis-unsafe'] ? { redisUnsafe: true } : {}),
      ...(livenessMs !== undefined ? { livenessMs } : {}),
      compaction
    }
  }
}
