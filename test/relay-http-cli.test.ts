import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { testRelay, stockClient, spawnRelay, ROOT } from './support/helpers.js'
import { HELP, parseCli } from '../relay/cli-options.js'

test('GET /healthz answers 200 and /metrics gives Prometheus text', async () => {
  const relay = await testRelay()
  const a = stockClient(relay.url, 'metrics')
  try {
    await a.synced
    a.state.set('x', 1)
    const health = await fetch(`${relay.httpUrl}healthz`)
    assert.equal(health.status, 200)
    assert.equal(await health.text(), 'ok\n')
    const res = await fetch(`${relay.httpUrl}metrics`)
    assert.match(res.headers.get('content-type')!, /^text\/plain/)
    const text = await res.text()
    for (const name of [
      'connections',
      'rooms_loaded',
      'messages_in_total',
      'messages_out_total',
      'bytes_in_total',
      'bytes_out_total',
      'store_writes_total',
      'errors_total'
    ]) {
      assert.match(text, new RegExp(`^# TYPE yss_${name} (counter|gauge)$`, 'm'), name)
    }
    assert.match(text, /^yss_connections 1$/m)
    assert.match(text, /^yss_rooms_loaded 1$/m)
    assert.match(text, /^yss_messages_in_total [1-9]\d*$/m)
  } finally {
    a.destroy()
    await relay.close()
  }
})

test('other paths serve the demo page, and never a file outside it', async () => {
  const relay = await testRelay()
  try {
    const page = await fetch(relay.httpUrl)
    assert.equal(page.status, 200)
    assert.match(page.headers.get('content-type')!, /text\/html/)
    assert.match(await page.text(), /y-server-state/)
    const escaping = await fetch(`${relay.httpUrl}..%2Fpackage.json`)
    assert.equal(escaping.status, 404)
    assert.equal((await fetch(`${relay.httpUrl}nope.js`)).status, 404)
  } finally {
    await relay.close()
  }
})

const cli = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'relay/cli.ts'), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 20_000
  })

test('--help explains every flag and exits 0', () => {
  const r = cli(['--help'])
  assert.equal(r.status, 0)
  for (const flag of ['--host', '--port', '--data', '--memory', '--max-message-bytes', '--log-level', '--lease-ms']) {
    assert.ok(r.stdout.includes(flag), flag)
  }
})

test('a bad flag or value exits 2 with a clear message', () => {
  for (const [args, pattern] of [
    [['--bogus'], /Unknown option '--bogus'/],
    [['--port', 'abc'], /--port must be an integer from 0 to 65535, not "abc"/],
    [['--port', '70000'], /--port must be an integer/],
    [['--log-level', 'loud'], /--log-level must be one of/],
    [['--memory', '--data', 'x'], /exclude each other/],
    [['stray'], /positional/i]
  ] as const) {
    const r = cli([...args])
    assert.equal(r.status, 2, args.join(' '))
    assert.match(r.stderr, pattern)
  }
  const env = cli([], { PORT: 'nope' })
  assert.equal(env.status, 2)
})

test('flags and environment map onto the options', () => {
  assert.deepEqual(parseCli(['--memory'], { PORT: '99', HOST: '::1' }), {
    host: '::1',
    port: 99,
    memory: true,
    maxMessageBytes: undefined,
    idleUnloadMs: undefined,
    leaseMs: undefined,
    waiterHoldMs: undefined,
    pingMs: undefined,
    compactEvery: undefined,
    logLevel: undefined
  })
  const o = parseCli(['--port', '5', '--data', '/tmp/d'], { PORT: '99', DATA_DIR: '/elsewhere' })
  assert.ok(o !== 'help')
  assert.equal(o.port, 5)
  assert.equal(o.dataDir, '/tmp/d')
  const held = parseCli(['--memory', '--waiter-hold-ms', '0'], {})
  assert.ok(held !== 'help')
  assert.equal(held.waiterHoldMs, 0, '0 turns the hold off')
  assert.throws(() => parseCli(['--memory', '--waiter-hold-ms', '-1'], {}), /--waiter-hold-ms/)
})

test('--webhook (repeatable) with --webhook-keys, --webhook-secret or WEBHOOK_SECRET, --webhook-debounce-ms', () => {
  const o = parseCli(
    [
      '--memory',
      '--webhook',
      'http://127.0.0.1:9/a',
      '--webhook',
      'https://example.test/b',
      '--webhook-keys',
      'order:*, total',
      '--webhook-debounce-ms',
      '0'
    ],
    { WEBHOOK_SECRET: 'from-env' }
  )
  assert.ok(o !== 'help')
  assert.deepEqual(o.webhooks, [
    { url: 'http://127.0.0.1:9/a', keys: ['order:*', 'total'], secret: 'from-env', debounceMs: 0 },
    { url: 'https://example.test/b', keys: ['order:*', 'total'], secret: 'from-env', debounceMs: 0 }
  ])
  const flag = parseCli(['--memory', '--webhook', 'http://127.0.0.1:9/a', '--webhook-secret', 'flag'], { WEBHOOK_SECRET: 'env' })
  assert.ok(flag !== 'help')
  assert.deepEqual(flag.webhooks, [{ url: 'http://127.0.0.1:9/a', secret: 'flag' }], 'the flag wins over the environment')
  const none = parseCli(['--memory'], { WEBHOOK_SECRET: 'env' })
  assert.ok(none !== 'help')
  assert.equal(none.webhooks, undefined)
  for (const [args, pattern] of [
    [['--webhook-keys', 'a'], /--webhook-keys needs --webhook URL/],
    [['--webhook', 'ftp://x/'], /--webhook: webhook url must be an http: or https: URL/],
    [['--webhook', 'http://127.0.0.1/', '--webhook-debounce-ms', 'soon'], /--webhook-debounce-ms must be an integer/],
    [['--webhook', 'http://127.0.0.1/', '--webhook-keys', ','], /--webhook-keys needs at least one key pattern/]
  ] as const) {
    assert.throws(() => parseCli(['--memory', ...args], {}), pattern, args.join(' '))
  }
  assert.match(HELP, /--webhook URL/)
  assert.match(HELP, /WEBHOOK_SECRET/)
  assert.match(HELP, /--max-event-streams N/)
})

test('--port 0 prints the real port, and the relay answers there', async () => {
  const relay = await spawnRelay(['--port', '0', '--memory'])
  try {
    const port = Number(new URL(relay.url).port)
    assert.ok(port > 0)
    const health = await fetch(`${relay.httpUrl}healthz`)
    assert.equal(health.status, 200)
  } finally {
    await relay.kill()
  }
})
