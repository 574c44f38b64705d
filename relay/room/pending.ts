/**
 * The updates a room's doc holds back because they build on updates it does not have (Yjs's
 * pending structs and deletes). They are never stored or broadcast, yet every joiner is sent them
 * and every later update re-reads the pending deletes (500 KB of them cost each update 70 ms), so
 * they are kept in bounds: at most `maxBytes`, pending deletes counted {@link DELETE_WEIGHT} times
 * their bytes, and only while a connection that sent them is still there. A legitimate client's
 * pending update is brief and small (sent just before the sync step 2 that carries what it builds
 * on); if it is dropped, the client's next sync sends it again.
 *
 * The bytes bound what is held, not the work: each update applied while something is pending
 * re-reads it (Yjs merges into it, or retries it whole once a gap is filled), so 62 KB pending
 * filled one gap at a time by 12,500 tiny updates cost 15 s. Each update applied while something
 * is pending is charged what was pending then; once the charges pass {@link RETRIES} times
 * `maxBytes`, what is pending is dropped and the connections that sent it are closed.
 *
 * What the relay stores of a doc is {@link encodeIntegrated}: a pending struct in the store would
 * make every later load of the room fail (its history incomplete).
 *
 * @example
 *   const pending = new PendingUpdates(doc, 64 * 1024)
 *   Y.applyUpdate(doc, update, peer)
 *   const over = pending.applied(peer)
 *   if (over) for (const p of over) p.overLimit(...) // over a bound: dropped, its senders closed
 *   pending.left(peer)                               // its pending updates go with it
 *   await store.compact(room, encodeIntegrated(doc), position)
 */
import * as Y from 'yjs'

/**
 * The doc's whole state as one update, without what it holds pending: `Y.encodeStateAsUpdate`
 * merges the pending structs and deletes in, as if they were part of the doc. A sender of
 * pending updates may stay connected for as long as it likes (a tab whose write builds on
 * another tab's, which the relay never got), so a compaction can come at any time meanwhile.
 */
export const encodeIntegrated = (doc: Y.Doc): Uint8Array => {
  const store = doc.store
  const { pendingStructs, pendingDs } = store
  store.pendingStructs = null
  store.pendingDs = null
  try {
    return Y.encodeStateAsUpdate(doc)
  } finally {
    store.pendingStructs = pendingStructs
    store.pendingDs = pendingDs
  }
}

/** How many times its bytes a pending delete set counts: every later update re-reads it. */
export const DELETE_WEIGHT = 16

/** How many times `maxBytes` of pending updates may be re-read before they are dropped. */
export const RETRIES = 16

export class PendingUpdates<P> {
  /** Connections whose updates added to what is pending. */
  private readonly senders = new Set<P>()
  private last = 0
  /** How many times what was pending was dropped. */
  drops = 0
  /** What the updates applied since something became pending re-read, in bytes. */
  private work = 0

  constructor(
    private readonly doc: Y.Doc,
    private readonly maxBytes: number
  ) {}

  /** What is held back, in bytes: the pending structs' update, and the pending delete set weighted. */
  get bytes(): number {
    const store = this.doc.store
    return (store.pendingStructs?.update.length ?? 0) + DELETE_WEIGHT * (store.pendingDs?.length ?? 0)
  }

  /**
   * After `sender`'s update was applied. Null while within bounds; else what is pending was
   * dropped, and these are the connections to close: `sender` if it passed `maxBytes`, every
   * sender of what was pending if the re-reads passed their bound.
   */
  applied(sender: P): P[] | null {
    const bytes = this.bytes
    this.work += this.last
    if (bytes === 0) {
      this.senders.clear()
      this.work = 0
    } else if (bytes !== this.last) this.senders.add(sender)
    this.last = bytes
    if (bytes > this.maxBytes) {
      this.drop()
      return [sender]
    }
    if (this.work <= RETRIES * this.maxBytes) return null
    const senders = [...this.senders]
    this.drop()
    return senders
  }

  /** Whether `sender`'s updates are among what is held back. */
  holds(sender: P): boolean {
    return this.bytes > 0 && this.senders.has(sender)
  }

  /** `sender` is gone: once no sender of what is pending remains, it is dropped. */
  left(sender: P): void {
    if (this.senders.delete(sender) && this.senders.size === 0) this.drop()
  }

  private drop(): void {
    this.doc.store.pendingStructs = null
    this.doc.store.pendingDs = null
    this.senders.clear()
    this.last = 0
    this.drops++
    this.work = 0
  }
}
