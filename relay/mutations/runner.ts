/**
 * Runs server mutations on a room's backend (relay/backend/): validate the arguments, take the
 * leases of the declared keys (FIFO with every lock on them, so it holds on a cluster too), run
 * the mutation synchronously on a {@link Draft} of their values at the grant, commit what it
 * changed as one transaction, and answer its result once that is stored. Every failure before the
 * commit applies nothing and releases the leases; it is a {@link MutationFailure} with the code
 * the socket (RESULT) and HTTP answers carry.
 *
 * @example
 *   const runner = new MutationRunner(mutations, (room) => backends.room(room), { timeoutMs: 10_000, metrics })
 *   await runner.run('bank', 'transfer', { from: 'ann', to: 'bob', amount: 5 }, { user: 'ann', via: 'http' })
 *   // the result, once stored; or throws MutationFailure('invalid_args' | 'mutation_failed' | …)
 */
import { MAX_LOCK_KEYS, type CallError } from '../../protocol/messages.js'
import { toFrozenJson, type Json } from '../../protocol/json.js'
import type { Metrics } from '../metrics.js'
import type { RoomAccess } from '../backend/backends.js'
import { BackendClosedError, BadWritesError, LeaseEndedError, LockTimeoutError, OverLimitError } from '../backend/errors.js'
import { isUnavailable } from '../store/unavailable.js'
import { Draft } from './draft.js'
import type { Caller, Mutation, Mutations } from './mutation.js'

/** Why a call did not resolve; nothing of it was applied, unless `code` is `unavailable` after the commit was sent. */
export class MutationFailure extends Error {
  override name = 'MutationFailure'
  constructor(
    readonly code: Exclude<CallError, 'read_only'>,
    message: string
  ) {
    super(message)
  }
}

/** The message of what a mutation threw: its own words, never its stack. */
const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err)).slice(0, 1_000)

export interface RunnerOptions {
  /** How long a call waits for its leases. */
  timeoutMs: number
  metrics: Metrics
}

export class MutationRunner {
  constructor(
    private readonly mutations: Mutations,
    private readonly roomAccess: (room: string) => RoomAccess,
    private readonly options: RunnerOptions
  ) {}

  /** Whether a mutation of this name exists. */
  has(name: string): boolean {
    return Object.hasOwn(this.mutations, name)
  }

  /**
   * Runs mutation `name` in `room` with the raw arguments `raw`; resolves with its result once its
   * writes are stored. `signal` withdraws the call while it waits for its leases.
   */
  async run(room: string, name: string, raw: unknown, who: Caller, signal?: AbortSignal): Promise<Json> {
    try {
      const result = await this.runOnce(room, name, raw, who, signal)
      this.options.metrics.inc('mutations_total')
      return result
    } catch (err) {
      this.options.metrics.inc('mutations_failed_total')
      throw err
    }
  }

  private async runOnce(room: string, name: string, raw: unknown, who: Caller, signal?: AbortSignal): Promise<Json> {
    if (!this.has(name)) throw new MutationFailure('no_such_mutation', `no mutation ${JSON.stringify(name.slice(0, 100))} on this relay`)
    const m = this.mutations[name] as Mutation<unknown, unknown>
    let args: unknown
    let keys: string[]
    try {
      args = m.validate ? m.validate(raw) : raw
      keys = keysOf(typeof m.keys === 'function' ? m.keys(args) : m.keys)
    } catch (err) {
      throw new MutationFailure('invalid_args', messageOf(err))
    }
    const access = this.roomAccess(room)
    const lease = await access.acquire(keys, { timeoutMs: this.options.timeoutMs, ...(signal ? { signal } : {}) }).catch((err) => {
      throw failureOf(err)
    })
    const draft = new Draft(name, keys, lease.values)
    let result: Json
    try {
      const value = m.run(draft.state, args, who)
      if (typeof (value as { then?: unknown } | null)?.then === 'function')
        throw new Error('run() returned a promise: a mutation is synchronous (its writes are made under its leases, before it returns)')
      result = toFrozenJson(`the result of mutation "${name}"`, value === undefined ? null : value)
    } catch (err) {
      access.release(lease.id)
      throw new MutationFailure('mutation_failed', messageOf(err))
    }
    const writes = draft.writes()
    if (Object.keys(writes.set).length === 0 && writes.delete.length === 0) {
      access.release(lease.id)
      return result
    }
    await access.commit(lease.id, writes).catch((err) => {
      throw failureOf(err)
    })
    return result
  }
}

/** The declared keys, checked: 1 to 64 non-empty strings, sorted and unique. */
const keysOf = (keys: unknown): string[] => {
  if (!Array.isArray(keys) || keys.length === 0 || !keys.every((k) => typeof k === 'string' && k !== ''))
    throw new TypeError(`keys: a list of 1 to ${MAX_LOCK_KEYS} non-empty keys, not ${JSON.stringify(keys)?.slice(0, 200)}`)
  const sorted = [...new Set(keys as string[])].sort()
  if (sorted.length > MAX_LOCK_KEYS) throw new TypeError(`keys: at most ${MAX_LOCK_KEYS} keys, not ${sorted.length}`)
  return sorted
}

/** A backend's failure as the call's. */
const failureOf = (err: unknown): MutationFailure => {
  if (err instanceof MutationFailure) return err
  if (err instanceof LockTimeoutError) return new MutationFailure('lock_timeout', err.message)
  if (err instanceof LeaseEndedError)
    return new MutationFailure('lock_timeout', `the leases ended before the writes were stored; nothing was applied (${err.message})`)
  if (err instanceof BadWritesError) return new MutationFailure('mutation_failed', err.message)
  if (err instanceof OverLimitError) return new MutationFailure('over_limit', `${err.message} (${err.limit})`)
  if (err instanceof BackendClosedError || isUnavailable(err))
    return new MutationFailure('unavailable', `the room is unavailable; the mutation may or may not have been applied: ${messageOf(err)}`)
  return new MutationFailure('unavailable', messageOf(err))
}
