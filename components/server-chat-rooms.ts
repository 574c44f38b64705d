/**
 * `<server-chat-rooms>`: a list of chat rooms, a form to create one, and the selected room's
 * `<server-chat>`. Empty and duplicate names are refused with a visible message. It shows who
 * is online by nickname, as the chat does (its chat hides its own line).
 *
 * Each chat room is a key of the element's one session (`chat-room:<name>`, a Y.Array of
 * messages), listed under the key `chat-rooms`, as the original keeps `room_<name>`. So the whole
 * widget needs one connection however many rooms there are, the room list and the rooms share
 * the session of any provider, and creating a room is one locked transaction. Moving to another
 * room renders a chat that reads only the new key, which unbinds the old one. The cost: a session
 * loads every room's history when it joins.
 *
 * @example
 *   <server-chat-rooms room="default"></server-chat-rooms>
 */
import { css, html, nothing, type TemplateResult } from 'lit'
import { ContextProvider } from '@lit/context'
import type { ServerState } from '../client/index.js'
import { ServerStateElement } from './server-state-element.js'
import { sessionContext } from './session-context.js'
import { sharedStyles } from './shared-styles.js'
import { errorLine, readOnlyLine, statusLine } from './status-line.js'
import { define } from './define.js'
import { MAX_ROOM_NAME as MAX_NAME, ROOMS_KEY, createChatRoom, roomKey, roomNames } from './chat-model.js'
import { onlineLine, onlineStyles } from './online-line.js'
import './server-chat.js'

export { ROOMS_KEY, roomKey } from './chat-model.js'

export class ServerChatRooms extends ServerStateElement {
  static override properties = { selected: { state: true }, error: { state: true } }
  static override styles = [
    sharedStyles,
    onlineStyles,
    css`
      ul { list-style: none; display: flex; flex-wrap: wrap; gap: 0.4em; padding: 0; margin: 0 0 0.75em; }
      ul button[aria-pressed='false'] { background: var(--yss-surface, #fff); color: var(--accent); }
      .empty { color: var(--yss-muted, #6b7385); font-style: italic; margin: 0 0 0.75em; }
      h3 { margin: 1em 0 0.4em; font-size: 1em; }
    `
  ]

  /** The selected room's name: this session's own choice, not shared. */
  declare protected selected: string
  declare protected error: string
  /** Hands this element's session to the chat in its shadow root. */
  private readonly chatSession = new ContextProvider(this, { context: sessionContext })

  constructor() {
    super()
    this.selected = ''
    this.error = ''
  }

  protected override sessionChanged(server: ServerState): void {
    this.chatSession.setValue(server)
  }

  override render(): TemplateResult {
    const rooms = roomNames(this.server.get(ROOMS_KEY))
    // A selection from another session or room (after a url or room change) is not shown.
    const current = rooms.includes(this.selected) ? this.selected : ''
    return html`
      ${statusLine(this.status)}
      ${onlineLine(this.server)}
      ${readOnlyLine(this.server)}
      ${
        rooms.length === 0
          ? html`<p class="empty">No rooms yet: create one.</p>`
          : html`<ul aria-label="Rooms">${rooms.map(
              (name) => html`<li>
            <button aria-pressed=${name === current ? 'true' : 'false'} @click=${() => this.select(name)}>${name}</button>
          </li>`
            )}</ul>`
      }
      <form class="row" @submit=${this.create}>
        <label>Room name <input type="text" name="room" autocomplete="off" maxlength=${MAX_NAME} ?disabled=${this.readOnly}></label>
        <button type="submit" ?disabled=${this.readOnly}>Create room</button>
      </form>
      ${errorLine(this.error)}
      ${current ? html`<h3>Room ${current}</h3><server-chat key=${roomKey(current)} hide-online></server-chat>` : nothing}
    `
  }

  private select(name: string): void {
    this.selected = name
    this.error = ''
  }

  private async create(e: SubmitEvent): Promise<void> {
    e.preventDefault()
    const input = (e.currentTarget as HTMLFormElement).elements.namedItem('room') as HTMLInputElement
    const name = input.value.trim()
    const taken = `A room named "${name}" already exists.`
    if (!name) {
      this.error = 'Enter a room name.'
      return
    }
    if (name.length > MAX_NAME) {
      this.error = `Use at most ${MAX_NAME} characters.`
      return
    }
    if (roomNames(this.server.get(ROOMS_KEY)).includes(name)) {
      this.error = taken
      return
    }
    try {
      // Checked again under the lock: another session may have created it meanwhile.
      const created = await createChatRoom(this.server, name)
      if (!created) {
        this.error = taken
        return
      }
      input.value = ''
      this.select(name)
    } catch (err) {
      this.error = `Not created: ${(err as Error).message}`
    }
  }
}

define('server-chat-rooms', ServerChatRooms)

declare global {
  interface HTMLElementTagNameMap {
    'server-chat-rooms': ServerChatRooms
  }
}
