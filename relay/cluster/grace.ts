/**
 * How long compaction must keep stream entries past PostgreSQL (`graceMs`) for a given liveness
 * (`livenessMs`). A relay that stalls (paused, its reader cut off) for less than its liveness is
 * not presumed dead, and reads on from where it stopped once it wakes: what it had not read must
 * still be in the stream then, however long its wake-up takes. So the grace must exceed the
 * liveness with margin: at least twice it. (A relay that stalls longer resets: see liveness.ts.
 * One whose reader finds the stream trimmed anyway fails the room: see shared-rooms.ts.)
 *
 * @example
 *   graceProblem(2_000, 0)      // 'must be at least 4000 ms (twice the liveness of 2000 ms), not 0'
 *   graceProblem(5_000, 60_000) // null
 */
export const graceProblem = (livenessMs: number, graceMs: number): string | null =>
  graceMs >= 2 * livenessMs ? null : `must be at least ${2 * livenessMs} ms (twice the liveness of ${livenessMs} ms), not ${graceMs}`

/** The defaults of the cluster's timing. */
export const DEFAULT_LIVENESS_MS = 5_000
export const DEFAULT_GRACE_MS = 60_000
