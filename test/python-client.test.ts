/**
 * The Python package's own tests (`python/tests`, standard `unittest`), run by `npm test` in the
 * venv of `npm run setup:python`: the client against a fake relay and against the real relay,
 * the re-run hub's rules. Fails, not skips, when the venv is missing; and fails if any Python
 * test was skipped.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ROOT } from './support/helpers.js'
import { spawnLogged, venvPython } from './support/python.js'

test("the Python package's unittest suite passes, none skipped", { timeout: 180_000 }, async () => {
  const run = spawnLogged(venvPython(), ['-m', 'unittest', 'discover', '-s', 'python/tests', '-v'], { cwd: ROOT })
  const code = await run.exited
  const out = run.output()
  assert.equal(code, 0, out)
  const ran = /^Ran (\d+) tests? in/m.exec(out)
  assert.ok(ran && Number(ran[1]) > 0, `no Python test ran:\n${out}`)
  assert.doesNotMatch(out, /skipped/i, out)
})
