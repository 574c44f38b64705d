/**
 * Child processes with a request/reply channel over IPC, every one of them killed when the
 * bench exits, however it exits: each relay under test runs alone in its own process, so its
 * memory can be read and its CPU is not shared with the load generator's event loop.
 *
 * @example
 *   const child = await spawnChild('bench/children/relay-child.ts', [JSON.stringify(spec)])
 *   const mem = await child.request({ cmd: 'memory' })
 *   await child.stop()
 */
import { fork, spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'

export interface Child {
  readonly proc: ChildProcess
  /** The first message the child sent, once it is ready. */
  readonly hello: Record<string, unknown>
  /** Sends `msg` with a fresh id; resolves with the child's reply to it. */
  request<T = Record<string, unknown>>(msg: Record<string, unknown>, timeoutMs?: number): Promise<T>
  /** Asks the child to finish (`{ cmd: 'close' }`), then kills it if it has not exited in time. */
  stop(timeoutMs?: number): Promise<void>
}

const live = new Set<ChildProcess>()

const killAll = (): void => {
  for (const proc of live) proc.kill('SIGKILL')
  live.clear()
}
process.on('exit', killAll)
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAll()
    process.exit(130)
  })
}

/**
 * Forks `script` under tsx with `--expose-gc` (so that memory is read after a full collection),
 * and waits for its first IPC message, `{ ready: true, ... }`.
 */
export const spawnChild = (
  script: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; execArgv?: string[]; readyTimeoutMs?: number } = {}
): Promise<Child> =>
  new Promise<Child>((resolve, reject) => {
    const proc = fork(script, args, {
      execArgv: ['--expose-gc', '--import', 'tsx', ...(options.execArgv ?? [])],
      env: { ...process.env, ...options.env },
      // stdout dropped: the reference relay prints a line per room it persists; errors go to stderr.
      stdio: ['ignore', 'ignore', 'inherit', 'ipc']
    })
    live.add(proc)
    let nextId = 1
    const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>()
    const exited = new Promise<void>((r) => proc.once('exit', () => r()))
    proc.once('exit', (code, signal) => {
      live.delete(proc)
      const err = new Error(`${script} exited (${code ?? signal}) with requests pending`)
      for (const p of pending.values()) p.reject(err)
      pending.clear()
      reject(new Error(`${script} exited (${code ?? signal}) before it was ready`))
    })
    const timer = setTimeout(() => {
      proc.kill('SIGKILL')
      reject(new Error(`${script} not ready within ${options.readyTimeoutMs ?? 30_000} ms`))
    }, options.readyTimeoutMs ?? 30_000)

    proc.on('message', (raw) => {
      const msg = raw as Record<string, unknown>
      if (msg.ready) {
        clearTimeout(timer)
        resolve(child(msg))
        return
      }
      const p = pending.get(msg.id as number)
      if (!p) return
      pending.delete(msg.id as number)
      if (typeof msg.error === 'string') p.reject(new Error(`${script}: ${msg.error}`))
      else p.resolve(msg)
    })

    const child = (hello: Record<string, unknown>): Child => ({
      proc,
      hello,
      request<T>(msg: Record<string, unknown>, timeoutMs = 60_000): Promise<T> {
        const id = nextId++
        return new Promise<T>((res, rej) => {
          const t = setTimeout(() => {
            pending.delete(id)
            rej(new Error(`${script}: no reply to ${String(msg.cmd)} within ${timeoutMs} ms`))
          }, timeoutMs)
          pending.set(id, {
            resolve: (v) => {
              clearTimeout(t)
              res(v as T)
            },
            reject: (e) => {
              clearTimeout(t)
              rej(e)
            }
          })
          proc.send({ ...msg, id })
        })
      },
      async stop(timeoutMs = 10_000): Promise<void> {
        if (proc.exitCode !== null || proc.signalCode !== null) return
        proc.send({ cmd: 'close', id: 0 })
        const t = setTimeout(() => proc.kill('SIGKILL'), timeoutMs)
        await exited
        clearTimeout(t)
      }
    })
  })

/**
 * Takes one core away from everyone else, as other work on a machine does: a Node process that
 * spins until the returned function stops it (it dies with the bench, too).
 */
export const spinCore = async (): Promise<() => Promise<void>> => {
  const proc = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' })
  live.add(proc)
  const exited = new Promise<void>((r) =>
    proc.once('exit', () => {
      live.delete(proc)
      r()
    })
  )
  await new Promise<void>((resolve, reject) => {
    proc.once('spawn', resolve)
    proc.once('error', reject)
  })
  return async () => {
    proc.kill('SIGKILL')
    await exited
  }
}

/** Answers IPC requests in a child: `handle` returns the reply's fields, or throws. */
export const serveRequests = (handle: (msg: Record<string, unknown>) => Promise<Record<string, unknown>>): void => {
  process.on('message', (raw) => {
    const msg = raw as Record<string, unknown>
    handle(msg).then(
      (reply) => process.send?.({ ...reply, id: msg.id }),
      (err: Error) => process.send?.({ id: msg.id, error: err.message })
    )
  })
}

export interface MemorySample {
  rss: number
  heapUsed: number
  external: number
  arrayBuffers: number
}

/** The process's memory after two full collections (needs `--expose-gc`). */
export const memoryAfterGc = async (): Promise<MemorySample> => {
  const gc = (globalThis as { gc?: () => void }).gc
  if (!gc) throw new Error('memoryAfterGc() needs node --expose-gc')
  for (let i = 0; i < 2; i++) {
    gc()
    await new Promise((r) => setTimeout(r, 20))
  }
  const m = process.memoryUsage()
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers }
}

/** A process's CPU time in µs (user + system, every thread), from /proc (clock ticks of USER_HZ 100). */
export const procCpuUs = (pid: number): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8')
    .replace(/^.*\) /, '')
    .split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 1e4
}
