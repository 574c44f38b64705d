/**
 * Lock workers for the cluster tests and the bench: `test/fixtures/lock-worker.ts` in child
 * processes, given one relay URL or several (comma-separated, rotated through), started together.
 *
 * @example
 *   const workers = [worker(urlA, 'room', 'inc', 25), worker(`${urlB},${urlA}`, 'room', 'inc', 25)]
 *   const results = await race(workers) // [{ done: 25, … }, …]
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { join } from 'node:path'
import { ROOT, within } from './helpers.js'

export interface Worker {
  proc: ChildProcess
  line(match: (l: string) => boolean, what: string, timeout?: number): Promise<string>
  go(): void
}

export const worker = (urls: string, room: string, mode: string, ops: number): Worker =>
  fixtureWorker('test/fixtures/lock-worker.ts', [urls, room, mode, String(ops)])

/**
 * A worker running `fixture` (a path from the repository's root) with `args`, speaking the same
 * lines: `ready`, then `go` on stdin, then one JSON line (test/fixtures/http-lease-worker.ts too).
 */
export const fixtureWorker = (fixture: string, args: string[]): Worker => {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(ROOT, fixture), ...args], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'inherit']
  })
  const lines: string[] = []
  const waiters = new Set<() => void>()
  createInterface({ input: proc.stdout! }).on('line', (l) => {
    lines.push(l)
    for (const w of [...waiters]) w()
  })
  const line = (match: (l: string) => boolean, what: string, timeout = 60_000) =>
    within(
      new Promise<string>((resolve, reject) => {
        const look = () => {
          const found = lines.find(match)
          if (found !== undefined) {
            waiters.delete(look)
            resolve(found)
          }
        }
        waiters.add(look)
        proc.once('exit', (code) => {
          look()
          reject(new Error(`worker exited with ${code} before ${what}`))
        })
        look()
      }),
      timeout,
      what
    )
  return { proc, line, go: () => proc.stdin!.write('go\n') }
}

/** What a worker prints when it is done (fixtures/lock-worker.ts). */
export interface WorkerResult {
  done: number
  net: number
  failed: number
  acked: number
  pid: number
}

/** Starts every worker, waits until all are synced, then lets them go at once. */
export const race = async (workers: Worker[], timeout = 120_000): Promise<WorkerResult[]> => {
  await Promise.all(workers.map((w) => w.line((l) => l === 'ready', 'the worker to sync')))
  for (const w of workers) w.go()
  const results = await Promise.all(workers.map((w) => w.line((l) => l.startsWith('{'), 'the worker to finish', timeout)))
  return results.map((r) => JSON.parse(r))
}
