/**
 * The relay's store for the simulation: a {@link MemoryStore} that also applies every stored
 * update to a doc of its own, so that an invariant can ask, in the same tick as a promise
 * resolves, whether the relay had stored what it promised. Updates the store holds but that
 * cannot integrate (a missing dependency) stay pending in that doc and count as not stored.
 *
 * @example
 *   const store = new SimStore()        // new SimStore(true): each append takes a turn of the event loop
 *   const net = new Network({ store })
 *   Y.getState(store.doc.store, client)   // how much of `client` the store holds, integrated
 */
import * as Y from 'yjs'
import { MemoryStore } from '../../relay/store/memory-store.js'
import type { StorePosition } from '../../relay/store/room-store.js'

export class SimStore extends MemoryStore {
  /** Everything stored, applied. */
  readonly doc = new Y.Doc()

  /**
   * `slow`: each append takes a turn of the event loop, as a real store's round trip does, so that
   * a promise answered before its write is stored is seen so (a memory store is done within the
   * microtasks that follow the call, before any answer's reactions run).
   */
  constructor(private readonly slow = false) {
    super()
  }

  override async append(room: string, update: Uint8Array): Promise<StorePosition> {
    if (this.slow) await new Promise((resolve) => setImmediate(resolve))
    const position = await super.append(room, update)
    Y.applyUpdate(this.doc, update)
    return position
  }
}
