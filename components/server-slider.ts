/**
 * `<server-slider>`: one value from 0 to 100, starting at 50, shared by every session.
 *
 * A drag fires an `input` event per pixel; the element writes the first at once and then at most
 * one value per frame (the latest), and the final one on release, so the relay sees a few writes
 * a second, not hundreds, and other sessions follow within a frame or two.
 *
 * @example
 *   <server-slider room="default"></server-slider>
 */
import { css, html, type TemplateResult } from 'lit'
import { ReadOnlyError, type ServerState } from '../client/index.js'
import { live } from 'lit/directives/live.js'
import { ServerStateElement } from './server-state-element.js'
import { sharedStyles } from './shared-styles.js'
import { errorLine, readOnlyLine, statusLine } from './status-line.js'
import { define } from './define.js'

const KEY = 'slider'
const INITIAL = 50
/** The write interval while dragging: one frame at 60 Hz. */
const FRAME_MS = 16

export class ServerSlider extends ServerStateElement {
  static override styles = [
    sharedStyles,
    css`
      input[type='range'] { width: 100%; accent-color: var(--accent); }
      output { font-size: 1.6em; font-weight: 600; }
      label { display: block; }
    `
  ]

  static override properties = { error: { state: true } }

  declare protected error: string
  /** The dragged value not yet written; shown instead of the shared one meanwhile. */
  private pending: number | null = null
  private window: ReturnType<typeof setTimeout> | undefined

  constructor() {
    super()
    this.error = ''
  }

  override disconnectedCallback(): void {
    try {
      this.writeNow()
    } finally {
      super.disconnectedCallback()
    }
  }

  /** The shared value starts at 50 for every session, set once under the key's lock (not by a read-only one). */
  protected override sessionChanged(server: ServerState): void {
    server
      .lock(KEY, (s) => {
        if (!(KEY in s)) s[KEY] = INITIAL
      })
      .catch((err: Error) => {
        // `this.server` would throw if the element has no session now (its room became invalid).
        if (this.showing(server) && !(err instanceof ReadOnlyError)) this.error = err.message
      })
  }

  override render(): TemplateResult {
    const shared = this.server.get(KEY)
    // Any client may write the key: show it within the slider's range.
    const value = this.pending ?? (typeof shared === 'number' ? Math.min(100, Math.max(0, Math.round(shared))) : INITIAL)
    return html`
      ${statusLine(this.status)}
      ${readOnlyLine(this.server)}
      <label>Value <output aria-live="polite">${value}</output>
        <input type="range" min="0" max="100" step="1" .value=${live(String(value))} ?disabled=${this.readOnly}
          @input=${this.onInput} @change=${this.writeNow}>
      </label>
      ${errorLine(this.error)}
    `
  }

  private onInput(e: Event): void {
    this.pending = Number((e.target as HTMLInputElement).value)
    this.requestUpdate()
    if (this.window === undefined) this.writePending()
  }

  /** Writes the pending value, then opens a frame-long window that gathers the next ones. */
  private writePending = (): void => {
    this.window = undefined
    if (this.pending === null) return
    const value = this.pending
    this.pending = null
    try {
      // While the key is unset, another session's first write (its start at 50, under the
      // lock) may be on its way: a plain set would be concurrent with it, and could lose.
      if (this.server.has(KEY)) this.server.set(KEY, value)
      else
        this.server
          .lock(KEY, (s) => {
            s[KEY] = value
          })
          .catch((err: Error) => {
            this.error = `Not saved: ${err.message}`
          })
      this.error = ''
    } catch (err) {
      this.error = `Not saved: ${(err as Error).message}` // a closed session
      return
    }
    this.window = setTimeout(this.writePending, FRAME_MS)
  }

  private writeNow = (): void => {
    clearTimeout(this.window)
    this.writePending()
  }
}

define('server-slider', ServerSlider)

declare global {
  interface HTMLElementTagNameMap {
    'server-slider': ServerSlider
  }
}
