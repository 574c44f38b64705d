/**
 * The seeded simulation of issue 18 (test/sim/), on a fixed set of seeds: the real client and
 * the real room pipeline, driven through random operations and faults on the deterministic
 * harness, with every invariant checked after each step and at quiescence. The step groups that
 * reach known, unfixed bugs are off here; test/sim/ci.ts is the switch, README.md the record.
 * A failure names the seed, the step, the invariant and the command that replays it.
 */
import './sim/entropy.js'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { runSeed } from './sim/runner.js'
import { CI_RUNS, CI_SEEDS, CI_STEPS } from './sim/ci.js'
import { replayCommand } from './sim/replay.js'

for (const groups of CI_RUNS) {
  test(`simulation: ${CI_SEEDS.length} seeds of ${CI_STEPS} steps (${[...groups].join(', ')}) keep every invariant`, async () => {
    const failures: string[] = []
    for (const seed of CI_SEEDS) {
      const r = await runSeed({ seed, steps: CI_STEPS, groups })
      const v = r.violations[0]
      if (v) failures.push(`seed ${seed}, step ${v.step}: ${v.invariant}: ${v.message}\n  replay: ${replayCommand(seed, CI_STEPS, groups)}`)
    }
    assert.deepEqual(failures, [])
  })
}

test('simulation: a seed replays step for step', async () => {
  const seed = CI_SEEDS[0]!
  const groups = CI_RUNS[0]!
  const first = await runSeed({ seed, steps: CI_STEPS, groups })
  const again = await runSeed({ seed, steps: CI_STEPS, groups })
  assert.ok(first.trace.length > CI_STEPS, 'the trace has a line a step')
  const strip = (lines: string[]) => lines.map((l) => l.replace(/link \d+/g, 'link #'))
  assert.deepEqual(strip(again.trace), strip(first.trace))
})
