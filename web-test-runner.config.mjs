/**
 * web-test-runner: the browser tests in test/browser, in Debian's Chromium, against a real relay
 * started here. Run through `npm run test:browser`, which loads tsx so that this file can import
 * the relay's TypeScript source. Tests ask for the relay's URL with
 * `executeServerCommand('relay-url')`, and for a counter with `executeServerCommand('relay-metric', name)`.
 * React tests (.tsx) get React as ES modules from test/support/react-esm-plugin.ts; Vue tests get Vue's
 * self-contained browser build (its bundler build reads `process.env`).
 * A second relay, `executeServerCommand('auth-relay-url')`, has an authenticate hook: rooms under
 * `read-only/` are read-only (user `viewer`) unless the token is `writer`; other rooms are writable.
 * RELAY_LOG_LEVEL=debug shows the relay's log.
 */
import { esbuildPlugin } from '@web/dev-server-esbuild'
import { chromeLauncher } from '@web/test-runner-chrome'
import { fileURLToPath } from 'node:url'
import { startRelay } from './relay/server.ts'
import { tokenOf } from './relay/access/tokens.ts'
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './test/support/chromium.ts'
import { reactEsmPlugin } from './test/support/react-esm-plugin.ts'

/** @returns {import('@web/test-runner').TestRunnerPlugin} */
const relayPlugin = () => {
  /** @type {import('./relay/server.ts').Relay | undefined} */
  let relay
  /** @type {import('./relay/server.ts').Relay | undefined} */
  let authRelay
  return {
    name: 'y-server-state-relay',
    async serverStart() {
      const logLevel = process.env.RELAY_LOG_LEVEL ?? 'warn'
      relay = await startRelay({ port: 0, memory: true, logLevel })
      authRelay = await startRelay({
        port: 0,
        memory: true,
        logLevel,
        authenticate: (req, room) =>
          room.startsWith('read-only/') && tokenOf(req) !== 'writer' ? { access: 'read', user: 'viewer' } : { access: 'write' }
      })
    },
    async serverStop() {
      await relay?.close()
      await authRelay?.close()
    },
    executeCommand({ command, payload }) {
      if (command === 'relay-url') return relay?.url
      if (command === 'auth-relay-url') return authRelay?.url
      if (command === 'relay-metric') return relay?.metrics.get(payload)
      return undefined
    }
  }
}

/** @returns {import('@web/test-runner').TestRunnerPlugin} */
const vuePlugin = () => ({
  name: 'vue-esm-browser',
  resolveImport({ source }) {
    return source === 'vue' ? '/node_modules/vue/dist/vue.runtime.esm-browser.js' : undefined
  }
})

export default {
  files: 'test/browser/**/*.test.{ts,tsx}',
  nodeResolve: { exportConditions: ['production'] },
  plugins: [
    reactEsmPlugin(),
    vuePlugin(),
    esbuildPlugin({ ts: true, tsx: true, target: 'es2022', tsconfig: fileURLToPath(new URL('./tsconfig.json', import.meta.url)) }),
    relayPlugin()
  ],
  browsers: [chromeLauncher({ launchOptions: { executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS } })],
  concurrency: 1,
  testFramework: { config: { timeout: 15_000 } },
  testsFinishTimeout: 120_000
}
