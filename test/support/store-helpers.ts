/** Updates and their reading back, for the tests of the stores under the relay. */
import * as Y from 'yjs'
import type { StorePosition } from '../../relay/store/room-store.js'
import { MemoryStore } from '../../relay/store/memory-store.js'

/** An update that sets `state[key] = value` on top of `doc`. */
export const write = (doc: Y.Doc, key: string, value: unknown): Uint8Array => {
  const before = Y.encodeStateVector(doc)
  doc.getMap('state').set(key, value)
  return Y.encodeStateAsUpdate(doc, before)
}

/** The `state` map that `updates`, applied together, make. */
export const stateOf = (updates: Uint8Array[]): Record<string, unknown> => {
  const doc = new Y.Doc()
  for (const u of updates) Y.applyUpdate(doc, u)
  return doc.getMap('state').toJSON()
}

/** A memory store whose appends for the held rooms wait until the test releases them. */
export class HeldStore extends MemoryStore {
  private readonly held = new Map<string, Array<() => void>>()

  hold(room: string): void {
    this.held.set(room, [])
  }

  /** How many appends of `room` wait. */
  waiting(room: string): number {
    return this.held.get(room)?.length ?? 0
  }

  release(room: string): void {
    const waiting = this.held.get(room) ?? []
    this.held.delete(room)
    for (const go of waiting) go()
  }

  releaseAll(): void {
    for (const room of [...this.held.keys()]) this.release(room)
  }

  override async append(room: string, update: Uint8Array): Promise<StorePosition> {
    const waiting = this.held.get(room)
    if (waiting) await new Promise<void>((resolve) => waiting.push(resolve))
    return super.append(room, update)
  }
}
