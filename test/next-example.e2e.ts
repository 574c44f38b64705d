/**
 * End to end: the Next.js App Router example (examples/next), built with `next build` and served
 * by `next start` against a real relay, in two Chromium windows (separate browser contexts, so
 * only the relay connects them): the server-rendered HTML shows the counter, `connecting`, and no
 * error; once hydrated, a click on one page shows on the other, both ways, and neither page logs
 * an error (a hydration mismatch among them).
 *
 * Not part of `npm test`: the build alone takes over a minute here. Run it with `npm run test:next`
 * (which installs the example's own dependencies first), or `NEXT_SKIP_BUILD=1` to reuse a build.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { chromium, type Browser, type Locator, type Page } from 'playwright-core'
import type { Relay } from '../relay/server.js'
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './support/chromium.js'
import { ROOT, eventually, testRelay } from './support/helpers.js'

const APP = join(ROOT, 'examples/next')
const NEXT = join(APP, 'node_modules/next/dist/bin/next')
const ENV = { ...process.env, NEXT_TELEMETRY_DISABLED: '1', NODE_OPTIONS: '' }

let relay: Relay
let server: ChildProcess
let base: string
let browser: Browser
const pageErrors: string[] = []

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const probe = createServer()
      .listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as { port: number }
        probe.close(() => resolve(port))
      })
      .on('error', reject)
  })

const text = async (locator: Locator): Promise<string> => ((await locator.textContent()) ?? '').replace(/\s+/g, ' ').trim()
const untilText = (locator: Locator, expected: string, what: string) =>
  eventually(async () => (await text(locator)) === expected, what, 10_000)

const open = async (path: string): Promise<Page> => {
  const page = await (await browser.newContext()).newPage()
  page.on('pageerror', (err) => pageErrors.push(`${path}: ${err.message}`))
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(`${path}: ${m.text()}`)
  })
  await page.goto(base + path)
  await untilText(page.locator('.status'), 'connected', `${path} to connect`)
  return page
}

before(
  async () => {
    if (!process.env.NEXT_SKIP_BUILD) {
      const build = spawnSync(process.execPath, [NEXT, 'build'], { cwd: APP, env: ENV, encoding: 'utf8', timeout: 300_000 })
      assert.equal(build.status, 0, `next build failed:\n${build.stdout}\n${build.stderr}`)
    }
    relay = await testRelay()
    const port = await freePort()
    base = `http://127.0.0.1:${port}`
    server = spawn(process.execPath, [NEXT, 'start', '-p', String(port), '-H', '127.0.0.1'], {
      cwd: APP,
      env: { ...ENV, RELAY_URL: relay.url },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let log = ''
    server.stdout!.on('data', (d) => {
      log += d
    })
    server.stderr!.on('data', (d) => {
      log += d
    })
    await eventually(() => /Ready in/.test(log), `next start to be ready (log: ${log})`, 30_000)
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS })
  },
  { timeout: 360_000 }
)

after(async () => {
  await browser?.close()
  server?.kill()
  await relay?.close()
})

test('the server-rendered HTML shows the counter, connecting, and no error', async () => {
  for (const path of ['/', '/second']) {
    const response = await fetch(base + path)
    assert.equal(response.status, 200, path)
    const html = await response.text()
    assert.match(html, /Count = (<!-- -->)?…/, `${path}: the count, not loaded yet`)
    assert.match(html, /data-status="connecting"/, `${path}: the status before connecting`)
    assert.doesNotMatch(
      html,
      /__next_error__|Application error|ReferenceError|TypeError|WebSocket is not defined/,
      `${path}: an error in the HTML`
    )
  }
})

test('two pages share the counter, both ways, and log no error', async () => {
  const [first, second] = [await open('/'), await open('/second')]
  const count = (p: Page) => p.locator('.value')
  await untilText(count(first), 'Count = 0', 'the first page to show 0')
  await untilText(count(second), 'Count = 0', 'the second page to show 0')
  await first.getByRole('button', { name: 'Increment' }).click()
  await untilText(count(second), 'Count = 1', 'a click on the first page, on the second')
  await second.getByRole('button', { name: 'Increment' }).click()
  await second.getByRole('button', { name: 'Increment' }).click()
  await untilText(count(first), 'Count = 3', 'two clicks on the second page, on the first')
  await first.getByRole('button', { name: 'Decrement' }).click()
  await untilText(count(second), 'Count = 2', 'a decrement on the first page, on the second')
  assert.deepEqual(pageErrors, [])
})
