// y-leveldb ships types its package.json "exports" does not point to; these cover what we use.
declare module 'y-leveldb' {
  import type * as Y from 'yjs'
  export class LeveldbPersistence {
    constructor(location: string, opts?: { levelOptions?: object })
    getYDoc(docName: string): Promise<Y.Doc | null>
    storeUpdate(docName: string, update: Uint8Array): Promise<number | null>
    flushDocument(docName: string): Promise<void>
    destroy(): Promise<void>
    /** Runs `f` in y-leveldb's queue of operations; resolves null if `f` threw (it logs). */
    _transact<T>(f: (db: unknown) => Promise<T>): Promise<T | null>
  }
  export function getLevelUpdates(db: unknown, docName: string): Promise<Uint8Array[]>
}
