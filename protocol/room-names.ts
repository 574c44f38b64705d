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
  if (/[\u0000\ud800-\udfff]/u.test(name.replace(/[\ud800-\udbff][\udc00-\udfff]/g, ''))) {
    return 'a room name has no NUL and no lone surrogate'
  }
  return null
}

export const isRoomName = (name: string): boolean => roomNameProblem(name) === null

/**
 * The room named by a request path, or null when there is none. `prefix` is the path the relay
 * is served under (`/collab`), without a trailing slash; a path outside it names no room.
 */
export const roomFromPath = (path: string, prefix = ''): string | null => {
  const pathname = path.split('?')[0]!
  if (!pathname.startsWith(prefix + '/')) return null
  const raw = pathname.slice(prefix.length + 1)
  let name = raw
  try {
    name = decodeURIComponent(raw)
  } catch {
    // The reference relay takes a malformed escape as it is; so do we.
  }
  return isRoomName(name) ? name : null
}

/** The path segment our client sends for `name`: escaped as a URL needs, slashes kept. */
export const roomPath = (name: string): string => encodeURIComponent(name).replace(/%2F/g, '/')
