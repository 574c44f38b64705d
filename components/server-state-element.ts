/**
 * The Lit integration: an element that re-renders when a key its last render read changes, in
 * any session of its room.
 *
 * - Reads made in `update()`, so in `render()`, bind it through a client {@link Tracker}; each
 *   update replaces the bindings with the keys it read. (Reads in `willUpdate()` or `updated()`
 *   do not bind, as in lit-mobx.)
 * - Several keys changed in one transaction request one update; Lit batches the rest.
 * - A write made during the element's own render does not re-render it, so it cannot loop.
 * - When it leaves the DOM it is unbound (and releases its session); when it comes back it
 *   re-binds and renders once to catch up with what changed meanwhile.
 * - If render throws, the tracker is still closed: later reads elsewhere do not bind it.
 * - With no session (a bad `url` or `room`) it shows why in place of its template: `render()`
 *   is not called, but `updated()` is, so `updated()` must not count on the template's nodes.
 *
 * Its session comes from, in order: its own `url` and `room` attributes, if either is set (one
 * shared connection per url and room, see `acquireSession`); else the nearest provider of
 * `sessionContext` above it (whose error, an invalid room, it shows; while that provider has no
 * session yet, it shows `connecting` in place of its template); else, only when no provider
 * answered, the page's own relay, room `default`.
 *
 * @example
 *   import { html } from 'lit'
 *   import { ServerStateElement } from 'y-server-state/components'
 *
 *   class VisitCount extends ServerStateElement {
 *     override render() {
 *       const visit = () => this.server.lock('visits', (s) => { s.visits = (s.visits ?? 0) + 1 })
 *       return html`<button @click=${visit}>Visits: ${this.state.visits ?? 0}</button>`
 *     }
 *   }
 *   customElements.define('visit-count', VisitCount)
 */
import { LitElement, ReactiveElement, render as litRender, type PropertyValues, type RenderOptions } from 'lit'
import { errorLine, statusLine } from './status-line.js'
import { ContextConsumer } from '@lit/context'
import type { ServerState, Status, Tracker } from '../client/index.js'
import { sessionContext } from './session-context.js'
import { acquireSession, type SessionLease } from './session-registry.js'

// biome-ignore lint/suspicious/noExplicitAny: TypeScript requires a mixin's base constructor to take `...args: any[]` (TS2545)
type Constructor<T> = new (...args: any[]) => T

/** What {@link ServerStateMixin} adds to an element. */
export declare class ServerStateHost {
  /** The relay, `ws://host:port`. Setting it (or `room`) makes the element ignore any provider. */
  url?: string
  /** The room. Setting it (or `url`) makes the element ignore any provider. */
  room?: string
  /**
   * The element's session. Reads during an update bind the element. Throws before the element
   * was first connected; after it left the DOM, it is the last session it had.
   */
  readonly server: ServerState
  /** `server.state`: the keys as properties, e.g. `this.state.count`. */
  // biome-ignore lint/suspicious/noExplicitAny: the element's session is untyped (`ServerState`'s default), so `this.state.count` reads without a cast
  readonly state: Record<string, any>
  /** The session's connection status; a change re-renders the element. */
  readonly status: Status
  /** Whether the session has read-only access (`server.access === 'read'`); a change re-renders the element. */
  readonly readOnly: boolean
  /** Why the element has no session (a bad `url` or `room`), shown in its place; or null. */
  readonly sessionError: Error | null
  /**
   * Called, in a microtask, when the element takes a session other than the one it was last
   * called with: on its first connection, on a new provider value, on a change of `url` or `room`.
   * Moving the element within the page keeps its session and calls nothing, however many moves a
   * task makes. Override it to initialise keys, e.g. under a lock.
   */
  protected sessionChanged(server: ServerState): void
  /** Whether `server` is the session the element shows now (for a late answer of one it left). */
  protected showing(server: ServerState): boolean
}

/** Adds server-state binding to a Lit element class. See the module comment. */
export const ServerStateMixin = <T extends Constructor<ReactiveElement>>(Base: T) => {
  class ServerStateBound extends Base {
    static properties = { url: { type: String }, room: { type: String } }

    declare url?: string
    declare room?: string
    private _server: ServerState | null = null
    private _tracker: Tracker | null = null
    private _lease: SessionLease | null = null
    private _stopStatus: (() => void) | null = null
    /** The nearest provider's answer: null while none answered, undefined while it has no session. */
    private _provided: ServerState | Error | undefined | null = null
    /** The session `sessionChanged` was last called with, and whether a call is queued. */
    private _announced: ServerState | null = null
    private _announcing = false

    // biome-ignore lint/suspicious/noExplicitAny: TypeScript requires a mixin class's constructor to take `...args: any[]` (TS2545)
    constructor(...args: any[]) {
      super(...args)
      new ContextConsumer(this, {
        context: sessionContext,
        subscribe: true,
        callback: (session) => {
          this._provided = session
          this._attach()
        }
      })
    }

    get server(): ServerState {
      if (!this._server) throw new Error(`<${this.localName}>: no session before the element is connected`)
      return this._server
    }

    // biome-ignore lint/suspicious/noExplicitAny: as `ServerStateHost.state`: the untyped session's state
    get state(): Record<string, any> {
      return this.server.state
    }

    get status(): Status {
      return this._server?.status ?? 'connecting'
    }

    get readOnly(): boolean {
      return this._server?.access === 'read'
    }

    protected sessionChanged(_server: ServerState): void {}

    protected showing(server: ServerState): boolean {
      return this._server === server
    }

    /** Why the element has no session (a bad `url` or `room`), shown in its place; or null. */
    sessionError: Error | null = null

    override connectedCallback(): void {
      // The context consumer, a controller, asks for a provider's session in here.
      super.connectedCallback()
      this._attach()
    }

    override disconnectedCallback(): void {
      super.disconnectedCallback()
      this._detach()
      // A provider answers again on reconnection, if there still is one.
      this._provided = null
    }

    protected override update(changed: PropertyValues): void {
      if (changed.has('url') || changed.has('room')) this._attach()
      if (this.sessionError || !this._server) {
        // No session to render from: show why (or that its provider's is on its way) in place of
        // the element's own template (a later render with a session replaces it), and finish the
        // update without calling render().
        ;(ReactiveElement.prototype as unknown as { update(c: PropertyValues): void }).update.call(this, changed)
        // The element's own render options: Lit keeps this first part, and its options, for every
        // later render into the root; without `host`, listeners would get their DOM node as `this`.
        const options = (this as { renderOptions?: RenderOptions }).renderOptions ?? { host: this }
        litRender(
          this.sessionError ? errorLine(this.sessionError.message) : statusLine('connecting'),
          this.renderRoot as HTMLElement,
          options
        )
        return
      }
      const tracker = this._tracker
      if (tracker && !tracker.disposed) tracker.run(() => super.update(changed))
      else super.update(changed)
    }

    private _attach(): void {
      if (!this.isConnected) return
      const url = this.url || undefined
      const room = this.room || undefined
      const answer = url || room ? null : this._provided
      if (answer instanceof Error || answer === undefined) {
        // The provider's error (a bad room) to show, or no session from it yet: wait for one.
        this._noSession(answer ?? null)
        return
      }
      const provided = answer
      let lease: SessionLease | null = null
      try {
        lease = provided ? null : acquireSession(url, room)
      } catch (err) {
        // A bad url or room: show why, instead of a blank element or a stale session.
        this._noSession(err as Error)
        return
      }
      this.sessionError = null
      const next = provided ?? lease!.session
      if (next === this._server && this._tracker) {
        // Keep the lease that matches how the session is reached now (own attributes or a
        // provider), so that a provider moving on cannot close a session this element shows.
        this._lease?.release()
        this._lease = lease
        return
      }
      this._detach()
      this._server = next
      this._lease = lease
      this._tracker = next.tracker(() => this.requestUpdate())
      const stopStatus = next.onStatus(() => this.requestUpdate())
      const stopAccess = next.onAccess(() => this.requestUpdate())
      this._stopStatus = () => {
        stopStatus()
        stopAccess()
      }
      this.requestUpdate()
      this._announce()
    }

    /**
     * Calls `sessionChanged` with the session shown, in a microtask, once however many times it
     * is asked for meanwhile, and not again for the session it was last called with. Not now:
     * this may run inside a parent's render, whose tracker would then be taken for the writer of
     * whatever sessionChanged writes, and never re-run by it.
     */
    private _announce(): void {
      if (this._announcing) return
      this._announcing = true
      queueMicrotask(() => {
        this._announcing = false
        const server = this._server
        if (!server || server === this._announced || !this.isConnected) return
        this._announced = server
        this.sessionChanged(server)
      })
    }

    /** No session: `error` shown in its place, or (null) a provider's session awaited. */
    private _noSession(error: Error | null): void {
      this._detach()
      this._server = null
      this.sessionError = error
      this.requestUpdate()
    }

    private _detach(): void {
      this._tracker?.dispose()
      this._tracker = null
      this._stopStatus?.()
      this._stopStatus = null
      this._lease?.release()
      this._lease = null
    }
  }
  return ServerStateBound as unknown as Constructor<ServerStateHost> & T
}

/** A `LitElement` with {@link ServerStateMixin}: extend it to write your own element. */
export class ServerStateElement extends ServerStateMixin(LitElement) {}
