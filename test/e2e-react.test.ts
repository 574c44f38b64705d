/**
 * End to end: the React demo page and the Lit demo page, built as `npm run build` builds them and
 * served by a real relay from the build folder alone, in two Chromium windows (separate browser
 * contexts, so only the relay connects them). A click on one page shows on the other, both ways.
 * Also saves its screenshot react.png (test/support/screenshot-file.ts says where).
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { chromium, type Browser, type Locator, type Page } from 'playwright-core'
import { buildDemo } from '../demo/build.js'
import type { Relay } from '../relay/server.js'
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './support/chromium.js'
import { screenshotFile } from './support/screenshot-file.js'
import { eventually, tempDir, testRelay } from './support/helpers.js'

let out: ReturnType<typeof tempDir>
let relay: Relay
let browser: Browser
let lit: Page
let react: Page
const pageErrors: string[] = []

const text = async (locator: Locator): Promise<string> => ((await locator.textContent()) ?? '').replace(/\s+/g, ' ').trim()
const untilText = (locator: Locator, expected: string | RegExp, what: string) =>
  eventually(
    async () => {
      const t = await text(locator)
      return typeof expected === 'string' ? t === expected : expected.test(t)
    },
    what,
    10_000
  )

const open = async (path: string): Promise<Page> => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
  // A fixed clock keeps the messages' times, and so the screenshot, the same from run to run.
  await context.clock.setFixedTime(new Date('2026-01-01T12:00:00'))
  const page = await context.newPage()
  page.on('pageerror', (err) => pageErrors.push(`${path}: ${err.message}`))
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(`${path}: ${m.text()}`)
  })
  await page.goto(relay.httpUrl + path)
  for (const id of ['counter', 'slider', 'chat', 'chat-rooms']) {
    await untilText(page.locator(`#${id} .status`).first(), 'connected', `${path} #${id} to connect`)
  }
  return page
}

before(async () => {
  out = tempDir('yss-react-demo')
  await buildDemo(out.path)
  // The build folder alone: every file a page needs must be in it.
  relay = await testRelay({ staticDirs: [out.path] })
  browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS })
  lit = await open('')
  react = await open('react.html')
})

after(async () => {
  await browser?.close()
  await relay?.close()
  out?.remove()
})

test('the React page is served from the build folder, with the four examples and a line each', async () => {
  assert.equal(await react.title(), 'y-server-state React demo')
  assert.equal(await react.locator('main section').count(), 4)
  for (const p of await react.locator('main section > p').allTextContents()) assert.ok(p.length > 10, p)
  assert.equal(await react.getByRole('link', { name: 'Lit elements' }).getAttribute('href'), '/')
  assert.equal(await lit.getByRole('link', { name: 'React' }).getAttribute('href'), '/react.html')
})

test('the counter: a click on either page shows on the other', async () => {
  const count = (p: Page) => p.locator('#counter .value')
  await untilText(count(react), 'Count = 0', 'the counter initialised to 0')
  await lit.locator('#counter').getByRole('button', { name: 'Increment' }).click()
  await untilText(count(react), 'Count = 1', 'a Lit click on the React page')
  await react.locator('#counter').getByRole('button', { name: 'Increment' }).click()
  await react.locator('#counter').getByRole('button', { name: 'Increment' }).click()
  await untilText(count(lit), 'Count = 3', 'two React clicks on the Lit page')
  await react.locator('#counter').getByRole('button', { name: 'Decrement' }).click()
  await untilText(count(lit), 'Count = 2', 'a React decrement on the Lit page')
})

test('the slider: moved by keyboard on either page, it follows on the other', async () => {
  await untilText(react.locator('#slider output'), '50', 'the slider started at 50')
  const reactSlider = react.locator('#slider input[type=range]')
  await reactSlider.focus()
  for (let i = 0; i < 3; i++) await reactSlider.press('ArrowRight')
  await untilText(lit.locator('#slider output'), '53', 'the Lit page to show 53')
  const litSlider = lit.locator('#slider input[type=range]')
  await litSlider.focus()
  for (let i = 0; i < 5; i++) await litSlider.press('ArrowLeft')
  await untilText(react.locator('#slider output'), '48', 'the React page to show 48')
  assert.equal(await reactSlider.inputValue(), '48')
})

test('the chat: messages and who is online, both ways', async () => {
  const chat = (p: Page) => p.locator('#chat').first()
  await chat(react).getByLabel('Message', { exact: true }).fill('hello?')
  await chat(react).getByLabel('Message', { exact: true }).press('Enter')
  await untilText(chat(react).getByRole('alert'), /nickname/i, 'a refusal without a nickname')
  await chat(react).getByLabel('Nickname').fill('rita')
  await untilText(chat(lit).locator('.online'), 'Online: rita', 'the React nickname online on the Lit page')
  await chat(react).getByLabel('Message', { exact: true }).press('Enter')
  await untilText(chat(lit).locator('li').last(), /rita:\s*hello\?$/, 'the React message on the Lit page')
  await chat(lit).getByLabel('Nickname').fill('lily')
  await untilText(chat(react).locator('.online'), 'Online: rita (you), lily', 'the Lit nickname online on the React page')
  await chat(lit).getByLabel('Message', { exact: true }).fill('hi rita')
  await chat(lit).getByRole('button', { name: 'Send' }).click()
  await untilText(chat(react).locator('li').last(), /lily:\s*hi rita$/, 'the Lit message on the React page')
  assert.deepEqual(await chat(react).locator('li .nick').allTextContents(), ['rita:', 'lily:'], 'oldest first')
  assert.equal(await chat(react).getByLabel('Message', { exact: true }).inputValue(), '', 'the field is cleared')
})

test('the chat rooms: a room created on one page appears on the other, and its chat is shared', async () => {
  const rooms = (p: Page) => p.locator('#chat-rooms').first()
  await rooms(react).getByLabel('Room name').fill('lobby')
  await rooms(react).getByRole('button', { name: 'Create room' }).click()
  await rooms(lit).getByRole('button', { name: 'lobby' }).waitFor({ timeout: 10_000 })
  await rooms(lit).getByLabel('Room name').fill('lobby')
  await rooms(lit).getByLabel('Room name').press('Enter')
  await untilText(rooms(lit).getByRole('alert'), /already exists/, 'a refusal of a duplicate name on the Lit page')
  await rooms(lit).getByLabel('Room name').fill('games')
  await rooms(lit).getByRole('button', { name: 'Create room' }).click()
  await untilText(rooms(lit).locator('h3'), 'Room games', 'the new room selected on the Lit page')
  await rooms(lit).getByRole('button', { name: 'lobby' }).click()
  await rooms(react).getByRole('button', { name: 'games' }).waitFor({ timeout: 10_000 })
  await rooms(react).getByLabel('Room name').fill('games')
  await rooms(react).getByLabel('Room name').press('Enter')
  await untilText(rooms(react).getByRole('alert'), /already exists/, 'a refusal of a duplicate name on the React page')
  await rooms(react).getByRole('button', { name: 'lobby' }).click()
  const chat = (p: Page) => rooms(p).locator('h3 + *')
  await chat(lit).getByLabel('Nickname').fill('lily')
  await chat(lit).getByLabel('Message', { exact: true }).fill('welcome to the lobby')
  await chat(lit).getByLabel('Message', { exact: true }).press('Enter')
  await untilText(chat(react).locator('li').last(), /lily:\s*welcome to the lobby$/, 'the Lit room message on the React page')
  await chat(react).getByLabel('Nickname').fill('rita')
  await chat(react).getByLabel('Message', { exact: true }).fill('thanks')
  await chat(react).getByLabel('Message', { exact: true }).press('Enter')
  await untilText(chat(lit).locator('li').last(), /rita:\s*thanks$/, 'the React room message on the Lit page')
  assert.equal(await react.locator('#chat-rooms .online').count(), 1, 'one online line in the chat rooms')
  // The room's chat is its own: the main chat did not get the messages.
  assert.equal(await react.locator('#chat ol li:not(.empty)').count(), 2)
})

test("the pages raised no error, and the React page's screenshot is saved", async () => {
  await react.screenshot({ path: screenshotFile('react.png'), fullPage: true })
  assert.deepEqual(pageErrors, [])
})
