/**
 * What a step of the simulation is: its group, its weight, and what it does with the world, the
 * model and its draw. The session steps are in ops.ts, the backend steps in backend-ops.ts.
 *
 * @example
 *   const step: Step = { name: 'time', group: 'core', weight: 4, run: ({ rng }) => `${prng.int32(rng, 1, 30)} ms pass` }
 */
import type * as prng from 'lib0/prng'
import type { Model } from './model.js'
import type { World } from './world.js'

/** The step groups; `core` is always on (see README.md, ci.ts). */
export const GROUPS = ['core', 'halfOpen', 'nested', 'quiet', 'channel', 'earlyRead', 'backend'] as const
export type Group = (typeof GROUPS)[number]

export interface Ctx {
  world: World
  model: Model
  rng: prng.PRNG
  groups: ReadonlySet<Group>
}

export interface Step {
  name: string
  group: Group
  weight: number
  run(ctx: Ctx): Promise<string> | string
}
