/**
 * `<server-chat>`: a chat shared by every session. Messages are `{ nickname, text, at }`, shown
 * oldest first and scrolled to the newest. Enter or Send sends; an empty nickname or message is
 * refused with a visible message. It shows who is online by nickname (the session's presence,
 * which typing a nickname sets); `hide-online` hides that line. The nickname field shows the
 * session's nickname, so that every chat of one session (a room's beside the main one) shares it.
 *
 * The messages are a Y.Array-backed list (`server.append`): sending one sends only that message,
 * however long the history, and the list is created under the key's lock.
 *
 * @example
 *   <server-chat></server-chat>              <!-- key "chat" -->
 *   <server-chat key="support"></server-chat>
 */
import { css, html, nothing, type PropertyValues, type TemplateResult } from 'lit'
import { live } from 'lit/directives/live.js'
import { ServerStateElement } from './server-state-element.js'
import { sharedStyles } from './shared-styles.js'
import { errorLine, readOnlyLine, statusLine } from './status-line.js'
import { define } from './define.js'
import { chatMessages, ownNickname, setNickname, type ChatMessage } from './chat-model.js'
import { onlineLine, onlineStyles } from './online-line.js'

export { chatMessages, type ChatMessage } from './chat-model.js'

const time = (at: number): string => new Date(at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })

export class ServerChat extends ServerStateElement {
  static override properties = { key: { type: String }, hideOnline: { type: Boolean, attribute: 'hide-online' }, error: { state: true } }
  static override styles = [
    sharedStyles,
    onlineStyles,
    css`
      ol {
        list-style: none; margin: 0 0 0.75em; padding: 0.5em; height: 12em; overflow-y: auto;
        border: 1px solid var(--yss-border, #dde2ec); border-radius: var(--radius); background: var(--yss-subtle, #f7f8fb);
      }
      li { margin: 0.15em 0; overflow-wrap: anywhere; }
      li.empty { color: var(--yss-muted, #6b7385); font-style: italic; }
      time { color: var(--yss-muted, #6b7385); font-size: 0.8em; margin-right: 0.4em; }
      .nick { font-weight: 600; margin-right: 0.3em; }
      form .grow { flex: 1; }
      form .grow input { width: 100%; box-sizing: border-box; }
    `
  ]

  /** The key holding the messages. Default `chat`. */
  declare key: string
  /** Hides the line of who is online (the nicknames in the session's presence). Attribute `hide-online`. */
  declare hideOnline: boolean
  declare protected error: string
  private shown = 0

  constructor() {
    super()
    this.key = 'chat'
    this.hideOnline = false
    this.error = ''
  }

  override render(): TemplateResult {
    const messages = chatMessages(this.server.get(this.key))
    return html`
      ${statusLine(this.status)}
      ${this.hideOnline ? nothing : onlineLine(this.server)}
      ${readOnlyLine(this.server)}
      <ol aria-label="Messages" aria-live="polite">
        ${messages.length === 0 ? html`<li class="empty">No messages yet.</li>` : nothing}
        ${messages.map((m) => html`<li><time>${time(m.at)}</time><span class="nick">${m.nickname}:</span>${m.text}</li>`)}
      </ol>
      <form class="row" @submit=${this.send}>
        <label>Nickname <input type="text" name="nickname" autocomplete="nickname" size="10" ?disabled=${this.readOnly}
          .value=${live(ownNickname(this.server))} @input=${(e: Event) => setNickname(this.server, (e.target as HTMLInputElement).value)}></label>
        <label class="grow">Message <input type="text" name="message" autocomplete="off" ?disabled=${this.readOnly}></label>
        <button type="submit" ?disabled=${this.readOnly}>Send</button>
      </form>
      ${errorLine(this.error)}
    `
  }

  protected override updated(changed: PropertyValues): void {
    super.updated(changed)
    // No list while the element shows a session error in place of its template.
    const list = this.renderRoot.querySelector('ol')
    if (!list) return
    const count = list.querySelectorAll('li:not(.empty)').length
    if (count !== this.shown) list.scrollTop = list.scrollHeight
    this.shown = count
  }

  private send(e: SubmitEvent): void {
    e.preventDefault()
    const form = e.currentTarget as HTMLFormElement
    const nickname = form.elements.namedItem('nickname') as HTMLInputElement
    const message = form.elements.namedItem('message') as HTMLInputElement
    const refuse = (why: string, field: HTMLInputElement) => {
      this.error = why
      field.focus()
    }
    if (!nickname.value.trim()) {
      refuse('Enter a nickname first.', nickname)
      return
    }
    if (!message.value.trim()) {
      refuse('Enter a message to send.', message)
      return
    }
    const sent: ChatMessage = { nickname: nickname.value.trim(), text: message.value.trim(), at: Date.now() }
    setNickname(this.server, sent.nickname)
    this.error = ''
    message.value = ''
    // append() throws at once when the session is closed; either way the text is given back.
    let sending: Promise<void>
    try {
      sending = this.server.append(this.key, sent)
    } catch (err) {
      sending = Promise.reject(err)
    }
    sending.catch((err: Error) => {
      this.error = `Not sent: ${err.message}`
      if (!message.value) message.value = sent.text
    })
  }
}

define('server-chat', ServerChat)

declare global {
  interface HTMLElementTagNameMap {
    'server-chat': ServerChat
  }
}
