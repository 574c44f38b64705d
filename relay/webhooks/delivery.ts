/**
 * One attempt to deliver a webhook's batch: a POST of its JSON body with the delivery id and,
 * with a secret, its signature; bounded by the webhook's `timeoutMs`. Only a 2xx answer counts
 * as delivered; a redirect is not followed (the body and its signature would go elsewhere): it
 * fails the attempt. And the wait before the next attempt: doubling from `firstMs` up to `maxMs`.
 *
 * @example
 *   const outcome = await postBatch(hook, 'a1b2…', body, AbortSignal.timeout(1_000))
 *   if (!outcome.ok) setTimeout(retry, retryDelay(hook, attempt))
 */
import { signBody } from './signature.js'
import type { Webhook } from './webhook-options.js'

export type DeliveryOutcome = { ok: true } | { ok: false; problem: string }

/** POSTs `body`; never rejects. */
export const postBatch = async (hook: Webhook, delivery: string, body: string, stop: AbortSignal): Promise<DeliveryOutcome> => {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'y-server-state-relay',
    'x-yss-delivery': delivery
  }
  if (hook.secret !== undefined) headers['x-yss-signature'] = signBody(hook.secret, body)
  try {
    const res = await fetch(hook.url, {
      method: 'POST',
      headers,
      body,
      redirect: 'error',
      signal: AbortSignal.any([stop, AbortSignal.timeout(hook.timeoutMs)])
    })
    // The answer's body means nothing: let its connection go.
    await res.body?.cancel().catch(() => {})
    return res.ok ? { ok: true } : { ok: false, problem: `HTTP ${res.status}` }
  } catch (err) {
    // fetch says only 'fetch failed': the cause names the problem (ECONNREFUSED, 'unexpected redirect').
    const e = err as Error & { cause?: { code?: string; message?: string } }
    return {
      ok: false,
      problem: e.name === 'TimeoutError' ? `no answer within ${hook.timeoutMs} ms` : (e.cause?.code ?? e.cause?.message ?? e.message)
    }
  }
}

/** The wait after the `failures`-th failed attempt (1, 2, …). */
export const retryDelay = (hook: Webhook, failures: number): number =>
  Math.min(hook.retry.maxMs, hook.retry.firstMs * 2 ** Math.min(failures - 1, 30))
