/**
 * End to end: the demo page, bundled as `npm run build` bundles it, served by a real relay, in
 * two Chromium windows (separate browser contexts, so only the relay connects them). What one
 * window does, the other shows. Also saves its screenshot demo.png (test/support/screenshot-file.ts says where).
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { chromium, type Browser, type Locator, type Page } from 'playwright-core'
import { buildDemo } from '../demo/build.js'
import type { Relay } from '../relay/server.js'
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './support/chromium.js'
import { screenshotFile } from './support/screenshot-file.js'
import { ROOT, eventually, tempDir, testRelay } from './support/helpers.js'

let out: ReturnType<typeof tempDir>
let relay: Relay
let browser: Browser
let a: Page
let b: Page
const pageErrors: string[] = []
/** The pages' console warnings, Chromium's own among them (such as an invalid WebSocket binaryType). */
const pageWarnings: string[] = []

const text = async (locator: Locator): Promise<string> => ((await locator.textContent()) ?? '').trim()
const untilText = (locator: Locator, expected: string | RegExp, what: string) =>
  eventually(
    async () => {
      const t = await text(locator)
      return typeof expected === 'string' ? t === expected : expected.test(t)
    },
    what,
    10_000
  )

const open = async (): Promise<Page> => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
  // A fixed clock keeps the messages' times, and so the screenshot, the same from run to run.
  await context.clock.setFixedTime(new Date('2026-01-01T12:00:00'))
  const page = await context.newPage()
  page.on('pageerror', (err) => pageErrors.push(err.message))
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(m.text())
    if (m.type() === 'warning') pageWarnings.push(m.text())
  })
  await page.goto(relay.httpUrl)
  for (const tag of ['server-counter', 'server-slider', 'server-chat', 'server-chat-rooms']) {
    await untilText(page.locator(`${tag} .status`).first(), 'connected', `${tag} to connect`)
  }
  return page
}

before(async () => {
  out = tempDir('yss-demo')
  await buildDemo(out.path)
  relay = await testRelay({ staticDirs: [join(ROOT, 'demo'), out.path] })
  browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS })
  a = await open()
  b = await open()
})

after(async () => {
  await browser?.close()
  await relay?.close()
  out?.remove()
})

test('the page is served and shows the four elements with a line each', async () => {
  assert.equal(await a.title(), 'y-server-state demo')
  assert.equal(await a.locator('main section').count(), 4)
  for (const p of await a.locator('main section > p').allTextContents()) assert.ok(p.length > 10, p)
})

test('a click in one window shows in the other', async () => {
  const count = (p: Page) => p.locator('#counter server-counter .value')
  await untilText(count(b), 'Count = 0', 'the counter initialised to 0')
  await a.getByRole('button', { name: 'Increment' }).click()
  await a.getByRole('button', { name: 'Increment' }).click()
  await untilText(count(b), 'Count = 2', 'two increments in the other window')
  await b.getByRole('button', { name: 'Decrement' }).click()
  await untilText(count(a), 'Count = 1', 'a decrement back in the first window')
})

test('a slider moved by keyboard in one window follows in the other', async () => {
  const slider = a.locator('#slider input[type=range]')
  await slider.focus()
  for (let i = 0; i < 5; i++) await slider.press('ArrowRight')
  await untilText(b.locator('#slider output'), '55', 'the other window to show 55')
  assert.equal(await b.locator('#slider input[type=range]').inputValue(), '55')
})

test('a chat message typed in one window shows in the other; empty ones are refused', async () => {
  const chat = (p: Page) => p.locator('#chat > server-chat')
  await chat(a).getByLabel('Message', { exact: true }).fill('hello?')
  await chat(a).getByLabel('Message', { exact: true }).press('Enter')
  await untilText(chat(a).getByRole('alert'), /nickname/i, 'a refusal without a nickname')
  await chat(a).getByLabel('Nickname').fill('alice')
  await chat(a).getByLabel('Message', { exact: true }).press('Enter')
  await untilText(chat(b).locator('li').last(), /alice:\s*hello\?$/, 'the message in the other window')
  assert.equal(await chat(a).getByLabel('Message', { exact: true }).inputValue(), '', 'the message field is cleared')
  await chat(b).getByLabel('Nickname').fill('bob')
  await chat(b).getByLabel('Message', { exact: true }).press('Enter')
  await untilText(chat(b).getByRole('alert'), /message/i, 'a refusal of an empty message')
  await chat(b).getByLabel('Message', { exact: true }).fill('hi alice')
  await chat(b).getByRole('button', { name: 'Send' }).click()
  await untilText(chat(a).locator('li').last(), /bob:\s*hi alice$/, 'the reply in the first window')
  assert.deepEqual(await chat(a).locator('li .nick').allTextContents(), ['alice:', 'bob:'], 'oldest first')
})

test('a room created in one window appears in the other, and its chat is shared', async () => {
  const rooms = (p: Page) => p.locator('#chat-rooms server-chat-rooms')
  await rooms(a).getByLabel('Room name').fill('lobby')
  await rooms(a).getByRole('button', { name: 'Create room' }).click()
  await rooms(b).getByRole('button', { name: 'lobby' }).waitFor({ timeout: 10_000 })
  await rooms(b).getByLabel('Room name').fill('lobby')
  await rooms(b).getByLabel('Room name').press('Enter')
  await untilText(rooms(b).getByRole('alert'), /already exists/, 'a refusal of a duplicate name')
  await rooms(b).getByRole('button', { name: 'lobby' }).click()
  const chat = (p: Page) => rooms(p).locator('server-chat')
  await chat(a).getByLabel('Nickname').fill('alice')
  await chat(a).getByLabel('Message', { exact: true }).fill('welcome to the lobby')
  await chat(a).getByLabel('Message', { exact: true }).press('Enter')
  await untilText(chat(b).locator('li').last(), /alice:\s*welcome to the lobby$/, 'the room message in the other window')
  // The room's chat is its own: the main chat did not get the message.
  assert.equal(await a.locator('#chat > server-chat li').count(), 2)
})

/** A page of the demo opened in a context of its own with `options` (a phone's width, a dark system theme). */
const openWith = async (path: string, options: Parameters<Browser['newContext']>[0]): Promise<Page> => {
  const context = await browser.newContext(options)
  const page = await context.newPage()
  page.on('pageerror', (err) => pageErrors.push(err.message))
  await page.goto(new URL(path, relay.httpUrl).href)
  return page
}

/** What shows that each page has rendered: its first connected status line, the inspector's metrics. */
const RENDERED: Record<string, string> = {
  '/': 'server-counter .status[data-status=connected]',
  '/react.html': '.yss .status[data-status=connected]',
  '/inspect': 'yss-inspector .metric'
}

test('on a 390 px phone no page of the demo scrolls sideways', async () => {
  for (const path of ['/', '/react.html', '/inspect']) {
    // Not isMobile: a mobile viewport zooms out to fit a page that is too wide, and hides it.
    const page = await openWith(path, { viewport: { width: 390, height: 844 } })
    try {
      await page.locator(RENDERED[path]!).first().waitFor({ timeout: 10_000 })
      const width = await page.evaluate(() => document.documentElement.scrollWidth)
      assert.ok(width <= 390, `${path}: ${width} px wide in a 390 px viewport`)
    } finally {
      await page.context().close()
    }
  }
})

test('with a dark system theme the page and the elements are dark, their text light', async () => {
  const page = await openWith('/', { viewport: { width: 1280, height: 900 }, colorScheme: 'dark' })
  try {
    await untilText(page.locator('server-chat .status').first(), 'connected', 'the chat to connect')
    // The relative luminance (0 black, 1 white) of an element's computed colour or background.
    // (No named function inside: tsx would name it with a helper the page does not have.)
    const luminance = (selector: string, property: 'color' | 'backgroundColor') =>
      page
        .locator(selector)
        .first()
        .evaluate(
          (el, p) =>
            getComputedStyle(el)
              [p].match(/[\d.]+/g)!
              .slice(0, 3)
              .map((v) => Number(v) / 255)
              .map((c) => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4))
              .reduce((sum, c, i) => sum + c * [0.2126, 0.7152, 0.0722][i]!, 0),
          property
        )
    for (const [selector, property, dark] of [
      ['body', 'backgroundColor', true],
      ['main section', 'backgroundColor', true],
      ['body', 'color', false],
      ['server-counter .value', 'color', false],
      ['server-chat ol', 'backgroundColor', true],
      ['server-chat label', 'color', false]
    ] as const) {
      const l = await luminance(selector, property)
      assert.ok(dark ? l < 0.05 : l > 0.35, `${selector} ${property}: luminance ${l.toFixed(3)}, expected ${dark ? 'dark' : 'light'}`)
    }
    await page.screenshot({ path: screenshotFile('demo-dark.png'), fullPage: true })
  } finally {
    await page.context().close()
  }
})

test('the page raised no error and no warning, and its screenshot is saved', async () => {
  await a.screenshot({ path: screenshotFile('demo.png'), fullPage: true })
  assert.deepEqual(pageErrors, [])
  // Chromium warned once a connection when the client set binaryType to 'nodebuffer'.
  assert.deepEqual(pageWarnings, [])
})
