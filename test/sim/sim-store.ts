/**
 * The relay's store for the simulation: a {@link MemoryStore} that also applies every stored
 * update to a doc of its own, so that an invariant can ask, in the same tick as a promise
 * resolves, whether the relay had stored what it promised. Updates the store holds but that
 * cannot integrate (a missing dependency) stay pending in that doc and count as not stored.
 *
 * @example
 *   const store = new SimStore()
 *   const net = new Network({ store })
 *   Y.getState(store.doc.store, client)   // how much of `client` the store holds, integrated
 */
import * as Y from 'yjs'
import { MemoryStore } from '../../relay/store/memory-store.js'
import type { StorePosition } from '../../relay/store/room-store.js'

export class SimStore extends MemoryStore {
  /** Everything stored, applied. */
  readonly doc = new Y.Doc()

  override async append(room: string, update: Uint8Array): Promise<StorePosition> {
    const position = await super.append(room, update)
    Y.applyUpdate(this.doc, update)
    return position
  }
}
