/**
 * The Lit integration: an element is bound to exactly the keys its last render read, re-renders
 * once per transaction, is unbound while out of the DOM and catches up when it returns. Render
 * counts in the style of Lit's reactive-element tests.
 */
import { html } from 'lit'
import { ServerStateElement, acquireSession, releasesSettled, type ServerStateProvider } from '../../components/index.js'
import type { ServerState } from '../../client/index.js'
import { assert, assertEqual, cleanup, freshRoom, mount, relayUrl, session, waitFor } from './helpers.js'

/** Renders the values of `keys`, counting renders; throws once if `failNext` is set, and keeps that error. */
class ProbeElement extends ServerStateElement {
  static override properties = { keys: { attribute: false } }
  declare keys: string[]
  renders = 0
  failNext = false
  failure: Error | null = null

  // The failed update's error is kept here rather than left in updateComplete, which Lit re-raises
  // as an unhandled rejection at the next update (a line "outside a test" in the browser log).
  override performUpdate() {
    try {
      super.performUpdate()
    } catch (err) {
      this.failure = err as Error
    }
  }

  constructor() {
    super()
    this.keys = ['a']
  }

  override render() {
    this.renders++
    const values = this.keys.map((k) => `${k}=${JSON.stringify(this.server.get(k) ?? null)}`)
    if (this.failNext) {
      this.failNext = false
      throw new Error('render failed on purpose')
    }
    return html`<p>${values.join(' ')}</p>`
  }
}
customElements.define('probe-element', ProbeElement)

const shown = (el: ProbeElement): string => el.shadowRoot?.querySelector('p')?.textContent ?? ''

describe('binding', () => {
  let room: string
  let mine: ServerState
  let other: ServerState

  const probe = async (keys: string[]): Promise<ProbeElement> => {
    const host = mount(html`<server-state-provider .session=${mine}><probe-element .keys=${keys}></probe-element></server-state-provider>`)
    const el = host.querySelector<ProbeElement>('probe-element')!
    await el.updateComplete
    return el
  }

  beforeEach(async () => {
    room = freshRoom('binding')
    mine = await session(room)
    other = await session(room)
    await Promise.all([mine.ready, other.ready])
  })
  afterEach(cleanup)

  it("renders once when connected, with the provider's session", async () => {
    const el = await probe(['a'])
    assert(el.server === mine, 'the element uses the provided session')
    assertEqual(el.renders, 1, 'renders after connection')
    assertEqual(mine.bindings.count('a'), 1, 'trackers bound to "a"')
  })

  it('re-renders when a key it read changes, in its own session or another', async () => {
    const el = await probe(['a'])
    mine.set('a', 1)
    assert(el.isUpdatePending, 'an own write requests an update at once')
    await el.updateComplete
    assertEqual([shown(el), el.renders], ['a=1', 2], 'text and renders after an own write')
    await waitFor(() => other.get('a') === 1, 'the own write to reach the other session') // else the two writes race
    other.set('a', 2)
    await waitFor(() => shown(el) === 'a=2', "the other session's write")
    assertEqual(el.renders, 3, 'renders after a remote write')
  })

  it('is not re-rendered by a key it stopped reading', async () => {
    const el = await probe(['a'])
    el.keys = ['b']
    await el.updateComplete
    const renders = el.renders
    assertEqual(mine.bindings.count('a'), 0, 'trackers bound to "a" once unread')
    mine.set('a', 5)
    assert(!el.isUpdatePending, 'a write of the unread key requests no update')
    await waitFor(() => other.get('a') === 5, 'the own write to reach the other session') // else the two writes race
    other.set('a', 6)
    await waitFor(() => mine.get('a') === 6, 'the remote write to arrive')
    assertEqual(el.renders, renders, 'renders after writes of the unread key')
    mine.set('b', 1)
    assert(el.isUpdatePending, 'a write of the key it reads now requests an update')
  })

  it('renders once for several keys changed in one transaction', async () => {
    const el = await probe(['a', 'b', 'c'])
    await other.lock(['a', 'b', 'c'], (s) => {
      s.a = 1
      s.b = 2
      s.c = 3
    })
    await waitFor(() => shown(el) === 'a=1 b=2 c=3', 'the three keys')
    assertEqual(el.renders, 2, 'renders after one remote transaction of three keys')
    mine.doc.transact(() => {
      mine.set('a', 10)
      mine.set('b', 20)
    })
    await el.updateComplete
    assertEqual([shown(el), el.renders], ['a=10 b=20 c=3', 3], 'after one local transaction of two keys')
  })

  it('a write during its own render does not loop', async () => {
    class Writer extends ServerStateElement {
      renders = 0
      override render() {
        this.renders++
        const n = (this.server.get('n') ?? 0) as number
        this.server.set('n', n + 1)
        return html`${n}`
      }
    }
    customElements.define('writer-element', Writer)
    const host = mount(html`<server-state-provider .session=${mine}><writer-element></writer-element></server-state-provider>`)
    const el = host.querySelector('writer-element') as Writer
    await el.updateComplete
    assert(!el.isUpdatePending, 'no update requested by its own write')
    assertEqual([el.renders, mine.get('n')], [1, 1], 'renders and value')
  })

  it('is unbound while disconnected, and catches up once when reconnected', async () => {
    const el = await probe(['a'])
    const host = el.parentElement!
    el.remove()
    assertEqual(mine.bindings.count('a'), 0, 'trackers bound to "a" while disconnected')
    mine.set('a', 7)
    assert(!el.isUpdatePending, 'no update requested while disconnected')
    await waitFor(() => other.get('a') === 7, 'the own write to reach the other session') // else the two writes race
    other.set('a', 8)
    await waitFor(() => mine.get('a') === 8, 'the remote write to arrive')
    assertEqual(el.renders, 1, 'renders while disconnected')
    host.append(el)
    await el.updateComplete
    assertEqual([shown(el), el.renders], ['a=8', 2], 'text and renders once reconnected')
    assertEqual(mine.bindings.count('a'), 1, 'trackers bound to "a" once reconnected')
  })

  it('does not leak tracking when render throws', async () => {
    const el = await probe(['a'])
    el.failNext = true
    el.keys = ['a', 'x']
    await el.updateComplete
    assertEqual(el.failure?.message, 'render failed on purpose', 'the render error reaches the update')
    // Reads outside a render bind nobody, even right after a failed one.
    mine.get('outside')
    mine.set('outside', 1)
    assert(!el.isUpdatePending, 'a key read outside render does not bind the element')
    assertEqual(mine.bindings.count('outside'), 0, 'trackers bound to "outside"')
    // It stays bound to what the failed render read, so a change brings it back.
    mine.set('x', 1)
    assert(el.isUpdatePending, 'a key read before the throw still binds it')
    await el.updateComplete
    assertEqual(shown(el), 'a=null x=1', 'text after recovering')
  })
})

describe('where elements get their session', () => {
  afterEach(cleanup)

  it('shares one session per url and room, and closes it when the last element leaves', async () => {
    const url = await relayUrl()
    const room = freshRoom('registry')
    const host = mount(html`
      <probe-element url=${url} room=${room}></probe-element>
      <probe-element url=${url} room=${room}></probe-element>
      <probe-element url=${url} room=${`${room}x`}></probe-element>`)
    const [a, b, c] = [...host.querySelectorAll<ProbeElement>('probe-element')]
    assert(a!.server === b!.server, 'same url and room: one session')
    assert(a!.server !== c!.server, 'another room: another session')
    assertEqual(a!.server.room, room, "the session's room")
    const shared = a!.server
    a!.remove()
    await releasesSettled()
    assert(!shared.closed, 'still open while one element shows it')
    b!.remove()
    await waitFor(() => shared.closed, 'the session to close after the last element left')
    // Moving an element within the page keeps its session.
    const kept = c!.server
    host.append(c!)
    await waitFor(() => c!.server.status === 'connected', 'the moved element to stay connected')
    assert(c!.server === kept && !kept.closed, 'the moved element keeps its session')
    // A new room moves it to that room's session, and lets the old one go.
    c!.room = room
    await c!.updateComplete
    assertEqual([c!.server.room, kept.bindings.count('a')], [room, 0], 'room and old bindings after a change of room')
    await waitFor(() => kept.closed, "the old room's session to close")
  })

  it('tells when released sessions are settled: closed, or kept by an element that took them back', async () => {
    const url = await relayUrl()
    const room = freshRoom('settled')
    const first = acquireSession(url, room)
    first.release()
    assert(!first.session.closed, 'not closed in the task of its release')
    await releasesSettled()
    assert(first.session.closed, 'closed once settled, with no element left')
    const second = acquireSession(url, room)
    second.release()
    const back = acquireSession(url, room) // taken back before the close ran
    await releasesSettled()
    assert(back.session === second.session && !second.session.closed, 'kept once settled, taken back')
    back.release()
    await releasesSettled()
    assert(second.session.closed, 'closed once settled, after its last element left')
  })

  it("prefers its own url or room to a provider, and follows a provider's new session", async () => {
    const room = freshRoom('provider')
    const first = await session(room)
    const second = await session(room)
    const host = mount(html`<server-state-provider .session=${first}>
        <probe-element></probe-element>
        <probe-element room=${room}></probe-element>
      </server-state-provider>`)
    const provider = host.querySelector('server-state-provider') as ServerStateProvider
    const [inherits, own] = [...host.querySelectorAll<ProbeElement>('probe-element')]
    assert(inherits!.server === first, "no url or room: the provider's session")
    assert(own!.server !== first, 'a room of its own: a session of its own')
    const lease = acquireSession(undefined, room)
    assert(own!.server === lease.session, "its own session is the shared one of the page's relay and its room")
    lease.release()
    provider.session = second
    await waitFor(() => inherits!.server === second, "the element to move to the provider's new session")
    assertEqual(first.bindings.count('a'), 0, 'trackers left on the old session')
    assertEqual(second.bindings.count('a'), 1, 'trackers on the new session')
  })
})
