/**
 * The lines every example element shows: its session's connection status, and its last error.
 *
 * @example
 *   render() { return html`${statusLine(this.status)} …` }
 */
import { html, nothing, type TemplateResult } from 'lit'
import type { Status } from '../client/index.js'

export const statusLine = (status: Status): TemplateResult =>
  html`<p class="status" data-status=${status} role="status">${status}</p>`

/** An element's last error, announced to screen readers; nothing when there is none. */
export const errorLine = (error: string): TemplateResult | typeof nothing =>
  error ? html`<p class="error" role="alert">${error}</p>` : nothing
