/**
 * The plain HTTP of the backends' API (docs/http-api.md): JSON answers, the JSON error body every
 * refusal carries, and request bodies read under a byte limit. One place, so that every route
 * answers bad input the same way: a 4xx with `{ error, message }`, never a crash.
 *
 * @example
 *   const body = await readJson(req, limits.maxHttpBodyBytes) // throws HttpError(413 | 415 | 400)
 *   sendJson(res, 200, { version: 3 })
 *   sendError(res, new HttpError(409, 'lease_ended', 'the lease ended: nothing was applied'))
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { jsonText } from '../feed/json-text.js'
import type { LimitName } from '../limits.js'

/** The `error` codes of docs/http-api.md. */
export type HttpErrorCode =
  | 'bad_request'
  | 'unauthorized'
  | 'forbidden'
  | 'mutation_only'
  | 'not_found'
  | 'method_not_allowed'
  | 'lock_timeout'
  | 'lease_ended'
  | 'too_large'
  | 'unsupported_media_type'
  | 'invalid_args'
  | 'mutation_failed'
  | 'over_limit'
  | 'unavailable'
  | 'internal'

/** A refusal with its status and JSON body; anything else thrown by a route is a 500. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: HttpErrorCode,
    message: string,
    /** Extra headers (`Retry-After`, `WWW-Authenticate`, `Allow`). */
    readonly headers: Record<string, string> = {},
    /** The relay limit this refusal is a hit of, counted in `/metrics` where it is answered. */
    readonly limit?: LimitName
  ) {
    super(message)
  }
}

/**
 * Answers `status` with `body` as JSON (no body for 204), a BigInt a stock client stored as its
 * decimal string. Throws a 500 {@link HttpError} (nothing sent) for a value with no JSON text.
 */
export const sendJson = (res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void => {
  if (res.headersSent) return void res.end()
  if (status === 204 || body === undefined) return void res.writeHead(status, headers).end()
  const text = jsonText(body)
  if (text === null) throw new HttpError(500, 'internal', 'a value is nested too deeply to be written as JSON')
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers }).end(text)
}

/** Answers an {@link HttpError} with its body; anything else as a 500 that names nothing inside. */
export const sendError = (res: ServerResponse, err: unknown): void => {
  const e = err instanceof HttpError ? err : new HttpError(500, 'internal', 'the relay failed to answer; see its log')
  sendJson(res, e.status, { error: e.code, message: e.message }, e.headers)
}

/**
 * Reads a JSON body of at most `maxBytes`. Throws {@link HttpError}: 415 for another content
 * type, 413 past the limit (the rest is not read, and the connection is closed after the
 * answer), 400 for text that is not JSON or a body cut short. An empty body is `undefined`.
 */
export const readJson = async (req: IncomingMessage, maxBytes: number): Promise<unknown> => {
  const type = (req.headers['content-type'] ?? 'application/json').split(';')[0]!.trim().toLowerCase()
  if (type !== 'application/json')
    throw new HttpError(415, 'unsupported_media_type', `the body is JSON (content-type: application/json), not ${type}`)
  const declared = Number(req.headers['content-length'] ?? 0)
  if (declared > maxBytes) throw tooLarge(req, maxBytes)
  const chunks: Buffer[] = []
  let size = 0
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length
      if (size > maxBytes) throw tooLarge(req, maxBytes)
      chunks.push(chunk)
    }
  } catch (err) {
    if (err instanceof HttpError) throw err
    // The client went away mid-body: its doing, not the relay's failure (no 500, no error logged).
    throw new HttpError(400, 'bad_request', 'the request body was cut short')
  }
  if (size === 0) return undefined
  try {
    return JSON.parse(Buffer.concat(chunks, size).toString('utf8'))
  } catch (err) {
    throw new HttpError(400, 'bad_request', `the body is not JSON: ${(err as Error).message}`)
  }
}

const tooLarge = (req: IncomingMessage, maxBytes: number): HttpError => {
  // What was not read is never read: the connection closes once the answer is sent.
  req.pause()
  return new HttpError(
    413,
    'too_large',
    `the body is over the relay's limit of ${maxBytes} bytes`,
    { connection: 'close' },
    'maxHttpBodyBytes'
  )
}
