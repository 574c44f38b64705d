/**
 * Server mutations as an application declares them: named functions the relay runs under the
 * leases of the keys they declare, on a draft of those keys' values, all or nothing
 * (docs/mutations.md). This module holds their contract and checks a set of them once, at start.
 *
 * @example
 *   const mutations: Mutations = {
 *     transfer: {
 *       keys: (args: { from: string; to: string; amount: number }) => [`balance:${args.from}`, `balance:${args.to}`],
 *       validate: (args) => transferSchema.parse(args), // any function: throw to refuse
 *       run(state, { from, to, amount }, who) {
 *         const a = state[`balance:${from}`] as number
 *         if (a < amount) throw new Error('insufficient funds') // nothing is applied
 *         state[`balance:${from}`] = a - amount
 *         state[`balance:${to}`] = ((state[`balance:${to}`] as number | undefined) ?? 0) + amount
 *         return { by: who.user ?? null }
 *       }
 *     }
 *   }
 *   startRelay({ mutations, mutationOnlyKeys: ['balance:*'] })
 */
import type { Json } from '../../protocol/json.js'

/** Who called a mutation: the user the relay knows (a token's `sub`), and how the call came. */
export interface Caller {
  readonly user?: string
  readonly via: 'socket' | 'http'
}

/**
 * The draft a mutation runs on: its declared keys' values as the relay held them at the grant.
 * Assign to write, `delete state[k]` to delete; reading or writing a key not declared throws.
 * Values read are copies: changing one in place changes nothing until it is assigned back.
 */
export type MutationState = Record<string, Json | undefined>

/**
 * A server mutation.
 *
 * - `keys`: the keys it may read and write, or a function of the (validated) arguments that
 *   names them (at most 64). The relay takes their leases, FIFO with every lock on them.
 * - `validate`: checks the raw arguments and returns the ones to use (a schema's `parse` fits);
 *   a throw refuses the call (`invalid_args`) before any lease is taken. Without it, the
 *   arguments are the JSON as sent.
 * - `run`: synchronous, on the draft; its writes are committed as one transaction once it
 *   returns, and the call resolves with what it returned (JSON). A throw applies nothing
 *   (`mutation_failed`, with the error's message); a returned Promise is refused the same way.
 */
export interface Mutation<A = Json, R = Json> {
  readonly keys: readonly string[] | ((args: A) => readonly string[])
  validate?(args: unknown): A
  run(state: MutationState, args: A, who: Caller): R
}

/** The mutations of a relay, by name. */
// biome-ignore lint/suspicious/noExplicitAny: each mutation has arguments and a result of its own; the map must hold them all
export type Mutations = Record<string, Mutation<any, any>>

/**
 * Checks a set of mutations and mutation-only patterns as `startRelay` or a `--mutations` module
 * gives them; throws a TypeError that says what is wrong.
 */
export const checkMutations = (mutations: unknown, mutationOnlyKeys: unknown): void => {
  if (mutations !== undefined) {
    if (typeof mutations !== 'object' || mutations === null || Array.isArray(mutations))
      throw new TypeError('mutations: an object of named mutations, { name: { keys, run } }')
    for (const [name, m] of Object.entries(mutations)) {
      const what = `mutation ${JSON.stringify(name)}`
      if (typeof m !== 'object' || m === null) throw new TypeError(`${what}: an object { keys, run }`)
      const { keys, run, validate } = m as Record<string, unknown>
      if (typeof run !== 'function') throw new TypeError(`${what}: run(state, args, who) is a function`)
      if (validate !== undefined && typeof validate !== 'function') throw new TypeError(`${what}: validate(args) is a function`)
      if (typeof keys !== 'function' && !(Array.isArray(keys) && keys.every((k) => typeof k === 'string')))
        throw new TypeError(`${what}: keys is a list of keys, or a function of the arguments that returns one`)
    }
  }
  if (mutationOnlyKeys !== undefined) {
    if (!Array.isArray(mutationOnlyKeys) || !mutationOnlyKeys.every((p) => typeof p === 'string' && p !== ''))
      throw new TypeError("mutationOnlyKeys: a list of key patterns, as in ['balance:*']")
  }
}
