/**
 * The two packages as users install them: `npm pack` of `y-server-state` (the client, the Lit
 * elements, React, Vue) and of `y-server-state-relay` (the workspace relay/: the relay, its CLI and
 * the cluster) on a clean copy of the project (each `prepack` builds its `dist`), then each
 * tarball installed by npm into an empty project of its own. There Node imports every entry
 * point, tsc type-checks them, `npx y-server-state-relay` runs the relay, and a client of the one
 * project syncs through the relay of the other. The client's project must hold no server
 * package (no pg, ioredis, level, classic-level, jose, ws) and no package with an install script,
 * and its browser bundle no Node module.
 *
 * Offline-friendly: `npm install --prefer-offline` takes what the local npm cache holds (a
 * machine that ran `npm install` here has every package) and asks the registry only for what it
 * lacks. What a user adds beside the package (React for `./react`, ws for a Node client, the
 * @types a TypeScript user has) is linked from this repository's node_modules, as installed.
 * The dependency trees and the tarballs' sizes are printed as test diagnostics.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs'
import { basename, dirname, join, relative, sep } from 'node:path'
import { createInterface } from 'node:readline'
import { build } from 'esbuild'
import { ROOT, tempDir, within } from './support/helpers.js'

interface PackedFile {
  path: string
  size: number
  mode: number
}
interface PackResult {
  filename: string
  size: number
  unpackedSize: number
  files: PackedFile[]
}
interface Manifest {
  exports: Record<string, { types: string; default: string }>
  bin?: Record<string, string>
  dependencies: Record<string, string>
}
interface Tree {
  version?: string
  dependencies?: Record<string, Tree>
}

/** Packages a browser app must not get from `y-server-state`: the relay's and their native parts. */
const SERVER_PACKAGES = [
  'pg',
  'ioredis',
  'level',
  'classic-level',
  'leveldown',
  'abstract-level',
  'y-leveldb',
  'jose',
  'ws',
  'node-gyp-build',
  'y-server-state-relay'
]
/** What some of each entry point exports (an entry point not listed, such as a new one, must export something). */
const EXPORTS: Record<string, string[]> = {
  'y-server-state': ['connect', 'configure', 'serverState', 'serverStateLock', 'LockTimeoutError'],
  'y-server-state/components': ['ServerStateElement', 'ServerCounter', 'ServerChat', 'ServerStateProvider'],
  'y-server-state/react': ['ServerStateProvider', 'useServerState', 'useServerSession', 'useServerStatus', 'usePresence'],
  'y-server-state/vue': ['ServerStateProvider', 'useServerState', 'useServerSession', 'useServerStatus'],
  'y-server-state-relay': ['startRelay', 'LevelStore', 'MemoryStore', 'signToken']
}
/** Installed beside the packages by a user: React and its DOM renderer, Vue (the optional peers
 *  of `./react` and `./vue`), ws for a Node client, and the declarations of a TypeScript user. */
const USER_PACKAGES = ['react', 'react-dom', 'vue', 'ws', '@types/react', '@types/node', '@types/ws']

const work = tempDir('yss-package')
const client = {
  project: join(work.path, 'client-app'),
  packed: undefined as unknown as PackResult,
  manifest: undefined as unknown as Manifest
}
const relay = {
  project: join(work.path, 'relay-app'),
  packed: undefined as unknown as PackResult,
  manifest: undefined as unknown as Manifest
}

const run = (command: string, args: string[], cwd: string, timeout: number) => {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', timeout })
  assert.equal(
    result.status,
    0,
    `${[command, ...args].join(' ')} failed (${result.error?.message ?? `status ${result.status}`}):\n${result.stdout}\n${result.stderr}`
  )
  return result.stdout
}

/** npm itself (the one running `npm test` when there is one, else the first on PATH), and its arguments. */
const npmCommand = (args: string[]): [string, string[]] =>
  process.env.npm_execpath?.endsWith('.js') ? [process.execPath, [process.env.npm_execpath, ...args]] : ['npm', args]
const npm = (args: string[], cwd: string, timeout: number): string => run(...npmCommand(args), cwd, timeout)

/** `npm install` of `tarball` into a new empty project; resolves when it is done, in parallel with another. */
const install = (project: string, tarball: string): Promise<void> => {
  mkdirSync(project, { recursive: true })
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'user-project', private: true, type: 'module' }))
  const [command, args] = npmCommand(['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel', 'error', tarball])
  const child = spawn(command, args, { cwd: project, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (chunk) => {
    output += chunk
  })
  child.stderr.on('data', (chunk) => {
    output += chunk
  })
  return within(
    new Promise<void>((resolve, reject) =>
      child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`npm install ${tarball} exited with ${code}:\n${output}`))))
    ),
    180_000,
    `npm install ${tarball}`
  )
}

/** The tarball of the package in `dir`, packed into the work folder. */
const pack = (dir: string): PackResult => {
  const out = npm(['pack', '--json', '--pack-destination', work.path], dir, 120_000)
  return (JSON.parse(out.slice(out.indexOf('['))) as PackResult[])[0]!
}

/** Every package installed in `project`, as `name@version`, sorted; from `npm ls`. */
const installedPackages = (project: string): string[] => {
  const tree = JSON.parse(npm(['ls', '--all', '--json'], project, 30_000)) as Tree
  const names = new Set<string>()
  const walk = (deps: Record<string, Tree> | undefined) => {
    for (const [name, node] of Object.entries(deps ?? {})) {
      if (node.version !== undefined) names.add(`${name}@${node.version}`)
      walk(node.dependencies)
    }
  }
  walk(tree.dependencies)
  return [...names].sort()
}

/** The installed packages (folders with a package.json under node_modules, nested too) that declare an install script or a native build. */
const withInstallScripts = (project: string): string[] => {
  const found: string[] = []
  const visit = (modules: string) => {
    if (!existsSync(modules)) return
    for (const entry of readdirSync(modules)) {
      if (entry.startsWith('.')) continue
      const dirs = entry.startsWith('@') ? readdirSync(join(modules, entry)).map((e) => join(modules, entry, e)) : [join(modules, entry)]
      for (const dir of dirs) {
        const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
          name: string
          scripts?: Record<string, string>
          gypfile?: boolean
        }
        const scripts = Object.keys(manifest.scripts ?? {}).filter((s) => ['preinstall', 'install', 'postinstall'].includes(s))
        if (scripts.length > 0 || manifest.gypfile === true || existsSync(join(dir, 'binding.gyp')))
          found.push(`${manifest.name} (${scripts.join(', ') || 'binding.gyp'})`)
        visit(join(dir, 'node_modules'))
      }
    }
  }
  visit(join(project, 'node_modules'))
  return found
}

const linkUserPackages = (project: string): void => {
  for (const name of USER_PACKAGES) {
    const source = join(ROOT, 'node_modules', name)
    if (!existsSync(source) || existsSync(join(project, 'node_modules', name))) continue
    mkdirSync(dirname(join(project, 'node_modules', name)), { recursive: true })
    symlinkSync(realpathSync(source), join(project, 'node_modules', name), 'dir')
  }
}

before(
  async () => {
    // A clean copy of the working tree: no node_modules, no dist, nothing the .gitignore ignores.
    const clone = join(work.path, 'clone')
    const ignored = new Set(['dist', '.git', 'data', '.relay-data', join('test', '.tmp'), join('relay', 'dist')])
    const anywhere = new Set(['node_modules', '.next'])
    cpSync(ROOT, clone, {
      recursive: true,
      filter: (path) => !ignored.has(relative(ROOT, path)) && !anywhere.has(basename(path)) && !path.endsWith('.log')
    })
    symlinkSync(realpathSync(join(ROOT, 'node_modules')), join(clone, 'node_modules'), 'dir')
    client.packed = pack(clone)
    relay.packed = pack(join(clone, 'relay'))
    await Promise.all([
      install(client.project, join(work.path, client.packed.filename)),
      install(relay.project, join(work.path, relay.packed.filename))
    ])
    for (const p of [client, relay]) {
      p.manifest = JSON.parse(
        readFileSync(join(p.project, 'node_modules', p === client ? 'y-server-state' : 'y-server-state-relay', 'package.json'), 'utf8')
      ) as Manifest
    }
  },
  { timeout: 300_000 }
)

after(() => work.remove())

const paths = (p: PackResult) => p.files.map((f) => f.path).sort()

/** What both tarballs must hold and not hold: dist, the README, the licence, package.json; no sources, maps, tests or demo bundles; declarations for every module. */
const checkTarball = (p: PackResult, manifest: Manifest, pages: string[]) => {
  const files = paths(p)
  assert.deepEqual(
    files.filter((f) => !/^(package\.json|README\.md|LICENSE|dist\/.+)$/.test(f)),
    [],
    'only dist, the README, the licence and package.json'
  )
  assert.ok(files.includes('LICENSE') && /^MIT License/.test(readFileSync(join(ROOT, 'LICENSE'), 'utf8')), 'the MIT licence')
  assert.ok(files.includes('README.md'), 'a README')
  assert.deepEqual(
    files.filter((f) => /\.tsx?$/.test(f) && !f.endsWith('.d.ts')),
    [],
    'no TypeScript sources'
  )
  assert.deepEqual(
    files.filter((f) => f.endsWith('.map')),
    [],
    'no source maps'
  )
  assert.deepEqual(
    files.filter((f) => /^dist\/(test|bench|demo)\/|\/(demo|react)\.js$/.test(f)),
    [],
    'no tests, bench or demo bundles'
  )
  assert.deepEqual(
    files.filter((f) => f.startsWith('dist/pages/')),
    pages.map((f) => `dist/pages/${f}`).sort(),
    'its own pages only'
  )
  for (const [entry, { types, default: js }] of Object.entries(manifest.exports)) {
    assert.ok(files.includes(types.replace('./', '')), `${entry}: its types ${types}`)
    assert.ok(files.includes(js.replace('./', '')), `${entry}: its module ${js}`)
  }
  for (const bin of Object.values(manifest.bin ?? {})) assert.ok(files.includes(bin.replace('./', '')), `the bin ${bin}`)
  const untyped = files.filter((f) => f.endsWith('.js') && !f.startsWith('dist/pages/') && !files.includes(f.replace(/\.js$/, '.d.ts')))
  assert.deepEqual(untyped, [], 'every module has its declarations')
}

test('the client tarball: its dist (client, components, React, Vue), types, licence; no relay, demo or source maps', (t) => {
  checkTarball(client.packed, client.manifest, [])
  const files = paths(client.packed)
  assert.deepEqual(
    files.filter((f) => /^dist\/relay\//.test(f)),
    [],
    'no relay'
  )
  assert.ok(!('bin' in client.manifest), 'no bin: the relay has its own package')
  for (const entry of ['.', './components', './react', './vue']) assert.ok(entry in client.manifest.exports, `exports ${entry}`)
  // A budget, not a measure: about 0.3 MB of JavaScript and declarations. Grow it only for a feature.
  assert.ok(client.packed.unpackedSize < 600_000, `unpacked size ${client.packed.unpackedSize} bytes`)
  t.diagnostic(`y-server-state tarball: ${client.packed.size} bytes packed, ${client.packed.unpackedSize} unpacked, ${files.length} files`)
})

test('the relay tarball: its dist (relay, protocol, the inspector page), types, licence, its bin; no demo or source maps', (t) => {
  checkTarball(relay.packed, relay.manifest, ['demo.css', 'index.html', 'inspect.css', 'inspect.html', 'inspect.js'])
  const files = paths(relay.packed)
  assert.deepEqual(
    files.filter((f) => /^dist\/(client|components|react|vue)\//.test(f)),
    [],
    'no client'
  )
  assert.deepEqual(relay.manifest.bin, { 'y-server-state-relay': './dist/relay/cli.js' })
  assert.ok(relay.packed.unpackedSize < 1_000_000, `unpacked size ${relay.packed.unpackedSize} bytes`)
  t.diagnostic(
    `y-server-state-relay tarball: ${relay.packed.size} bytes packed, ${relay.packed.unpackedSize} unpacked, ${files.length} files`
  )
})

test('installing y-server-state brings no server package and no install script', (t) => {
  const installed = installedPackages(client.project)
  const names = installed.map((p) => p.slice(0, p.lastIndexOf('@')))
  assert.deepEqual(
    names.filter((n) => SERVER_PACKAGES.includes(n) || n.startsWith('pg-') || n.startsWith('@ioredis/')),
    [],
    'no server package'
  )
  assert.deepEqual(withInstallScripts(client.project), [], 'no install script, no native build')
  // What the client is made of: Yjs and its protocols, Lit; nothing else a browser must download.
  for (const name of ['yjs', 'y-protocols', 'y-websocket', 'lib0', 'lit', '@lit/context']) assert.ok(names.includes(name), name)
  t.diagnostic(`y-server-state installs ${installed.length} packages: ${installed.join(' ')}`)
  const relayInstalled = installedPackages(relay.project)
  t.diagnostic(`y-server-state-relay installs ${relayInstalled.length} packages: ${relayInstalled.join(' ')}`)
  t.diagnostic(`y-server-state-relay's install scripts: ${withInstallScripts(relay.project).join(', ') || 'none'}`)
})

test('a browser bundle of the installed client (esbuild, as Vite builds for production) holds no Node module and no server package', async (t) => {
  writeFileSync(
    join(client.project, 'page.ts'),
    `
    import { connect } from 'y-server-state'
    import 'y-server-state/components'
    const server = connect({ room: 'default' })
    server.set('opened', Date.now())
  `
  )
  const result = await build({
    absWorkingDir: client.project,
    entryPoints: ['page.ts'],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    minify: true,
    write: false,
    metafile: true,
    logLevel: 'silent',
    conditions: ['production']
  })
  const packages = [
    ...new Set(
      Object.keys(result.metafile.inputs)
        .map((input) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1])
        .filter((p) => p !== undefined)
    )
  ].sort()
  assert.deepEqual(
    packages.filter((p) => SERVER_PACKAGES.includes(p)),
    [],
    'no server package in the bundle'
  )
  assert.deepEqual(
    Object.keys(result.metafile.inputs).filter((input) => input.startsWith('node:')),
    [],
    'no Node module'
  )
  t.diagnostic(
    `browser bundle (client and Lit elements, minified): ${result.outputFiles[0]!.contents.byteLength} bytes from ${packages.join(' ')}`
  )
})

/**
 * Starts the installed relay in the relay's project, with `npx y-server-state-relay ARGS` as a
 * user types it, or with its bin directly; resolves once it prints its listening line. `stop()`
 * sends SIGTERM (to npx's whole process group: npm does not pass it on) and resolves with the
 * exit status once every process of it has closed its output.
 */
const startInstalledRelay = async (how: 'npx' | 'bin', args: string[]) => {
  const [command, commandArgs] =
    how === 'npx'
      ? npmCommand(['exec', '--offline', '--', 'y-server-state-relay', ...args])
      : [join(relay.project, 'node_modules/.bin/y-server-state-relay'), args]
  const child: ChildProcess = spawn(command, commandArgs, {
    cwd: relay.project,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: how === 'npx'
  })
  let stderr = ''
  child.stderr!.on('data', (chunk) => {
    stderr += chunk
  })
  const closed = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)))
  const kill = (signal: NodeJS.Signals) => (how === 'npx' ? process.kill(-child.pid!, signal) : child.kill(signal))
  const lines = createInterface({ input: child.stdout! })
  const [url, httpUrl] = await within(
    new Promise<[string, string]>((resolve, reject) => {
      lines.on('line', (line) => {
        const match = /listening on (ws:\/\/\S+) \(demo page: (http:\/\/\S+)\)/.exec(line)
        if (match) resolve([match[1]!, match[2]!])
      })
      closed.then((code) => reject(new Error(`the relay exited with ${code}: ${stderr}`)))
    }),
    20_000,
    "the relay's listening line"
  ).catch((err) => {
    kill('SIGKILL')
    throw err
  })
  return {
    url,
    httpUrl,
    stderr: () => stderr,
    stop: async (): Promise<number | null> => {
      kill('SIGTERM')
      return within(closed, 10_000, 'the relay to exit after SIGTERM')
    }
  }
}

test('npx y-server-state-relay runs the installed relay: its landing page, the inspector and the health check, no demo', async () => {
  const server = await startInstalledRelay('npx', ['--port', '0', '--memory'])
  try {
    const page = await fetch(server.httpUrl)
    assert.equal(page.status, 200)
    assert.match(await page.text(), /y-server-state relay/)
    const inspector = await fetch(new URL('inspect', server.httpUrl))
    assert.equal(inspector.status, 200)
    assert.match(await inspector.text(), /<yss-inspector>/)
    const bundle = await fetch(new URL('inspect.js', server.httpUrl))
    assert.equal(bundle.status, 200)
    assert.match(bundle.headers.get('content-type')!, /javascript/)
    assert.equal((await fetch(new URL('demo.js', server.httpUrl))).status, 404, 'no demo bundle')
    const health = await fetch(new URL('healthz', server.httpUrl))
    assert.equal((await health.text()).trim(), 'ok')
  } finally {
    await server.stop()
  }
})

test("Node imports every entry point from the installed packages, and the client syncs through the installed relay's bin, which exits 0 on SIGTERM", async () => {
  linkUserPackages(client.project)
  const entries = [...Object.keys(client.manifest.exports).map((e) => e.replace(/^\./, 'y-server-state'))]
  writeFileSync(
    join(client.project, 'smoke.mjs'),
    `
    import WebSocket from 'ws'
    const entries = {}
    for (const name of ${JSON.stringify(entries)}) {
      entries[name] = { resolved: import.meta.resolve(name), exports: Object.keys(await import(name)) }
    }
    const { connect } = await import('y-server-state')
    const { ServerCounter } = await import('y-server-state/components')
    const options = { url: process.argv[2], room: 'packed', WebSocketPolyfill: WebSocket, broadcastChannel: false }
    const a = connect(options)
    await a.ready
    a.set('count', 41)
    await a.flush()
    const b = connect(options)
    await b.ready
    const synced = b.get('count')
    a.close(); b.close()
    console.log(JSON.stringify({ entries, synced, counterDefined: customElements.get('server-counter') === ServerCounter }))
  `
  )
  writeFileSync(
    join(relay.project, 'smoke.mjs'),
    `
    const relay = await import('y-server-state-relay')
    console.log(JSON.stringify({ 'y-server-state-relay': { resolved: import.meta.resolve('y-server-state-relay'), exports: Object.keys(relay) } }))
  `
  )
  const server = await startInstalledRelay('bin', ['--port', '0', '--memory'])
  let result: { entries: Record<string, { resolved: string; exports: string[] }>; synced: unknown; counterDefined: boolean }
  try {
    result = JSON.parse(run(process.execPath, ['smoke.mjs', server.url], client.project, 20_000)) as typeof result
  } finally {
    assert.equal(await server.stop(), 0, server.stderr())
  }
  const relayEntries = JSON.parse(run(process.execPath, ['smoke.mjs'], relay.project, 20_000)) as typeof result.entries
  const check = (entries: typeof result.entries, project: string) => {
    for (const [name, entry] of Object.entries(entries)) {
      const folder = realpathSync(
        join(project, 'node_modules', name.startsWith('y-server-state-relay') ? 'y-server-state-relay' : 'y-server-state')
      )
      assert.ok(
        new URL(entry.resolved).pathname.startsWith(folder + sep),
        `${name} resolves inside the installed package: ${entry.resolved}`
      )
      assert.ok(entry.exports.length > 0, `${name} exports something`)
      for (const e of EXPORTS[name] ?? []) assert.ok(entry.exports.includes(e), `${name} exports ${e}`)
    }
  }
  check(result.entries, client.project)
  check(relayEntries, relay.project)
  // Lit's Node build brings its own minimal DOM shim, so the elements load and define in Node.
  assert.equal(result.counterDefined, true)
  assert.equal(result.synced, 41)
})

test('tsc type-checks user files importing every entry point against the installed declarations', () => {
  linkUserPackages(relay.project)
  // What TypeScript 5.9's \`tsc --init\` writes, with the declarations of libraries checked too.
  const tsconfig = (file: string) =>
    JSON.stringify({
      compilerOptions: {
        module: 'nodenext',
        target: 'esnext',
        lib: ['esnext', 'dom', 'dom.iterable'],
        types: ['node'],
        noEmit: true,
        strict: true,
        noUncheckedIndexedAccess: true,
        exactOptionalPropertyTypes: true,
        jsx: 'react-jsx',
        verbatimModuleSyntax: true,
        isolatedModules: true,
        noUncheckedSideEffectImports: true,
        moduleDetection: 'force',
        skipLibCheck: false
      },
      files: [file]
    })
  writeFileSync(
    join(client.project, 'user.ts'),
    `
    import { connect, LockTimeoutError, type ServerState } from 'y-server-state'
    import { ServerStateElement } from 'y-server-state/components'
    import { ServerStateProvider, useServerState } from 'y-server-state/react'
    import { html } from 'lit'
    import { createElement } from 'react'

    const server: ServerState<{ count: number }> = connect<{ count: number }>({ room: 'default' })
    const count: number | undefined = server.get('count')
    // @ts-expect-error: the value's type is the shape's
    server.set('count', 'one')
    const done: Promise<number> = server.lock('count', (s) => (s.count += 1), { timeout: 1_000 })
    class Visits extends ServerStateElement {
      override render() { return html\`\${this.state['visits'] ?? 0} \${this.status}\` }
    }
    const Counter = () => String(useServerState<number>('count') ?? 0)
    const page = createElement(ServerStateProvider, { room: 'default' }, createElement(Counter))
    export { count, done, Visits, page, LockTimeoutError }
  `
  )
  writeFileSync(
    join(relay.project, 'user.ts'),
    `
    import { startRelay, signToken, type Relay } from 'y-server-state-relay'
    const relay: Promise<Relay> = startRelay({ port: 0, memory: true })
    // @ts-expect-error: a port is a number
    void startRelay({ port: '1234' })
    const token: Promise<string> = signToken({ secret: 'x'.repeat(32), rooms: ['team/*'] })
    export { relay, token }
  `
  )
  const tsc = join(ROOT, 'node_modules/typescript/bin/tsc')
  for (const [project, entries, folder] of [
    [client.project, ['client', 'components', 'react'], 'y-server-state'],
    [relay.project, ['relay'], 'y-server-state-relay']
  ] as const) {
    writeFileSync(join(project, 'tsconfig.json'), tsconfig('user.ts'))
    const listed = run(process.execPath, [tsc, '-p', '.', '--pretty', 'false', '--listFiles'], project, 240_000)
    for (const entry of entries) {
      assert.ok(
        listed.includes(`node_modules/${folder}/dist/${entry}/index.d.ts`),
        `${entry}'s declarations come from the installed package`
      )
    }
  }
})
