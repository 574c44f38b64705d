/**
 * A room's mutation-only keys: the patterns of the keys only the relay's mutations may write, and
 * the check of a peer's update or lock commit against them. A peer that runs mutations (the
 * relay's own mutation runner, `PeerGrant.runsMutations`) is never checked; with no patterns,
 * nothing is, and an update costs nothing more.
 *
 * What an update writes is told without applying it (written-keys.ts). An update whose writes
 * cannot be told yet (it builds on an update the room lacks) is refused too, as `undecided`: held
 * pending, it could land under a mutation-only key once what it waits for comes.
 *
 * @example
 *   const keys = new MutationOnlyKeys(['balance:*'])
 *   keys.refusal(room.doc, peer, update) // null, or { reason: 'writes "balance:ann", …', undecided: false }
 */
import type * as Y from 'yjs'
import { keyMatches } from '../../protocol/patterns.js'
import { mayWriteMutationOnly, type Peer } from '../peer.js'
import { writtenKeys } from './written-keys.js'

/** Why an update is refused; `undecided`: because what it writes cannot be told yet. */
export interface MutationOnlyRefusal {
  readonly reason: string
  readonly undecided: boolean
}

export class MutationOnlyKeys {
  constructor(readonly patterns: readonly string[]) {}

  /** Whether `key` may be written by mutations only. */
  covers(key: string): boolean {
    return keyMatches(this.patterns, key)
  }

  /** Why `peer`'s `update` may not be applied to `doc`, or null if it may. */
  refusal(doc: Y.Doc, peer: Peer, update: Uint8Array): MutationOnlyRefusal | null {
    if (this.patterns.length === 0 || mayWriteMutationOnly(peer)) return null
    const { keys, undecided } = writtenKeys(doc, update)
    for (const key of keys) {
      if (this.covers(key)) return { reason: `writes "${key.slice(0, 80)}", which only server mutations may write`, undecided: false }
    }
    if (undecided)
      return {
        reason: 'writes keys that cannot be told before updates it builds on reach the relay (mutation-only keys are checked)',
        undecided: true
      }
    return null
  }
}
