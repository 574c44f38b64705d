/**
 * The simulation's draws from a seed's generator, shared by the session steps (ops.ts) and the
 * backend steps (backend-ops.ts).
 *
 * @example
 *   const key = pick(rng, ['a', 'b'])   // undefined from an empty list
 *   if (chance(rng, 0.3)) quiet()
 */
import * as prng from 'lib0/prng'

/** One of `items`, or undefined if there is none. */
export const pick = <T>(rng: prng.PRNG, items: readonly T[]): T | undefined =>
  items.length === 0 ? undefined : prng.oneOf(rng, items as T[])

/** True with probability `p`. */
export const chance = (rng: prng.PRNG, p: number): boolean => prng.real53(rng) < p
