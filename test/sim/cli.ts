/**
 * `npm run fuzz`: the seeded simulation from the command line.
 *
 *   npm run fuzz -- --seed 17              replays seed 17, printing its step trace
 *   npm run fuzz -- --seeds 500 [--from 1] runs seeds 1..500, prints each failure and a summary
 *   --steps 60                             steps a seed (default 60)
 *   --ops core,nested                      step groups (default: all; see ops.ts, README.md)
 *   --keep-going                           with --seeds: do not stop at the first failure
 *   --ignore inv1,inv2                     do not check these invariants (to look past a known bug)
 *   --shrink                               with --seed: find the fewest steps that still fail the same way
 *   --skip 3,7 | --only 4,9                with --seed: leave these steps out, or all others (what --shrink prints)
 *
 * A failure prints the seed, the step, the invariant and the command that replays it.
 *
 * @example
 *   npm run fuzz -- --seeds 2000 --keep-going
 */
import { runSeed, type RunResult } from './runner.js'
import { GROUPS, type Group } from './ops.js'
import { parseArgs } from 'node:util'
import { DEFAULT_STEPS, replayCommand } from './replay.js'
import { shrink } from './shrink.js'

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    seeds: { type: 'string' },
    from: { type: 'string' },
    steps: { type: 'string' },
    ops: { type: 'string' },
    'keep-going': { type: 'boolean' },
    ignore: { type: 'string' },
    shrink: { type: 'boolean' },
    skip: { type: 'string' },
    only: { type: 'string' },
    quiet: { type: 'boolean' }
  }
})

const groups = new Set<Group>(
  (values.ops ?? GROUPS.join(',')).split(',').map((g) => {
    if (!(GROUPS as readonly string[]).includes(g)) throw new Error(`--ops: unknown group ${g}; groups: ${GROUPS.join(', ')}`)
    return g as Group
  })
)
groups.add('core')
const steps = values.steps ? Number(values.steps) : DEFAULT_STEPS
const ignore = new Set(values.ignore ? values.ignore.split(',') : [])
const only = values.only ? new Set(values.only.split(',').map(Number)) : null
const skip = new Set(
  only ? Array.from({ length: steps }, (_, i) => i + 1).filter((s) => !only.has(s)) : values.skip ? values.skip.split(',').map(Number) : []
)

const report = (r: RunResult, steps: number, skipped: ReadonlySet<number> = new Set()): void => {
  const v = r.violations[0]!
  console.log(`FAIL seed ${r.seed} at step ${v.step}${v.step > steps ? ' (quiescence)' : ''}: ${v.invariant}: ${v.message}`)
  for (const more of r.violations.slice(1, 5)) console.log(`  also: ${more.invariant}: ${more.message}`)
  console.log(`  replay: ${replayCommand(r.seed, steps, groups, skipped, ignore)}`)
}

if (values.seed !== undefined) {
  const seed = Number(values.seed)
  const r = await runSeed({ seed, steps, groups, ignore, skip, onTrace: (line) => console.log(line) })
  if (r.violations.length > 0) {
    report(r, steps, skip)
    process.exitCode = 1
    if (values.shrink) {
      const shortest = await shrink({ seed, steps, groups, ignore, skip }, r.violations[0]!.invariant)
      console.log(`\nshrunk to ${shortest.steps - shortest.skip.size} of ${shortest.steps} steps:`)
      for (const line of shortest.result.trace) console.log(line)
      report(shortest.result, shortest.steps, shortest.skip)
    }
  } else console.log(`seed ${seed}: ${steps} steps, every invariant held`)
} else {
  const from = values.from ? Number(values.from) : 1
  const count = values.seeds ? Number(values.seeds) : 100
  const started = Date.now()
  let clean = 0
  const failed: RunResult[] = []
  for (let seed = from; seed < from + count; seed++) {
    const r = await runSeed({ seed, steps, groups, ignore })
    if (r.violations.length === 0) clean++
    else {
      failed.push(r)
      report(r, steps)
      if (!values['keep-going']) break
    }
    if (!values.quiet && (seed - from + 1) % 100 === 0)
      console.log(`… ${seed - from + 1} seeds, ${clean} clean, ${((Date.now() - started) / 1000).toFixed(0)} s`)
  }
  const byInvariant = new Map<string, number[]>()
  for (const r of failed) {
    const inv = r.violations[0]!.invariant
    byInvariant.set(inv, [...(byInvariant.get(inv) ?? []), r.seed])
  }
  console.log(
    `${clean + failed.length} seeds (${from}..${from + clean + failed.length - 1}), ${steps} steps each, ops ${[...groups].join(',')}: ${clean} clean, ${failed.length} failed, ${((Date.now() - started) / 1000).toFixed(1)} s`
  )
  for (const [inv, seeds] of byInvariant) console.log(`  ${inv}: ${seeds.length} seeds, first ${seeds[0]} (${seeds.slice(0, 8).join(' ')})`)
  if (failed.length > 0) process.exitCode = 1
}
