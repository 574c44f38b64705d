/**
 * The React bindings rendered on the server, in a Node process of their own: `renderToString` of
 * the provider (with a url, without one, with an `initialState`) and of every hook opens no
 * socket, throws nothing, renders `connecting` and the initial state, renders a Suspense
 * boundary's fallback for `useServerStateSuspense` without an initial state, and the process then
 * exits on its own (nothing keeps it alive).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { pathToFileURL } from 'node:url'
import { join } from 'node:path'
import { ROOT } from './support/helpers.js'

const REACT = pathToFileURL(join(ROOT, 'react/index.ts')).href

/** Renders in a child process; returns its output. The child must exit by itself within the bound. */
const CHILD = `
import { createElement as h, Suspense } from 'react'
import { renderToString } from 'react-dom/server'
import * as r from ${JSON.stringify(REACT)}
// No WebSocket here (Node 20): a socket opened while rendering would throw.
const App = () => {
  const { status, synced } = r.useServerStatus()
  const count = r.useServerState('count')
  r.useLock(); r.useUpdatePresence()
  const others = r.useOthers().length
  const self = r.useSelf()
  const session = r.useServerSession()
  return h('p', null, [status, synced, count ?? 'none', others, self === null, session === null].join(' '))
}
const Suspending = () => h('b', null, String(r.useServerStateSuspense('count') ?? 'unset'))
const render = (props, child = h(App)) => renderToString(h(r.ServerStateProvider, props, child))
const out = {
  withUrl: render({ url: 'ws://127.0.0.1:9', room: 'r' }),
  withoutUrl: render({}),
  initial: render({ url: 'ws://127.0.0.1:9', initialState: { count: 5 } }),
  suspenseInitial: render({ initialState: { count: 5 } }, h(Suspense, { fallback: h('i', null, 'loading') }, h(Suspending))),
  suspense: render({}, h(Suspense, { fallback: h('i', null, 'loading') }, h(Suspending)))
}
console.log(JSON.stringify({ out }))
`

test('the provider and every hook render on the server without a socket, and the process exits by itself', () => {
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CHILD], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, NODE_OPTIONS: '' }
  })
  assert.equal(child.signal, null, `the process was killed after 30 s: something kept it alive\n${child.stderr}`)
  assert.equal(child.status, 0, child.stderr)
  const { out } = JSON.parse(child.stdout.trim().split('\n').pop()!) as { out: Record<string, string> }
  assert.equal(out.withUrl, '<p>connecting false none 0 true true</p>')
  assert.equal(out.withoutUrl, '<p>connecting false none 0 true true</p>')
  assert.equal(out.initial, '<p>connecting false 5 0 true true</p>')
  assert.match(out.suspenseInitial!, /<b>5<\/b>/, 'an initial state counts as loaded')
  assert.match(out.suspense!, /<i>loading<\/i>/, 'the fallback, rendered in the browser later')
})
