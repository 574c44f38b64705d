/**
 * Builds the demo pages into one folder (default `dist/demo`) that holds every file they need, so
 * that the relay can serve that folder alone: the Lit page (`index.html`, `demo.js` from
 * `demo/main.ts`), the React page (`react.html`, `react.js` from `demo/react-main.tsx`), their
 * style sheets, and source maps. Run as `node --import tsx demo/build.ts [outdir] [--no-sourcemap]`;
 * `npm pack` builds without source maps (they embed Lit's and React's sources: megabytes a user
 * of the package does not need).
 *
 * @example
 *   import { buildDemo } from './demo/build.js'
 *   await buildDemo('test/.tmp/demo')
 */
import { build } from 'esbuild'
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs'
import { extname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url))

/** The demo's files that are served as they are. */
const STATIC = new Set(['.html', '.css'])

/** Writes the pages, their bundles (and, unless told not to, source maps) and style sheets into `outdir`. */
export const buildDemo = async (outdir: string, { sourcemap = true }: { sourcemap?: boolean } = {}): Promise<void> => {
  await build({
    // The inspector, served at /inspect, is inspect.html with inspect.js from demo/inspect.ts.
    entryPoints: { demo: here('./main.ts'), react: here('./react-main.tsx'), inspect: here('./inspect.ts') },
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
    if (STATIC.has(extname(name))) copyFileSync(join(here('.'), name), join(outdir, name))
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2)
  const outdir = args.find((arg) => !arg.startsWith('--')) ?? here('../dist/demo')
  await buildDemo(outdir, { sourcemap: !args.includes('--no-sourcemap') })
}
