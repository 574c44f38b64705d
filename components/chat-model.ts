/**
 * The chat examples' data, shared by the Lit elements and the React demo so that both read and
 * write the same keys the same way: messages, the room list, room creation, and who is online.
 * Framework-free: it imports only the client. Any client may write these keys, so what does not
 * fit is skipped, never shown broken.
 *
 * @example
 *   chatMessages(server.get('chat'))                  // the valid messages, oldest first
 *   await createChatRoom(server, 'lobby')             // true, or false if it exists
 *   server.get(roomKey('lobby'))                      // its messages
 *   setNickname(server, 'alice')                      // this session's presence
 *   ownNickname(server)                               // 'alice'
 *   onlineNicknames(server.presence.list())           // [{ nickname: 'alice', self: true }, …]
 */
import type { PresenceEntry, ServerState } from '../client/index.js'

/** One chat message; `at` is the sender's clock, in ms since the epoch. */
export interface ChatMessage {
  nickname: string
  text: string
  at: number
}

/** The messages of a stored list, skipping entries that are not messages (any client may write). */
export const chatMessages = (value: unknown): ChatMessage[] =>
  (Array.isArray(value) ? value : []).filter(
    (m): m is ChatMessage =>
      typeof m?.nickname === 'string' &&
      typeof m?.text === 'string' &&
      typeof m?.at === 'number' &&
      Number.isFinite(new Date(m.at).getTime())
  )

/** The key listing the chat rooms' names, oldest first. */
export const ROOMS_KEY = 'chat-rooms'
/** The key holding the messages of chat room `name`. */
export const roomKey = (name: string): string => `chat-room:${name}`
/** The longest room name. */
export const MAX_ROOM_NAME = 40

/** The valid room names of a stored list: any client may write it, so the rest is skipped. */
export const roomNames = (value: unknown): string[] => [
  ...new Set(
    (Array.isArray(value) ? value : []).filter(
      (n): n is string => typeof n === 'string' && n.length > 0 && n.length <= MAX_ROOM_NAME && n === n.trim()
    )
  )
]

/**
 * Creates chat room `name` (trimmed by the caller), checked again under the room list's lock:
 * another session may have created it meanwhile. Resolves to false if it exists.
 */
export const createChatRoom = (server: ServerState, name: string): Promise<boolean> =>
  server.lock(ROOMS_KEY, (s) => {
    if (roomNames(s[ROOMS_KEY]).includes(name)) return false
    void server.append(ROOMS_KEY, name)
    return true
  })

/** One person online, by the nickname in their presence. */
export interface OnlineNickname {
  nickname: string
  self: boolean
}

/** The longest nickname shown. */
const MAX_NICKNAME = 40

/**
 * The nicknames of the sessions online (this one first), from their presence's `nickname`.
 * Sessions without one (or with one that is not a short string) are left out.
 */
export const onlineNicknames = (list: readonly PresenceEntry[]): OnlineNickname[] => {
  const out: OnlineNickname[] = []
  for (const { state, self } of list) {
    const nickname = typeof state.nickname === 'string' ? state.nickname.trim() : ''
    if (nickname && nickname.length <= MAX_NICKNAME) out.push({ nickname, self })
  }
  return out
}

/**
 * Shows `nickname` as this session's presence, for the others' online lists, as typed: the lists
 * trim it, and a nickname field that shows the session's nickname keeps the space being typed.
 */
export const setNickname = (server: ServerState, nickname: string): void => {
  if (!server.closed) server.presence.update({ nickname })
}

/**
 * This session's nickname (its presence's), '' without one: every chat of a session shows it in
 * its field, so that a second chat (a room's, say) does not ask for it again. Binds like presence.
 */
export const ownNickname = (server: ServerState): string => {
  const nickname = server.presence.mine?.nickname
  return typeof nickname === 'string' ? nickname : ''
}
