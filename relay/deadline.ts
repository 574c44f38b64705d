/**
 * A timer for a moment that may be days away. `setTimeout` fires at once for a delay over about
 * 24.8 days (2^31 - 1 ms); a credential's expiry may be further off than that.
 *
 * @example
 *   const cancel = atTime(expiresAt, () => conn.close(4401, 'credentials expired'))
 *   cancel() // before it fires: it never will
 */
const MAX_DELAY = 2 ** 31 - 1

/** Calls `fn` at `time` (ms since the epoch), or soon if that is past; the timer does not hold the process. Returns a cancel. */
export const atTime = (time: number, fn: () => void): (() => void) => {
  let timer: ReturnType<typeof setTimeout>
  const arm = (): void => {
    const wait = time - Date.now()
    timer = wait > MAX_DELAY ? setTimeout(arm, MAX_DELAY) : setTimeout(fn, Math.max(0, wait))
    timer.unref()
  }
  arm()
  return () => clearTimeout(timer)
}
