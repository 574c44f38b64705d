/**
 * A room's presence (its awareness) as the relay keeps it in bounds: which client ids each
 * connection publishes, at most `maxAwarenessStates` of them, each state at most
 * `maxAwarenessBytes` of JSON. Entries past either limit are dropped before the awareness sees
 * them, and the rest of the update is applied. Entries that would change nothing (an older or
 * equal clock: stock clients echo every state they receive) are left out and never counted. The states of a connection that leaves are
 * removed, and a removed id is forgotten entirely, so that ids coming and going cost nothing.
 * A connection that never publishes costs nothing here: most connections of a room are idle.
 * `bytes` is the JSON size of all states: what an answer to "query awareness" will encode.
 *
 * @example
 *   const presence = new Presence(awareness, limits)
 *   awareness.on('update', (change, origin) => { broadcast(change); presence.changed(change, origin) })
 *   const dropped = presence.apply(peer, update) // [] or the limits that dropped entries
 *   presence.leave(peer)                         // its states are removed
 */
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import * as awarenessProtocol from 'y-protocols/awareness'
import type { Limits, LimitName } from '../limits.js'

type PresenceLimits = Pick<Limits, 'maxAwarenessStates' | 'maxAwarenessBytes'>

interface Entry {
  id: number
  clock: number
  /** The state, JSON as UTF-8 bytes. */
  json: Uint8Array
}

const isNull = (json: Uint8Array): boolean =>
  json.length === 4 && json[0] === 0x6e && json[1] === 0x75 && json[2] === 0x6c && json[3] === 0x6c

export class Presence<P> {
  /** Awareness client ids each connection that published controls, removed when it leaves. */
  private readonly controlled = new Map<P, Set<number>>()
  private readonly sizes = new Map<number, number>()
  private total = 0

  constructor(
    private readonly awareness: awarenessProtocol.Awareness,
    private readonly limits: PresenceLimits
  ) {}

  /**
   * Call from the awareness's 'update' event. A removed id's clock is forgotten once the event
   * is over, so that every other listener of the same event (the shared presence of several
   * relays, say) can still encode the removal.
   */
  changed({ added, updated, removed }: { added: number[]; updated: number[]; removed: number[] }, origin: unknown): void {
    const mine = this.controlled.get(origin as P)
    if (mine) for (const id of [...added, ...updated]) mine.add(id)
    for (const id of removed) {
      mine?.delete(id)
      this.total -= this.sizes.get(id) ?? 0
      this.sizes.delete(id)
      if (id !== this.awareness.clientID)
        queueMicrotask(() => {
          if (!this.awareness.states.has(id)) this.awareness.meta.delete(id)
        })
    }
  }

  /** JSON bytes of every state: about what an answer with all of them encodes. */
  get bytes(): number {
    return this.total
  }

  /** Removes the states `peer` published. */
  leave(peer: P): void {
    const ids = this.controlled.get(peer)
    this.controlled.delete(peer)
    if (ids && ids.size > 0) awarenessProtocol.removeAwarenessStates(this.awareness, [...ids], null)
  }

  /**
   * Applies `peer`'s awareness update without the entries over a limit, and returns the limits
   * that dropped some. Throws on a malformed update. Reads the update once and keeps at most
   * one entry an id, so a frame of many tiny entries costs no more than its bytes. Only for a
   * peer that has not left: its ids are kept until {@link leave}.
   */
  apply(peer: P, update: Uint8Array): LimitName[] {
    const mine = this.controlled.get(peer) ?? new Set<number>()
    const d = decoding.createDecoder(update)
    const n = decoding.readVarUint(d)
    const kept = new Map<number, Entry>()
    const dropped = new Set<LimitName>()
    let allowance = this.limits.maxAwarenessStates - mine.size
    for (let i = 0; i < n; i++) {
      const id = decoding.readVarUint(d)
      const clock = decoding.readVarUint(d)
      // A varString is a varUint8Array of its UTF-8 bytes: read it without decoding it.
      const json = decoding.readVarUint8Array(d)
      const current = kept.get(id)?.clock ?? this.awareness.meta.get(id)?.clock ?? 0
      if (clock < current || (clock === current && !(isNull(json) && this.awareness.states.has(id)))) {
        // Changes nothing (stock clients echo every state they receive): left out, not counted.
        continue
      }
      if (isNull(json)) {
        // Removing a state the relay never had would only make it remember the id.
        if (this.awareness.meta.has(id) || kept.has(id)) kept.set(id, { id, clock, json })
      } else if (json.length > this.limits.maxAwarenessBytes) {
        dropped.add('maxAwarenessBytes')
      } else if (mine.has(id) || kept.has(id)) {
        kept.set(id, { id, clock, json })
      } else if (allowance > 0) {
        allowance--
        kept.set(id, { id, clock, json })
      } else {
        dropped.add('maxAwarenessStates')
      }
    }
    if (decoding.hasContent(d)) throw new Error('trailing bytes after the awareness update')
    if (kept.size === 0) return [...dropped]
    // Before the awareness emits: changed() records the ids it takes under their publisher.
    if (mine.size === 0) this.controlled.set(peer, mine)
    // Every entry kept is one the awareness takes (the checks above are its own).
    awarenessProtocol.applyAwarenessUpdate(this.awareness, encodeEntries([...kept.values()]), peer)
    for (const { id, json } of kept.values()) {
      // Only entries that leave a state count toward the bytes.
      if (!this.awareness.states.has(id)) continue
      this.total += json.length - (this.sizes.get(id) ?? 0)
      this.sizes.set(id, json.length)
    }
    return [...dropped]
  }
}

const encodeEntries = (entries: Entry[]): Uint8Array => {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, entries.length)
  for (const { id, clock, json } of entries) {
    encoding.writeVarUint(e, id)
    encoding.writeVarUint(e, clock)
    encoding.writeVarUint8Array(e, json)
  }
  return encoding.toUint8Array(e)
}
