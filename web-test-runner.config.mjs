/**
 * web-test-runner: the browser tests in test/browser, in Debian's Chromium, against a real relay
 * started here. Run through `npm run test:browser`, which loads tsx so that this file can import
 * the relay's TypeScript source. Tests ask for the relay's URL with
 * `executeServerCommand('relay-url')`, and for a counter with `executeServerCommand('relay-metric', name)`.
 * React tests (.tsx) get React as ES modules from test/react-esm-plugin.ts.
 * RELAY_LOG_LEVEL=debug shows the relay's log.
 */
import { esbuildPlugin } from '@web/dev-server-esbuild'
import { chromeLauncher } from '@web/test-runner-chrome'
import { fileURLToPath } from 'node:url'
import { startRelay } from './relay/server.ts'
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './test/chromium.ts'
import { reactEsmPlugin } from './test/react-esm-plugin.ts'

/** @returns {import('@web/test-runner').TestRunnerPlugin} */
const relayPlugin = () => {
  /** @type {import('./relay/server.ts').Relay | undefined} */
  let relay
  return {
    name: 'y-server-state-relay',
    async serverStart() {
      relay = await startRelay({ port: 0, memory: true, logLevel: process.env.RELAY_LOG_LEVEL ?? 'warn' })
    },
    async serverStop() {
      await relay?.close()
    },
    executeCommand({ command, payload }) {
      if (command === 'relay-url') return relay?.url
      if (command === 'relay-metric') return relay?.metrics.get(payload)
      return undefined
    }
  }
}

export default {
  files: 'test/browser/**/*.test.{ts,tsx}',
  nodeResolve: { exportConditions: ['production'] },
  plugins: [
    reactEsmPlugin(),
    esbuildPlugin({ ts: true, tsx: true, target: 'es2022', tsconfig: fileURLToPath(new URL('./tsconfig.json', import.meta.url)) }),
    relayPlugin()
  ],
  browsers: [chromeLauncher({ launchOptions: { executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS } })],
  concurrency: 1,
  testFramework: { config: { timeout: 15_000 } },
  testsFinishTimeout: 120_000
}
