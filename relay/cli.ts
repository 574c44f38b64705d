#!/usr/bin/env node
/**
 * `y-server-state-relay`: the relay from the command line. A bad flag or value exits with
 * status 2; a relay that cannot start (a port in use, no access control on a public host) exits
 * with 1 and says why; SIGTERM and SIGINT shut it down cleanly with status 0.
 * `y-server-state-relay token --room PATTERN …` prints one access token and exits 0.
 */
import { startRelay } from './server.js'
import { signToken } from './access/tokens.js'
import { HELP, TOKEN_HELP, UsageError, parseCli, parseTokenCli } from './cli-options.js'
import { loadMutations } from './mutations/load-module.js'

/** Parses with `parse`; a usage error exits 2. */
const parsed = <T>(parse: () => T, command: string): T => {
  try {
    return parse()
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    process.stderr.write(`y-server-state-relay: ${err.message}\nTry ${command}--help.\n`)
    process.exit(2)
  }
}

const token = async (argv: string[]): Promise<void> => {
  const options = parsed(() => parseTokenCli(argv, process.env), 'token ')
  if (options === 'help') return void process.stdout.write(TOKEN_HELP)
  process.stdout.write(`${await signToken(options)}\n`)
}

const main = async (): Promise<void> => {
  if (process.argv[2] === 'token') return token(process.argv.slice(3))
  const options = parsed(() => parseCli(process.argv.slice(2), process.env), '')
  if (options === 'help') {
    process.stdout.write(HELP)
    return
  }
  const { mutationsModule, ...relayOptions } = options
  // A module that fails to load stops the start (exit 1, below), before any port is opened.
  const loaded = mutationsModule !== undefined ? await loadMutations(mutationsModule, process.cwd()) : {}
  const relay = await startRelay({ ...relayOptions, ...loaded })
  // Always printed, whatever the log level: scripts wait for this line to learn the port.
  process.stdout.write(`y-server-state relay listening on ${relay.url} (demo page: ${relay.httpUrl})\n`)
  let stopping = false
  const stop = (signal: string) => {
    if (stopping) process.exit(1)
    stopping = true
    setTimeout(() => {
      process.stderr.write(`y-server-state-relay: shutdown after ${signal} took too long\n`)
      process.exit(1)
    }, 8_000).unref()
    relay.close().then(
      () => process.exit(0),
      (err) => {
        process.stderr.write(`y-server-state-relay: shutdown failed: ${String(err)}\n`)
        process.exit(1)
      }
    )
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
}

main().catch((err) => {
  process.stderr.write(`y-server-state-relay: ${(err as Error).message}\n`)
  process.exit(1)
})
