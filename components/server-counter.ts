/**
 * `<server-counter>`: the global counter. Shows `Count = N` with Increment and Decrement buttons;
 * the key `count` is initialised under its lock, and each click is a locked increment, so
 * concurrent clicks in any number of sessions are all counted.
 *
 * @example
 *   <server-counter></server-counter>
 *   <server-counter url="ws://127.0.0.1:1234" room="team"></server-counter>
 */
import { css, html, type TemplateResult } from 'lit'
import { ReadOnlyError, type ServerState } from '../client/index.js'
import { ServerStateElement } from './server-state-element.js'
import { sharedStyles } from './shared-styles.js'
import { errorLine, readOnlyLine, statusLine } from './status-line.js'
import { define } from './define.js'

const KEY = 'count'

export class ServerCounter extends ServerStateElement {
  static override properties = { error: { state: true } }
  static override styles = [sharedStyles, css`.value { font-size: 1.6em; font-weight: 600; margin: 0 0 0.5em; }`]

  declare protected error: string

  constructor() {
    super()
    this.error = ''
  }

  protected override sessionChanged(server: ServerState): void {
    this.report(
      server.lock(KEY, (s) => {
        if (!(KEY in s)) s[KEY] = 0
      })
    )
  }

  override render(): TemplateResult {
    const count = this.server.get(KEY)
    return html`
      ${statusLine(this.status)}
      ${readOnlyLine(this.server)}
      <p class="value" aria-live="polite">Count = ${typeof count === 'number' ? count : '…'}</p>
      <div class="row">
        <button ?disabled=${this.readOnly} @click=${() => this.step(1)}>Increment</button>
        <button class="secondary" ?disabled=${this.readOnly} @click=${() => this.step(-1)}>Decrement</button>
      </div>
      ${errorLine(this.error)}
    `
  }

  private step(by: number): void {
    this.report(
      this.server.lock(KEY, (s) => {
        s[KEY] = (typeof s[KEY] === 'number' ? s[KEY] : 0) + by
      })
    )
  }

  /**
   * Shows a failed lock (offline, timed out) instead of losing the click silently. A read-only
   * session's refusal is not an error: the read-only line says why the buttons are disabled.
   */
  private report(done: Promise<unknown>): void {
    const server = this.server
    // Only the session shown now: a lock of one it left may fail as that one closes.
    const current = () => this.showing(server)
    done.then(
      () => {
        if (current()) this.error = ''
      },
      (err: Error) => {
        if (current()) this.error = err instanceof ReadOnlyError ? '' : err.message
      }
    )
  }
}

define('server-counter', ServerCounter)

declare global {
  interface HTMLElementTagNameMap {
    'server-counter': ServerCounter
  }
}
