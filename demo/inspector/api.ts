/**
 * The inspector page's side of the relay's inspector API (protocol/inspector.ts): fetches with
 * the page's token as a Bearer header, refusals as {@link ApiError}s, and a poll that asks again a
 * while after each answer (never two requests at once).
 *
 * @example
 *   const stop = poll(() => getJson<InspectorOverview>(ROOMS_API, token), 2_000, (r) => r.ok ? show(r.value) : fail(r.error))
 *   stop()
 */

/** A refusal or failure of the API: `status` is the HTTP status, 0 when the relay did not answer. */
export class ApiError extends Error {
  override name = 'ApiError'
  constructor(
    readonly status: number,
    message: string
  ) {
    super(message)
  }

  /** Whether a (better) token would help: 401 or 403. */
  get needsToken(): boolean {
    return this.status === 401 || this.status === 403
  }
}

/** GETs `path` as JSON, with `token` (if any) as a Bearer header. Rejects with an {@link ApiError}. */
export const getJson = async <T>(path: string, token: string | null): Promise<T> => {
  let res: Response
  try {
    res = await fetch(path, { cache: 'no-store', headers: token ? { authorization: `Bearer ${token}` } : {} })
  } catch (err) {
    throw new ApiError(0, `the relay did not answer: ${(err as Error).message}`)
  }
  if (!res.ok) {
    const body = (await res.json().catch(() => null)) as { error?: string } | null
    throw new ApiError(res.status, body?.error ?? `${res.status} ${res.statusText}`)
  }
  return (await res.json()) as T
}

export type Polled<T> = { ok: true; value: T } | { ok: false; error: ApiError }

/** Calls `load` now, and again `everyMs` after each answer, until the returned function is called. */
export const poll = <T>(load: () => Promise<T>, everyMs: number, on: (result: Polled<T>) => void): (() => void) => {
  let stopped = false
  let timer: ReturnType<typeof setTimeout> | undefined
  const round = async () => {
    let result: Polled<T>
    try {
      result = { ok: true, value: await load() }
    } catch (err) {
      result = { ok: false, error: err instanceof ApiError ? err : new ApiError(0, String(err)) }
    }
    if (stopped) return
    on(result)
    timer = setTimeout(() => void round(), everyMs)
  }
  void round()
  return () => {
    stopped = true
    clearTimeout(timer)
  }
}
