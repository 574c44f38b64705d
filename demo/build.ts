/**
 * Bundles the demo page's script with esbuild: `node --import tsx demo/build.ts [outdir]`
 * (default `dist/demo`). The relay serves `demo/index.html` and `dist/demo/`, so the page finds it
 * at `/demo.js`.
 *
 * @example
 *   import { buildDemo } from './demo/build.js'
 *   await buildDemo('test/.tmp/demo')
 */
import { build } from 'esbuild'
import { fileURLToPath } from 'node:url'

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url))

/** Writes `demo.js` (and its source map) into `outdir`. */
export const buildDemo = async (outdir: string): Promise<void> => {
  await build({
    entryPoints: { demo: here('./main.ts') },
    outdir,
    bundle: true,
    format: 'esm',
    target: 'es2022',
    // Lit's production build: no dev-mode warning in the console.
    conditions: ['production'],
    minify: true,
    sourcemap: true,
    tsconfig: here('../tsconfig.json'),
    logLevel: 'warning'
  })
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildDemo(process.argv[2] ?? here('../dist/demo'))
}
