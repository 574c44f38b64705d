// y-leveldb ships types its package.json "exports" does not point to; these cover what we use.
declare module 'y-leveldb' {
  import type * as Y from 'yjs'
  /** The level instance y-leveldb hands to `_transact`, with its own key and value encodings. */
  export interface LevelDb {
    open(): Promise<void>
  }
  export class LeveldbPersistence {
    constructor(location: string, opts?: { levelOptions?: object })
    getYDoc(docName: string): Promise<Y.Doc | null>
    storeUpdate(docName: string, update: Uint8Array): Promise<number | null>
    flushDocument(docName: string): Promise<void>
    destroy(): Promise<void>
    /** Runs `f` in y-leveldb's queue of operations; resolves null if `f` threw (it logs). */
    _transact<T>(f: (db: LevelDb) => Promise<T>): Promise<T | null>
  }
  export function getLevelUpdates(db: LevelDb, docName: string): Promise<Uint8Array[]>
  /** A room's updates with their keys, `['v1', docName, 'update', clock]`, by clock. */
  export function getLevelUpdatesEntries(db: LevelDb, docName: string): Promise<Array<{ key: ['v1', string, 'update', number]; value: Uint8Array }>>
}
