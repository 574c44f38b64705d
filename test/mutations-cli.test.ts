/**
 * `--mutations FILE` (relay/mutations/load-module.ts): the module's mutations and mutation-only
 * keys serve a relay started from the CLI; a module that fails to load or exports nothing valid
 * stops the start with status 1 and says why.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { ROOT, within } from './support/helpers.js'
import { spawnRelay } from './support/helpers.js'
import { httpApi } from './support/http-api.js'
import { HELP } from '../relay/cli-options.js'

/** The CLI's exit status and stderr, for a start that must fail. */
const failedStart = (args: string[]): Promise<{ code: number | null; stderr: string }> =>
  within(
    new Promise((resolve) => {
      const proc = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'relay/cli.ts'), ...args], { cwd: ROOT })
      let stderr = ''
      proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
      proc.once('exit', (code) => resolve({ code, stderr }))
    }),
    20_000,
    'the relay to exit'
  )

test('--mutations ./module.mjs: its mutations are called over HTTP, and its mutation-only keys refuse raw writes', async () => {
  const relay = await spawnRelay(['--port', '0', '--memory', '--mutations', './test/fixtures/mutations-module.mjs'])
  try {
    const api = httpApi(relay.httpUrl, 'cli')
    assert.deepEqual((await api('POST', 'mutations/increment', { by: 2 })).body, { result: 2 })
    assert.deepEqual((await api('PUT', 'state/count', 7)).body.error, 'mutation_only')
  } finally {
    await relay.kill()
  }
})

test('--mutations with a missing module, or one without mutations, exits 1 and says why', async () => {
  const missing = await failedStart(['--port', '0', '--memory', '--mutations', './no-such-module.mjs'])
  assert.equal(missing.code, 1)
  assert.match(missing.stderr, /--mutations \.\/no-such-module\.mjs: cannot load/)
  const empty = await failedStart(['--port', '0', '--memory', '--mutations', './test/fixtures/mutations-module-empty.mjs'])
  assert.equal(empty.code, 1)
  assert.match(empty.stderr, /exports no "mutations"/)
  assert.match(HELP, /--mutations FILE/)
})
