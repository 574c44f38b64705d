/**
 * The look the example elements share: a card-like block, form controls and the status line.
 * Everything is scoped to each element's shadow root; hosts can restyle through the custom
 * properties `--yss-accent`, `--yss-radius` and `--yss-font`, and recolour (a dark theme) through
 * `--yss-text`, `--yss-muted` (secondary text), `--yss-surface` (the page's card behind the
 * element), `--yss-subtle` (a well, such as the chat's list) and `--yss-border`: custom
 * properties inherit into the shadow root, so a page sets them once on `:root`.
 *
 * @example
 *   static override styles = [sharedStyles, css`.value { font-size: 2rem }`]
 */
import { css } from 'lit'

export const sharedStyles = css`
  :host {
    display: block;
    font: var(--yss-font, 15px/1.45 system-ui, sans-serif);
    color: var(--yss-text, #1d2433);
    --accent: var(--yss-accent, #3157d5);
    --radius: var(--yss-radius, 8px);
  }
  [hidden] { display: none !important; }
  button, input { font: inherit; }
  button {
    border: 1px solid var(--accent);
    background: var(--accent);
    color: #fff;
    border-radius: var(--radius);
    padding: 0.35em 0.9em;
    cursor: pointer;
  }
  button.secondary { background: var(--yss-surface, #fff); color: var(--accent); }
  button:disabled, input:disabled { opacity: 0.55; cursor: not-allowed; }
  button:focus-visible, input:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
  input[type='text'] {
    border: 1px solid var(--yss-border, #b8c0d0);
    border-radius: var(--radius);
    background: var(--yss-surface, #fff);
    color: inherit;
    padding: 0.35em 0.6em;
    min-width: 0;
  }
  label { display: inline-flex; flex-direction: column; gap: 0.2em; font-size: 0.85em; color: var(--yss-muted, #4a5368); }
  .row { display: flex; gap: 0.5em; align-items: flex-end; flex-wrap: wrap; }
  .error { color: #b3261e; font-size: 0.9em; margin: 0.4em 0 0; }
  .read-only { color: var(--yss-muted, #4a5368); font-size: 0.85em; margin: 0 0 0.5em; }
  .status { font-size: 0.8em; color: var(--yss-muted, #6b7385); margin: 0 0 0.5em; }
  .status::before { content: '●'; margin-right: 0.35em; color: #c9a227; }
  .status[data-status='connected']::before { color: #2e9d55; }
  .status[data-status='disconnected']::before { color: #b3261e; }
`
