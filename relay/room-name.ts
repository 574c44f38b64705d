/**
 * Room names: what may follow the relay's URL path. Checked before a room is loaded, so a name
 * never reaches the store unvalidated (and never becomes a path: the store keys rooms by name).
 *
 * @example
 *   roomFromPath('/chat%2Dlobby?x=1') // 'chat-lobby'
 *   roomFromPath('/../etc')           // null
 */
import { isRoomName } from '../client/protocol.js'

export { isRoomName }

/** The room named by a request path, or null when the name is not valid. */
export const roomFromPath = (path: string): string | null => {
  const raw = path.split('?')[0]!.slice(1)
  let name: string
  try {
    name = decodeURIComponent(raw)
  } catch {
    return null
  }
  return isRoomName(name) ? name : null
}
