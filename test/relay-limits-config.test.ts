/**
 * Each abuse limit is a `startRelay` option and a CLI flag, listed in `--help`, checked, and
 * counted in `/metrics` from the start (at 0).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { HELP, UsageError, parseCli } from '../relay/cli-options.js'
import { DEFAULT_LIMITS, LIMIT_NAMES, limitLabel, resolveLimits } from '../relay/limits.js'
import { testRelay } from './support/helpers.js'

const flag = (name: string) => `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`

test('every limit has a flag, listed in --help with its default, and parsed into its option', () => {
  for (const [i, name] of LIMIT_NAMES.entries()) {
    assert.match(HELP, new RegExp(`${flag(name)} N .*\\(default ${DEFAULT_LIMITS[name]}\\)`), name)
    const options = parseCli([flag(name), String(1000 + i)], {})
    assert.notEqual(options, 'help')
    assert.equal((options as Record<string, unknown>)[name], 1000 + i, name)
    assert.throws(() => parseCli([flag(name), 'lots'], {}), UsageError, name)
  }
  assert.deepEqual(resolveLimits({ maxRoomBytes: 5 }), { ...DEFAULT_LIMITS, maxRoomBytes: 5 })
  assert.throws(() => resolveLimits({ maxRoomBytes: -1 }), RangeError)
})

test("/metrics lists every limit's hits, from 0", async () => {
  const relay = await testRelay()
  try {
    const text = await (await fetch(`${relay.httpUrl}metrics`)).text()
    assert.match(text, /^# TYPE yss_limit_hits_total counter$/m)
    for (const name of LIMIT_NAMES) assert.match(text, new RegExp(`^yss_limit_hits_total\\{limit="${limitLabel(name)}"\\} 0$`, 'm'), name)
  } finally {
    await relay.close()
  }
})
