/**
 * Where a cluster of relays keeps things in Redis. Every key of one room shares the hash tag
 * `{room}`, so a room's keys would stay in one slot of a Redis Cluster; the few global keys
 * (the compaction queue, the relays' liveness) do not, which is one reason why only a single
 * Redis (with replicas) is supported. `{`, `}` and `%` in a room name are escaped so that the
 * tag is exactly the room.
 *
 * Per room, under `<prefix>:{<room>}:`:
 * - `s`  the stream of updates: fields `u` (the update), `n` (its number, 1, 2, …), `o` (who wrote it:
 *   a room instance's tag, or {@link commitTag} of the relay for a lock commit)
 * - `n`  the number of the last update appended (never decreases, survives trimming)
 * - `pg` / `pgid`  the number and stream id of the last update PostgreSQL holds (set by compaction)
 * - `f`  the last lease request number (the fencing token)
 * - `r:<f>` one lease request: `k` keys (JSON), `x` keys held so far, `h` relay, `l` lease ms, `g` number at grant
 * - `o`  hash: key → the request that holds it;  `w:<key>` list: the requests waiting for it, in order
 * - `e`  sorted set: granted requests by expiry (Redis time, ms)
 * - `ss:<session>` the highest socket number a session's HELLO named (fencing: a COMMIT from an
 *   earlier socket of the session is refused), expiring after twice the lease time
 * - `aw` the pub/sub channel of the room's presence
 * Global: `<prefix>:compact` (sorted set: room → when its compaction is due), `<prefix>:compacting:<room>`
 * (the compaction job's lock), `<prefix>:relay:<id>` (a relay's liveness, with a TTL), and the channels
 * `<prefix>:grants:<id>` (grants for that relay's requests) and `<prefix>:news` (each update's number and room).
 *
 * @example
 *   const k = new ClusterKeys('yss')
 *   k.room('org/doc')          // 'yss:{org/doc}:'
 *   k.room('a{b}')             // 'yss:{a%7Bb%7D}:'
 */
/**
 * The origin tag of a lock commit that relay `relay` appended: read back, that relay hands it to
 * its room as its own (a session of its wrote it), the others as another relay's.
 */
export const commitTag = (relay: string): string => `commit:${relay}`

export class ClusterKeys {
  /** `prefix:`, the start of every global key. */
  readonly global: string

  constructor(readonly prefix: string) {
    this.global = `${prefix}:`
  }

  /** The start of every key of `room`. */
  room(room: string): string {
    return `${this.global}{${room.replace(/[%{}]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}}:`
  }

  stream(room: string): string {
    return `${this.room(room)}s`
  }

  presence(room: string): string {
    return `${this.room(room)}aw`
  }

  grants(relay: string): string {
    return `${this.global}grants:${relay}`
  }

  relay(relay: string): string {
    return `${this.global}relay:${relay}`
  }

  /** The channel of every room's news: `<n>\n<room>` for each update appended. */
  get news(): string {
    return `${this.global}news`
  }

  get compactQueue(): string {
    return `${this.global}compact`
  }
}
