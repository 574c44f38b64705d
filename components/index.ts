/**
 * `y-server-state/components`: the Lit integration and the example elements. Importing it
 * defines `<server-state-provider>`, `<server-counter>`, `<server-slider>`, `<server-chat>` and
 * `<server-chat-rooms>`.
 *
 * @example
 *   import 'y-server-state/components'
 *   document.body.innerHTML = '<server-counter room="default"></server-counter>'
 */
// The provider first: elements inside one must find it defined when they upgrade.
export { ServerStateProvider } from './server-state-provider.js'
export { ServerStateMixin, ServerStateElement, type ServerStateHost } from './server-state-element.js'
export { sessionContext } from './session-context.js'
export { acquireSession, releasesSettled, type SessionLease } from './session-registry.js'
export { sharedStyles } from './shared-styles.js'
export { errorLine, readOnlyLine, statusLine } from './status-line.js'
export { ServerCounter } from './server-counter.js'
export { ServerSlider } from './server-slider.js'
export { ServerChat, chatMessages, type ChatMessage } from './server-chat.js'
export { ServerChatRooms, ROOMS_KEY, roomKey } from './server-chat-rooms.js'
export { roomNames, createChatRoom, onlineNicknames, setNickname, MAX_ROOM_NAME, type OnlineNickname } from './chat-model.js'
export { onlineLine, onlineStyles } from './online-line.js'
