/**
 * The line the chat elements show of who is online, by nickname, from the session's presence:
 * `Online: alice (you), bob`. Reading the list in a render binds the element to presence, so it
 * re-renders when someone comes, goes or renames.
 *
 * @example
 *   static override styles = [sharedStyles, onlineStyles]
 *   render() { return html`${onlineLine(this.server)} …` }
 */
import { css, html, type TemplateResult } from 'lit'
import type { ServerState } from '../client/index.js'
import { onlineNicknames } from './chat-model.js'

export const onlineLine = (server: ServerState): TemplateResult => {
  const online = onlineNicknames(server.presence.list())
  return html`<p class="online" aria-label="Online">
    Online: ${
      online.length === 0
        ? html`<span class="nobody">nobody with a nickname yet</span>`
        : online.map(
            (p, i) => html`${i > 0 ? ', ' : ''}<span class="who" data-self=${p.self}>${p.nickname}${p.self ? ' (you)' : ''}</span>`
          )
    }
  </p>`
}

/** The online line's look. */
export const onlineStyles = css`
  .online { font-size: 0.85em; color: var(--yss-muted, #4a5368); margin: 0 0 0.5em; }
  .online .who { font-weight: 600; color: var(--yss-text, #1d2433); }
  .online .nobody { font-style: italic; }
`
