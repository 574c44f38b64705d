/**
 * PostgreSQL's part of a cluster: one row a room, its whole state as one Yjs update, and how far
 * into the room's numbered updates that state goes (`upto_n`, and `upto_id`, the Redis stream
 * id of that update). A row only ever moves forward: a compaction that finishes after a later
 * one changes nothing. The table is created at start if missing (relays that start together may
 * race to create it: the loser's error means it exists).
 *
 * A PostgreSQL that hangs (stopped, not refusing) must read as unreachable, not hold a room's
 * load forever: connecting is bounded by 2 s and every query by `timeoutMs` (the server's
 * statement timeout a little less), and a query that times out throws an
 * {@link UnavailableError}, which closes the room's connections with 1013.
 *
 * @example
 *   const pg = new Snapshots('postgres://postgres@127.0.0.1/app')
 *   await pg.open()
 *   await pg.put('default', state, 42, '1732700000000-0')
 *   const row = await pg.get('default') // { state, n: 42, id: '1732700000000-0' }
 */
import pg from 'pg'
import { UnavailableError } from '../store/unavailable.js'
import { asBuffer } from '../as-buffer.js'
import { bounded } from './bounded.js'

export interface Snapshot {
  state: Uint8Array
  /** The number of the last update the state holds. */
  n: number
  /** Its stream id. */
  id: string
}

export class Snapshots {
  private readonly pool: pg.Pool
  private lastCheck = 0
  private lastOk = false
  private checking: Promise<boolean> | null = null
  private created = false

  constructor(
    url: string,
    readonly table = 'yss_rooms',
    timeoutMs = 5_000
  ) {
    if (!/^[a-z_][a-z0-9_]*$/.test(table)) throw new Error(`invalid table name ${table}`)
    this.pool = new pg.Pool({
      connectionString: url,
      max: 4,
      connectionTimeoutMillis: 2_000,
      idleTimeoutMillis: 10_000,
      query_timeout: timeoutMs,
      statement_timeout: Math.max(100, timeoutMs - 500)
    })
    // An idle client whose server went away emits 'error' on the pool; the next query reconnects.
    this.pool.on('error', () => {})
  }

  /** Creates the table if missing; `get` and `put` call it until it once succeeded. */
  async open(): Promise<void> {
    if (this.created) return
    try {
      await this.query(`CREATE TABLE IF NOT EXISTS ${this.table} (
        room text PRIMARY KEY,
        state bytea NOT NULL,
        upto_n bigint NOT NULL,
        upto_id text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`)
    } catch (err) {
      // Two CREATE TABLE IF NOT EXISTS at once: the later fails on the catalog's unique index
      // (23505), or as a duplicate table or row type (42P07, 42710). Either way the table is there.
      if (!['23505', '42P07', '42710'].includes((err as { code?: string }).code ?? '')) throw err
    }
    this.created = true
  }

  async get(room: string): Promise<Snapshot | null> {
    await this.open()
    const { rows } = await this.query(`SELECT state, upto_n, upto_id FROM ${this.table} WHERE room = $1`, [room])
    const row = rows[0] as { state: Buffer; upto_n: string; upto_id: string } | undefined
    return row ? { state: new Uint8Array(row.state), n: Number(row.upto_n), id: row.upto_id } : null
  }

  /** Stores the room's state up to update `n`, unless a row already holds as much. */
  async put(room: string, state: Uint8Array, n: number, id: string): Promise<void> {
    await this.open()
    await this.query(
      `INSERT INTO ${this.table} (room, state, upto_n, upto_id) VALUES ($1, $2, $3, $4)
       ON CONFLICT (room) DO UPDATE SET state = excluded.state, upto_n = excluded.upto_n, upto_id = excluded.upto_id, updated_at = now()
       WHERE ${this.table}.upto_n < excluded.upto_n`,
      [room, asBuffer(state), n, id]
    )
  }

  /** What the last check of {@link reachable} found. */
  get up(): boolean {
    return this.lastOk
  }

  /** Whether PostgreSQL answers within `deadlineMs`; asked at most once a second, one question at a time. */
  async reachable(deadlineMs = 2_000): Promise<boolean> {
    if (Date.now() - this.lastCheck < 1_000) return this.lastOk
    this.checking ??= this.query('SELECT 1')
      .then(
        () => true,
        () => false
      )
      .then((ok) => {
        this.lastOk = ok
        this.lastCheck = Date.now()
        this.checking = null
        return ok
      })
    return bounded(this.checking, deadlineMs, 'PostgreSQL').catch(() => (this.lastOk = false))
  }

  async close(): Promise<void> {
    await this.pool.end()
  }

  private async query(text: string, values?: unknown[]): Promise<pg.QueryResult> {
    try {
      return await this.pool.query(text, values)
    } catch (err) {
      const e = err as Error & { code?: string }
      // SQLSTATE classes 08 (connection), 57 (shutdown, e.g. 57P01) and socket errors: try again later.
      if (!e.code || /^(08|57)/.test(e.code) || /^E[A-Z]+$/.test(e.code)) throw new UnavailableError(`PostgreSQL: ${e.message}`)
      throw err
    }
  }
}
