/**
 * A read-only session in the page: the relay (the test config's second one, whose hook makes
 * rooms under `read-only/` read-only) tells the session its access when it connects, and the
 * counter disables its buttons and says why, while a writer's changes still show.
 */
import { html } from 'lit'
import { executeServerCommand } from '@web/test-runner-commands'
import { connect, type ServerState } from '../../client/index.js'
import '../../components/index.js'
import { assert, assertEqual, cleanup, freshRoom, mount, textIn, waitFor } from './helpers.js'

let writer: ServerState | undefined

afterEach(() => {
  cleanup()
  writer?.close()
})

const buttons = (el: Element): HTMLButtonElement[] => [...el.shadowRoot!.querySelectorAll('button')]

describe('read-only access', () => {
  it("a read-only session's counter shows the writer's count, with its buttons disabled and the reason", async () => {
    const url = await executeServerCommand<string, undefined>('auth-relay-url')
    const room = freshRoom('read-only/counter')
    const writable = freshRoom('counter')
    writer = connect({ url, room, token: 'writer', broadcastChannel: false })
    await writer.ready
    await writer.lock('count', (s) => {
      s.count = 5
    })
    const host = mount(html`
      <server-counter id="ro" url=${url} room=${room}></server-counter>
      <server-counter id="rw" url=${url} room=${writable}></server-counter>`)
    const ro = host.querySelector('#ro')!
    const rw = host.querySelector('#rw')!
    await waitFor(() => textIn(ro, '.value') === 'Count = 5' && textIn(ro, '.status') === 'connected', 'the read-only counter to show 5')
    await waitFor(() => buttons(ro).every((b) => b.disabled), 'its buttons to be disabled')
    assertEqual(
      buttons(ro).map((b) => b.textContent!.trim()),
      ['Increment', 'Decrement'],
      'the buttons'
    )
    const reason = textIn(ro, '.read-only') ?? ''
    assert(
      /^Read-only access for viewer: you can see this room but not change it\.$/.test(reason.replace(/\s+/g, ' ')),
      `the reason is shown, got "${reason}"`
    )
    assertEqual(textIn(ro, '.error'), null, 'no error line')
    // The writable counter in the same relay is not read-only, and initialises its own count.
    await waitFor(() => textIn(rw, '.value') === 'Count = 0', 'the writable counter to start at 0')
    assert(
      buttons(rw).every((b) => !b.disabled),
      'the writable counter has its buttons enabled'
    )
    assertEqual(textIn(rw, '.read-only'), null, 'the writable counter shows no read-only line')
    writer.set('count', 6)
    await waitFor(() => textIn(ro, '.value') === 'Count = 6', "the writer's next change to show")
  })
})
