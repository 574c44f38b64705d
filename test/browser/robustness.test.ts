/**
 * The elements against sessions that change, close or fail, and against data any client may
 * write: regressions found in review.
 */
import { html } from 'lit'
import {
  ServerStateElement,
  ROOMS_KEY,
  chatMessages,
  releasesSettled,
  roomKey,
  type ServerChat,
  type ServerChatRooms,
  type ServerCounter,
  type ServerSlider,
  type ServerStateProvider
} from '../../components/index.js'
import { assert, assertEqual, cleanup, freshRoom, inShadow, mount, relayUrl, session, textIn, waitFor } from './helpers.js'

afterEach(cleanup)

const connected = (el: Element) => waitFor(() => textIn(el, '.status') === 'connected', `<${el.localName}> to connect`)

/**
 * A room no session accepts, whichever names the client allows: far beyond any length limit.
 * (`room=""` cannot serve: an element takes an empty attribute for the default room.)
 */
const INVALID_ROOM = 'x'.repeat(10_000)

class CountTotal extends ServerStateElement {
  override render() {
    return html`<p class="total">total=${this.server.get('count') ?? 'none'}</p><server-counter></server-counter>`
  }
}
customElements.define('count-total', CountTotal)

describe('sessions that change', () => {
  it('an element that took its own url and room keeps its session when its provider moves on', async () => {
    const url = await relayUrl()
    const [x, y] = [freshRoom('keep'), freshRoom('keep')]
    const host = mount(html`<server-state-provider url=${url} room=${x}><server-counter></server-counter></server-state-provider>`)
    const provider = host.querySelector<ServerStateProvider>('server-state-provider')!
    const counter = host.querySelector<ServerCounter>('server-counter')!
    await connected(counter)
    const shared = counter.server
    counter.setAttribute('url', url)
    counter.setAttribute('room', x)
    await counter.updateComplete
    provider.setAttribute('room', y)
    await provider.updateComplete
    await waitFor(() => provider.provided !== shared, 'the provider to move')
    await releasesSettled() // any close the provider's release set off has run
    assert(counter.server === shared && !shared.closed, "the counter's session is still open")
    counter.remove()
    await waitFor(() => shared.closed, 'the session to close once its last element left')
  })

  it("a parent that reads a key is re-rendered by its child element's first write", async () => {
    const room = freshRoom('parent')
    const s = await session(room)
    const host = mount(html`<server-state-provider .session=${s}><count-total></count-total></server-state-provider>`)
    const parent = host.querySelector('count-total')!
    await waitFor(() => textIn(parent, '.total') === 'total=0', "the parent to show the counter's initial 0")
  })

  it('chat rooms do not keep showing a room of the session they left', async () => {
    const url = await relayUrl()
    const host = mount(html`<server-chat-rooms url=${url} room=${freshRoom('rooms-a')}></server-chat-rooms>`)
    const rooms = host.querySelector<ServerChatRooms>('server-chat-rooms')!
    await connected(rooms)
    inShadow<HTMLInputElement>(rooms, 'input[name=room]').value = 'general'
    inShadow<HTMLButtonElement>(rooms, 'form button').click()
    await waitFor(() => textIn(rooms, 'h3') === 'Room general', 'the new room to be selected')
    rooms.setAttribute('room', freshRoom('rooms-b'))
    await waitFor(() => textIn(rooms, '.empty') === 'No rooms yet: create one.', 'the other room list')
    assert(!rooms.shadowRoot!.querySelector('h3') && !rooms.shadowRoot!.querySelector('server-chat'), 'no chat shown')
  })

  it('an invalid room shows why, in place of the element', async () => {
    const host = mount(html`<server-counter room=${INVALID_ROOM}></server-counter>`)
    const counter = host.querySelector<ServerCounter>('server-counter')!
    await waitFor(() => /invalid room name/.test(textIn(counter, '[role=alert]') ?? ''), 'the error to show')
    counter.setAttribute('url', await relayUrl())
    counter.setAttribute('room', freshRoom('good'))
    await waitFor(() => textIn(counter, '.value') === 'Count = 0', 'the counter once the room is valid')
  })

  it('a message sent on a closed session is kept in its field, with an error', async () => {
    const host = mount(html`<server-chat url=${await relayUrl()} room=${freshRoom('closed')}></server-chat>`)
    const chat = host.querySelector<ServerChat>('server-chat')!
    await connected(chat)
    const send = (text: string) => {
      inShadow<HTMLInputElement>(chat, 'input[name=nickname]').value = 'ada'
      inShadow<HTMLInputElement>(chat, 'input[name=message]').value = text
      inShadow<HTMLButtonElement>(chat, 'form button').click()
    }
    send('first') // the list exists from here: the next append is a plain write, which throws when closed
    await waitFor(() => chat.shadowRoot!.querySelectorAll('li:not(.empty)').length === 1, 'the first message')
    chat.server.close()
    send('hello')
    await waitFor(() => /Not sent/.test(textIn(chat, '[role=alert]') ?? ''), 'the error to show')
    assertEqual(inShadow<HTMLInputElement>(chat, 'input[name=message]').value, 'hello', 'the message field')
  })
})

describe('an element that starts with an invalid room', () => {
  type Tag = 'server-counter' | 'server-slider' | 'server-chat' | 'server-chat-rooms'

  /** `tag` mounted with an invalid room; resolves once its update completed, showing why. */
  const mountInvalid = async <K extends Tag>(tag: K): Promise<HTMLElementTagNameMap[K]> => {
    const el = document.createElement(tag)
    el.setAttribute('room', INVALID_ROOM)
    mount(html`${el}`)
    const failed = await el.updateComplete.then(
      () => null,
      (e: Error) => e
    )
    assertEqual(failed?.message ?? null, null, `the error of <${tag}>'s update with an invalid room`)
    assert(el.sessionError && el.shadowRoot!.querySelector('[role=alert]'), `<${tag}> shows the invalid room as an error`)
    return el
  }

  /** `tag` started with an invalid room, then given a fresh valid one; and a second session of it. */
  const startInvalid = async <K extends Tag>(tag: K) => {
    const el = await mountInvalid(tag)
    const room = freshRoom(tag)
    el.setAttribute('url', await relayUrl())
    el.setAttribute('room', room)
    await connected(el)
    assert(!el.sessionError, 'no session error once the room is valid')
    return { el, other: await session(room) }
  }

  it('each element shows the invalid room, and its update completes', async () => {
    for (const tag of ['server-counter', 'server-slider', 'server-chat', 'server-chat-rooms'] as const) await mountInvalid(tag)
  })

  it('<server-counter> counts a click', async () => {
    const { el, other } = await startInvalid('server-counter')
    await waitFor(() => textIn(el, '.value') === 'Count = 0', 'the counter to start at 0')
    inShadow<HTMLButtonElement>(el, 'button').click()
    await waitFor(() => other.get('count') === 1, 'the click in the other session')
    await waitFor(() => textIn(el, '.value') === 'Count = 1', 'the click shown')
  })

  it('<server-slider> writes a drag', async () => {
    const { el, other } = await startInvalid('server-slider')
    await waitFor(() => other.get('slider') === 50, 'the shared value to start at 50')
    const range = inShadow<HTMLInputElement>(el, 'input[type=range]')
    range.value = '80'
    range.dispatchEvent(new Event('input', { bubbles: true }))
    range.dispatchEvent(new Event('change', { bubbles: true }))
    await waitFor(() => other.get('slider') === 80, 'the drag in the other session')
    await waitFor(() => textIn(el, 'output') === '80', 'the drag shown')
  })

  it('<server-chat> sends a message', async () => {
    const { el, other } = await startInvalid('server-chat')
    inShadow<HTMLInputElement>(el, 'input[name=nickname]').value = 'ada'
    inShadow<HTMLInputElement>(el, 'input[name=message]').value = 'hello'
    inShadow<HTMLButtonElement>(el, 'form button').click()
    await waitFor(() => chatMessages(other.get('chat')).some((m) => m.text === 'hello'), 'the message in the other session')
    await waitFor(() => el.shadowRoot!.querySelectorAll('li:not(.empty)').length === 1, 'the message shown')
  })

  it('<server-chat-rooms> creates a room', async () => {
    const { el, other } = await startInvalid('server-chat-rooms')
    inShadow<HTMLInputElement>(el, 'input[name=room]').value = 'lobby'
    inShadow<HTMLButtonElement>(el, 'form button').click()
    await waitFor(() => JSON.stringify(other.get(ROOMS_KEY)) === '["lobby"]', 'the room in the other session')
    await waitFor(() => textIn(el, 'h3') === 'Room lobby', 'the new room selected')
  })
})

describe('data any client may write', () => {
  const mountWith = async <E extends Element>(tag: string) => {
    const room = freshRoom(tag)
    const [mine, other] = [await session(room), await session(room)]
    const host = mount(html`<server-state-provider .session=${mine}>${document.createElement(tag)}</server-state-provider>`)
    const el = host.querySelector(tag) as unknown as E
    await connected(el)
    return { el, mine, other }
  }

  it('the slider starts the shared value at 50, and shows values out of its range within it', async () => {
    const { el, other } = await mountWith<ServerSlider>('server-slider')
    await waitFor(() => other.get('slider') === 50, 'the shared value to start at 50')
    for (const [written, shown] of [
      [150, '100'],
      [-20, '0'],
      [12.5, '13']
    ] as const) {
      other.set('slider', written)
      await waitFor(() => textIn(el, 'output') === shown, `${written} to show as ${shown}`)
    }
  })

  it("a drag made before the shared value started is not lost to another session's start at 50", async () => {
    const room = freshRoom('slider-race')
    const [one, two] = [await session(room), await session(room)]
    const host = mount(html`
      <server-state-provider .session=${one}><server-slider></server-slider></server-state-provider>
      <server-state-provider .session=${two}><server-slider></server-slider></server-state-provider>`)
    const [a] = [...host.querySelectorAll<ServerSlider>('server-slider')]
    await a!.updateComplete // rendered, before either session is connected
    const range = inShadow<HTMLInputElement>(a!, 'input[type=range]')
    range.value = '80'
    range.dispatchEvent(new Event('input', { bubbles: true }))
    range.dispatchEvent(new Event('change', { bubbles: true }))
    await waitFor(() => one.get('slider') === 80 && two.get('slider') === 80, 'both sessions to hold 80')
    await one.lock('slider', () => {}) // after every start, in both sessions' order
    await two.lock('slider', () => {})
    assertEqual([one.get('slider'), two.get('slider')], [80, 80], 'the value after every start ran')
  })

  it('chat skips messages whose time is not a date', async () => {
    const { el, other } = await mountWith<ServerChat>('server-chat')
    await other.append('chat', { nickname: 'n', text: 'bad', at: 1e20 }, { nickname: 'n', text: 'good', at: 0 })
    await waitFor(() => el.shadowRoot!.querySelectorAll('li:not(.empty)').length === 1, 'one message shown')
    assert(!el.shadowRoot!.textContent!.includes('Invalid Date'), 'no "Invalid Date"')
  })

  it('chat rooms list only valid names, and refuse a name that is too long', async () => {
    const { el, mine, other } = await mountWith<ServerChatRooms>('server-chat-rooms')
    other.set(ROOMS_KEY, ['', '   ', 'ok', 'x'.repeat(3000), 42 as never])
    await waitFor(() => el.shadowRoot!.querySelectorAll('ul button').length === 1, 'one valid room listed')
    assertEqual(textIn(el, 'ul button'), 'ok', 'the listed room')
    inShadow<HTMLInputElement>(el, 'input[name=room]').value = 'y'.repeat(500)
    inShadow<HTMLButtonElement>(el, 'form button').click()
    await waitFor(() => /at most/.test(textIn(el, '[role=alert]') ?? ''), 'the refusal to show')
    assert(!mine.has(roomKey('y'.repeat(500))), 'nothing created')
  })
})
