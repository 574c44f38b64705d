import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MAX_FIELD_CHARS, formatLine } from '../relay/log.js'

test('a log line carries at most MAX_FIELD_CHARS of each field, and says how much it left out', () => {
  const line = formatLine('warn', 'm'.repeat(10_000), { key: 'x'.repeat(1024 * 1024), ok: 'short', n: 3 })
  assert.ok(line.length < 3 * MAX_FIELD_CHARS, `a line with a 1 MiB field is ${line.length} characters`)
  assert.match(line, /key="x{512}…\(1048064 more chars\)"/)
  assert.match(line, / ok=short n=3$/)
  assert.equal(formatLine('info', 'hello', { room: 'default' }).replace(/^time=\S+ /, ''), 'level=info msg="hello" room=default')
})
