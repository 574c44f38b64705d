/**
 * Builds the demo pages into one folder (default `dist/demo`) that holds every file they need, so
 * that the relay can serve that folder alone: the Lit page (`index.html`, `demo.js` from
 * `demo/main.ts`), the React page (`react.html`, `react.js` from `demo/react-main.tsx`), the
 * inspector (`inspect.html`, `inspect.js`), their style sheets, and source maps. With
 * `--relay-pages` only what the relay package ships: the inspector, and `relay.html` as its
 * landing page `index.html` (no demo bundle). Run as
 * `node --import tsx demo/build.ts [outdir] [--relay-pages] [--no-sourcemap]`; the relay
 * package's `prepack` builds its pages without source maps (they embed Lit's sources).
 *
 * @example
 *   import { buildDemo } from './demo/build.js'
 *   await buildDemo('test/.tmp/demo')
 *   await buildDemo('relay/dist/pages', { sourcemap: false, pages: 'relay' })
 */
import { build } from 'esbuild'
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs'
import { extname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url))

/** The demo's files that are served as they are. */
const STATIC = new Set(['.html', '.css'])

/** The relay package's pages: the inspector's files, and the landing page under the name it is served at. */
const RELAY_PAGES: Record<string, string> = {
  'inspect.html': 'inspect.html',
  'inspect.css': 'inspect.css',
  'demo.css': 'demo.css',
  'relay.html': 'index.html'
}

export interface BuildOptions {
  /** Source maps beside the bundles (default true). */
  sourcemap?: boolean
  /** `demo` (default): every page; `relay`: the relay package's pages only. */
  pages?: 'demo' | 'relay'
}

/** Writes the pages, their bundles (and, unless told not to, source maps) and style sheets into `outdir`. */
export const buildDemo = async (outdir: string, { sourcemap = true, pages = 'demo' }: BuildOptions = {}): Promise<void> => {
  // The inspector, served at /inspect, is inspect.html with inspect.js from demo/inspect.ts.
  const inspect = here('./inspect.ts')
  await build({
    entryPoints: pages === 'relay' ? { inspect } : { demo: here('./main.ts'), react: here('./react-main.tsx'), inspect },
    outdir,
    bundle: true,
    format: 'esm',
    target: 'es2022',
    // Lit's and React's production builds: no dev-mode warnings in the console.
    conditions: ['production'],
    define: { 'process.env.NODE_ENV': '"production"' },
    minify: true,
    sourcemap,
    tsconfig: here('../tsconfig.json'),
    logLevel: 'warning'
  })
  mkdirSync(outdir, { recursive: true })
  for (const name of readdirSync(here('.'))) {
    const target = pages === 'relay' ? RELAY_PAGES[name] : STATIC.has(extname(name)) ? name : undefined
    if (target !== undefined) copyFileSync(join(here('.'), name), join(outdir, target))
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2)
  const outdir = args.find((arg) => !arg.startsWith('--')) ?? here('../dist/demo')
  await buildDemo(outdir, { sourcemap: !args.includes('--no-sourcemap'), pages: args.includes('--relay-pages') ? 'relay' : 'demo' })
}
