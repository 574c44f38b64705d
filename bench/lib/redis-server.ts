/**
 * The version of the machine's redis-server, for the report. The lock scenario's peer runs on a
 * redis-server of the bench's own (`startRedis({ persist: false })` of test/support/cluster-services.ts:
 * a free port, a temporary folder, persistence off), never on the machine's own Redis.
 *
 * @example
 *   redisVersion() // '7.0.15'
 */
import { execFileSync } from 'node:child_process'

export const redisVersion = (): string => {
  try {
    const out = execFileSync('redis-server', ['--version'], { encoding: 'utf8', timeout: 5_000 })
    return /v=(\S+)/.exec(out)?.[1] ?? out.trim()
  } catch {
    return 'not found'
  }
}
