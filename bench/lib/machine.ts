/**
 * The machine and the versions a run measured, for the head of RESULTS.md.
 */
import { cpus, totalmem, loadavg, release, platform } from 'node:os'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { execFileSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { CHROMIUM_PATH } from '../../test/support/chromium.js'

const require = createRequire(import.meta.url)

/**
 * The version of `pkg` as `from` resolves it, read from its package.json by path: some packages
 * (Hocuspocus) do not export their package.json.
 */
const versionOf = (pkg: string, from: NodeJS.Require = require): string => {
  for (const dir of from.resolve.paths(pkg) ?? []) {
    const file = join(dir, pkg, 'package.json')
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version
  }
  return '?'
}

/** The version of a package as a dependency of `parent` resolves it (the reference relay's own ws). */
const nestedVersionOf = (parent: string, pkg: string): string =>
  versionOf(
    pkg,
    createRequire(
      join(
        require.resolve
          .paths(parent)!
          .map((d) => join(d, parent))
          .find((d) => existsSync(d)) ?? '.',
        'package.json'
      )
    )
  )

export const chromiumVersion = (): string => {
  try {
    return execFileSync(CHROMIUM_PATH, ['--version'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    return 'not found'
  }
}

export const machineLines = (): string[] => {
  const cpu = cpus()
  return [
    `- Date: ${new Date().toISOString()}`,
    `- Machine: ${platform()} ${release()}, ${cpu.length} × ${cpu[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, load average at start ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
    `- Node ${process.versions.node}, V8 ${process.versions.v8}`,
    `- yjs ${versionOf('yjs')}, y-protocols ${versionOf('y-protocols')}, ws ${versionOf('ws')} (ours and Hocuspocus), y-websocket ${versionOf('y-websocket')} (client)`,
    `- Peers: @y/websocket-server ${versionOf('@y/websocket-server')} (with its own ws ${nestedVersionOf('@y/websocket-server', 'ws')}), ` +
      `@hocuspocus/server ${versionOf('@hocuspocus/server')}, @hocuspocus/provider ${versionOf('@hocuspocus/provider')}`,
    `- Browser: ${chromiumVersion()} driven by playwright-core ${versionOf('playwright-core')}; page bundled by esbuild ${versionOf('esbuild')}`
  ]
}

/**
 * Samples the 1-minute load average every 5 s until the line is asked for: a run on a machine
 * that other work loaded shows it in its head, since its figures then mean little.
 *
 * @example
 *   const load = sampleLoad()
 *   // ... the run ...
 *   head.push(load.line())
 */
export const sampleLoad = (): { line(): string } => {
  const samples = [loadavg()[0]!]
  const timer = setInterval(() => samples.push(loadavg()[0]!), 5_000)
  timer.unref()
  return {
    line: () => {
      clearInterval(timer)
      samples.push(loadavg()[0]!)
      const mean = samples.reduce((a, b) => a + b, 0) / samples.length
      const max = Math.max(...samples)
      const cores = cpus().length
      return `- Load average (1 min) during the run: mean ${mean.toFixed(1)}, max ${max.toFixed(1)}, on ${cores} cores${
        max > cores ? ': other work loaded the machine, so absolute figures are inflated; only ratios within the run compare' : ''
      }`
    }
  }
}
