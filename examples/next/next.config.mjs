/**
 * The example's Next.js configuration. It uses the library from this repository's sources, as
 * `y-server-state/react` (tsconfig.json's `paths`), so that it needs no build or publish of the
 * package first: `externalDir` lets Next compile files outside this folder, and the sources'
 * `./x.js` imports name TypeScript files. An app that installs `y-server-state` needs neither.
 *
 * @example
 *   RELAY_URL=ws://127.0.0.1:1234 npx next build && npx next start
 */
import { fileURLToPath } from 'node:url'

/** @type {import('next').NextConfig} */
const config = {
  experimental: { externalDir: true },
  // The repository, whose sources the app compiles (and whose lockfile Next would otherwise guess at).
  outputFileTracingRoot: fileURLToPath(new URL('../..', import.meta.url)),
  webpack: (webpack) => {
    webpack.resolve.extensionAlias = { ...webpack.resolve.extensionAlias, '.js': ['.ts', '.tsx', '.js'] }
    return webpack
  }
}

export default config
