/**
 * What a backend asks to write, checked and turned into the doc's writes (protocol/doc-writes.ts):
 * the values made frozen JSON copies, the keys strings, and a quiet write never forced (a force
 * inside `noRerun` is refused in the client too). Shared by the HTTP API and server mutations.
 *
 * @example
 *   toWrites({ set: { count: 2 }, delete: ['old'], force: ['count'] })
 *   // [{ kind: 'set', key: 'count', value: 2, quiet: false }, { kind: 'delete', … }, { kind: 'force', … }]
 *   toWrites({ set: { x: NaN } }) // BadWritesError: server state "x": the value is NaN, not a JSON value
 */
import type { Write } from '../../protocol/doc-writes.js'
import { toFrozenJson } from '../../protocol/json.js'
import { BadWritesError } from './errors.js'

/** Writes of one transaction: `set` first, then `delete`, then `force`. */
export interface BackendWrites {
  readonly set?: Readonly<Record<string, unknown>>
  readonly delete?: readonly string[]
  readonly force?: readonly string[]
  /** Quiet, as `noRerun`: no other session re-runs. A quiet write cannot force. */
  readonly quiet?: boolean
}

const keyOf = (key: unknown): string => {
  if (typeof key !== 'string' || key.length === 0) throw new BadWritesError(`a key is a non-empty string, not ${JSON.stringify(key)}`)
  try {
    return toFrozenJson(key, key) as string
  } catch (err) {
    throw new BadWritesError(`key ${JSON.stringify(key)}: ${(err as Error).message}`)
  }
}

const keysOf = (what: string, keys: unknown): string[] => {
  if (keys === undefined) return []
  if (!Array.isArray(keys)) throw new BadWritesError(`"${what}" is a list of keys`)
  return keys.map(keyOf)
}

/** Checks `writes` and returns them as the doc's writes; throws {@link BadWritesError}. */
export const toWrites = (writes: BackendWrites): Write[] => {
  const quiet = writes.quiet === true
  const out: Write[] = []
  const set = writes.set ?? {}
  if (typeof set !== 'object' || set === null || Array.isArray(set)) throw new BadWritesError('"set" is an object of keys and values')
  for (const [key, value] of Object.entries(set)) {
    keyOf(key)
    try {
      out.push({ kind: 'set', key, value: toFrozenJson(key, value), quiet })
    } catch (err) {
      throw new BadWritesError((err as Error).message)
    }
  }
  const deleted = keysOf('delete', writes.delete)
  for (const key of deleted) {
    if (Object.hasOwn(set, key)) throw new BadWritesError(`key "${key}" is both set and deleted`)
    out.push({ kind: 'delete', key, quiet })
  }
  const forced = keysOf('force', writes.force)
  if (quiet && forced.length > 0) throw new BadWritesError('a quiet write cannot force a re-run')
  for (const key of forced) out.push({ kind: 'force', key, quiet: false })
  return out
}

/** The keys `writes` name, each once, in order. */
export const writtenKeys = (writes: readonly Write[]): string[] => [...new Set(writes.map((w) => w.key))]
