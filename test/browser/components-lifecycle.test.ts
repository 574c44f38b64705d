/**
 * The elements under what pages do to them: a provider whose room is invalid, a provider given
 * its session after insertion, an element whose room turns invalid while a lock is pending, an
 * element moved around the DOM, and a chat beside the chat rooms' own.
 */
import { html } from 'lit'
import '../../components/index.js'
import type { ServerChat, ServerChatRooms, ServerCounter, ServerSlider, ServerStateProvider } from '../../components/index.js'
import { connect, type ServerState } from '../../client/index.js'
import { assert, assertEqual, cleanup, freshRoom, inShadow, mount, relayUrl, session, socketCounter, textIn, waitFor } from './helpers.js'

afterEach(cleanup)

/** Far beyond any room name's length limit. */
const INVALID_ROOM = 'x'.repeat(10_000)

const connected = (el: Element) => waitFor(() => textIn(el, '.status') === 'connected', `<${el.localName}> to connect`)

/** The unhandled rejections while installed. */
const unhandled = () => {
  const seen: unknown[] = []
  const listener = (e: PromiseRejectionEvent) => {
    seen.push(e.reason)
    e.preventDefault()
  }
  window.addEventListener('unhandledrejection', listener)
  return { seen, stop: () => window.removeEventListener('unhandledrejection', listener) }
}

describe('<server-state-provider>', () => {
  it('with an invalid room, hands the error down: its children show it and open no socket to the default room', async () => {
    const sockets = socketCounter('default')
    try {
      const host = mount(html`<server-state-provider room=${INVALID_ROOM}><server-counter></server-counter></server-state-provider>`)
      const counter = host.querySelector<ServerCounter>('server-counter')!
      await waitFor(() => /invalid room name/.test(textIn(counter, '[role=alert]') ?? ''), "the counter to show the provider's error")
      assert(host.querySelector<ServerStateProvider>('server-state-provider')!.error, "the provider's error")
      await counter.updateComplete
      assertEqual(sockets.count(), 0, 'sockets to room "default"')
    } finally {
      sockets.restore()
    }
  })

  it('given its session just after insertion, opens no socket to the default room', async () => {
    const room = freshRoom('late-session')
    const mine = await session(room)
    const sockets = socketCounter('default')
    try {
      const provider = document.createElement('server-state-provider')
      const counter = document.createElement('server-counter')
      provider.append(counter)
      mount(html`${provider}`)
      provider.session = mine
      await connected(counter)
      assert(counter.server === mine, 'the counter shows the session given')
      assertEqual(sockets.count(), 0, 'sockets to room "default"')
    } finally {
      sockets.restore()
    }
  })
})

describe('elements', () => {
  it('<server-slider> whose room turns invalid while its start-at-50 lock is pending raises no unhandled rejection', async () => {
    const rejections = unhandled()
    try {
      const mine = connect({ url: await relayUrl(), room: freshRoom('slider-invalid'), broadcastChannel: false })
      const host = mount(html`<server-state-provider .session=${mine}><server-slider></server-slider></server-state-provider>`)
      const slider = host.querySelector<ServerSlider>('server-slider')!
      await slider.updateComplete // sessionChanged has asked for the lock: it waits for the connection
      slider.setAttribute('room', INVALID_ROOM)
      await slider.updateComplete
      assert(slider.sessionError, 'the slider shows the invalid room')
      mine.close() // the pending lock rejects
      await new Promise((resolve) => setTimeout(resolve, 50)) // an unhandled rejection is reported a task later
      assertEqual(rejections.seen.map(String), [], 'unhandled rejections')
    } finally {
      rejections.stop()
    }
  })

  it('<server-counter> moved around the DOM 100 times in one task takes no lock: its session is the same', async () => {
    const room = freshRoom('moves')
    const mine = await session(room)
    const host = mount(html`<server-state-provider .session=${mine}><server-counter></server-counter><div></div></server-state-provider>`)
    const counter = host.querySelector<ServerCounter>('server-counter')!
    await waitFor(() => textIn(counter, '.value') === 'Count = 0', 'the counter to start at 0')
    let locks = 0
    const lock = mine.lock.bind(mine)
    mine.lock = ((...args: Parameters<ServerState['lock']>) => {
      locks++
      return lock(...args)
    }) as ServerState['lock']
    const div = host.querySelector('server-state-provider > div')!
    const provider = host.querySelector('server-state-provider')!
    for (let i = 0; i < 100; i++) (i % 2 === 0 ? div : provider).append(counter)
    await counter.updateComplete
    await new Promise((resolve) => setTimeout(resolve, 0))
    assertEqual(locks, 0, 'locks taken by the moves')
    inShadow<HTMLButtonElement>(counter, 'button').click()
    await waitFor(() => textIn(counter, '.value') === 'Count = 1', 'a click after the moves')
  })

  it("the chat rooms' chat does not ask for the nickname that the chat beside it has", async () => {
    const room = freshRoom('nick')
    const mine = await session(room)
    const other = await session(room)
    const host = mount(
      html`<server-state-provider .session=${mine}><server-chat></server-chat><server-chat-rooms></server-chat-rooms></server-state-provider>`
    )
    const chat = host.querySelector<ServerChat>('server-chat')!
    const rooms = host.querySelector<ServerChatRooms>('server-chat-rooms')!
    await connected(chat)
    await connected(rooms)
    const nick = inShadow<HTMLInputElement>(chat, 'input[name=nickname]')
    nick.value = 'ada'
    nick.dispatchEvent(new Event('input', { bubbles: true }))
    inShadow<HTMLInputElement>(rooms, 'input[name=room]').value = 'lobby'
    inShadow<HTMLButtonElement>(rooms, 'form button').click()
    await waitFor(() => !!rooms.shadowRoot!.querySelector('server-chat'), "the room's chat")
    const inner = rooms.shadowRoot!.querySelector<ServerChat>('server-chat')!
    await inner.updateComplete
    assertEqual(inShadow<HTMLInputElement>(inner, 'input[name=nickname]').value, 'ada', "the room chat's nickname field")
    inShadow<HTMLInputElement>(inner, 'input[name=message]').value = 'hi'
    inShadow<HTMLButtonElement>(inner, 'form button').click()
    await waitFor(() => JSON.stringify(other.get('chat-room:lobby'))?.includes('"nickname":"ada"') ?? false, 'the message, sent as ada')
    assertEqual(textIn(inner, '[role=alert]'), null, 'no refusal')
  })
})
