/**
 * `<server-state-provider>`: hands one session to every server-state element inside it (in its
 * light DOM or deeper shadow roots) that has no `url` or `room` of its own.
 *
 * The session is the `session` property if set (yours to close), else the shared session of its
 * `url` and `room` attributes (defaults: the page's own relay, room `default`). Changing either
 * moves every element below to the new session. An invalid room is handed down as an error, which
 * the elements below show (they never fall back to the default room). The shared session is
 * taken a microtask after the provider enters the page, so that a `session` set just after
 * inserting it opens no socket of its own; the elements below wait for it meanwhile.
 *
 * @example
 *   <server-state-provider room="team">
 *     <server-counter></server-counter>
 *     <server-chat></server-chat>
 *   </server-state-provider>
 *
 *   provider.session = connect({ room: 'team', broadcastChannel: false })
 */
import { LitElement, css, html, type PropertyValues, type TemplateResult } from 'lit'
import { ContextProvider } from '@lit/context'
import type { ServerState } from '../client/index.js'
import { sessionContext } from './session-context.js'
import { acquireSession, type SessionLease } from './session-registry.js'
import { define } from './define.js'

export class ServerStateProvider extends LitElement {
  static override properties = {
    url: { type: String },
    room: { type: String },
    session: { attribute: false }
  }
  static override styles = css`:host { display: contents; }`

  /** The relay, `ws://host:port`; default the page's own. */
  declare url?: string
  /** The room; default `default`. */
  declare room?: string
  /** A session of your own to provide, instead of the shared one of `url` and `room`. */
  declare session?: ServerState
  private readonly provider = new ContextProvider(this, { context: sessionContext })
  private lease: SessionLease | null = null

  /** The session provided now; after the provider left the DOM, the last one it provided. */
  get provided(): ServerState | undefined {
    const value = this.provider.value
    return value instanceof Error ? undefined : value
  }

  /** Why the provider has no session (an invalid room), or null. */
  get error(): Error | null {
    const value = this.provider.value
    return value instanceof Error ? value : null
  }

  override connectedCallback(): void {
    super.connectedCallback()
    // A session of the caller's is provided before the children connect, so that they find it at
    // once; the shared one a microtask later, in case a session is set right after insertion.
    if (this.session) this.provide()
    else queueMicrotask(() => this.provide())
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback()
    this.lease?.release()
    this.lease = null
  }

  protected override willUpdate(changed: PropertyValues): void {
    if (changed.has('url') || changed.has('room') || changed.has('session')) this.provide()
  }

  override render(): TemplateResult {
    return html`<slot></slot>`
  }

  private provide(): void {
    if (!this.isConnected) return
    let lease: SessionLease | null = null
    let failed: Error | null = null
    try {
      lease = this.session ? null : acquireSession(this.url || undefined, this.room || undefined)
    } catch (err) {
      failed = err as Error
    }
    this.lease?.release()
    this.lease = lease
    this.provider.setValue(this.session ?? lease?.session ?? failed!)
  }
}

define('server-state-provider', ServerStateProvider)

declare global {
  interface HTMLElementTagNameMap {
    'server-state-provider': ServerStateProvider
  }
}
