/**
 * Access control from the command line: the refusal to serve a public host anonymously, the
 * `token` command, and the access flags.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { generateKeyPairSync } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { decodeJwt } from 'jose'
import { spawnRelay, rawSocket, within, tempDir, ROOT } from './support/helpers.js'
import { parseCli, parseTokenCli } from '../relay/cli-options.js'
import { MESSAGE_YSS, YSS_ACCESS, YSS_HELLO, decodeYss, encodeYss } from '../protocol/messages.js'
import * as decoding from 'lib0/decoding'

const SECRET = 'a cli secret of at least 32 bytes long'

const cli = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'relay/cli.ts'), ...args], {
    cwd: ROOT,
    env: { ...process.env, AUTH_SECRET: '', ...env },
    encoding: 'utf8',
    timeout: 60_000 // a bound, not a wait: under tsx on a loaded 2-core machine one start took over 20 s
  })

/** The access a relay tells a raw socket that says HELLO, or the code it is closed with. */
const accessAt = async (url: string, path: string): Promise<string | number> => {
  const raw = rawSocket(url, path)
  const closed = raw.closed.then(({ code }) => code)
  await Promise.race([raw.opened, closed])
  raw.send(encodeYss({ type: YSS_HELLO, id: 0 }))
  const answer = raw
    .frame((f) => f[0] === MESSAGE_YSS && f[1] === YSS_ACCESS)
    .then((f) => {
      const d = decoding.createDecoder(f)
      decoding.readVarUint(d)
      const m = decodeYss(d)
      return m.type === YSS_ACCESS ? `${m.access}:${m.user}` : 'unexpected'
    })
  const result = await within(Promise.race([answer, closed]), 5_000, `an answer at ${path}`)
  raw.ws.close()
  return result
}

test('with no access control, --host 0.0.0.0 exits non-zero and says what to pass; with --anonymous it starts', async () => {
  const refused = cli(['--host', '0.0.0.0', '--port', '0', '--memory'])
  assert.notEqual(refused.status, 0)
  assert.equal(refused.status, 1)
  assert.match(refused.stderr, /refusing to serve 0\.0\.0\.0 with no access control/)
  assert.match(refused.stderr, /--auth-secret/)
  assert.match(refused.stderr, /--anonymous/)
  assert.equal(refused.stdout, '', 'it never listened')
  const open = await spawnRelay(['--host', '0.0.0.0', '--port', '0', '--memory', '--anonymous'], { AUTH_SECRET: '' })
  try {
    assert.match(open.url, /^ws:\/\/0\.0\.0\.0:\d+$/)
    const local = open.url.replace('0.0.0.0', '127.0.0.1')
    assert.equal(await accessAt(local, 'anyone'), 'write:')
  } finally {
    await open.kill()
  }
})

test('`token` prints one token that the relay accepts, with the access and rooms asked for', async () => {
  const r = cli(['token', '--room', 'team/*', '--room', 'lobby', '--read', '--sub', 'ann', '--ttl', '1h'], { AUTH_SECRET: SECRET })
  assert.equal(r.status, 0, r.stderr)
  const lines = r.stdout.split('\n').filter(Boolean)
  assert.equal(lines.length, 1)
  const token = lines[0]!
  const claims = decodeJwt(token)
  assert.deepEqual(claims.rooms, ['team/*', 'lobby'])
  assert.equal(claims.access, 'read')
  assert.equal(claims.sub, 'ann')
  assert.equal(claims.exp! - claims.iat!, 3600)
  const relay = await spawnRelay(['--port', '0', '--memory', '--log-level', 'silent'], { AUTH_SECRET: SECRET })
  try {
    assert.equal(await accessAt(relay.url, `team/a?token=${token}`), 'read:ann')
    assert.equal(await accessAt(relay.url, `lobby?token=${token}`), 'read:ann')
    assert.equal(await accessAt(relay.url, `other?token=${token}`), 4403)
    assert.equal(await accessAt(relay.url, 'team/a'), 4401)
  } finally {
    await relay.kill()
  }
})

test('`token --private-key` signs ES256 for a relay started with --auth-public-key', async () => {
  const dir = tempDir('yss-keys')
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  writeFileSync(join(dir.path, 'pub.pem'), publicKey.export({ type: 'spki', format: 'pem' }))
  writeFileSync(join(dir.path, 'key.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }))
  const relay = await spawnRelay(['--port', '0', '--memory', '--log-level', 'silent', '--auth-public-key', join(dir.path, 'pub.pem')])
  try {
    const r = cli(['token', '--room', 'doc-*', '--private-key', join(dir.path, 'key.pem'), '--ttl', '90s'])
    assert.equal(r.status, 0, r.stderr)
    const token = r.stdout.trim()
    assert.equal(decodeJwt(token).exp! - decodeJwt(token).iat!, 90)
    assert.equal(await accessAt(relay.url, `doc-1?token=${token}`), 'write:')
    const hs = cli(['token', '--room', 'doc-*'], { AUTH_SECRET: SECRET }).stdout.trim()
    assert.equal(await accessAt(relay.url, `doc-1?token=${hs}`), 4401, 'an HS256 token is refused by a public-key relay')
  } finally {
    await relay.kill()
    dir.remove()
  }
})

test('bad access flags exit 2 with a clear message', () => {
  for (const [args, env, pattern] of [
    [['--auth-secret', SECRET, '--auth-public-key', '/nope'], {}, /exclude each other/],
    [['--anonymous', '--auth-secret', SECRET], {}, /--anonymous excludes --auth-secret/],
    [['--auth-public-key', '/no/such/file.pem'], {}, /cannot read \/no\/such\/file\.pem: ENOENT/],
    [['--allowed-origins', ','], {}, /needs at least one origin/],
    [['token', '--room', 'a'], {}, /token needs a key/],
    [['token', '--read'], { AUTH_SECRET: SECRET }, /token needs --room/],
    [['token', '--room', 'a', '--ttl', 'soon'], { AUTH_SECRET: SECRET }, /--ttl: ttl must be/]
  ] as const) {
    const r = cli([...args], env)
    assert.equal(r.status, 2, args.join(' '))
    assert.match(r.stderr, pattern)
  }
  const help = cli(['--help'])
  for (const flag of ['--auth-secret', '--auth-public-key', '--anonymous', '--allowed-origins', '--read-only-presence', 'token']) {
    assert.ok(help.stdout.includes(flag), flag)
  }
  const tokenHelp = cli(['token', '--help'])
  assert.equal(tokenHelp.status, 0)
  for (const flag of ['--room', '--read', '--ttl', '--private-key', '--sub']) assert.ok(tokenHelp.stdout.includes(flag), flag)
})

test('the access flags and AUTH_SECRET map onto the options', () => {
  const o = parseCli(['--memory', '--allowed-origins', 'https://a.example, https://b.example', '--no-read-only-presence'], {
    AUTH_SECRET: SECRET
  })
  assert.ok(o !== 'help')
  assert.equal(o.authSecret, SECRET)
  assert.deepEqual(o.allowedOrigins, ['https://a.example', 'https://b.example'])
  assert.equal(o.readOnlyPresence, false)
  const p = parseCli(['--memory', '--read-only-presence', '--anonymous', '--host', '0.0.0.0'], {})
  assert.ok(p !== 'help')
  assert.equal(p.readOnlyPresence, true)
  assert.equal(p.anonymous, true)
  assert.equal(p.authSecret, undefined)
  assert.deepEqual(parseTokenCli(['--room', 'x'], { AUTH_SECRET: SECRET }), { secret: SECRET, rooms: ['x'], access: 'write', ttl: '1h' })
})
