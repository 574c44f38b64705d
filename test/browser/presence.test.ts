/**
 * Presence in the Lit elements: the chat and the chat rooms show who is online by nickname, in
 * two sessions of one page that reach each other only through the relay.
 */
import { html } from 'lit'
import '../../components/index.js'
import type { ServerChat, ServerChatRooms } from '../../components/index.js'
import type { ServerState } from '../../client/index.js'
import { assertEqual, cleanup, freshRoom, inShadow, mount, session, textIn, waitFor } from './helpers.js'

/** The text of an element's online line, whitespace collapsed. */
const online = (el: Element): string => (textIn(el, '.online') ?? '').replace(/\s+/g, ' ')

/** Types `value` into an element's nickname field, as a user does. */
const typeNickname = (el: Element, value: string): void => {
  const input = inShadow<HTMLInputElement>(el, 'input[name=nickname]')
  input.value = value
  input.dispatchEvent(new Event('input', { bubbles: true, composed: true }))
}

describe('presence in the elements', () => {
  let one: ServerState
  let two: ServerState

  const both = async <K extends 'server-chat' | 'server-chat-rooms'>(tag: K): Promise<HTMLElementTagNameMap[K][]> => {
    const room = freshRoom(`presence-${tag}`)
    one = await session(room)
    two = await session(room)
    const host = mount(html`
      <server-state-provider .session=${one}>${document.createElement(tag)}</server-state-provider>
      <server-state-provider .session=${two}>${document.createElement(tag)}</server-state-provider>`)
    const els = [...host.querySelectorAll(tag)] as HTMLElementTagNameMap[K][]
    await waitFor(() => els.every((el) => textIn(el, '.status') === 'connected'), 'both to connect')
    return els
  }

  afterEach(cleanup)

  it('<server-chat> shows who is online by the nickname typed, and drops a session that closes', async () => {
    const [a, b] = (await both('server-chat')) as [ServerChat, ServerChat]
    assertEqual(online(b), 'Online: nobody with a nickname yet', 'before any nickname')
    typeNickname(a, 'alice')
    await waitFor(() => online(b) === 'Online: alice', 'alice online in the other session')
    assertEqual(online(a), 'Online: alice (you)', 'the own session, marked')
    typeNickname(b, 'bob')
    await waitFor(() => online(a) === 'Online: alice (you), bob', 'bob online in the first session')
    assertEqual(online(b), 'Online: bob (you), alice', 'self first')
    typeNickname(a, 'alicia')
    await waitFor(() => online(b) === 'Online: bob (you), alicia', 'a rename')
    one.close()
    await waitFor(() => online(b) === 'Online: bob (you)', 'the closed session gone from the list')
  })

  it('<server-chat-rooms> shows who is online once, above the rooms; its room chat hides its own line', async () => {
    const [a, b] = (await both('server-chat-rooms')) as [ServerChatRooms, ServerChatRooms]
    inShadow<HTMLInputElement>(a, 'input[name=room]').value = 'lobby'
    inShadow<HTMLButtonElement>(a, 'form button').click()
    await waitFor(() => !!a.shadowRoot!.querySelector('server-chat'), "the room's chat")
    const chat = inShadow<ServerChat>(a, 'server-chat')
    await chat.updateComplete
    assertEqual(chat.shadowRoot!.querySelector('.online'), null, 'the room chat shows no online line')
    typeNickname(chat, 'alice')
    await waitFor(() => online(b) === 'Online: alice', "alice online in the other session's room list")
    assertEqual(online(a), 'Online: alice (you)', 'the own session')
    assertEqual(two.presence.list().length, 2, 'two sessions in the room')
  })
})
