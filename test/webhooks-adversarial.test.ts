/**
 * Webhook receivers that misbehave: a redirect, a dropped connection. The relay never follows a
 * redirect (the signed body would go to another address), retries, and says why an attempt failed.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { postBatch } from '../relay/webhooks/delivery.js'
import { resolveWebhook } from '../relay/webhooks/webhook-options.js'
import { webhookReceiver } from './support/webhook-receiver.js'

test('a redirect is not followed: the attempt fails and its problem names the redirect; a dropped connection names its cause', async (t) => {
  const elsewhere = await webhookReceiver()
  t.after(() => elsewhere.close())
  let attempt = 0
  const receiver = createServer((req, res) => {
    req.resume()
    if (++attempt === 1) res.writeHead(307, { location: elsewhere.url }).end()
    else req.socket.destroy()
  })
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
  t.after(() => receiver.close())
  const hook = resolveWebhook({ url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook` })
  const redirected = await postBatch(hook, 'd-1', '{}', new AbortController().signal)
  assert.deepEqual(redirected, { ok: false, problem: 'unexpected redirect' })
  assert.equal(elsewhere.requests.length, 0, 'the redirect was followed')
  const dropped = await postBatch(hook, 'd-1', '{}', new AbortController().signal)
  assert.equal(dropped.ok, false)
  assert.notEqual((dropped as { problem: string }).problem, 'fetch failed', 'the problem names its cause')
})
