/**
 * The packages as they ship: the client and the relay compiled by tsc (tsconfig.build.json and
 * relay/tsconfig.build.json) into bench/.build, for scenarios that measure their CPU. Under tsx every function expression gets a
 * `__name()` call (esbuild's keepNames), a cost that the published JavaScript does not have.
 * `BENCH_SOURCES=1` runs the sources under tsx instead; `BENCH_COMPILED=DIR` uses a build already
 * in DIR (one compiled from another commit, to compare two versions in one run).
 *
 * @example
 *   const dir = compiledPackage()       // '/…/bench/.build', or null with BENCH_SOURCES=1
 *   await launchRelay({ system: 'ours' })  // runs it; so does every child given `compiledDir: dir`
 *   const { connect } = await loadClient(dir)
 */
import { execFileSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const OUT = fileURLToPath(new URL('../.build', import.meta.url))
let built: string | null | undefined

/** Compiles once per bench run; returns the directory, or null to run the sources. */
export const compiledPackage = (): string | null => {
  if (built !== undefined) return built
  if (process.env.BENCH_SOURCES === '1') {
    built = null
    return built
  }
  if (process.env.BENCH_COMPILED) {
    built = process.env.BENCH_COMPILED
    return built
  }
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
  // The client package's build and the relay package's (relay/), both rooted at the repository.
  for (const project of ['tsconfig.build.json', 'relay/tsconfig.build.json']) {
    execFileSync(process.execPath, [tsc, '-p', project, '--outDir', OUT, '--declaration', 'false'], { cwd: ROOT, stdio: 'inherit' })
  }
  built = OUT
  return built
}

/** Our client from a build in `dir` (see {@link compiledPackage}), or from its sources without one. */
export const loadClient = async (dir: string | null | undefined): Promise<typeof import('../../client/index.js')> =>
  (dir
    ? await import(pathToFileURL(join(dir, 'client/index.js')).href)
    : await import('../../client/index.js')) as typeof import('../../client/index.js')
