/**
 * Starts a relay under test in its own process (see relay-child.ts).
 *
 * @example
 *   const relay = await launchRelay({ system: 'reference' })
 *   const ws = new WebSocket(`${relay.url}/room`)
 *   const { rss } = await relay.memory()
 *   await relay.stop()
 */
import { fileURLToPath } from 'node:url'
import { spawnChild, type MemorySample } from './children.js'
import { compiledPackage } from './compiled.js'
import type { RelaySpec } from '../children/relay-child.js'

export interface LaunchedRelay {
  readonly system: RelaySpec['system']
  /** `ws://127.0.0.1:PORT`; add `/<room>`. */
  readonly url: string
  readonly httpUrl: string
  readonly pid: number
  memory(): Promise<MemorySample>
  /** Ours only: the relay's counters (bytes and messages in and out). */
  metrics(): Promise<Record<string, number>>
  /** The relay process's CPU time so far, in µs (`process.cpuUsage()`). */
  cpu(): Promise<{ user: number; system: number }>
  stop(): Promise<void>
}

const SCRIPT = fileURLToPath(new URL('../children/relay-child.ts', import.meta.url))

/**
 * Our relay runs compiled by tsc (lib/compiled.ts; `BENCH_SOURCES=1`: its sources under tsx).
 * `BENCH_PROFILE=DIR` profiles our relay: it runs under `--cpu-prof` and writes its profile to
 * DIR when it stops (read it with `node --import tsx bench/lib/cpu-top.ts FILE`). `nodeFlags` are
 * passed to the relay's Node (V8 flags such as `--max-semi-space-size=1`).
 */
export const launchRelay = async (spec: RelaySpec, nodeFlags: string[] = []): Promise<LaunchedRelay> => {
  const profileDir = process.env.BENCH_PROFILE
  // Ours runs as the package ships it, like its peers' published JavaScript (see compiled.ts).
  if (spec.system === 'ours' && spec.compiledDir === undefined) {
    const dir = compiledPackage()
    if (dir) spec = { ...spec, compiledDir: dir }
  }
  const child = await spawnChild(SCRIPT, [JSON.stringify(spec)], {
    env: spec.system === 'reference' && spec.dataDir ? { YPERSISTENCE: spec.dataDir } : { YPERSISTENCE: undefined },
    execArgv: [...(profileDir && spec.system === 'ours' ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []), ...nodeFlags]
  })
  const port = child.hello.port as number
  return {
    system: spec.system,
    url: `ws://127.0.0.1:${port}`,
    httpUrl: `http://127.0.0.1:${port}/`,
    pid: child.proc.pid!,
    memory: async () => (await child.request<{ memory: MemorySample }>({ cmd: 'memory' })).memory,
    metrics: async () => (await child.request<{ metrics: Record<string, number> }>({ cmd: 'metrics' })).metrics,
    cpu: async () => (await child.request<{ cpu: { user: number; system: number } }>({ cmd: 'cpu' })).cpu,
    stop: () => child.stop()
  }
}
