/**
 * Room names. A stock y-websocket client appends the room to the relay's URL as it is, and the
 * reference relay takes whatever path follows the slash; so do we, URL-decoded (`my%20room` is
 * `my room`, `org/doc-1` is `org/doc-1`), up to {@link MAX_ROOM_BYTES}. A name is only ever a
 * key in the store, never a file path.
 *
 * @example
 *   roomFromPath('/org/doc-1?token=x')           // 'org/doc-1'
 *   roomFromPath('/collab/caf%C3%A9', '/collab') // 'café'
 *   roomPath('my room')                          // 'my%20room'
 */

/** The longest room name, in UTF-8 bytes. */
export const MAX_ROOM_BYTES = 2048

const encoder = new TextEncoder()

/** Why `name` is not a valid room name, or null if it is. */
export const roomNameProblem = (name: string): string | null => {
  if (typeof name !== 'string') return 'a room name is a string'
  if (name.length === 0) return 'a room name is not empty'
  if (encoder.encode(name).length > MAX_ROOM_BYTES) return `a room name has at most ${MAX_ROOM_BYTES} bytes`
  // biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is the control character a room name must not contain
  if (/[\u0000\ud800-\udfff]/u.test(name.replace(/[\ud800-\udbff][\udc00-\udfff]/g, ''))) {
    return 'a room name has no NUL and no lone surrogate'
  }
  // A URL cannot carry such a segment, even escaped: its parser drops it on the way.
  if (name.split('/').some((segment) => segment === '.' || segment === '..')) return 'a room name has no "." or ".." segment'
  return null
}

export const isRoomName = (name: string): boolean => roomNameProblem(name) === null

/** `raw` URL-decoded as the relay decodes a path: a malformed escape is kept as it is. */
const decoded = (raw: string): string => {
  try {
    return decodeURIComponent(raw)
  } catch {
    return raw
  }
}

/**
 * The room named by a request path, or null when there is none. `prefix` is the path the relay
 * is served under (`/collab`), without a trailing slash; a path outside it names no room.
 */
export const roomFromPath = (path: string, prefix = ''): string | null => {
  const pathname = path.split('?')[0]!
  if (!pathname.startsWith(`${prefix}/`)) return null
  const raw = pathname.slice(prefix.length + 1)
  // A malformed escape is taken as it is, as the reference relay takes every path.
  const name = decoded(raw)
  return isRoomName(name) ? name : null
}

/**
 * The path our client sends for `name`. It is the path a stock client sends for it (the room
 * appended as it is, escaped by the URL parser: `my%20room`, `doc:123`, `a@b`), so that both share
 * the room on any y-websocket relay, the reference relay included, which does not decode the
 * path. Only for a name that path would not give back here (one with `?`, `#`, `\`, an escape
 * such as `%41`, a space at either end) is it escaped in full, slashes kept.
 */
export const roomPath = (name: string): string => {
  let stock: string | null = null
  try {
    stock = new URL(`ws://h/${name}`).pathname.slice(1)
  } catch {
    // Not a path a stock client could send.
  }
  if (stock !== null && decoded(stock) === name) return stock
  return encodeURIComponent(name).replace(/%2F/g, '/')
}
