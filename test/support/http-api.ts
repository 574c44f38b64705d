/**
 * A client of the relay's HTTP API for tests (docs/http-api.md): JSON in, status and JSON out.
 *
 * @example
 *   const api = httpApi(relay.httpUrl, 'org/doc')
 *   await api('PUT', 'state/count', 5)                       // { status: 200, body: { version: 0 } }
 *   await api('GET', 'state', undefined, { token })          // Authorization: Bearer <token>
 */

export interface HttpAnswer {
  status: number
  body: any
  headers: Headers
}

export interface HttpCallOptions {
  token?: string
  headers?: Record<string, string>
  /** The body as it is, instead of JSON. */
  raw?: string
  signal?: AbortSignal
}

/** Calls `<httpUrl>rooms/<room>/<path>`; the room is encoded, the path is used as given. */
export const httpApi =
  (httpUrl: string, room: string) =>
  async (method: string, path: string, body?: unknown, opts: HttpCallOptions = {}): Promise<HttpAnswer> => {
    const headers: Record<string, string> = { ...opts.headers }
    if (body !== undefined || opts.raw !== undefined) headers['content-type'] ??= 'application/json'
    if (opts.token) headers.authorization = `Bearer ${opts.token}`
    const res = await fetch(`${httpUrl}rooms/${encodeURIComponent(room)}/${path}`, {
      method,
      headers,
      ...(opts.raw !== undefined ? { body: opts.raw } : body !== undefined ? { body: JSON.stringify(body) } : {}),
      ...(opts.signal ? { signal: opts.signal } : {})
    })
    const text = await res.text()
    return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers }
  }
