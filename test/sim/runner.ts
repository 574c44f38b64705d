/**
 * Runs one seed: a world, `steps` steps chosen by the seed, the invariants after each, then
 * quiescence and the final invariants. Everything random comes from the seed (the schedule from
 * lib0/prng, one generator a step; the system's own randomness from entropy.ts) and time is
 * virtual, so a seed replays step for step.
 *
 * @example
 *   const result = await runSeed({ seed: 7, steps: 60, groups: new Set(GROUPS) })
 *   if (result.violations.length) console.log(result.trace.join('\n'))
 */
import { reseedEntropy } from './entropy.js'
import * as prng from 'lib0/prng'
import { mock } from 'node:test'
import { Model, type Violation } from './model.js'
import { World } from './world.js'
import { checkFinal, checkStep, quietCheck } from './invariants.js'
import { afterStep, chooseStep, stepsOf, type Group } from './ops.js'
import { checkBackendFinal } from './backend-ops.js'

/** Real timers, taken before any run mocks them: a step that hangs is bounded in real time. */
const realSetTimeout = globalThis.setTimeout
const realClearTimeout = globalThis.clearTimeout

export interface RunOptions {
  seed: number
  steps: number
  groups: ReadonlySet<Group>
  /** Called with each line of the trace as it happens (for `--seed`). */
  onTrace?: (line: string) => void
  /** Steps to leave out (the shrinker's): every other step draws what it drew before. */
  skip?: ReadonlySet<number>
  /** Invariants not to check (to look past a known bug). */
  ignore?: ReadonlySet<string>
  /** Called with the world after the last check, before it closes: to look into a failure. */
  inspect?: (world: World) => void
  /** Real milliseconds a step may take before the run fails as hung. Default 10 s. */
  stepBudgetMs?: number
}

export interface RunResult {
  seed: number
  violations: Violation[]
  trace: string[]
  /** The step of the first violation (steps + 1: at quiescence), or null. */
  failedAt: number | null
}

/**
 * Each step draws from a generator of its own, made from the seed and the step's number: leaving
 * a step out (shrinking) leaves what every other step chooses as it was.
 */
const stepRng = (seed: number, step: number): prng.PRNG => prng.create(Math.imul(seed, 0x9e3779b1) ^ Math.imul(step, 0x85ebca6b))

const bounded = async <T>(work: Promise<T>, ms: number, what: string): Promise<T> => {
  let timer: ReturnType<typeof setTimeout> | undefined
  const hung = new Promise<never>((_, reject) => {
    timer = realSetTimeout(() => reject(new Error(`hung: ${what}`)), ms)
  })
  try {
    return await Promise.race([work, hung])
  } finally {
    realClearTimeout(timer)
  }
}

export const runSeed = async (options: RunOptions): Promise<RunResult> => {
  const { seed, steps, groups } = options
  const budget = options.stepBudgetMs ?? 10_000
  const trace: string[] = []
  const log = (line: string) => {
    trace.push(line)
    options.onTrace?.(line)
  }
  reseedEntropy(seed)
  mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'] })
  const model = new Model(options.ignore)
  const world = new World(model, quietCheck(model), groups.has('channel'), groups.has('backend'))
  const onUnhandled = (reason: unknown) => model.violate('no-unhandled-rejection', String(reason))
  process.on('unhandledRejection', onUnhandled)
  const escaped = () => {
    for (const { link, error } of world.net.takeEscaped()) model.violate('no-error-escapes', `${link}: ${String(error)}`)
  }
  try {
    await bounded(world.start(), budget, 'start')
    const choices = stepsOf(groups)
    for (let step = 1; step <= steps && model.violations.length === 0; step++) {
      if (options.skip?.has(step)) continue
      model.step = step
      const rng = stepRng(seed, step)
      const chosen = chooseStep(rng, choices)
      let line: string
      try {
        line = await bounded(Promise.resolve(chosen.run({ world, model, rng, groups })), budget, `step ${step} (${chosen.name})`)
      } catch (err) {
        model.violate('step-completes', `${chosen.name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
        line = `${chosen.name} failed`
      }
      await bounded(world.settle(), budget, `settling after step ${step}`)
      log(`${step}. ${line}`)
      const ambient = afterStep({ world, model, rng, groups })
      if (ambient) {
        await bounded(world.settle(), budget, `settling after step ${step}`)
        log(ambient)
      }
      escaped()
      checkStep(world)
    }
    if (model.violations.length === 0) {
      model.step = steps + 1
      log(`${steps + 1}. quiescence: holds released, everyone online, everything delivered, time runs on`)
      try {
        await bounded(world.quiesce(), budget * 3, 'quiescence')
      } catch (err) {
        model.violate('quiescence', err instanceof Error ? err.message : String(err))
      }
      escaped()
      if (model.violations.length === 0) checkFinal(world)
      if (model.violations.length === 0) checkBackendFinal(world)
    }
  } catch (err) {
    model.violate('step-completes', err instanceof Error ? (err.stack ?? err.message) : String(err))
  } finally {
    options.inspect?.(world)
    try {
      await bounded(world.close(), budget, 'closing the world')
    } catch (err) {
      if (model.violations.length === 0) model.violate('closes-cleanly', String(err))
    }
    mock.timers.reset()
    // Rejections of this run surface a tick later: they still count against it.
    await new Promise((resolve) => setImmediate(resolve))
    process.off('unhandledRejection', onUnhandled)
  }
  const first = model.violations[0]
  return { seed, violations: model.violations, trace, failedAt: first ? first.step : null }
}
