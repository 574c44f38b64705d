/**
 * Structured log lines in logfmt (`time=… level=info msg="listening" url=ws://…`): greppable by
 * field, readable by a person, one line an event.
 *
 * @example
 *   const log = createLogger('info')
 *   log.warn('connection closed', { room: 'default', code: 1002 })
 */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]
export type LogFields = Record<string, string | number | boolean | undefined>

export interface Logger {
  debug(msg: string, fields?: LogFields): void
  info(msg: string, fields?: LogFields): void
  warn(msg: string, fields?: LogFields): void
  error(msg: string, fields?: LogFields): void
}

/**
 * Longest field value written, in characters: a longer one is cut, with a note of how much was
 * left out. Fields carry what clients sent (lock keys, room names, reasons), and no client may
 * make the log grow faster than the lines it causes.
 */
export const MAX_FIELD_CHARS = 512

const quote = (v: string): string => (/^[\w.:/@+-]+$/.test(v) ? v : JSON.stringify(v))

const capped = (v: string): string =>
  v.length <= MAX_FIELD_CHARS ? v : `${v.slice(0, MAX_FIELD_CHARS)}…(${v.length - MAX_FIELD_CHARS} more chars)`

export const formatLine = (level: string, msg: string, fields: LogFields = {}): string => {
  let line = `time=${new Date().toISOString()} level=${level} msg=${JSON.stringify(capped(msg))}`
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) line += ` ${k}=${quote(capped(String(v)))}`
  return line
}

export const createLogger = (
  level: LogLevel = 'info',
  write: (line: string) => void = (line) => process.stdout.write(`${line}\n`)
): Logger => {
  const min = LOG_LEVELS.indexOf(level)
  const at = (l: Exclude<LogLevel, 'silent'>) => (msg: string, fields?: LogFields) => {
    if (LOG_LEVELS.indexOf(l) >= min) write(formatLine(l, msg, fields))
  }
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
}
