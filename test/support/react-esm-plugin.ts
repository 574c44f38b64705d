/**
 * A web-test-runner plugin that serves React to the browser tests as ES modules. React ships
 * CommonJS only, which the dev server does not convert: this bundles `react`, `react-dom`,
 * `react-dom/client`, `react-dom/server` (its browser build) and the JSX runtimes once with
 * esbuild (one copy of React for all of them), and answers each bare import with a small module
 * that re-exports that specifier's names.
 *
 * @example
 *   // web-test-runner.config.mjs
 *   plugins: [reactEsmPlugin(), esbuildPlugin({ ts: true, tsx: true, target: 'es2022', tsconfig })]
 */
import { build } from 'esbuild'
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const SPECIFIERS = ['react', 'react/jsx-runtime', 'react/jsx-dev-runtime', 'react-dom', 'react-dom/client', 'react-dom/server']
const PREFIX = '/__react-esm__/'
const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/

/** One bundle of every specifier, exporting each one's CommonJS exports as `m0`, `m1`… */
const bundle = async (): Promise<string> => {
  const result = await build({
    stdin: {
      contents:
        SPECIFIERS.map((s, i) => `import * as m${i} from '${s}'`).join('\n') +
        `\nexport { ${SPECIFIERS.map((_, i) => `m${i}`).join(', ')} }\n`,
      resolveDir: ROOT,
      loader: 'js'
    },
    bundle: true,
    format: 'esm',
    target: 'es2022',
    write: false,
    // React's development build: its warnings show in the tests.
    define: { 'process.env.NODE_ENV': '"development"' },
    logLevel: 'warning'
  })
  return result.outputFiles[0]!.text
}

/**
 * Each specifier's export names, from the development build as the bundle has it. Read in a child
 * process: React's development build patches the console, which the test runner has replaced.
 */
const exportNames = (): string[][] =>
  JSON.parse(
    execFileSync(
      process.execPath,
      ['-e', `console.log(JSON.stringify(${JSON.stringify(SPECIFIERS)}.map((s) => Object.keys(require(s)))))`],
      { cwd: ROOT, env: { ...process.env, NODE_ENV: 'development', NODE_OPTIONS: '' }, encoding: 'utf8' }
    )
  )

/** The module answering `import … from SPECIFIERS[i]`. */
const facade = (i: number, all: string[][]): string => {
  const names = all[i]!.filter((n) => n !== 'default' && IDENTIFIER.test(n))
  return (
    `import { m${i} as m } from '${PREFIX}bundle.js'\n` +
    'const cjs = m.default ?? m\nexport default cjs\n' +
    `export const { ${names.join(', ')} } = cjs\n`
  )
}

export const reactEsmPlugin = () => {
  let bundled: Promise<string> | undefined
  let names: string[][] | undefined
  return {
    name: 'react-esm',
    resolveImport({ source }: { source: string }): string | undefined {
      const i = SPECIFIERS.indexOf(source)
      return i >= 0 ? `${PREFIX}${i}.js` : undefined
    },
    async serve(context: { path: string }): Promise<{ body: string; type: string } | undefined> {
      if (!context.path.startsWith(PREFIX)) return undefined
      const name = context.path.slice(PREFIX.length)
      if (name === 'bundle.js') {
        bundled ??= bundle()
        return { body: await bundled, type: 'js' }
      }
      const i = Number(name.replace(/\.js$/, ''))
      if (!Number.isInteger(i) || !SPECIFIERS[i]) return undefined
      names ??= exportNames()
      return { body: facade(i, names), type: 'js' }
    }
  }
}
