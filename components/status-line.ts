/**
 * The lines every example element shows: its session's connection status, why its controls are
 * disabled (read-only access), and its last error.
 *
 * @example
 *   render() { return html`${statusLine(this.status)} ${readOnlyLine(this.server)} …` }
 */
import { html, nothing, type TemplateResult } from 'lit'
import type { Access, Status } from '../client/index.js'

export const statusLine = (status: Status): TemplateResult => html`<p class="status" data-status=${status} role="status">${status}</p>`

/** The reason an element's controls are disabled, for a read-only session; nothing otherwise. */
export const readOnlyLine = (session: { readonly access: Access; readonly user?: string | undefined }): TemplateResult | typeof nothing =>
  session.access === 'read'
    ? html`<p class="read-only" role="note">Read-only access${session.user ? html` for <b>${session.user}</b>` : nothing}: you can see this room but not change it.</p>`
    : nothing

/** An element's last error, announced to screen readers; nothing when there is none. */
export const errorLine = (error: string): TemplateResult | typeof nothing =>
  error ? html`<p class="error" role="alert">${error}</p>` : nothing
