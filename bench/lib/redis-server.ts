/**
 * A redis-server of the bench's own, on a free port, in a temporary directory, with persistence
 * off (`--save '' --appendonly no`): the peer that the lock scenario measures a Redis mutex
 * against. Never the machine's own Redis on 6379. Killed when stopped, and when the bench exits.
 *
 * @example
 *   const redis = await startRedis()
 *   const r = await respConnect(redis.port)
 *   await redis.stop()
 */
import { spawn, execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { respConnect } from './resp.js'
import { freePort } from '../../test/cluster-services.js'

export interface RedisServer {
  readonly port: number
  readonly pid: number
  /** `redis-server --version`, for the report. */
  readonly version: string
  stop(): Promise<void>
}

export const redisVersion = (): string => {
  try {
    const out = execFileSync('redis-server', ['--version'], { encoding: 'utf8', timeout: 5_000 })
    return /v=(\S+)/.exec(out)?.[1] ?? out.trim()
  } catch {
    return 'not found'
  }
}

export const startRedis = async (): Promise<RedisServer> => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-redis-'))
  const port = await freePort()
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: ['ignore', 'ignore', 'inherit']
  })
  const kill = () => proc.kill('SIGKILL')
  process.on('exit', kill)
  const exited = new Promise<void>((r) => proc.once('exit', () => r()))
  // Ready once it answers PING; it starts in well under a second.
  const deadline = Date.now() + 10_000
  for (;;) {
    try {
      const r = await respConnect(port)
      const pong = await r.command('PING')
      r.close()
      if (pong === 'PONG') break
    } catch {
      if (Date.now() > deadline || proc.exitCode !== null) {
        kill()
        rmSync(dir, { recursive: true, force: true })
        throw new Error(`redis-server on port ${port} did not start`)
      }
      await new Promise((r) => setTimeout(r, 20))
    }
  }
  return {
    port,
    pid: proc.pid!,
    version: redisVersion(),
    stop: async () => {
      proc.kill('SIGTERM')
      const t = setTimeout(kill, 5_000)
      await exited
      clearTimeout(t)
      process.off('exit', kill)
      rmSync(dir, { recursive: true, force: true })
    }
  }
}
