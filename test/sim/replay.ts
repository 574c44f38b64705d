/**
 * The command that replays a run, shortest form: what is the default is left out.
 *
 * @example
 *   replayCommand(17, 60, new Set(GROUPS))   // 'npm run fuzz -- --seed 17'
 */
import { GROUPS, type Group } from './ops.js'

export const DEFAULT_STEPS = 60

export const replayCommand = (seed: number, steps: number, groups: ReadonlySet<Group>): string => {
  const all = GROUPS.every((g) => groups.has(g))
  return `npm run fuzz -- --seed ${seed}${steps === DEFAULT_STEPS ? '' : ` --steps ${steps}`}${all ? '' : ` --ops ${[...groups].join(',')}`}`
}
