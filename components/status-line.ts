/**
 * The line every example element shows with its session's connection status.
 *
 * @example
 *   render() { return html`${statusLine(this.status)} …` }
 */
import { html, type TemplateResult } from 'lit'
import type { Status } from '../client/index.js'

export const statusLine = (status: Status): TemplateResult =>
  html`<p class="status" data-status=${status} role="status">${status}</p>`
