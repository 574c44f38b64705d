/**
 * Order statistics for noisy timings: medians across repeats, percentiles within one run.
 *
 * @example
 *   median([3, 1, 2])            // 2
 *   percentile([1, 2, 3, 4], 99) // 4
 */

/** The p-th percentile (0–100) by the nearest-rank method; NaN for no values. */
export const percentile = (values: ArrayLike<number>, p: number): number => {
  if (values.length === 0) return NaN
  const sorted = Float64Array.from(values).sort()
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!
}

/** The median; of an even count, the mean of the two middle values. */
export const median = (values: ArrayLike<number>): number => {
  if (values.length === 0) return NaN
  const sorted = Float64Array.from(values).sort()
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** Medians of each field over repeats of a run that reports the same numeric fields each time. */
export const medianOf = <K extends string>(runs: ReadonlyArray<Record<K, number>>): Record<K, number> => {
  const out = {} as Record<K, number>
  if (runs.length === 0) return out
  for (const key of Object.keys(runs[0]!) as K[]) out[key] = median(runs.map((r) => r[key]))
  return out
}
