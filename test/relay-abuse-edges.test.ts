/**
 * The smaller openings of the abuse review: a loopback relay with no access control answers only
 * this machine's pages and names (a web page elsewhere, or one that rebinds its name to 127.0.0.1,
 * cannot reach it; `allowedOrigins` widens it); a refused socket's frames are not read during
 * the refusal hold; no source map is served unless asked for; a token that lives longer than
 * `maxTokenTtl` is refused; and rooms left by everyone are unloaded at once past `maxIdleRooms`.
 *
 * Run against the relay before, each test fails: the evil origin and host are served, the 240 MB
 * of frames are read, the map is served, the ten-year token is accepted, and every room stays loaded.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'node:http'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SignJWT } from 'jose'
import { eventually, rawSocket, testRelay, within } from './support/helpers.js'
import { signToken } from '../relay/access/tokens.js'
import { UsageError, parseCli } from '../relay/cli-options.js'

const SECRET = 'a test secret of at least 32 bytes!!'

/** The close code of a socket to `room` with these headers, or 'open' once it joined. */
const outcome = async (url: string, room: string, headers: Record<string, string>): Promise<number | 'open'> => {
  const raw = rawSocket(url, room, { headers })
  const joined = raw
    .frame(() => true, 5_000)
    .then(
      () => 'open' as const,
      () => null
    )
  const result = await Promise.race([joined, raw.closed.then((c) => c.code)])
  raw.ws.close()
  return result ?? (await within(raw.closed, 5_000, 'the close')).code
}

/** The status of a GET of `path` with `Host: host`. */
const statusWithHost = (httpUrl: string, path: string, host: string): Promise<number> =>
  new Promise((resolve, reject) => {
    const req = request(new URL(path, httpUrl), { headers: { host } }, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.on('error', reject)
    req.end()
  })

test('a loopback relay with no access control answers loopback origins and names only; allowedOrigins widens it', async () => {
  const relay = await testRelay({ refusalDelayMs: 10 })
  const wide = await testRelay({ refusalDelayMs: 10, allowedOrigins: ['https://app.example.com'] })
  try {
    assert.equal(await outcome(relay.url, 'r', {}), 'open', 'no Origin: a Node client')
    assert.equal(await outcome(relay.url, 'r', { origin: 'http://localhost:5173' }), 'open')
    assert.equal(await outcome(relay.url, 'r', { origin: 'http://127.0.0.1:8000' }), 'open')
    assert.equal(await outcome(relay.url, 'r', { origin: 'https://evil.example' }), 4403)
    assert.equal(await outcome(relay.url, 'r', { host: 'rebind.evil.example' }), 4403)
    assert.equal(await statusWithHost(relay.httpUrl, '/api/rooms', 'rebind.evil.example'), 403)
    assert.equal(await statusWithHost(relay.httpUrl, '/metrics', `localhost:${relay.port}`), 200)

    assert.equal(await outcome(wide.url, 'r', { origin: 'https://app.example.com', host: 'app.example.com' }), 'open')
    assert.equal(await outcome(wide.url, 'r', { origin: 'http://localhost:5173' }), 'open')
    assert.equal(await outcome(wide.url, 'r', { origin: 'https://evil.example' }), 4403)
  } finally {
    await relay.close()
    await wide.close()
  }
})

test("a refused socket's frames are not read during the refusal hold", async () => {
  const relay = await testRelay({ authSecret: SECRET, refusalDelayMs: 2_000 })
  try {
    const raw = rawSocket(relay.url, 'team/a')
    await raw.opened
    // 240 MB: more than the kernel's socket buffers hold (tens of MB), so the last frame is
    // written only if the relay reads.
    const frame = new Uint8Array(60 * 1024 * 1024)
    let written = 0
    for (let i = 0; i < 4; i++)
      raw.ws.send(frame, (err) => {
        if (!err) written++
      })
    const { code } = await within(raw.closed, 10_000, 'the refusal')
    assert.equal(code, 4401)
    assert.ok(written < 4, 'the relay read every frame')
  } finally {
    await relay.close()
  }
})

test('source maps are served only when asked for', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'maps-'))
  writeFileSync(join(dir, 'app.js'), 'console.log(1)\n//# sourceMappingURL=app.js.map\n')
  writeFileSync(join(dir, 'app.js.map'), '{"sources":["secret.ts"]}')
  const plain = await testRelay({ staticDirs: [dir] })
  const maps = await testRelay({ staticDirs: [dir], sourceMaps: true })
  try {
    assert.equal((await fetch(`${plain.httpUrl}app.js`)).status, 200)
    assert.equal((await fetch(`${plain.httpUrl}app.js.map`)).status, 404)
    assert.equal((await fetch(`${maps.httpUrl}app.js.map`)).status, 200)
  } finally {
    await plain.close()
    await maps.close()
    rmSync(dir, { recursive: true })
  }
})

test('a token whose exp is further away than maxTokenTtl is refused with 4401', async () => {
  const relay = await testRelay({ authSecret: SECRET, refusalDelayMs: 10 })
  const lenient = await testRelay({ authSecret: SECRET, refusalDelayMs: 10, maxTokenTtl: 20 * 365 * 86_400 })
  try {
    const tenYears = await new SignJWT({ rooms: ['*'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime(Math.floor(Date.now() / 1000) + 10 * 365 * 86_400)
      .sign(new TextEncoder().encode(SECRET))
    assert.equal(await outcome(relay.url, `r?token=${tenYears}`, {}), 4401)
    assert.equal(await outcome(relay.url, `r?token=${await signToken({ secret: SECRET, rooms: ['*'], ttl: '1h' })}`, {}), 'open')
    assert.equal(await outcome(lenient.url, `r?token=${tenYears}`, {}), 'open')
  } finally {
    await relay.close()
    await lenient.close()
  }
})

test('past maxIdleRooms rooms left by everyone, the longest idle is unloaded at once', async () => {
  const relay = await testRelay({ maxIdleRooms: 5, idleUnloadMs: 600_000 })
  try {
    for (let i = 0; i < 20; i++) {
      const raw = rawSocket(relay.url, `visited-${i}`)
      await raw.frame(() => true)
      raw.ws.close()
      await raw.closed
    }
    await eventually(() => relay.loadedRooms().length <= 6, `at most 6 rooms loaded, not ${relay.loadedRooms().length}`)
    assert.ok(relay.loadedRooms().includes('visited-19'), 'the last room left is still loaded')
    assert.ok(relay.metrics.hits('maxIdleRooms') >= 14)
  } finally {
    await relay.close()
  }
})

test('--max-token-ttl, --source-maps and --cap-loopback parse into their options', () => {
  assert.deepEqual(
    (({ maxTokenTtl, sourceMaps, capLoopback }) => ({ maxTokenTtl, sourceMaps, capLoopback }))(
      parseCli(['--max-token-ttl', '7d', '--source-maps', '--cap-loopback', '--memory'], {}) as never
    ),
    { maxTokenTtl: 7 * 86_400, sourceMaps: true, capLoopback: true }
  )
  assert.throws(() => parseCli(['--max-token-ttl', 'forever'], {}), UsageError)
})
