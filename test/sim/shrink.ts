/**
 * Shrinks a failing run. Each step draws from a generator of its own (runner.ts), so a step can be
 * left out and every other step still chooses what it chose; the world they act on changes, so
 * the run is tried again. First the shortest prefix that still breaks the same invariant, then
 * each remaining step left out in turn, kept out if the same invariant still breaks. The result
 * replays with `--steps S --skip a,b,c`.
 *
 * @example
 *   const { steps, skip, result } = await shrink({ seed: 55, steps: 60, groups }, 'loud-write-reruns-readers')
 */
import { runSeed, type RunOptions, type RunResult } from './runner.js'

export interface Shrunk {
  steps: number
  skip: Set<number>
  result: RunResult
}

export const shrink = async (options: RunOptions, invariant: string): Promise<Shrunk> => {
  const fails = async (steps: number, skip: Set<number>): Promise<RunResult | null> => {
    const result = await runSeed({ ...options, steps, skip, onTrace: undefined })
    return result.violations[0]?.invariant === invariant ? result : null
  }
  let steps = options.steps
  let best = await fails(steps, new Set(options.skip))
  if (!best) throw new Error(`shrink: seed ${options.seed} does not break ${invariant}`)
  const skip = new Set(options.skip)
  for (let s = 1; s < steps; s++) {
    const r = await fails(s, skip)
    if (r) {
      steps = s
      best = r
      break
    }
  }
  for (let s = steps; s >= 1; s--) {
    if (skip.has(s)) continue
    skip.add(s)
    const r = await fails(steps, skip)
    if (r) best = r
    else skip.delete(s)
  }
  return { steps, skip, result: best }
}
