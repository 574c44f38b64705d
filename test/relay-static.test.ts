/**
 * The HTTP server serves the built demo page only: `demo/index.html` and `dist/demo/`, never the
 * demo's sources, never a file outside a served folder, also not through a symlink, and no
 * dotfile. Against the old server, the symlinks out of the folder and the TypeScript sources are
 * served (200).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir, testRelay } from './support/helpers.js'

const status = async (base: string, path: string): Promise<number> => (await fetch(base + path)).status

test("by default only the built page is served: index.html, never the demo's TypeScript sources", async () => {
  const relay = await testRelay()
  try {
    const page = await fetch(relay.httpUrl)
    assert.equal(page.status, 200)
    assert.match(await page.text(), /y-server-state/)
    assert.equal(await status(relay.httpUrl, 'index.html'), 200)
    for (const source of ['main.ts', 'build.ts', 'demo/main.ts', '../package.json', '..%2Fpackage.json']) {
      assert.equal(await status(relay.httpUrl, source), 404, source)
    }
  } finally {
    await relay.close()
  }
})

test('a symlink leading out of a served folder is not followed; one inside it is; dotfiles are not served', async () => {
  const dir = tempDir('static')
  const served = join(dir.path, 'page')
  const outside = join(dir.path, 'secret')
  mkdirSync(join(served, 'sub'), { recursive: true })
  mkdirSync(outside)
  writeFileSync(join(served, 'index.html'), '<p>page</p>')
  writeFileSync(join(served, 'sub', 'app.js'), 'export {}')
  writeFileSync(join(served, '.env'), 'TOKEN=1')
  writeFileSync(join(outside, 'key.txt'), 'secret')
  symlinkSync(join(outside, 'key.txt'), join(served, 'key.txt'))
  symlinkSync(outside, join(served, 'linked'))
  symlinkSync('/etc/hostname', join(served, 'host.txt'))
  symlinkSync(join(served, 'sub', 'app.js'), join(served, 'alias.js'))
  const relay = await testRelay({ staticDirs: [served] })
  try {
    assert.equal(await status(relay.httpUrl, ''), 200)
    assert.equal(await status(relay.httpUrl, 'sub/app.js'), 200)
    assert.equal(await status(relay.httpUrl, 'alias.js'), 200, 'a symlink to a file inside the folder')
    for (const path of ['key.txt', 'linked/key.txt', 'host.txt', '.env', 'sub/../.env']) {
      assert.equal(await status(relay.httpUrl, path), 404, path)
    }
  } finally {
    await relay.close()
    dir.remove()
  }
})
