/**
 * The relay's command line: flags, environment and help text, parsed into {@link RelayOptions},
 * and the `token` command's, parsed into {@link SignTokenOptions}. Flags override the environment
 * (`HOST`, `PORT`, `DATA_DIR`, `AUTH_SECRET`). Key files are read here.
 *
 * @example
 *   parseCli(['--port', '0', '--memory'], process.env) // { host: '127.0.0.1', port: 0, memory: true, … }
 *   parseTokenCli(['--room', 'team/*', '--read'], { AUTH_SECRET: '…' }) // { secret: '…', rooms: ['team/*'], access: 'read', ttl: '1h' }
 */
import { readFileSync } from 'node:fs'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import type { RelayOptions } from './server.js'
import type { SignTokenOptions } from './access/tokens.js'
import { parseTtl } from './access/tokens.js'
import { LOG_LEVELS, type LogLevel } from './log.js'
import { FSYNC_MODES, type Fsync } from './store/level-store.js'
import { CLUSTER_FLAGS, CLUSTER_HELP, clusterFromCli } from './cluster/cli.js'
import { WEBHOOK_FLAGS, WEBHOOK_HELP, webhooksFromCli } from './webhooks/cli.js'
import { DEFAULT_LIMITS, LIMIT_NAMES, type LimitName, type LimitOptions } from './limits.js'

/** `maxQueuedBytes` → `max-queued-bytes`. */
const flagOf = (name: LimitName): string => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)

const LIMIT_HELP: Record<LimitName, string> = {
  maxQueuedBytes: 'bytes queued for one socket; more closes it with 1008',
  maxQueuedBytesTotal: 'bytes queued for all sockets; more closes those holding most with 1013',
  maxDrainMs: 'time a socket has to drain what is queued for it; else closed with 1008',
  maxConnectionsPerAddress: 'open WebSockets per client address (not loopback unless --cap-loopback); more get HTTP 429',
  maxUpdateItems: 'structs + deleted ranges + client entries in one update; more closes with 4413',
  maxUpdateWork: 'structs one update may walk or split in the room (a split counts 200); more closes with 4413',
  maxRoomBytes: 'size of a room; an update that could pass it closes with 4413',
  maxPendingBytes: 'updates a room holds for missing ones; more closes with 1008',
  maxLockRequests: 'open lock requests (and COMMITs in one batch) per connection; more are DENIED',
  maxLockKeyChars: "characters of keys in a connection's open lock requests",
  maxAwarenessStates: 'awareness states per connection; more are dropped',
  maxAwarenessBytes: 'bytes of one awareness state; a larger one is dropped',
  maxIdleRooms: 'rooms kept loaded with no connection; past it the longest idle is unloaded at once',
  maxEarlyFrames: 'frames sent before the room is loaded; more closes with 1008',
  maxEarlyBytes: 'bytes sent before the room is loaded; more closes with 1008',
  maxHttpBodyBytes: 'bytes of one HTTP API request body; more is answered 413',
  maxHttpRequests: 'HTTP API requests in progress at once, long polls included; more get 429',
  maxHttpLeases: 'HTTP leases open at once (waiting or held); more get 429',
  maxEventStreams: 'open event streams (GET /rooms/<room>/events); more get HTTP 429',
  maxWebhookBatchesPerRoom: "a room's webhook batches waiting for delivery; past it the oldest is dropped",
  maxWebhookBatches: 'webhook batches waiting for delivery, all rooms; past it the oldest are dropped'
}

const LIMIT_LINES = LIMIT_NAMES.map(
  (name) => `${`  --${flagOf(name)} N `.padEnd(28)}${LIMIT_HELP[name]} (default ${DEFAULT_LIMITS[name]})`
).join('\n')

export const HELP = `Usage: y-server-state-relay [options]

Serves y-server-state (and any y-websocket client) at ws://HOST:PORT/<room>,
with the demo page at http://HOST:PORT/, the inspector at /inspect, /healthz and /metrics.

Options:
  --host HOST               interface to listen on (env HOST; default 127.0.0.1)
  --port PORT               port, 0 for a free one (env PORT; default 1234)
  --data DIR                LevelDB directory for rooms (env DATA_DIR; default ./data)
  --memory                  keep rooms in memory only; nothing survives a restart
  --fsync always|never      always (default): each batch of writes is fsynced before any of it is
                            echoed or any lock on it resolves, so what a client saw survives a
                            relay crash, a power cut and a kernel crash; never: the operating
                            system writes it when it will, which survives a relay crash (SIGKILL)
                            but may lose the last seconds to a power cut or kernel crash (env FSYNC)
  --max-message-bytes N     largest frame accepted; larger closes with 1009 (default 104857600)
  --path-prefix PATH        serve rooms under PATH behind a reverse proxy: ws://HOST/PATH/<room>
  --idle-unload-ms N        unload a room this long after its last connection (default 30000)
  --lease-ms N              lock lease time before the relay takes it back (default 10000)
  --waiter-hold-ms N        hold others' writes back from a lock waiter up to N ms, merged (default 10; 0: off)
  --ping-ms N               ws ping interval; a socket silent until the next ping, no pong either, is dropped (default 30000)
  --compact-every N         compact a room's store after N writes (default 500)
  --log-level LEVEL         debug, info, warn, error or silent (default info)

Access (with none of --auth-secret, --auth-public-key, only a loopback host is served, to pages
of loopback origins and clients that send no Origin, with a loopback Host header):
  --auth-secret SECRET      require a JWT signed with SECRET, HS256, 32+ bytes (env AUTH_SECRET)
  --auth-public-key FILE    require a JWT signed by the key pair of this PEM public key (ES256, RS256)
  --anonymous               serve anyone with no token, even on a host that is not loopback
  --allowed-origins A,B     refuse (4403) browser pages from other origins, e.g. https://app.example.com;
                            with no access control, adds to the loopback ones and lifts the Host check
  --read-only-presence      publish the presence of read-only connections (default: dropped)
  --max-token-ttl DURATION  refuse (4401) a token whose exp is further away: seconds, or 30m, 1h, 7d (default 1d)
  --cap-loopback            count loopback addresses against --max-connections-per-address too
  --source-maps             serve the demo's .map files (they carry its sources; default: 404)
  -h, --help                show this help

Limits and budgets (docs/limits.md: what a client sees on each; hits counted in /metrics as
yss_limit_hits_total; log lines a client can cause are written once a minute per kind):
${LIMIT_LINES}
${CLUSTER_HELP}${WEBHOOK_HELP}
  y-server-state-relay token --help   prints a token for a script or a try
`

export const TOKEN_HELP = `Usage: y-server-state-relay token --room PATTERN [options]

Prints one access token (a JWT) and exits.

Options:
  --room PATTERN            a room pattern the token covers, * for any run of characters;
                            repeat for several ('team/*', 'lobby')
  --read                    read-only access (default: write)
  --sub USER                the user, told to the relay and the client
  --ttl DURATION            lifetime: seconds, or 90s, 30m, 1h, 7d (default 1h)
  --inspect                 may also inspect the rooms it covers (/inspect); --room '*' for all
  --auth-secret SECRET      sign with SECRET, HS256 (env AUTH_SECRET)
  --private-key FILE        sign with this PEM private key (PKCS #8; ES256 for P-256, RS256 for RSA)
  -h, --help                show this help
`

export class UsageError extends Error {}

/** `parseArgs`, its errors as {@link UsageError}s. */
const parse = <T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>>['values'] => {
  try {
    return parseArgs(config).values
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
}

const keyFile = (flag: string, path: string): string => {
  try {
    return readFileSync(path, 'utf8')
  } catch (err) {
    throw new UsageError(`${flag}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
}

const ttlFlag = (flag: string, value: string): number => {
  try {
    return parseTtl(value)
  } catch (err) {
    throw new UsageError(`${flag}: ${(err as Error).message}`)
  }
}

const integer = (name: string, value: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined => {
  if (value === undefined) return undefined
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new UsageError(`${name} must be an integer from ${min} to ${max}, not "${value}"`)
  }
  return Number(value)
}

export const parseCli = (argv: string[], env: NodeJS.ProcessEnv): RelayOptions | 'help' => {
  const values = parse({
    args: argv,
    strict: true,
    allowPositionals: false,
    allowNegative: true,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      data: { type: 'string' },
      memory: { type: 'boolean' },
      fsync: { type: 'string' },
      'max-message-bytes': { type: 'string' },
      'path-prefix': { type: 'string' },
      'idle-unload-ms': { type: 'string' },
      'lease-ms': { type: 'string' },
      'waiter-hold-ms': { type: 'string' },
      'ping-ms': { type: 'string' },
      'compact-every': { type: 'string' },
      'log-level': { type: 'string' },
      'auth-secret': { type: 'string' },
      'auth-public-key': { type: 'string' },
      anonymous: { type: 'boolean' },
      'allowed-origins': { type: 'string' },
      'read-only-presence': { type: 'boolean' },
      'cap-loopback': { type: 'boolean' },
      'source-maps': { type: 'boolean' },
      'max-token-ttl': { type: 'string' },
      ...CLUSTER_FLAGS,
      ...WEBHOOK_FLAGS,
      ...Object.fromEntries(LIMIT_NAMES.map((name) => [flagOf(name), { type: 'string' as const }])),
      help: { type: 'boolean', short: 'h' }
    }
  })
  if (values.help) return 'help'
  const shared = clusterFromCli(values, env, (m) => new UsageError(m))
  const hooks = webhooksFromCli(values, env, (m) => new UsageError(m))
  if (shared.redis !== undefined && (values.data !== undefined || values.memory))
    throw new UsageError('--redis excludes --data and --memory: rooms are kept in Redis and PostgreSQL')
  const logLevel = values['log-level']
  if (logLevel !== undefined && !(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, not "${logLevel}"`)
  }
  const dataDir = values.data ?? env.DATA_DIR
  if (values.memory && values.data !== undefined) throw new UsageError('--memory and --data exclude each other')
  if (dataDir === '') throw new UsageError('--data needs a directory')
  const fsync = values.fsync ?? (env.FSYNC || undefined)
  if (fsync !== undefined && !(FSYNC_MODES as readonly string[]).includes(fsync))
    throw new UsageError(`--fsync must be always or never, not "${fsync}"`)
  if (fsync !== undefined && (values.memory || shared.redis !== undefined)) {
    throw new UsageError(
      `--fsync is for the embedded store: ${values.memory ? 'with --memory nothing is written' : 'Redis and PostgreSQL sync by their own settings'}`
    )
  }
  const pathPrefix = values['path-prefix']
  if (pathPrefix !== undefined && !/^\/[^?#]*[^/?#]$/.test(pathPrefix)) {
    throw new UsageError(`--path-prefix must start with / and not end with /, as in /collab, not "${pathPrefix}"`)
  }
  const publicKeyFile = values['auth-public-key']
  // A flag overrides the environment: --auth-public-key wins over AUTH_SECRET. An empty AUTH_SECRET is unset.
  const secret = values['auth-secret'] ?? (publicKeyFile === undefined ? env.AUTH_SECRET || undefined : undefined)
  if (secret !== undefined && publicKeyFile !== undefined) throw new UsageError('--auth-secret and --auth-public-key exclude each other')
  if (secret === '') throw new UsageError('--auth-secret needs a secret')
  if (values.anonymous && (secret !== undefined || publicKeyFile !== undefined)) {
    throw new UsageError(`--anonymous excludes ${secret !== undefined ? '--auth-secret (or AUTH_SECRET)' : '--auth-public-key'}`)
  }
  const origins = values['allowed-origins']
    ?.split(',')
    .map((o) => o.trim())
    .filter((o) => o !== '')
  if (origins?.length === 0) throw new UsageError('--allowed-origins needs at least one origin, as in https://app.example.com')
  const readOnlyPresence = values['read-only-presence']
  return {
    host: values.host ?? env.HOST ?? '127.0.0.1',
    port: integer('--port', values.port ?? env.PORT, 0, 65535) ?? 1234,
    ...(values.memory ? { memory: true } : { dataDir: dataDir ?? './data' }),
    ...(fsync !== undefined ? { fsync: fsync as Fsync } : {}),
    maxMessageBytes: integer('--max-message-bytes', values['max-message-bytes'], 1024),
    ...(pathPrefix !== undefined ? { pathPrefix } : {}),
    idleUnloadMs: integer('--idle-unload-ms', values['idle-unload-ms'], 0),
    leaseMs: integer('--lease-ms', values['lease-ms'], 1),
    waiterHoldMs: integer('--waiter-hold-ms', values['waiter-hold-ms'], 0, 60_000),
    pingMs: integer('--ping-ms', values['ping-ms'], 100),
    compactEvery: integer('--compact-every', values['compact-every'], 1),
    logLevel: logLevel as LogLevel | undefined,
    ...(secret !== undefined ? { authSecret: secret } : {}),
    ...(publicKeyFile !== undefined ? { authPublicKey: keyFile('--auth-public-key', publicKeyFile) } : {}),
    ...(values.anonymous ? { anonymous: true } : {}),
    ...(origins ? { allowedOrigins: origins } : {}),
    ...(readOnlyPresence !== undefined ? { readOnlyPresence } : {}),
    ...(values['cap-loopback'] ? { capLoopback: true } : {}),
    ...(values['source-maps'] ? { sourceMaps: true } : {}),
    ...(values['max-token-ttl'] !== undefined ? { maxTokenTtl: ttlFlag('--max-token-ttl', values['max-token-ttl']) } : {}),
    ...limitOptions(values as Record<string, string | undefined>),
    ...shared,
    ...hooks
  }
}

/** The `token` command's flags: what to sign, and with which key. */
export const parseTokenCli = (argv: string[], env: NodeJS.ProcessEnv): SignTokenOptions | 'help' => {
  const values = parse({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      room: { type: 'string', multiple: true },
      read: { type: 'boolean' },
      sub: { type: 'string' },
      ttl: { type: 'string' },
      inspect: { type: 'boolean' },
      'auth-secret': { type: 'string' },
      'private-key': { type: 'string' },
      help: { type: 'boolean', short: 'h' }
    }
  })
  if (values.help) return 'help'
  const rooms = values.room ?? []
  if (rooms.length === 0 || rooms.some((r) => r === '')) throw new UsageError("token needs --room PATTERN, as in --room 'team/*'")
  const ttl = values.ttl ?? '1h'
  try {
    parseTtl(ttl)
  } catch (err) {
    throw new UsageError(`--ttl: ${(err as Error).message}`)
  }
  const keyPath = values['private-key']
  const secret = values['auth-secret'] ?? (keyPath === undefined ? env.AUTH_SECRET || undefined : undefined)
  if (secret !== undefined && keyPath !== undefined) throw new UsageError('--auth-secret and --private-key exclude each other')
  if (!secret && keyPath === undefined)
    throw new UsageError('token needs a key: --auth-secret SECRET (or AUTH_SECRET) or --private-key FILE')
  return {
    ...(keyPath !== undefined ? { privateKey: keyFile('--private-key', keyPath) } : { secret: secret! }),
    rooms,
    access: values.read ? 'read' : 'write',
    ...(values.sub !== undefined ? { sub: values.sub } : {}),
    ...(values.inspect ? { inspect: true } : {}),
    ttl
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
