/**
 * End to end: the inspector page, bundled as `npm run build` bundles it, served by a real relay
 * with access control on, in Chromium. Without a token it asks for one; with an inspector token
 * it lists the rooms and shows a room live: a key another session changes, a lock a raw socket
 * holds (ACQUIRE, never committed) and the request waiting behind it, the presence of the other
 * sessions, their connections. Also saves its screenshot inspect.png (test/support/screenshot-file.ts says where).
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import * as decoding from 'lib0/decoding'
import { chromium, type Browser, type Locator, type Page } from 'playwright-core'
import { buildDemo } from '../demo/build.js'
import type { Relay } from '../relay/server.js'
import { signToken } from '../relay/index.js'
import type { ServerState } from '../client/index.js'
import { MESSAGE_YSS, YSS_ACQUIRE, YSS_GRANT, decodeYss, encodeYss } from '../protocol/messages.js'
import { roomPath } from '../protocol/room-names.js'
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './support/chromium.js'
import { screenshotFile } from './support/screenshot-file.js'
import { ROOT, eventually, rawSocket, session, tempDir, testRelay, type RawSocket } from './support/helpers.js'

const SECRET = 'the inspector e2e secret, 32 bytes.'
const ROOM = 'team/board 1'

let out: ReturnType<typeof tempDir>
let relay: Relay
let browser: Browser
let page: Page
let ann: ServerState
let bob: ServerState
let lobby: ServerState
const sockets: RawSocket[] = []
const pageErrors: string[] = []
const tokens = { inspector: '', ann: '', bob: '' }

const text = async (locator: Locator): Promise<string> => ((await locator.textContent()) ?? '').replace(/\s+/g, ' ').trim()
const untilText = (locator: Locator, expected: RegExp, what: string) =>
  eventually(async () => (await locator.count()) > 0 && expected.test(await text(locator.first())), what, 10_000)

const newPage = async (path: string): Promise<Page> => {
  const context = await browser.newContext({ viewport: { width: 1360, height: 1000 } })
  const p = await context.newPage()
  p.on('pageerror', (err) => pageErrors.push(err.message))
  // The refusals the test provokes are logged by Chromium as failed loads: those are expected.
  p.on('console', (m) => {
    if (m.type() === 'error' && !/status of 40[13]/.test(m.text())) pageErrors.push(m.text())
  })
  await p.goto(new URL(path, relay.httpUrl).href)
  return p
}

const keyRow = (key: string) => page.locator(`table[aria-label="Keys"] tr[data-key="${key}"]`)
const lockRow = (key: string) => page.locator(`table[aria-label="Locks"] tr[data-key="${key}"]`)

/** A raw socket of `token`'s user that asks for the lease of `keys` and never commits. */
const acquire = async (token: string, keys: string[]): Promise<RawSocket> => {
  const socket = rawSocket(relay.url, `${roomPath(ROOM)}?token=${token}`)
  sockets.push(socket)
  await socket.opened
  socket.send(encodeYss({ type: YSS_ACQUIRE, id: 1, keys }))
  return socket
}

const granted = (socket: RawSocket) =>
  socket.frame((f) => f[0] === MESSAGE_YSS && decodeYss(decoding.createDecoder(f.subarray(1))).type === YSS_GRANT)

before(async () => {
  out = tempDir('yss-inspect')
  await buildDemo(out.path)
  relay = await testRelay({ authSecret: SECRET, leaseMs: 120_000, refusalDelayMs: 20, staticDirs: [join(ROOT, 'demo'), out.path] })
  tokens.inspector = await signToken({ secret: SECRET, rooms: ['*'], access: 'read', sub: 'ops', inspect: true })
  tokens.ann = await signToken({ secret: SECRET, rooms: ['team/*'], sub: 'ann' })
  tokens.bob = await signToken({ secret: SECRET, rooms: ['*'], sub: 'bob' })
  ann = await session(relay.url, ROOM, { token: tokens.ann })
  bob = await session(relay.url, ROOM, { token: tokens.bob })
  lobby = await session(relay.url, 'lobby', { token: tokens.bob })
  ann.set('count', 3)
  ann.forceRerunBoundSessions('count')
  bob.forceRerunBoundSessions('count')
  ann.set('title', 'Quarterly planning')
  ann.set('settings', {
    theme: 'dark',
    columns: ['todo', 'doing', 'done'],
    owners: ['ann', 'bob'],
    archived: false,
    limits: { wip: 3, cards: 200 }
  })
  await ann.append(
    'messages',
    { nickname: 'ann', text: 'hi', at: 1 },
    { nickname: 'bob', text: 'hello', at: 2 },
    { nickname: 'ann', text: 'shall we?', at: 3 }
  )
  ann.presence.set({ nickname: 'ann', editing: 'title' })
  bob.presence.set({ nickname: 'bob' })
  await ann.flush()
  browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS })
})

after(async () => {
  for (const s of sockets) s.ws.close()
  for (const s of [ann, bob, lobby]) s?.close()
  await browser?.close()
  await relay?.close()
  out?.remove()
})

test('without a token the page says what it needs; the token typed in opens the rooms', async () => {
  const p = await newPage('/inspect')
  assert.equal(await p.title(), 'y-server-state inspector')
  await untilText(p.getByRole('alert'), /needs an inspector token.*token missing/, 'the refusal to be shown')
  assert.equal(await p.locator('nav.rooms li').count(), 0, 'no room is listed without a token')
  await p.getByLabel('Token').fill(tokens.inspector)
  await p.getByRole('button', { name: 'Use token' }).click()
  await untilText(p.locator('nav.rooms'), /lobby.*team\/board 1/, 'the rooms, once the token is given')
  assert.equal(await p.getByRole('alert').count(), 0, 'the refusal is gone')
  await p.context().close()
})

test('with ?token= the page lists the rooms with their connections, and the metrics; the token leaves the address bar', async () => {
  page = await newPage(`/inspect?token=${tokens.inspector}`)
  await untilText(page.getByRole('button', { name: /^team\/board 1/ }), /2 connections/, 'the room and its two sessions')
  await untilText(page.getByRole('button', { name: /^lobby/ }), /1 connection\b/, 'the lobby and its session')
  assert.doesNotMatch(page.url(), /token/)
  await untilText(page.locator('[data-metric="connections"] .value'), /^3$/, 'the connections metric')
  assert.match(await text(page.locator('[data-metric="rooms_loaded"] .value')), /^2$/)
})

test('a room shows its keys with values (long ones folded), kinds, list lengths and versions', async () => {
  await page.getByRole('button', { name: /^team\/board 1/ }).click()
  assert.match(page.url(), /\?room=team%2Fboard\+1$/)
  await untilText(keyRow('count'), /count 3 number 2$/, 'count, forced twice: version 2')
  assert.match(await text(keyRow('messages')), /list · 3 items 0$/)
  assert.match(await text(keyRow('title')), /"Quarterly planning" string · 18 chars/)
  const settings = keyRow('settings')
  assert.equal(await settings.locator('details').count(), 1, 'a long value is folded')
  assert.match(await text(settings.locator('summary')), /^\{"theme":"dark".*…$/)
  assert.equal(await settings.locator('pre').isVisible(), false)
  await settings.locator('summary').click()
  assert.match((await settings.locator('pre').textContent()) ?? '', /"cards": 200/)
  await settings.locator('summary').click()
  assert.equal(await settings.locator('pre').isVisible(), false, 'folded again')
})

test('a key changed by another session shows up, and so does a new one', async () => {
  bob.set('count', 42)
  await untilText(keyRow('count'), /count 42 number 2$/, 'the new count')
  bob.set('status', 'in review')
  await untilText(keyRow('status'), /"in review"/, 'the new key')
  await ann.append('messages', { nickname: 'ann', text: 'done', at: 4 })
  await untilText(keyRow('messages'), /list · 4 items/, 'the longer list')
})

test('a held lock shows its holder, for how long, and who waits behind it', async () => {
  const holder = await acquire(tokens.ann, ['count'])
  await granted(holder)
  await acquire(tokens.bob, ['count', 'title']) // waits for count
  await untilText(lockRow('count'), /^count ann #\d+ [\d.]+ s bob #\d+ [\d.]+ s$/, 'ann holding count, bob waiting')
  await untilText(page.getByRole('button', { name: /^team\/board 1/ }), /1 locked, 1 waiting/, 'the room list to count the lock')
})

test('the presence of the other sessions shows, live; the inspector has none', async () => {
  const presence = page.locator('ul[aria-label="Presence"] li')
  await eventually(async () => (await presence.count()) === 2, 'two presences', 10_000)
  await untilText(presence.filter({ hasText: 'ann' }), /^ann client \d+ \{"nickname":"ann","editing":"title"\}$/, "ann's presence")
  await untilText(presence.filter({ hasText: 'bob' }), /^bob client \d+ \{"nickname":"bob"\}$/, "bob's presence")
  bob.presence.update({ typing: true })
  await untilText(presence.filter({ hasText: 'bob' }), /\{"nickname":"bob","typing":true\}$/, "bob's presence to change")
  assert.equal(await presence.count(), 2)
})

test('the connections show their users, access and age; the page raised no error; the screenshot is saved', async () => {
  const rows = page.locator('table[aria-label="Connections"] tbody tr')
  await eventually(async () => (await rows.count()) === 5, 'five connections: two sessions, two raw sockets, the page', 10_000)
  const users = (await rows.locator('.who b').allTextContents()).sort()
  assert.deepEqual(users, ['ann', 'ann', 'bob', 'bob', 'ops'])
  assert.match(await text(rows.filter({ hasText: 'ops' })), /ops #\d+ read \d\d:\d\d:\d\d/)
  assert.match(await text(page.locator('.room-head [role="status"]')), /connected · synced · read-only as ops/)
  await page.screenshot({ path: screenshotFile('inspect.png'), fullPage: true })
  assert.deepEqual(pageErrors, [])
})

test('when the holder goes, the waiter holds the lock (and waits for its next key no more)', async () => {
  sockets[0]!.ws.close()
  await untilText(lockRow('count'), /^count bob #\d+ [\d.]+ s nobody$/, 'bob to hold count')
  await untilText(lockRow('title'), /title bob #\d+/, 'bob to hold title too')
})
