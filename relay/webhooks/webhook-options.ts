/**
 * What a webhook is (`startRelay({ webhooks: [...] })`, `--webhook`): where the relay POSTs a
 * room's changes, which keys, how it signs them, how long it gathers them, and how it retries.
 *
 * @example
 *   const hook = resolveWebhook({ url: 'https://example.test/hook', keys: ['order:*'], secret: 's3cret' })
 *   hook.debounceMs // 100
 */
export interface WebhookOptions {
  /** An http: or https: URL. */
  url: string
  /** Key patterns (`*` any run of characters); a change of another key is not sent. Default: every key. */
  keys?: string[]
  /** Signs each body: `X-YSS-Signature: sha256=<hex HMAC-SHA256(secret, body)>`. */
  secret?: string
  /** A batch gathers a room's changes for this long after its first one. Default 100 ms. */
  debounceMs?: number
  /** One attempt's bound. Default 10 s. */
  timeoutMs?: number
  /** Retries: the first after `firstMs`, doubling up to `maxMs`; the batch is dropped after `attempts` failures. */
  retry?: { firstMs?: number; maxMs?: number; attempts?: number }
}

export interface Webhook {
  readonly url: string
  readonly keys: readonly string[] | null
  readonly secret: string | undefined
  readonly debounceMs: number
  readonly timeoutMs: number
  readonly retry: { readonly firstMs: number; readonly maxMs: number; readonly attempts: number }
}

const count = (name: string, value: number | undefined, fallback: number, min: number): number => {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || value < min)
    throw new RangeError(`webhook ${name} must be an integer of at least ${min}, not ${value}`)
  return value
}

/** `options` checked, with the defaults; throws a TypeError or RangeError that names the problem. */
export const resolveWebhook = (options: WebhookOptions): Webhook => {
  let url: URL
  try {
    url = new URL(options.url)
  } catch {
    throw new TypeError(`webhook url must be an http: or https: URL, not ${JSON.stringify(options.url)}`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new TypeError(`webhook url must be an http: or https: URL, not ${JSON.stringify(options.url)}`)
  if (options.keys !== undefined && (!Array.isArray(options.keys) || !options.keys.every((k) => typeof k === 'string' && k !== '')))
    throw new TypeError('webhook keys must be a list of key patterns')
  if (options.secret !== undefined && (typeof options.secret !== 'string' || options.secret === ''))
    throw new TypeError('webhook secret must be a non-empty string')
  return {
    url: url.href,
    keys: options.keys ?? null,
    secret: options.secret,
    debounceMs: count('debounceMs', options.debounceMs, 100, 0),
    timeoutMs: count('timeoutMs', options.timeoutMs, 10_000, 1),
    retry: {
      firstMs: count('retry.firstMs', options.retry?.firstMs, 500, 0),
      maxMs: count('retry.maxMs', options.retry?.maxMs, 30_000, 0),
      attempts: count('retry.attempts', options.retry?.attempts, 10, 1)
    }
  }
}
