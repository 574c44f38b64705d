/**
 * The command that replays a run, shortest form: what is the default is left out.
 *
 * @example
 *   replayCommand(17, 60, new Set(GROUPS))                 // 'npm run fuzz -- --seed 17'
 *   replayCommand(17, 20, new Set(GROUPS), new Set([3]))   // '… --seed 17 --steps 20 --skip 3'
 *   // a shrunk run that keeps steps 4 and 9 of 9:            '… --seed 17 --steps 9 --only 4,9'
 */
import { GROUPS, type Group } from './ops.js'

export const DEFAULT_STEPS = 60

export const replayCommand = (
  seed: number,
  steps: number,
  groups: ReadonlySet<Group>,
  skip: ReadonlySet<number> = new Set(),
  ignore: ReadonlySet<string> = new Set()
): string => {
  const all = GROUPS.every((g) => groups.has(g))
  const kept = Array.from({ length: steps }, (_, i) => i + 1).filter((s) => !skip.has(s))
  // The shorter of the steps left out and the steps kept (a shrunk run keeps few).
  const which =
    skip.size === 0 ? '' : skip.size <= kept.length ? ` --skip ${[...skip].sort((a, b) => a - b).join(',')}` : ` --only ${kept.join(',')}`
  return (
    `npm run fuzz -- --seed ${seed}${steps === DEFAULT_STEPS ? '' : ` --steps ${steps}`}${all ? '' : ` --ops ${[...groups].join(',')}`}` +
    `${which}${ignore.size > 0 ? ` --ignore ${[...ignore].join(',')}` : ''}`
  )
}
