/**
 * The root types of a room's Y.Doc. A stock y-websocket client sees `state` as plain JSON, one
 * entry a key, and a list as a Y.Array; the other two are ours.
 *
 * - `state`: the keys.
 * - `yss:quiet`: for a key written in `noRerun`, the id of the write it covers (see protocol/doc-writes.ts).
 * - `yss:quiet-start`: per key, an entry a quiet write sets just before its own items when the
 *   writer's previous struct lies under the same key (or is a GC struct), so that the two can
 *   never merge; its value means nothing (see protocol/doc-writes.ts).
 * - `yss:loud-deletes`: per key, an entry a delete outside `noRerun` sets, so that it is an item
 *   like every other loud write; its value means nothing (see protocol/doc-writes.ts).
 * - `yss:forces`: per key, a map of per-session force counts; a key's version is their sum.
 *
 * @example
 *   doc.getMap(STATE).get('count')
 */
export const STATE = 'state'
export const QUIET = 'yss:quiet'
export const QUIET_START = 'yss:quiet-start'
export const LOUD_DELETES = 'yss:loud-deletes'
export const FORCES = 'yss:forces'
