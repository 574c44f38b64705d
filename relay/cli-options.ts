/**
 * The relay's command line: flags, environment and help text, parsed into {@link RelayOptions}.
 * Flags override the environment (`HOST`, `PORT`, `DATA_DIR`).
 *
 * @example
 *   parseCli(['--port', '0', '--memory'], process.env) // { host: '127.0.0.1', port: 0, memory: true, … }
 */
import { parseArgs } from 'node:util'
import type { RelayOptions } from './server.js'
import { LOG_LEVELS, type LogLevel } from './log.js'
import { DEFAULT_LIMITS, LIMIT_NAMES, type LimitName, type LimitOptions } from './limits.js'

/** `maxQueuedBytes` → `max-queued-bytes`. */
const flagOf = (name: LimitName): string => name.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())

const LIMIT_HELP: Record<LimitName, string> = {
  maxQueuedBytes: 'bytes queued for one socket; more closes it with 1008',
  maxUpdateItems: 'structs + deleted ranges in one update; more closes with 4413',
  maxRoomBytes: 'size of a room; an update that could pass it closes with 4413',
  maxPendingBytes: 'updates a room holds for missing ones; more closes with 1008',
  maxLockRequests: 'open lock requests per connection; more are DENIED',
  maxLockKeyChars: 'characters of keys in a connection\'s open lock requests',
  maxAwarenessStates: 'awareness states per connection; more are dropped',
  maxAwarenessBytes: 'bytes of one awareness state; a larger one is dropped',
  maxEarlyFrames: 'frames sent before the room is loaded; more closes with 1008',
  maxEarlyBytes: 'bytes sent before the room is loaded; more closes with 1008'
}

const LIMIT_LINES = LIMIT_NAMES.map((name) =>
  `  --${flagOf(name)} N`.padEnd(28) + `${LIMIT_HELP[name]} (default ${DEFAULT_LIMITS[name]})`).join('\n')

export const HELP = `Usage: y-server-state-relay [options]

Serves y-server-state (and any y-websocket client) at ws://HOST:PORT/<room>,
with the demo page at http://HOST:PORT/, /healthz and /metrics.

Options:
  --host HOST               interface to listen on (env HOST; default 127.0.0.1)
  --port PORT               port, 0 for a free one (env PORT; default 1234)
  --data DIR                LevelDB directory for rooms (env DATA_DIR; default ./data)
  --memory                  keep rooms in memory only; nothing survives a restart
  --max-message-bytes N     largest frame accepted; larger closes with 1009 (default 104857600)
  --path-prefix PATH        serve rooms under PATH behind a reverse proxy: ws://HOST/PATH/<room>
  --idle-unload-ms N        unload a room this long after its last connection (default 30000)
  --lease-ms N              lock lease time before the relay takes it back (default 10000)
  --ping-ms N               ws ping interval; no pong by the next ping drops the socket (default 30000)
  --compact-every N         compact a room's store after N writes (default 500)
  --log-level LEVEL         debug, info, warn, error or silent (default info)
  -h, --help                show this help

Limits (README.md, "Limits"; each hit counted in /metrics as yss_limit_hits_total):
${LIMIT_LINES}
`

export class UsageError extends Error {}

const integer = (name: string, value: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined => {
  if (value === undefined) return undefined
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new UsageError(`${name} must be an integer from ${min} to ${max}, not "${value}"`)
  }
  return Number(value)
}

export const parseCli = (argv: string[], env: NodeJS.ProcessEnv): RelayOptions | 'help' => {
  let values
  try {
    values = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        host: { type: 'string' },
        port: { type: 'string' },
        data: { type: 'string' },
        memory: { type: 'boolean' },
        'max-message-bytes': { type: 'string' },
        'path-prefix': { type: 'string' },
        'idle-unload-ms': { type: 'string' },
        'lease-ms': { type: 'string' },
        'ping-ms': { type: 'string' },
        'compact-every': { type: 'string' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        ...Object.fromEntries(LIMIT_NAMES.map((name) => [flagOf(name), { type: 'string' as const }]))
      }
    }).values
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  if (values.help) return 'help'
  const logLevel = values['log-level']
  if (logLevel !== undefined && !(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, not "${logLevel}"`)
  }
  const dataDir = values.data ?? env.DATA_DIR
  if (values.memory && values.data !== undefined) throw new UsageError('--memory and --data exclude each other')
  if (dataDir === '') throw new UsageError('--data needs a directory')
  const pathPrefix = values['path-prefix']
  if (pathPrefix !== undefined && !/^\/[^?#]*[^/?#]$/.test(pathPrefix)) {
    throw new UsageError(`--path-prefix must start with / and not end with /, as in /collab, not "${pathPrefix}"`)
  }
  return {
    host: values.host ?? env.HOST ?? '127.0.0.1',
    port: integer('--port', values.port ?? env.PORT, 0, 65535) ?? 1234,
    ...(values.memory ? { memory: true } : { dataDir: dataDir ?? './data' }),
    maxMessageBytes: integer('--max-message-bytes', values['max-message-bytes'], 1024),
    ...(pathPrefix !== undefined ? { pathPrefix } : {}),
    idleUnloadMs: integer('--idle-unload-ms', values['idle-unload-ms'], 0),
    leaseMs: integer('--lease-ms', values['lease-ms'], 1),
    pingMs: integer('--ping-ms', values['ping-ms'], 100),
    compactEvery: integer('--compact-every', values['compact-every'], 1),
    logLevel: logLevel as LogLevel | undefined,
    ...limitOptions(values as Record<string, string | undefined>)
  }
}

const limitOptions = (values: Record<string, string | undefined>): LimitOptions => {
  const limits: LimitOptions = {}
  for (const name of LIMIT_NAMES) {
    const value = integer(`--${flagOf(name)}`, values[flagOf(name)], 1)
    if (value !== undefined) limits[name] = value
  }
  return limits
}
