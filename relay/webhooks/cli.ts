/**
 * The relay's command-line flags for webhooks, parsed into the `webhooks` option of
 * `startRelay`: `--webhook URL` (repeatable), with `--webhook-keys`, `--webhook-secret` (or
 * `WEBHOOK_SECRET`) and `--webhook-debounce-ms` applying to each. A flag wins over the environment.
 *
 * @example
 *   webhooksFromCli({ webhook: ['https://example.test/hook'], 'webhook-keys': 'order:*' }, {}, (m) => new UsageError(m))
 *   // { webhooks: [{ url: 'https://example.test/hook', keys: ['order:*'] }] }
 */
import { resolveWebhook, type WebhookOptions } from './webhook-options.js'

export const WEBHOOK_FLAGS = {
  webhook: { type: 'string', multiple: true },
  'webhook-keys': { type: 'string' },
  'webhook-secret': { type: 'string' },
  'webhook-debounce-ms': { type: 'string' }
} as const

export const WEBHOOK_HELP = `
Webhooks (a signed POST per batch of a room's changes, in commit order; docs/http-api.md):
  --webhook URL             POST each room's changes to URL; repeat for several
  --webhook-keys A,B        only these keys (* for any run of characters; default every key)
  --webhook-secret SECRET   sign each body: X-YSS-Signature: sha256=<hex HMAC-SHA256>
                            (env WEBHOOK_SECRET)
  --webhook-debounce-ms N   gather a room's changes this long after the first (default 100)
`

interface Values {
  webhook?: string[]
  'webhook-keys'?: string
  'webhook-secret'?: string
  'webhook-debounce-ms'?: string
}

export const webhooksFromCli = (
  values: Values,
  env: NodeJS.ProcessEnv,
  usage: (message: string) => Error
): { webhooks?: WebhookOptions[] } => {
  const urls = values.webhook ?? []
  const secret = values['webhook-secret'] ?? (env.WEBHOOK_SECRET || undefined)
  if (urls.length === 0) {
    const tuning = (['webhook-keys', 'webhook-secret', 'webhook-debounce-ms'] as const).find((f) => values[f] !== undefined)
    if (tuning !== undefined) throw usage(`--${tuning} needs --webhook URL`)
    return {}
  }
  const keys = values['webhook-keys']
    ?.split(',')
    .map((k) => k.trim())
    .filter((k) => k !== '')
  if (keys?.length === 0) throw usage("--webhook-keys needs at least one key pattern, as in 'order:*,total'")
  const debounce = values['webhook-debounce-ms']
  if (debounce !== undefined && !/^\d+$/.test(debounce))
    throw usage(`--webhook-debounce-ms must be an integer of at least 0, not "${debounce}"`)
  if (secret === '') throw usage('--webhook-secret needs a secret')
  const webhooks = urls.map((url) => ({
    url,
    ...(keys ? { keys } : {}),
    ...(secret !== undefined ? { secret } : {}),
    ...(debounce !== undefined ? { debounceMs: Number(debounce) } : {})
  }))
  for (const hook of webhooks) {
    try {
      resolveWebhook(hook)
    } catch (err) {
      throw usage(`--webhook: ${(err as Error).message}`)
    }
  }
  return { webhooks }
}
