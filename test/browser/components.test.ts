/**
 * The four elements, each shown in two sessions of one page that reach each other only through
 * the relay: what one does, the other shows.
 */
import { html } from 'lit'
import { ROOMS_KEY, roomKey, type ServerChat, type ServerChatRooms } from '../../components/index.js'
import type { ServerState } from '../../client/index.js'
import { assert, assertEqual, cleanup, freshRoom, inShadow, mount, relayMetric, session, textIn, waitFor } from './helpers.js'

type Tag = 'server-counter' | 'server-slider' | 'server-chat' | 'server-chat-rooms'

let one: ServerState
let two: ServerState

/** The element `tag` in two sessions of a fresh room; resolves once both are connected. */
const twice = async <K extends Tag>(tag: K): Promise<[HTMLElementTagNameMap[K], HTMLElementTagNameMap[K]]> => {
  const room = freshRoom(tag)
  one = await session(room)
  two = await session(room)
  const host = mount(html`
    <server-state-provider .session=${one}>${document.createElement(tag)}</server-state-provider>
    <server-state-provider .session=${two}>${document.createElement(tag)}</server-state-provider>`)
  const [a, b] = [...host.querySelectorAll(tag)] as HTMLElementTagNameMap[K][]
  await waitFor(() => textIn(a!, '.status') === 'connected' && textIn(b!, '.status') === 'connected', 'both to show "connected"')
  return [a!, b!]
}

const click = (el: Element, name: string): void => {
  const button = [...el.shadowRoot!.querySelectorAll('button')].find((b) => b.textContent!.trim() === name)
  if (!button) throw new Error(`<${el.localName}> has no button "${name}"`)
  button.click()
}

const fill = (el: Element, selector: string, value: string): void => {
  inShadow<HTMLInputElement>(el, selector).value = value
}

const lastMessage = (chat: Element): string | null => {
  const items = chat.shadowRoot!.querySelectorAll('li:not(.empty)')
  return items[items.length - 1]?.textContent?.replace(/\s+/g, ' ').trim() ?? null
}

afterEach(cleanup)

describe('<server-counter>', () => {
  it('initialises to 0 under the lock, and a click in one session shows in the other', async () => {
    const [a, b] = await twice('server-counter')
    await waitFor(() => textIn(a, '.value') === 'Count = 0' && textIn(b, '.value') === 'Count = 0', 'both to show 0')
    click(a, 'Increment')
    await waitFor(() => textIn(b, '.value') === 'Count = 1', 'the other session to show 1')
    click(b, 'Decrement')
    click(b, 'Decrement')
    await waitFor(() => textIn(a, '.value') === 'Count = -1', 'the first session to show -1')
  })

  it('counts 50 rapid clicks split between two sessions exactly', async () => {
    const [a, b] = await twice('server-counter')
    await waitFor(() => textIn(a, '.value') === 'Count = 0' && textIn(b, '.value') === 'Count = 0', 'both to show 0')
    for (let i = 0; i < 50; i++) click(i % 2 === 0 ? a : b, 'Increment')
    // Locks are granted first come, first served, and one socket keeps its order: a lock taken
    // after the clicks, in each session, runs after every click of that session.
    await one.lock('count', () => {})
    await two.lock('count', () => {})
    await waitFor(() => textIn(a, '.value') === 'Count = 50' && textIn(b, '.value') === 'Count = 50', 'both to show 50')
    assertEqual([one.get('count'), two.get('count')], [50, 50], 'the stored count')
    assert(!a.shadowRoot!.querySelector('.error') && !b.shadowRoot!.querySelector('.error'), 'no click failed')
  })
})

describe('<server-slider>', () => {
  it('starts at 50, and a drag in one session shows in the other', async () => {
    const [a, b] = await twice('server-slider')
    assertEqual([textIn(a, 'output'), inShadow<HTMLInputElement>(b, 'input').value], ['50', '50'], 'the initial value')
    await waitFor(() => one.get('slider') === 50 && two.get('slider') === 50, 'the shared value to start at 50')
    const range = inShadow<HTMLInputElement>(a, 'input[type=range]')
    for (const v of [55, 63, 71, 80]) {
      range.value = String(v)
      range.dispatchEvent(new Event('input', { bubbles: true }))
    }
    range.dispatchEvent(new Event('change', { bubbles: true }))
    await waitFor(() => textIn(b, 'output') === '80', 'the other session to show 80')
    assertEqual(inShadow<HTMLInputElement>(b, 'input[type=range]').value, '80', "the other slider's position")
  })

  it("coalesces a drag's writes: a burst of input events is one write now and one for the last value", async () => {
    const [a, b] = await twice('server-slider')
    await waitFor(() => one.has('slider') && two.has('slider'), 'the shared value to start')
    let writes = 0
    one.doc.on('update', (_u: Uint8Array, _origin: unknown, _doc: unknown, tr: { local: boolean }) => {
      if (tr.local) writes++
    })
    const range = inShadow<HTMLInputElement>(a, 'input[type=range]')
    for (let v = 51; v <= 90; v++) {
      range.value = String(v)
      range.dispatchEvent(new Event('input', { bubbles: true }))
    }
    assertEqual(textIn(a, 'output') === '90' || a.isUpdatePending, true, 'the dragging session shows its value at once')
    await waitFor(() => textIn(b, 'output') === '90', 'the other session to show the last value')
    assertEqual(writes, 2, 'writes for 40 input events in one burst')
  })
})

describe('<server-chat>', () => {
  const send = (chat: ServerChat, nickname: string, message: string): void => {
    fill(chat, 'input[name=nickname]', nickname)
    fill(chat, 'input[name=message]', message)
    click(chat, 'Send')
  }

  it('shows a message sent in one session in the other, oldest first', async () => {
    const [a, b] = await twice('server-chat')
    send(a, 'alice', 'hello')
    await waitFor(() => /alice: ?hello$/.test(lastMessage(b) ?? ''), 'the message in the other session')
    send(b, 'bob', 'hi')
    await waitFor(() => /bob: ?hi$/.test(lastMessage(a) ?? ''), 'the reply in the first session')
    const nicks = [...a.shadowRoot!.querySelectorAll('.nick')].map((n) => n.textContent)
    assertEqual(nicks, ['alice:', 'bob:'], 'nicknames, oldest first')
    assertEqual(inShadow<HTMLInputElement>(a, 'input[name=message]').value, '', 'the message field after sending')
    const list = inShadow(a, 'ol')
    assertEqual(list.scrollTop + list.clientHeight >= list.scrollHeight - 1, true, 'scrolled to the newest')
  })

  it('refuses an empty nickname or message visibly, and sends nothing', async () => {
    const [a] = await twice('server-chat')
    send(a, '  ', 'hello')
    await a.updateComplete
    assert(/nickname/i.test(textIn(a, '[role=alert]') ?? ''), 'a visible refusal of an empty nickname')
    send(a, 'alice', '   ')
    await a.updateComplete
    assert(/message/i.test(textIn(a, '[role=alert]') ?? ''), 'a visible refusal of an empty message')
    assertEqual(one.has('chat'), false, 'nothing was stored')
  })

  it('sends one message at about its own size, however long the history', async () => {
    const [a, b] = await twice('server-chat')
    const history = Array.from({ length: 300 }, (_, i) => ({ nickname: 'bot', text: `old message number ${i}`, at: i }))
    await two.append('chat', ...history)
    await waitFor(() => a.shadowRoot!.querySelectorAll('li:not(.empty)').length === 300, 'the history in the first session')
    const before = await relayMetric('bytes_in_total')
    const text = 'x'.repeat(200)
    send(a, 'alice', text)
    await one.flush()
    const cost = (await relayMetric('bytes_in_total')) - before
    await waitFor(() => lastMessage(b)?.endsWith(text) ?? false, 'the message in the other session')
    assert(JSON.stringify(history).length > 10_000, 'the history is large')
    assert(cost < 600, `a 200-character message cost ${cost} bytes in, not about its size`)
  })
})

describe('<server-chat-rooms>', () => {
  const create = (rooms: ServerChatRooms, name: string): void => {
    fill(rooms, 'input[name=room]', name)
    click(rooms, 'Create room')
  }
  const listed = (rooms: ServerChatRooms): string[] =>
    [...rooms.shadowRoot!.querySelectorAll('ul button')].map((b) => b.textContent!.trim())
  const alert = (rooms: ServerChatRooms) => textIn(rooms, '[role=alert]') ?? ''

  it('shows a room created in one session in the other, and refuses empty and duplicate names', async () => {
    const [a, b] = await twice('server-chat-rooms')
    create(a, 'lobby')
    await waitFor(() => listed(b).includes('lobby'), 'the room in the other session')
    create(b, 'lobby')
    await waitFor(() => /already exists/.test(alert(b)), 'a visible refusal of a duplicate')
    create(b, '   ')
    await waitFor(() => /room name/i.test(alert(b)), 'a visible refusal of an empty name')
    create(b, 'games')
    await waitFor(() => listed(a).join() === 'lobby,games', 'both rooms in the first session, in order')
    assertEqual(one.get(ROOMS_KEY), ['lobby', 'games'], 'the stored list')
  })

  it("shows the selected room's chat, and moving to another room unbinds the old one", async () => {
    const [a, b] = await twice('server-chat-rooms')
    create(a, 'lobby')
    await waitFor(() => listed(a).includes('lobby') && !!a.shadowRoot!.querySelector('server-chat'), 'the new room selected')
    create(a, 'games')
    await waitFor(() => listed(b).join() === 'lobby,games', 'both rooms in the other session')
    click(b, 'lobby')
    await waitFor(() => !!b.shadowRoot!.querySelector('server-chat'), "the lobby's chat in the other session")
    const chatA = inShadow<ServerChat>(a, 'server-chat')
    const chatB = inShadow<ServerChat>(b, 'server-chat')
    assert(chatB.server === two, "the room's chat uses the element's session")
    click(a, 'lobby')
    await waitFor(() => chatA.key === roomKey('lobby'), 'the first session back in the lobby')
    await chatA.updateComplete
    fill(chatA, 'input[name=nickname]', 'alice')
    fill(chatA, 'input[name=message]', 'in the lobby')
    click(chatA, 'Send')
    await waitFor(() => /alice: ?in the lobby$/.test(lastMessage(chatB) ?? ''), 'the lobby message in the other session')
    assertEqual(two.bindings.count(roomKey('lobby')), 1, 'trackers of the lobby in the other session')
    click(b, 'games')
    await waitFor(() => chatB.key === roomKey('games'), 'the other session in games')
    await chatB.updateComplete
    assertEqual(two.bindings.count(roomKey('lobby')), 0, 'trackers of the lobby once the session moved to games')
    assertEqual(two.bindings.count(roomKey('games')), 1, 'trackers of games')
    assertEqual([lastMessage(chatB), textIn(chatB, 'li.empty')], [null, 'No messages yet.'], 'the games chat is empty')
  })
})
