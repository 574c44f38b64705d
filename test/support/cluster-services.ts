/**
 * Services of a test's own for the cluster tests: a redis-server on a free port (append-only
 * file, fsync always, in a temporary folder; killable and restartable on the same folder), a
 * PostgreSQL database created and dropped on a throwaway PostgreSQL cluster of the process's own
 * (initdb / pg_ctl, started at the first database and removed when the process exits: only the
 * PostgreSQL binaries are needed, no server running), and a PostgreSQL cluster of the test's own
 * for the test that stops it. Each waits for the service's own "ready" line or answer, never a
 * fixed time.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { chmodSync, chownSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { afterEach, beforeEach } from 'node:test'
import { startRelay, type Relay, type RelayOptions } from '../../relay/server.js'
import { within } from './helpers.js'

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number }
      srv.close(() => resolve(port))
    })
  })

export interface RedisServer {
  url: string
  port: number
  dir: string
  /** The running redis-server's process id (a new one after `start`). */
  readonly pid: number
  /** SIGKILLs it; resolves once it exited. */
  kill(): Promise<void>
  /** Starts it again on the same port and folder (it replays its append-only file). */
  start(): Promise<void>
  /** SIGSTOPs it: it hangs (connections stay open, nothing is answered) until `resume`. */
  pause(): void
  resume(): void
  /** Stops it and removes its folder. */
  remove(): Promise<void>
}

/**
 * A redis-server of its own on a free port, in a temporary folder: every write fsynced to its
 * append-only file before it is acknowledged, or with `persist: false` nothing kept (a bench's
 * peer). It is killed if this process exits first.
 */
export const startRedis = async ({ persist = true }: { persist?: boolean } = {}): Promise<RedisServer> => {
  const dir = mkdtempSync(join(tmpdir(), 'yss-redis-'))
  const port = await freePort()
  let proc: ChildProcess | null = null
  let exited: Promise<void> = Promise.resolve()
  const onExit = () => proc?.kill('SIGKILL')
  process.on('exit', onExit)
  const start = async (): Promise<void> => {
    const persistence = persist ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']
    const p = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', ...persistence, '--save', '', '--dir', dir], {
      stdio: ['ignore', 'pipe', 'pipe']
    })
    proc = p
    exited = new Promise((resolve) => p.once('exit', () => resolve()))
    const out: string[] = []
    await within(
      new Promise<void>((resolve, reject) => {
        createInterface({ input: p.stdout! }).on('line', (l) => {
          out.push(l)
          if (/Ready to accept connections/.test(l)) resolve()
        })
        p.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${out.join('\n')}`)))
      }),
      30_000, // its append-only file is created and fsynced at start: slow on a disk others load
      'redis-server to start'
    ).catch((err: unknown) => {
      // A server that did not start in time must not outlive the test: its pipes would hold this process open.
      p.kill('SIGKILL')
      throw err
    })
  }
  await start()
  const kill = async () => {
    proc?.kill('SIGKILL')
    await exited
    proc = null
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    get pid() {
      return proc?.pid ?? 0
    },
    kill,
    start,
    pause: () => {
      proc?.kill('SIGSTOP')
    },
    resume: () => {
      proc?.kill('SIGCONT')
    },
    remove: async () => {
      proc?.kill('SIGCONT')
      await kill()
      process.off('exit', onExit)
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

export interface PgDatabase {
  url: string
  name: string
  /** A query on the test's database. */
  query<T = Record<string, unknown>>(text: string, values?: unknown[]): Promise<T[]>
  drop(): Promise<void>
}

let processCluster: Promise<PgCluster> | undefined

/** This process's own PostgreSQL: one throwaway cluster, started on first use, removed at exit. */
const sharedCluster = (): Promise<PgCluster> => {
  processCluster ??= pgCluster().then((cluster) => {
    process.on('exit', () => cluster.remove())
    return cluster
  })
  return processCluster
}

/** A database of its own, on `server` (an admin URL) or by default on this process's throwaway cluster. */
export const pgDatabase = async (server?: string): Promise<PgDatabase> => {
  const admin = server ?? (await sharedCluster()).url
  const name = `yss_test_${randomBytes(5).toString('hex')}`
  const a = new pg.Client({ connectionString: admin })
  await a.connect()
  await a.query(`CREATE DATABASE ${name}`)
  await a.end()
  const url = admin.replace(/\/[^/]*$/, `/${name}`)
  return {
    url,
    name,
    query: async <T>(text: string, values?: unknown[]) => {
      const c = new pg.Client({ connectionString: url })
      await c.connect()
      try {
        return (await c.query(text, values)).rows as T[]
      } finally {
        await c.end()
      }
    },
    drop: async () => {
      const c = new pg.Client({ connectionString: admin })
      await c.connect()
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await c.end()
    }
  }
}

/** A PostgreSQL cluster of the test's own, which it may stop and start. */
export interface PgCluster {
  url: string
  stop(): void
  start(): void
  /** SIGSTOPs the server and its backends: it hangs (connections accepted, nothing answered) until `resume`. */
  pause(): void
  resume(): void
  remove(): void
}

/** The newest PostgreSQL's programs on Debian (/usr/lib/postgresql/<version>/bin). */
const PG_BIN = (() => {
  const versions = readdirSync('/usr/lib/postgresql')
    .filter((v) => /^\d+$/.test(v))
    .sort((x, y) => Number(y) - Number(x))
  return `/usr/lib/postgresql/${versions[0] ?? '15'}/bin`
})()

export const pgCluster = async (): Promise<PgCluster> => {
  const dir = mkdtempSync(join(tmpdir(), 'yss-pg-'))
  chmodSync(dir, 0o755)
  const port = await freePort()
  const asPostgres = (args: string[]) => {
    const root = process.getuid?.() === 0
    const r = root
      ? spawnSync('runuser', ['-u', 'postgres', '--', ...args], { encoding: 'utf8' })
      : spawnSync(args[0]!, args.slice(1), { encoding: 'utf8' })
    if (r.status !== 0) throw new Error(`${args.join(' ')} failed: ${r.stderr}${r.stdout}`)
  }
  if (process.getuid?.() === 0)
    chownSync(
      dir,
      Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim()),
      Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim())
    )
  asPostgres([`${PG_BIN}/initdb`, '-D', `${dir}/pg`, '-U', 'postgres', '--auth=trust', '-E', 'UTF8'])
  const start = () =>
    asPostgres([
      `${PG_BIN}/pg_ctl`,
      '-D',
      `${dir}/pg`,
      '-o',
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`,
      '-w',
      '-l',
      `${dir}/log`,
      'start'
    ])
  const stop = () => asPostgres([`${PG_BIN}/pg_ctl`, '-D', `${dir}/pg`, '-m', 'fast', '-w', 'stop'])
  start()
  // The postmaster and every backend: a backend that kept running would still answer its client.
  const processes = (): number[] => {
    const main = Number(readFileSync(`${dir}/pg/postmaster.pid`, 'utf8').split('\n')[0])
    const children = spawnSync('pgrep', ['-P', String(main)], { encoding: 'utf8' })
      .stdout.split('\n')
      .filter(Boolean)
      .map(Number)
    return [main, ...children]
  }
  const signal = (sig: NodeJS.Signals) => {
    for (const pid of processes()) {
      try {
        process.kill(pid, sig)
      } catch {
        /* exited */
      }
    }
  }
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop,
    start,
    pause: () => signal('SIGSTOP'),
    resume: () => signal('SIGCONT'),
    remove: () => {
      try {
        signal('SIGCONT')
      } catch {
        /* not running */
      }
      try {
        stop()
      } catch {
        /* already stopped */
      }
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

/**
 * Each test's own Redis and database (started before it, removed after it), and in-process
 * relays on them, closed after it. `relay(options)` starts one; its `cluster` tuning is merged
 * over `defaults`.
 */
export const clusterFixture = (defaults: NonNullable<RelayOptions['cluster']> = {}) => {
  let redis: RedisServer | undefined
  let db: PgDatabase | undefined
  const relays: Relay[] = []
  beforeEach(async () => {
    ;[redis, db] = await Promise.all([startRedis(), pgDatabase()])
  })
  afterEach(async () => {
    for (const r of relays.splice(0)) await r.close().catch(() => {})
    await redis?.remove()
    await db?.drop()
  })
  return {
    get redis(): RedisServer {
      return redis!
    },
    get db(): PgDatabase {
      return db!
    },
    relay: async (options: RelayOptions = {}): Promise<Relay> => {
      const r = await startRelay({
        port: 0,
        logLevel: 'silent',
        redis: redis!.url,
        postgres: db!.url,
        ...options,
        cluster: { ...defaults, ...options.cluster, compaction: { ...defaults.compaction, ...options.cluster?.compaction } }
      })
      relays.push(r)
      return r
    }
  }
}

/** A counter or gauge of an in-process relay's `/metrics` (NaN if it has none). */
export const metric = async (relay: Relay, name: string): Promise<number> => {
  const text = await (await fetch(`${relay.httpUrl}metrics`)).text()
  return Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1] ?? Number.NaN)
}
