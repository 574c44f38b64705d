/**
 * End to end across processes: two `streamlit run examples/streamlit/counter.py` processes on two
 * ports and the demo page's <server-counter>, all on one relay and room, each in a Chromium window
 * of its own. Clicks of Increment in all three at once are all counted (the Streamlit apps lock over
 * HTTP leases, the page over its socket, FIFO together), and every window then shows the total:
 * the Streamlit sessions re-run on the relay's change feed, whichever process or page wrote.
 * Then the chat example: a message sent in one Streamlit window shows in another and in the demo
 * page's <server-chat>, which keeps the same key.
 *
 * A Streamlit window is clicked as a person would, once its previous click's run has ended: with
 * Streamlit's fast re-runs a click during a run stops that run, which may lose the earlier click
 * before the app sees it (Streamlit's own behaviour, with or without this package).
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { buildDemo } from '../demo/build.js'
import type { Relay } from '../relay/server.js'
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './support/chromium.js'
import { freePort } from './support/cluster-services.js'
import { ROOT, eventually, tempDir, testRelay } from './support/helpers.js'
import { type LoggedProcess, spawnLogged, venvBin } from './support/python.js'

const CLICKS = 5
const ROOM = 'default' // the demo page's room
const STATE = '[data-test-script-state]'

let out: ReturnType<typeof tempDir>
let relay: Relay
let browser: Browser
const apps: LoggedProcess[] = []
const pageErrors: string[] = []

const startApp = async (example = 'counter'): Promise<string> => {
  const port = await freePort()
  const app = spawnLogged(
    venvBin('streamlit'),
    [
      'run',
      `examples/streamlit/${example}.py`,
      '--server.headless',
      'true',
      '--server.address',
      '127.0.0.1',
      '--server.port',
      String(port),
      '--browser.gatherUsageStats',
      'false'
    ],
    { env: { YSS_URL: relay.httpUrl, YSS_ROOM: ROOM, PYTHONUNBUFFERED: '1' } }
  )
  apps.push(app)
  const url = `http://127.0.0.1:${port}/`
  const healthy = () =>
    fetch(`${url}_stcore/health`).then(
      (r) => r.ok,
      () => false
    )
  await eventually(async () => app.proc.exitCode !== null || (await healthy()), `streamlit on port ${port} to start`, 60_000)
  assert.equal(app.proc.exitCode, null, `streamlit exited:\n${app.output()}`)
  return url
}

const open = async (url: string): Promise<Page> => {
  const context = await browser.newContext()
  const page = await context.newPage()
  page.on('pageerror', (err) => pageErrors.push(`${url}: ${err.message}`))
  await page.goto(url)
  return page
}

/** The count a Streamlit window shows, or null while it shows none. */
const streamlitCount = async (page: Page): Promise<number | null> => {
  for (const t of await page.locator('[data-testid="stMarkdownContainer"]').allTextContents()) {
    const m = /^Count =\s*(-?\d+)$/.exec(t.trim())
    if (m) return Number(m[1])
  }
  return null
}

const litCount = async (page: Page): Promise<number | null> => {
  const m = /^Count = (-?\d+)$/.exec(((await page.locator('#counter server-counter .value').textContent()) ?? '').trim())
  return m ? Number(m[1]) : null
}

const idle = (page: Page) =>
  page.waitForFunction((sel) => document.querySelector(sel)?.getAttribute('data-test-script-state') === 'notRunning', STATE, {
    timeout: 30_000
  })

/** Clicks Increment once the window is idle, and waits until the run the click started has ended. */
const clickStreamlit = async (page: Page): Promise<void> => {
  await idle(page)
  await page.evaluate((sel) => {
    const w = window as unknown as { sawRun: boolean }
    w.sawRun = false
    const el = document.querySelector(sel)!
    new MutationObserver(() => {
      if (el.getAttribute('data-test-script-state') === 'running') w.sawRun = true
    }).observe(el, { attributes: true })
  }, STATE)
  await page.getByRole('button', { name: 'Increment' }).click()
  await page.waitForFunction(
    (sel) =>
      (window as unknown as { sawRun: boolean }).sawRun &&
      document.querySelector(sel)?.getAttribute('data-test-script-state') === 'notRunning',
    STATE,
    { timeout: 30_000 }
  )
}

before(async () => {
  venvBin('streamlit') // fails at once, naming the setup, when the venv is missing
  out = tempDir('yss-py-e2e')
  await buildDemo(out.path)
  relay = await testRelay({ staticDirs: [join(ROOT, 'demo'), out.path] })
  const urls = await Promise.all([startApp(), startApp()])
  browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS })
  streamlitPages.push(...(await Promise.all(urls.map(open))))
  litPage = await open(relay.httpUrl)
})

after(async () => {
  await browser?.close()
  await Promise.all(apps.map((a) => a.kill()))
  await relay?.close()
  out?.remove()
})

const streamlitPages: Page[] = []
let litPage: Page

test('locked increments from two Streamlit processes and the Lit page are exact, and every window shows the total', {
  timeout: 240_000
}, async () => {
  const logs = () => apps.map((a, i) => `--- streamlit ${i}:\n${a.output()}`).join('\n')
  let seen: (number | null)[] = []
  const everyWindowShows = (n: number) =>
    eventually(
      async () => {
        seen = await Promise.all([...streamlitPages.map(streamlitCount), litCount(litPage)])
        return seen.every((c) => c === n)
      },
      `every window to show Count = ${n}`,
      30_000
    ).catch(async (err: Error) => {
      const shown = await Promise.all(streamlitPages.map((p) => p.locator('[data-testid="stException"]').allTextContents()))
      const litError = await litPage.locator('#counter server-counter').textContent()
      throw new Error(
        `${err.message}; they show ${JSON.stringify(seen)} (Streamlit, Streamlit, Lit); exceptions shown: ${JSON.stringify(shown)}; the Lit counter: ${litError}\n${logs()}`
      )
    })
  await everyWindowShows(0)

  const increments = litPage.locator('#counter server-counter').getByRole('button', { name: 'Increment' })
  await Promise.all([
    ...streamlitPages.map(async (page) => {
      for (let i = 0; i < CLICKS; i++) await clickStreamlit(page)
    }),
    (async () => {
      for (let i = 0; i < CLICKS; i++) await increments.click()
    })()
  ])
  await everyWindowShows(3 * CLICKS)
  assert.deepEqual(pageErrors, [])
  for (const [i, app] of apps.entries()) assert.doesNotMatch(app.output(), /Traceback|Error/, `streamlit ${i}:\n${app.output()}`)
})

test("the chat example: a message sent in one Streamlit window shows in another and in the demo page's chat", {
  timeout: 120_000
}, async () => {
  const url = await startApp('chat')
  const [a, b] = await Promise.all([open(url), open(url)])
  for (const [page, nickname] of [
    [a, 'alice'],
    [b, 'bob']
  ] as const) {
    await page.getByLabel('Nick name').fill(nickname)
    await page.getByLabel('Nick name').press('Enter')
    await page.getByLabel('Message').waitFor({ timeout: 30_000 })
  }
  await a.getByLabel('Message').fill('hello from streamlit')
  await a.getByLabel('Message').press('Enter')
  await b.getByText('hello from streamlit').waitFor({ timeout: 30_000 })
  await litPage.locator('#chat server-chat').getByText('hello from streamlit').waitFor({ timeout: 30_000 })
  assert.deepEqual(pageErrors, [])
})
