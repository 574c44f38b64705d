/**
 * The package as a user installs it: `npm pack` on a clean copy of the project (its `prepack`
 * builds `dist`), then the tarball installed into an empty project, where Node imports every
 * entry point, tsc type-checks them, and the relay's bin serves the demo page.
 *
 * Offline and quick: the tarball is extracted into the project's node_modules/y-server-state, as
 * npm would, and each package it depends on (its `dependencies`, plus React for the `react`
 * entry point and the @types a TypeScript user has) is a symlink to this repository's installed
 * copy, at the versions the lockfile pins. Only what the packed package.json names is linked, so
 * a dependency missing from it fails the imports. The bin is linked into node_modules/.bin and
 * made executable, as npm's bin-links does. `npm install --offline <tarball>` is not used: it
 * needs the registry's package documents in the npm cache, which `npm ci` does not put there.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { chmodSync, cpSync, mkdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, sep } from 'node:path'
import { createInterface } from 'node:readline'
import { ROOT, tempDir, within } from './support/helpers.js'

interface PackedFile { path: string; size: number; mode: number }
interface PackResult { filename: string; size: number; unpackedSize: number; files: PackedFile[] }
interface Manifest {
  exports: Record<string, { types: string; default: string }>
  bin: Record<string, string>
  dependencies: Record<string, string>
}

const ENTRY_POINTS = ['y-server-state', 'y-server-state/relay', 'y-server-state/components', 'y-server-state/react', 'y-server-state/vue']
/** Installed beside the package in the user's project: the optional peer and its DOM renderer for
 *  the `react` entry point, and the declarations a TypeScript user of React and Node has. */
const USER_PACKAGES = ['react', 'react-dom', 'vue', '@types/react', '@types/node']

const work = tempDir('yss-package')
const project = join(work.path, 'project')
const installed = join(project, 'node_modules/y-server-state')
let packed: PackResult
let manifest: Manifest

const run = (command: string, args: string[], cwd: string, timeout: number) => {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', timeout })
  assert.equal(result.status, 0, `${[command, ...args].join(' ')} failed (${result.error?.message ?? `status ${result.status}`}):\n${result.stdout}\n${result.stderr}`)
  return result.stdout
}

/** npm itself: the one running `npm test` when there is one, else the first on PATH. */
const npm = (args: string[], cwd: string, timeout: number): string =>
  process.env.npm_execpath?.endsWith('.js')
    ? run(process.execPath, [process.env.npm_execpath, ...args], cwd, timeout)
    : run('npm', args, cwd, timeout)

const link = (from: string, name: string): void => {
  mkdirSync(dirname(join(from, name)), { recursive: true })
  symlinkSync(realpathSync(join(ROOT, 'node_modules', name)), join(from, name), 'dir')
}

before(() => {
  // A clean clone of the working tree: no node_modules, no dist, nothing the .gitignore ignores.
  const clone = join(work.path, 'clone')
  const ignored = new Set(['node_modules', 'dist', '.git', 'data', '.relay-data', join('test', '.tmp'), join('examples', 'next', 'node_modules'), join('examples', 'next', '.next')])
  cpSync(ROOT, clone, { recursive: true, filter: (path) => !ignored.has(relative(ROOT, path)) && !path.endsWith('.log') })
  symlinkSync(realpathSync(join(ROOT, 'node_modules')), join(clone, 'node_modules'), 'dir')
  const out = npm(['pack', '--json', '--offline', '--pack-destination', work.path], clone, 90_000)
  packed = (JSON.parse(out) as PackResult[])[0]!

  mkdirSync(installed, { recursive: true })
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'user-project', private: true, type: 'module' }))
  run('tar', ['-xzf', join(work.path, packed.filename), '-C', installed, '--strip-components=1'], project, 20_000)
  manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as Manifest
  for (const name of [...Object.keys(manifest.dependencies), ...USER_PACKAGES]) link(join(project, 'node_modules'), name)
  mkdirSync(join(project, 'node_modules/.bin'))
  for (const [name, path] of Object.entries(manifest.bin)) {
    chmodSync(join(installed, path), 0o755)
    symlinkSync(join('..', 'y-server-state', path), join(project, 'node_modules/.bin', name))
  }
})

after(() => work.remove())

test('the tarball holds the built package, its types, the built demo, and nothing else', () => {
  const paths = packed.files.map((f) => f.path).sort()
  const stray = paths.filter((p) => !/^(package\.json|README\.md|LICENSE(\.\w+)?|dist\/.+)$/.test(p))
  assert.deepEqual(stray, [], 'only dist, the README, a licence and package.json')
  const sources = paths.filter((p) => /\.tsx?$/.test(p) && !p.endsWith('.d.ts'))
  assert.deepEqual(sources, [], 'no TypeScript sources')
  assert.deepEqual(paths.filter((p) => /^dist\/(test|bench|demo\/.*\.(map|tsx?))|^dist\/demo\/build/.test(p)), [], 'no tests, bench, demo sources or demo source maps')
  for (const file of ['index.html', 'demo.js', 'demo.css', 'react.html', 'react.js', 'react.css']) {
    assert.ok(paths.includes(`dist/demo/${file}`), `the built demo page's ${file}`)
  }
  for (const [entry, { types, default: js }] of Object.entries(manifest.exports)) {
    assert.ok(paths.includes(types.replace('./', '')), `${entry}: its types ${types}`)
    assert.ok(paths.includes(js.replace('./', '')), `${entry}: its module ${js}`)
  }
  assert.deepEqual(Object.keys(manifest.exports).map((e) => e.replace(/^\./, 'y-server-state')).sort(), [...ENTRY_POINTS].sort())
  for (const bin of Object.values(manifest.bin)) assert.ok(paths.includes(bin.replace('./', '')), `the bin ${bin}`)
  const untyped = paths.filter((p) => p.endsWith('.js') && !p.startsWith('dist/demo/') && !paths.includes(p.replace(/\.js$/, '.d.ts')))
  assert.deepEqual(untyped, [], 'every module has its declarations')
  // The demo's source maps alone (Lit's and React's sources) would add over 3 MB.
  // A budget, not a measure: about 2 MB, half of it source maps with their sources; several
  // relays, the limits and the inspector brought it there. Grow it only for a feature.
  assert.ok(packed.unpackedSize < 2_400_000, `unpacked size ${packed.unpackedSize} bytes`)
})

test('Node imports every entry point from the installed package, and its client syncs with its relay', () => {
  writeFileSync(join(project, 'smoke.mjs'), `
    import WebSocket from 'ws'
    const entries = {}
    for (const name of ${JSON.stringify(ENTRY_POINTS)}) {
      entries[name] = { resolved: import.meta.resolve(name), exports: Object.keys(await import(name)) }
    }
    const { connect } = await import('y-server-state')
    const { startRelay } = await import('y-server-state/relay')
    const { ServerCounter } = await import('y-server-state/components')
    const relay = await startRelay({ port: 0, memory: true, logLevel: 'silent' })
    const options = { url: relay.url, room: 'packed', WebSocketPolyfill: WebSocket, broadcastChannel: false }
    const a = connect(options)
    await a.ready
    a.set('count', 41)
    await a.flush()
    const b = connect(options)
    await b.ready
    const synced = b.get('count')
    a.close(); b.close()
    await relay.close()
    console.log(JSON.stringify({ entries, synced, counterDefined: customElements.get('server-counter') === ServerCounter }))
  `)
  const result = JSON.parse(run(process.execPath, ['smoke.mjs'], project, 20_000)) as {
    entries: Record<string, { resolved: string; exports: string[] }>
    synced: unknown
    counterDefined: boolean
  }
  const expected: Record<string, string[]> = {
    'y-server-state': ['connect', 'configure', 'serverState', 'serverStateLock', 'LockTimeoutError'],
    'y-server-state/relay': ['startRelay', 'LevelStore', 'MemoryStore'],
    'y-server-state/components': ['ServerStateElement', 'ServerCounter', 'ServerChat', 'ServerStateProvider'],
    'y-server-state/react': ['ServerStateProvider', 'useServerState', 'useServerSession', 'useServerStatus', 'usePresence'],
    'y-server-state/vue': ['ServerStateProvider', 'useServerState', 'useServerSession', 'useServerStatus']
  }
  for (const name of ENTRY_POINTS) {
    const entry = result.entries[name]!
    assert.ok(new URL(entry.resolved).pathname.startsWith(realpathSync(installed) + sep), `${name} resolves inside the installed package: ${entry.resolved}`)
    for (const e of expected[name]!) assert.ok(entry.exports.includes(e), `${name} exports ${e}`)
  }
  // Lit's Node build brings its own minimal DOM shim, so the elements load and define in Node.
  assert.equal(result.counterDefined, true)
  assert.equal(result.synced, 41)
})

test('tsc type-checks a user file importing every entry point against the installed declarations', () => {
  writeFileSync(join(project, 'user.ts'), `
    import { connect, LockTimeoutError, type ServerState } from 'y-server-state'
    import { startRelay, type Relay } from 'y-server-state/relay'
    import { ServerStateElement } from 'y-server-state/components'
    import { ServerStateProvider, useServerState } from 'y-server-state/react'
    import { html } from 'lit'
    import { createElement } from 'react'

    const server: ServerState<{ count: number }> = connect<{ count: number }>({ room: 'default' })
    const count: number | undefined = server.get('count')
    // @ts-expect-error: the value's type is the shape's
    server.set('count', 'one')
    const done: Promise<number> = server.lock('count', (s) => (s.count += 1), { timeout: 1_000 })
    const relay: Promise<Relay> = startRelay({ port: 0, memory: true })
    class Visits extends ServerStateElement {
      override render() { return html\`\${this.state['visits'] ?? 0} \${this.status}\` }
    }
    const Counter = () => String(useServerState<number>('count') ?? 0)
    const page = createElement(ServerStateProvider, { room: 'default' }, createElement(Counter))
    export { count, done, relay, Visits, page, LockTimeoutError }
  `)
  // What TypeScript 5.9's \`tsc --init\` writes, with the declarations of libraries checked too.
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      module: 'nodenext', target: 'esnext', lib: ['esnext', 'dom', 'dom.iterable'], types: ['node'], noEmit: true,
      strict: true, noUncheckedIndexedAccess: true, exactOptionalPropertyTypes: true, jsx: 'react-jsx',
      verbatimModuleSyntax: true, isolatedModules: true, noUncheckedSideEffectImports: true, moduleDetection: 'force',
      skipLibCheck: false
    },
    files: ['user.ts']
  }))
  const listed = run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', '.', '--pretty', 'false', '--listFiles'], project, 60_000)
  for (const entry of ['client', 'relay', 'components', 'react']) {
    assert.ok(listed.includes(`node_modules/y-server-state/dist/${entry}/index.d.ts`), `${entry}'s declarations come from the installed package`)
  }
})

test("the installed relay bin serves the package's built demo page and its health check", async () => {
  const relay: ChildProcess = spawn(join(project, 'node_modules/.bin/y-server-state-relay'), ['--port', '0', '--memory'], {
    cwd: project, stdio: ['ignore', 'pipe', 'pipe']
  })
  let stderr = ''
  relay.stderr!.on('data', (chunk) => { stderr += chunk })
  const exited = new Promise<number | null>((resolve) => relay.once('exit', (code) => resolve(code)))
  try {
    const lines = createInterface({ input: relay.stdout! })
    const httpUrl = await within(new Promise<string>((resolve, reject) => {
      lines.on('line', (line) => {
        const match = /listening on ws:\/\/\S+ \(demo page: (http:\/\/\S+)\)/.exec(line)
        if (match) resolve(match[1]!)
      })
      exited.then((code) => reject(new Error(`the relay exited with ${code}: ${stderr}`)))
    }), 10_000, 'the relay\'s listening line')

    const page = await fetch(httpUrl)
    assert.equal(page.status, 200)
    assert.match(await page.text(), /<server-counter/)
    // The bundle exists only in the package's dist/demo: the relay found its own package folder.
    const bundle = await fetch(new URL('demo.js', httpUrl))
    assert.equal(bundle.status, 200)
    assert.match(bundle.headers.get('content-type')!, /javascript/)
    assert.equal((await fetch(new URL('react.html', httpUrl))).status, 200)
    const health = await fetch(new URL('healthz', httpUrl))
    assert.equal(health.status, 200)
    assert.equal((await health.text()).trim(), 'ok')
  } finally {
    relay.kill('SIGTERM')
  }
  assert.equal(await within(exited, 10_000, 'the relay to exit after SIGTERM'), 0, stderr)
})
