#!/usr/bin/env node
/**
 * `y-server-state-relay`: the relay from the command line. A bad flag or value exits with
 * status 2; SIGTERM and SIGINT shut it down cleanly with status 0.
 */
import { startRelay } from './server.js'
import { HELP, UsageError, parseCli } from './cli-options.js'

const main = async (): Promise<void> => {
  let options
  try {
    options = parseCli(process.argv.slice(2), process.env)
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    process.stderr.write(`y-server-state-relay: ${err.message}\nTry --help.\n`)
    process.exit(2)
  }
  if (options === 'help') {
    process.stdout.write(HELP)
    return
  }
  const relay = await startRelay(options)
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
    relay.close().then(() => process.exit(0), (err) => {
      process.stderr.write(`y-server-state-relay: shutdown failed: ${String(err)}\n`)
      process.exit(1)
    })
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
}

main().catch((err) => {
  process.stderr.write(`y-server-state-relay: ${(err as Error).message}\n`)
  process.exit(1)
})
