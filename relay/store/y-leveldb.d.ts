// y-leveldb ships types its package.json "exports" does not point to; these cover what we use.
declare module 'y-leveldb' {
  import type * as Y from 'yjs'
  /** A key, as y-leveldb's key encoding takes it: strings and uint32 numbers. */
  export type DocKey = Array<string | number>
  export type LevelOp = { type: 'put'; key: DocKey; value: Uint8Array } | { type: 'del'; key: DocKey }
  /** One stored update: its key, `['v1', docName, 'update', clock]`, and its bytes. */
  export interface UpdateEntry {
    key: ['v1', string, 'update', number]
    value: Uint8Array
  }
  export interface LevelRange {
    gte?: DocKey
    lt?: DocKey
    reverse?: boolean
    limit?: number
  }
  /** The level instance y-leveldb hands to `_transact`, with its own key and value encodings. */
  export interface LevelDb {
    open(): Promise<void>
    /** Rejects with code `LEVEL_NOT_FOUND` for a missing key. */
    get(key: DocKey): Promise<Uint8Array>
    /** Atomic: every operation is applied, or none. With `sync`, the log is fsynced before it resolves. */
    batch(ops: LevelOp[], options?: { sync?: boolean }): Promise<void>
  }
  export class LeveldbPersistence {
    constructor(location: string, opts?: { levelOptions?: object })
    getYDoc(docName: string): Promise<Y.Doc | null>
    storeUpdate(docName: string, update: Uint8Array): Promise<number | null>
    destroy(): Promise<void>
    /** Runs `f` in y-leveldb's queue of operations; resolves null if `f` threw (it logs). */
    _transact<T>(f: (db: LevelDb) => Promise<T>): Promise<T | null>
  }
  /** A room's updates with their keys, by clock; `opts` narrows the range. */
  export function getLevelUpdatesEntries(db: LevelDb, docName: string, opts?: LevelRange): Promise<UpdateEntry[]>
  export function getLevelBulkKeys(db: LevelDb, opts: LevelRange): Promise<DocKey[]>
}
