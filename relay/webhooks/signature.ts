/**
 * The signature of a webhook's body: `sha256=<hex HMAC-SHA256(secret, body)>`, sent as
 * `X-YSS-Signature`, so that a receiver can check that the relay sent it (docs/http-api.md has
 * the receiver's side).
 *
 * @example
 *   signBody('s3cret', '{"room":"default"}') // 'sha256=5d1c…'
 */
import { createHmac } from 'node:crypto'

/** The `X-YSS-Signature` value of `body` under `secret`. */
export const signBody = (secret: string, body: string): string => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`
