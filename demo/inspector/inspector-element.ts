/**
 * `<yss-inspector>`: the relay's inspector page. It shows the relay's metrics and the rooms in
 * memory with their connection and lock counts (`GET /api/rooms`, every 2 s), and for the chosen
 * room: its keys, values, versions and list lengths and its presence, live through a session of
 * the room (live-room.ts), and its connections and locks with their holders and waiters
 * (`GET /api/rooms/<room>`, every second).
 *
 * - The room is chosen in the list, by name in the form, or by the page's `?room=` parameter,
 *   which the page keeps up to date so that a reload or a shared link shows the same room.
 * - A token (for a relay with access control: an inspector token, see relay/access/inspector-access.ts)
 *   comes from `?token=`, which the page then removes from its address bar and keeps for the
 *   tab in sessionStorage, or from the form the page shows when the relay refuses it. It is sent
 *   to the API as a Bearer header and to the room's session as its `token`.
 *
 * @example
 *   <script type="module" src="/inspect.js"></script>
 *   <yss-inspector></yss-inspector>
 */
import { LitElement, css, html, nothing, type TemplateResult } from 'lit'
import type { PresenceEntry } from '../../client/index.js'
import { ROOMS_API, roomApiPath, type InspectedRequest, type InspectedRoom, type InspectorOverview } from '../../protocol/inspector.js'
import { getJson, poll, type ApiError } from './api.js'
import { watchRoom, type KeyRow, type LiveSnapshot } from './live-room.js'
import { clock, count, duration, fold, kindOf } from './format.js'

const TOKEN_KEY = 'yss-inspector-token'
const OVERVIEW_MS = 2_000
const ROOM_MS = 1_000

/** The metrics shown, by sample name (protocol/inspector.ts), with their labels and units. */
const METRICS: Array<[sample: string, label: string, unit?: string]> = [
  ['connections', 'Connections'],
  ['rooms_loaded', 'Rooms loaded'],
  ['locks_open', 'Locks open'],
  ['messages_in_total', 'Messages in'],
  ['messages_out_total', 'Messages out'],
  ['bytes_in_total', 'Bytes in', 'B'],
  ['bytes_out_total', 'Bytes out', 'B'],
  ['store_writes_total', 'Store writes'],
  ['errors_total', 'Errors']
]

const who = (user: string | null, id: number): TemplateResult =>
  html`<span class="who">${user ? html`<b>${user}</b>` : html`<i>anonymous</i>`} <span class="id">#${id}</span></span>`

/** The key a request that holds some of its keys waits for. */
const waitsFor = (room: InspectedRoom, r: InspectedRequest): string =>
  room.locks.find((l) => l.waiting.some((w) => w.connection === r.connection && w.request === r.request))?.key ?? '…'

export class YssInspector extends LitElement {
  static override properties = {
    token: { state: true },
    overview: { state: true },
    overviewError: { state: true },
    room: { state: true },
    details: { state: true },
    detailsError: { state: true },
    live: { state: true }
  }

  declare private token: string | null
  declare private overview: InspectorOverview | null
  declare private overviewError: ApiError | null
  declare private room: string | null
  declare private details: InspectedRoom | null
  declare private detailsError: ApiError | null
  declare private live: LiveSnapshot | null
  private stopOverview: (() => void) | null = null
  private stopRoom: (() => void) | null = null

  constructor() {
    super()
    this.token = null
    this.overview = null
    this.overviewError = null
    this.room = null
    this.details = null
    this.detailsError = null
    this.live = null
  }

  override connectedCallback(): void {
    super.connectedCallback()
    const params = new URLSearchParams(location.search)
    const fromUrl = params.get('token')
    if (fromUrl) {
      sessionStorage.setItem(TOKEN_KEY, fromUrl)
      params.delete('token')
      this.replaceQuery(params)
    }
    this.token = sessionStorage.getItem(TOKEN_KEY)
    this.start(params.get('room'))
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback()
    this.stopOverview?.()
    this.stopRoom?.()
    this.stopOverview = this.stopRoom = null
  }

  /** (Re)starts the overview's poll, and the room's if one is chosen. */
  private start(room: string | null): void {
    this.stopOverview?.()
    this.stopOverview = poll(
      () => getJson<InspectorOverview>(ROOMS_API, this.token),
      OVERVIEW_MS,
      (r) => {
        this.overview = r.ok ? r.value : null
        this.overviewError = r.ok ? null : r.error
      }
    )
    this.select(room)
  }

  private select(room: string | null): void {
    this.stopRoom?.()
    this.stopRoom = null
    this.room = room
    this.details = this.detailsError = this.live = null
    const params = new URLSearchParams(location.search)
    if (room === null) params.delete('room')
    else params.set('room', room)
    this.replaceQuery(params)
    if (room === null) return
    const stopPoll = poll(
      () => getJson<InspectedRoom>(roomApiPath(room), this.token),
      ROOM_MS,
      (r) => {
        this.details = r.ok ? r.value : null
        this.detailsError = r.ok ? null : r.error
      }
    )
    const live = watchRoom({ room, ...(this.token ? { token: this.token } : {}) }, (snapshot) => {
      this.live = snapshot
    })
    this.stopRoom = () => {
      stopPoll()
      live.close()
    }
  }

  private replaceQuery(params: URLSearchParams): void {
    const query = params.toString()
    history.replaceState(null, '', `${location.pathname}${query ? `?${query}` : ''}`)
  }

  private useToken(event: SubmitEvent): void {
    event.preventDefault()
    const token = new FormData(event.target as HTMLFormElement).get('token')?.toString().trim() ?? ''
    if (token) sessionStorage.setItem(TOKEN_KEY, token)
    else sessionStorage.removeItem(TOKEN_KEY)
    this.token = token || null
    this.start(this.room)
  }

  private openRoom(event: SubmitEvent): void {
    event.preventDefault()
    const form = event.target as HTMLFormElement
    const room = new FormData(form).get('room')?.toString() ?? ''
    if (room) this.select(room)
    form.reset()
  }

  override render() {
    const refused = [this.overviewError, this.detailsError].find((e) => e?.needsToken) ?? null
    return html`
      ${refused ? this.tokenForm(refused) : nothing}
      ${this.metricsBar()}
      <div class="layout">
        ${this.roomList()}
        <section class="room" aria-label="Room">${this.room === null ? this.noRoom() : this.roomView(this.room)}</section>
      </div>
    `
  }

  private tokenForm(error: ApiError): TemplateResult {
    const headline = !this.token
      ? 'This relay needs an inspector token.'
      : error.status === 401
        ? 'The relay refused this token.'
        : error === this.overviewError
          ? 'The list of rooms and the metrics need an inspector token for every room.'
          : 'This token may not inspect this room.'
    return html`
      <form class="token panel" @submit=${this.useToken}>
        <p role="alert"><b>${headline}</b> <span class="reason">${error.message}</span></p>
        <p class="hint">Print one with <code>npx y-server-state-relay token --room '*' --read --inspect</code> (with the relay's <code>AUTH_SECRET</code>), or open this page as <code>/inspect?token=…</code>.</p>
        <div class="row">
          <label>Token <input name="token" type="password" autocomplete="off" .value=${this.token ?? ''}></label>
          <button>Use token</button>
        </div>
      </form>
    `
  }

  private metricsBar(): TemplateResult {
    const m = this.overview?.metrics
    const refused = m
      ? Object.entries(m)
          .filter(([k]) => k.startsWith('refused_total{'))
          .reduce((n, [, v]) => n + v, 0)
      : 0
    return html`
      <section class="metrics" aria-label="Relay metrics">
        ${METRICS.map(
          ([sample, label, unit]) => html`
          <div class="metric" data-metric=${sample}>
            <span class="value">${m?.[sample] === undefined ? '–' : count(m[sample]!, unit)}</span>
            <span class="label">${label}</span>
          </div>`
        )}
        <div class="metric" data-metric="refused_total"><span class="value">${m ? count(refused) : '–'}</span><span class="label">Refused</span></div>
      </section>
    `
  }

  private roomList(): TemplateResult {
    const rooms = this.overview?.rooms ?? []
    return html`
      <nav class="rooms panel" aria-label="Rooms">
        <h2>Rooms in memory ${this.overview ? html`<span class="badge">${rooms.length}</span>` : nothing}</h2>
        ${this.overviewError && !this.overviewError.needsToken ? html`<p class="error">${this.overviewError.message}</p>` : nothing}
        ${this.overview && rooms.length === 0 ? html`<p class="empty">No room is loaded.</p>` : nothing}
        <ul>
          ${rooms.map(
            (r) => html`
            <li>
              <button class="room-link" aria-current=${r.name === this.room ? 'true' : 'false'} @click=${() => this.select(r.name)}>
                <span class="name">${r.name}</span>
                <span class="sub">${r.connections} connection${r.connections === 1 ? '' : 's'}${r.loaded ? nothing : ' · loading'}</span>
                ${r.locks.held || r.locks.waiting ? html`<span class="sub">${r.locks.held} locked${r.locks.waiting ? `, ${r.locks.waiting} waiting` : ''}</span>` : nothing}
              </button>
            </li>`
          )}
        </ul>
        <form class="open" @submit=${this.openRoom}>
          <label>Open a room by name <input name="room" type="text" placeholder="team/board" autocomplete="off"></label>
          <button class="secondary">Open</button>
        </form>
      </nav>
    `
  }

  private noRoom(): TemplateResult {
    return html`<div class="panel placeholder"><p>Pick a room to see its keys, locks, presence and connections, live.</p></div>`
  }

  private roomView(room: string): TemplateResult {
    const live = this.live
    const status = live?.error ? 'disconnected' : (live?.status ?? 'connecting')
    return html`
      <header class="room-head panel">
        <h2>${room}</h2>
        <p class="status" data-status=${status} role="status">
          ${live?.error ? html`session refused: ${live.error}` : html`${status}${live?.synced ? ' · synced' : ''}${live?.access === 'read' ? ' · read-only' : ''}${live?.user ? html` as <b>${live.user}</b>` : nothing}`}
        </p>
        ${this.detailsError && !this.detailsError.needsToken ? html`<p class="error">${this.detailsError.message}</p>` : nothing}
      </header>
      ${this.keysPanel(live?.keys ?? null)}
      <div class="pair">
        ${this.locksPanel()}
        ${this.presencePanel(live?.presence ?? null)}
      </div>
      ${this.connectionsPanel()}
    `
  }

  private keysPanel(keys: KeyRow[] | null): TemplateResult {
    return html`
      <div class="panel">
        <h3>Keys ${keys ? html`<span class="badge">${keys.length}</span>` : nothing}</h3>
        ${
          keys === null
            ? html`<p class="empty">Connecting…</p>`
            : keys.length === 0
              ? html`<p class="empty">No keys yet.</p>`
              : html`
          <table aria-label="Keys">
            <thead><tr><th>Key</th><th>Value</th><th>Kind</th><th class="num" title="forceRerunBoundSessions calls, every session's summed">Version</th></tr></thead>
            <tbody>
              ${keys.map((k) => {
                const { line, full } = fold(k.value)
                return html`<tr data-key=${k.key}>
                  <td class="key"><code>${k.key}</code></td>
                  <td class="value">${full === null ? html`<code>${line}</code>` : html`<details><summary><code>${line}</code></summary><pre>${full}</pre></details>`}</td>
                  <td class="kind">${kindOf(k.value, k.list)}</td>
                  <td class="num">${k.version}</td>
                </tr>`
              })}
            </tbody>
          </table>`
        }
      </div>
    `
  }

  private locksPanel(): TemplateResult {
    const d = this.details
    const waited = (r: InspectedRequest) =>
      html`<li>${who(r.user, r.connection)} <span class="time">${duration(d!.at - r.requestedAt)}</span></li>`
    return html`
      <div class="panel">
        <h3>Locks ${d ? html`<span class="badge">${d.locks.length}</span>` : nothing}</h3>
        ${
          d === null
            ? html`<p class="empty">…</p>`
            : d.locks.length === 0
              ? html`<p class="empty">No lock is held.</p>`
              : html`
          <table aria-label="Locks">
            <thead><tr><th>Key</th><th>Held by</th><th>For</th><th>Waiting</th></tr></thead>
            <tbody>
              ${d.locks.map(
                (l) => html`<tr data-key=${l.key}>
                <td class="key"><code>${l.key}</code></td>
                <td class="holder">${
                  l.holder
                    ? html`${who(l.holder.user, l.holder.connection)}${
                        l.holder.grantedAt === null
                          ? html` <span class="note">still waits for <code>${waitsFor(d, l.holder)}</code></span>`
                          : nothing
                      }`
                    : '–'
                }</td>
                <td class="time">${l.holder ? duration(d.at - (l.holder.grantedAt ?? l.holder.requestedAt)) : ''}</td>
                <td class="waiting">${l.waiting.length === 0 ? html`<span class="none">nobody</span>` : html`<ol>${l.waiting.map(waited)}</ol>`}</td>
              </tr>`
              )}
            </tbody>
          </table>`
        }
      </div>
    `
  }

  private presencePanel(presence: readonly PresenceEntry[] | null): TemplateResult {
    return html`
      <div class="panel">
        <h3>Presence ${presence ? html`<span class="badge">${presence.length}</span>` : nothing}</h3>
        ${
          presence === null
            ? html`<p class="empty">Connecting…</p>`
            : presence.length === 0
              ? html`<p class="empty">Nobody has a presence.</p>`
              : html`
          <ul class="presence" aria-label="Presence">
            ${presence.map((p) => {
              const nickname = typeof p.state.nickname === 'string' ? p.state.nickname : null
              return html`<li data-client=${p.clientId}>
                ${nickname ? html`<b>${nickname}</b>` : html`<i>no nickname</i>`} <span class="id">client ${p.clientId}</span>
                <code class="state">${fold(p.state, 60).line}</code>
              </li>`
            })}
          </ul>`
        }
      </div>
    `
  }

  private connectionsPanel(): TemplateResult {
    const d = this.details
    return html`
      <div class="panel">
        <h3>Connections ${d ? html`<span class="badge">${d.connections.length}</span>` : nothing}</h3>
        ${
          d === null
            ? html`<p class="empty">…</p>`
            : d.connections.length === 0
              ? html`<p class="empty">No connection.</p>`
              : html`
          <table aria-label="Connections">
            <thead><tr><th>Connection</th><th>Access</th><th>Since</th><th>For</th></tr></thead>
            <tbody>
              ${d.connections.map(
                (c) => html`<tr data-connection=${c.id}>
                <td>${who(c.user, c.id)}</td>
                <td><span class="access" data-access=${c.access}>${c.access}</span></td>
                <td class="time">${clock(c.since)}</td>
                <td class="time">${duration(d.at - c.since)}</td>
              </tr>`
              )}
            </tbody>
          </table>
          <p class="hint">This page's own session of the room is one of them.</p>`
        }
      </div>
    `
  }

  static override styles = css`
    :host {
      display: block; font: 14px/1.45 system-ui, sans-serif; color: var(--yss-text, #1d2433); --accent: var(--yss-accent, #3157d5);
      --line: var(--yss-line, #e3e7f0); --muted: var(--yss-muted, #6b7385); --card: var(--yss-surface, #fff); --well: var(--yss-subtle, #f5f7fb);
    }
    * { box-sizing: border-box; }
    h2, h3 { margin: 0; }
    h2 { font-size: 1.05rem; }
    h3 { font-size: 0.95rem; margin-bottom: 0.5rem; display: flex; align-items: center; gap: 0.4rem; }
    code, pre { font: 12.5px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
    pre { margin: 0.4rem 0 0; padding: 0.5rem 0.6rem; background: var(--well); border-radius: 6px; max-height: 18rem; overflow: auto; white-space: pre-wrap; word-break: break-word; }
    button, input { font: inherit; }
    button { border: 1px solid var(--accent); background: var(--accent); color: #fff; border-radius: 8px; padding: 0.3em 0.85em; cursor: pointer; }
    button.secondary { background: var(--card); color: var(--accent); }
    input[type='text'], input[type='password'] { border: 1px solid var(--yss-border, #b8c0d0); background: var(--card); color: inherit; border-radius: 8px; padding: 0.3em 0.55em; min-width: 0; width: 100%; }
    label { display: flex; flex-direction: column; gap: 0.2em; font-size: 0.85em; color: var(--muted); flex: 1; }
    .row { display: flex; gap: 0.5rem; align-items: flex-end; }
    .panel { background: var(--card); border-radius: 12px; padding: 0.85rem 1rem; box-shadow: 0 1px 3px #0000001a; min-width: 0; }
    .badge { font-size: 0.75rem; font-weight: 600; color: var(--muted); background: var(--well); border-radius: 999px; padding: 0 0.5em; }
    .empty, .hint { color: var(--muted); font-size: 0.85rem; margin: 0.2rem 0 0; }
    .error { color: #b3261e; font-size: 0.85rem; margin: 0.4rem 0 0; }
    .token { margin-bottom: 1rem; border-left: 4px solid #c9a227; }
    .token p { margin: 0 0 0.5rem; }
    .token .reason { display: block; color: var(--muted); font-size: 0.85rem; }
    .metrics { display: grid; grid-template-columns: repeat(auto-fit, minmax(7rem, 1fr)); gap: 0.6rem; margin-bottom: 1rem; }
    .metric { background: var(--card); border-radius: 10px; padding: 0.55rem 0.8rem; box-shadow: 0 1px 3px #0000001a; display: flex; flex-direction: column; }
    .metric .value { font-size: 1.25rem; font-weight: 600; font-variant-numeric: tabular-nums; }
    .metric .label { font-size: 0.75rem; color: var(--muted); }
    .layout { display: grid; grid-template-columns: 16rem minmax(0, 1fr); gap: 1rem; align-items: start; }
    @media (max-width: 50rem) { .layout { grid-template-columns: 1fr; } }
    .rooms h2 { margin-bottom: 0.5rem; display: flex; align-items: center; gap: 0.4rem; }
    .rooms ul { list-style: none; margin: 0 0 0.75rem; padding: 0; display: flex; flex-direction: column; gap: 0.25rem; }
    .room-link { width: 100%; text-align: left; background: var(--card); color: inherit; border: 1px solid transparent; border-radius: 8px; padding: 0.4rem 0.55rem; display: flex; flex-direction: column; }
    .room-link:hover { background: var(--well); }
    .room-link[aria-current='true'] { border-color: var(--accent); background: var(--well); }
    .room-link .name { font-weight: 600; word-break: break-all; }
    .room-link .sub { font-size: 0.78rem; color: var(--muted); }
    .open { display: flex; gap: 0.4rem; align-items: flex-end; border-top: 1px solid var(--line); padding-top: 0.7rem; }
    .room { display: flex; flex-direction: column; gap: 1rem; min-width: 0; }
    .room-head { display: flex; align-items: baseline; gap: 1rem; flex-wrap: wrap; }
    .room-head h2 { font-size: 1.2rem; word-break: break-all; }
    .status { font-size: 0.85em; color: var(--muted); margin: 0; }
    .status::before { content: '●'; margin-right: 0.35em; color: #c9a227; }
    .status[data-status='connected']::before { color: #2e9d55; }
    .status[data-status='disconnected']::before { color: #b3261e; }
    .pair { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 1rem; align-items: start; }
    @media (max-width: 70rem) { .pair { grid-template-columns: 1fr; } }
    table { width: 100%; border-collapse: collapse; font-size: 0.88rem; }
    th { text-align: left; font-weight: 600; font-size: 0.75rem; text-transform: uppercase; letter-spacing: 0.03em; color: var(--muted); padding: 0.3rem 0.5rem; border-bottom: 1px solid var(--line); }
    td { padding: 0.35rem 0.5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
    tbody tr:last-child td { border-bottom: none; }
    .num { text-align: right; font-variant-numeric: tabular-nums; }
    td.key code { color: var(--accent); font-weight: 600; }
    td.value { word-break: break-word; }
    td.kind, .time { color: var(--muted); white-space: nowrap; font-variant-numeric: tabular-nums; }
    summary { cursor: pointer; }
    .who .id, .id { color: var(--muted); font-size: 0.8rem; }
    .note { color: #8a5a00; font-size: 0.8rem; }
    .none { color: var(--muted); }
    ol { margin: 0; padding-left: 1.2rem; }
    .access { font-size: 0.78rem; border-radius: 999px; padding: 0.05em 0.55em; background: #e7f5ec; color: #1f6f3d; }
    .access[data-access='read'] { background: var(--well); color: var(--muted); }
    .presence { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: 0.35rem; }
    .presence li { display: flex; flex-wrap: wrap; gap: 0.2rem 0.5rem; align-items: baseline; padding: 0.3rem 0; border-bottom: 1px solid var(--line); }
    .presence li:last-child { border-bottom: none; }
    .presence .state { flex-basis: 100%; color: var(--muted); word-break: break-all; }
    .placeholder { color: var(--muted); }
  `
}

customElements.define('yss-inspector', YssInspector)

declare global {
  interface HTMLElementTagNameMap {
    'yss-inspector': YssInspector
  }
}
