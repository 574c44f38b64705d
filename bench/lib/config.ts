/**
 * Sizes and repeat counts, from flags (`--reps=5`, `--quick`) or the environment
 * (`BENCH_REPS=5`, `BENCH_QUICK=1`, and each scenario's own `BENCH_*` sizes), so that a quick
 * run can check the harness and a full run can measure.
 *
 * @example
 *   npm run bench -- fanout --quick
 *   BENCH_FANOUT_READERS=50 BENCH_REPS=5 npm run bench -- fanout
 */
const flags = new Map<string, string>()
for (const arg of process.argv.slice(2)) {
  const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg)
  if (m) flags.set(m[1]!, m[2] ?? '1')
}

/** Whether `--quick` or `BENCH_QUICK=1`: small sizes and one repeat, to check the harness. */
export const quick = flags.has('quick') || process.env.BENCH_QUICK === '1'

const raw = (name: string): string | undefined =>
  flags.get(
    name
      .toLowerCase()
      .replace(/^bench_/, '')
      .replace(/_/g, '-')
  ) ?? process.env[name]

/** A string from `--name=` or `BENCH_NAME`, if given. */
export const string = (name: string): string | undefined => raw(name)

/** A whole number from `--name=` or `BENCH_NAME`, else `full` (or `small` in a quick run). */
export const int = (name: string, full: number, small = full): number => {
  const v = raw(name)
  if (v === undefined) return quick ? small : full
  const n = Number(v)
  if (!Number.isInteger(n) || n < 0) throw new TypeError(`${name}: expected a whole number, got "${v}"`)
  return n
}

/** A list of whole numbers, comma-separated, from `--name=` or `BENCH_NAME`. */
export const ints = (name: string, full: number[], small = full): number[] => {
  const v = raw(name)
  if (v === undefined) return quick ? small : full
  return v.split(',').map((s) => {
    const n = Number(s)
    if (!Number.isInteger(n) || n <= 0) throw new TypeError(`${name}: expected whole numbers, got "${v}"`)
    return n
  })
}

/** A list of names, comma-separated, from `--name=` or `BENCH_NAME`; each must be one of `allowed`. */
export const names = <T extends string>(name: string, allowed: readonly T[]): T[] => {
  const v = raw(name)
  if (v === undefined) return [...allowed]
  const chosen = v.split(',')
  const unknown = chosen.filter((n) => !(allowed as readonly string[]).includes(n))
  if (unknown.length > 0) throw new TypeError(`${name}: unknown ${unknown.join(', ')}; choose from ${allowed.join(', ')}`)
  return chosen as T[]
}

/** Repeats of each measurement; the systems alternate within each repeat. */
export const reps = (): number => int('BENCH_REPS', 3, 1)

/** The positional arguments: scenario names. */
export const positional = (): string[] => process.argv.slice(2).filter((a) => !a.startsWith('--'))
