/**
 * The three systems under comparison, and the order they run in: rotated on each repeat, so
 * that none of them always runs first (on a cold machine) or last (after the others' garbage).
 */
import { medianOf } from './stats.js'

export const SYSTEMS = ['ours', 'reference', 'hocuspocus'] as const
export type System = (typeof SYSTEMS)[number]

export const LABEL: Record<System, string> = {
  ours: 'y-server-state',
  reference: 'y-websocket-server 0.1.1',
  hocuspocus: 'Hocuspocus 3.4.4'
}

/** The systems in the order of repeat `rep`: each takes each place in turn. */
export const rotation = <T>(items: readonly T[], rep: number): T[] => {
  const k = rep % items.length
  return [...items.slice(k), ...items.slice(0, k)]
}

/** The peers a figure of ours is compared with. */
export const PEERS = ['reference', 'hocuspocus'] as const satisfies readonly System[]

/**
 * Runs `measure` for each system, `reps` times, rotating the order on each repeat; returns each
 * system's runs. The systems are usually {@link SYSTEMS}; a scenario may compare variants of its own. Progress goes to stderr, so a long run shows that it is alive.
 */
export const alternate = async <T, S extends string = System>(
  systems: readonly S[],
  reps: number,
  what: string,
  measure: (system: S) => Promise<T>
): Promise<Map<S, T[]>> => {
  const runs = new Map<S, T[]>(systems.map((s) => [s, []]))
  for (let rep = 0; rep < reps; rep++) {
    for (const system of rotation(systems, rep)) {
      const t0 = performance.now()
      runs.get(system)!.push(await measure(system))
      process.stderr.write(`  ${what}: ${system} #${rep + 1} (${((performance.now() - t0) / 1000).toFixed(1)} s)\n`)
    }
  }
  return runs
}

/** One field of each system's (median) run, for a headline. */
export const pick = <K extends string>(runs: ReadonlyMap<System, Record<K, number>>, field: K): Record<System, number> =>
  Object.fromEntries(SYSTEMS.map((s) => [s, runs.get(s)?.[field] ?? NaN])) as Record<System, number>

/** Each system's runs reduced to the median of every field. */
export const mediansOf = <K extends string, S extends string = System>(
  runs: ReadonlyMap<S, ReadonlyArray<Record<K, number>>>
): Map<S, Record<K, number>> => new Map([...runs].map(([s, r]) => [s, medianOf(r)]))
