/**
 * The React bindings as React apps use them, in Chromium against the relay: the provider connects
 * in an effect (never while rendering: no "Cannot update a component while rendering a different
 * component", one socket for a render React abandons and retries), a server render opens no socket
 * and hydrates without a mismatch, a lock in flight when the last holder unmounts still settles
 * as stored, the loading state (`synced`, Suspense), `useLock` before the provider has connected,
 * and presence hooks split so that setting one's own presence re-renders no reader of others'.
 */
import { StrictMode, Suspense, startTransition, useEffect, useLayoutEffect, useState, type ReactNode } from 'react'
import { createRoot, hydrateRoot, type Root } from 'react-dom/client'
import { renderToString } from 'react-dom/server'
import { flushSync } from 'react-dom'
import {
  ServerStateProvider,
  useLock,
  useOthers,
  usePresence,
  useSelf,
  useServerSession,
  useServerState,
  useServerStateSuspense,
  useServerStatus,
  useUpdatePresence
} from '../../react/index.js'
import { acquireSession, releasesSettled } from '../../components/index.js'
import type { ServerState } from '../../client/index.js'
import { assert, assertEqual, cleanup, freshRoom, relayUrl, session, socketCounter, waitFor } from './helpers.js'

const roots: Root[] = []
const hosts: HTMLElement[] = []

const container = (): HTMLElement => {
  const host = document.createElement('div')
  document.body.append(host)
  hosts.push(host)
  return host
}

/** Renders `node` into a fresh container; returns the container. */
const show = (node: ReactNode): HTMLElement => {
  const host = container()
  const root = createRoot(host)
  roots.push(root)
  flushSync(() => root.render(node))
  return host
}

const text = (host: HTMLElement, id: string): string | null => host.querySelector(`[data-id="${id}"]`)?.textContent ?? null

/** What React (or anything) wrote to console.error while `fn` and what it awaits ran. */
const consoleErrors = async (fn: () => Promise<void> | void): Promise<string[]> => {
  const seen: string[] = []
  const original = console.error
  console.error = (...args: unknown[]) => {
    seen.push(args.map(String).join(' '))
  }
  try {
    await fn()
  } finally {
    console.error = original
  }
  return seen
}

let renders: Record<string, number> = {}
const rendered = (id: string): void => {
  renders[id] = (renders[id] ?? 0) + 1
}

afterEach(async () => {
  for (const root of roots.splice(0)) root.unmount()
  for (const host of hosts.splice(0)) host.remove()
  cleanup()
  await releasesSettled()
})

describe('the React provider connects in an effect', () => {
  beforeEach(() => {
    renders = {}
  })

  it('a second provider of a room in the page does not update another component while it renders', async () => {
    const url = await relayUrl()
    const room = freshRoom('render-update')
    const Online = ({ id }: { id: string }) => <p data-id={id}>{usePresence().length}</p>
    let addSecond: () => void = () => {}
    // One root: React warns of an update of a component of the root it is rendering.
    const App = () => {
      const [second, setSecond] = useState(false)
      addSecond = () => setSecond(true)
      return (
        <>
          <ServerStateProvider url={url} room={room}>
            <Online id="first" />
          </ServerStateProvider>
          {/* Another url for the same relay and room: a second session, which finds the first over
            the BroadcastChannel, whose delivery within the page is synchronous. */}
          {second ? (
            <ServerStateProvider url={`${url}/`} room={room}>
              <Online id="second" />
            </ServerStateProvider>
          ) : null}
        </>
      )
    }
    const host = show(<App />)
    await waitFor(() => text(host, 'first') === '1', "the first provider's presence")
    const errors = await consoleErrors(async () => {
      flushSync(() => addSecond())
      await waitFor(() => text(host, 'first') === '2' && text(host, 'second') === '2', 'both sessions in both lists')
    })
    assertEqual(
      errors.filter((e) => /while rendering a different component/.test(e)),
      [],
      "React's warnings"
    )
  })

  it('a provider rendered in a transition that suspends and resumes opens one socket', async () => {
    const url = await relayUrl()
    const room = freshRoom('transition')
    let resume!: () => void
    const gate = new Promise<void>((resolve) => {
      resume = resolve
    })
    let ready = false
    void gate.then(() => {
      ready = true
    })
    const Slow = () => {
      if (!ready) throw gate
      return null
    }
    const Key = () => <p data-id="a">{JSON.stringify(useServerState('a') ?? null)}</p>
    const other = await session(room) // before the count starts
    const sockets = socketCounter(room)
    try {
      const host = container()
      const root = createRoot(host)
      roots.push(root)
      startTransition(() =>
        root.render(
          <Suspense fallback={<p>loading</p>}>
            <ServerStateProvider url={url} room={room}>
              <Key />
            </ServerStateProvider>
            <Slow />
          </Suspense>
        )
      )
      // Let React render the provider and suspend on <Slow>, and the next task (when a session
      // peeked at by an abandoned render used to close) pass.
      await new Promise((resolve) => setTimeout(resolve, 0))
      await new Promise((resolve) => setTimeout(resolve, 0))
      resume()
      other.set('a', 1)
      await waitFor(() => text(host, 'a') === '1', 'the provider to show the room')
      assertEqual(sockets.count(), 1, 'sockets the provider opened')
    } finally {
      sockets.restore()
    }
  })

  it('a lock in flight when the last provider unmounts resolves, stored; then the session closes', async () => {
    const url = await relayUrl()
    const room = freshRoom('unmount-lock')
    let server: ServerState | null = null
    const Grab = () => {
      server = useServerSession()
      return null
    }
    const host = show(
      <ServerStateProvider url={url} room={room}>
        <Grab />
      </ServerStateProvider>
    )
    await waitFor(() => server?.status === 'connected', "the provider's session to connect")
    void host
    const s = server! as ServerState
    const locked = s
      .lock('count', (st) => {
        st.count = 1
      })
      .then(
        () => 'resolved',
        (err: Error) => `${err.name}: ${err.message}`
      )
    roots.pop()!.unmount()
    assertEqual(await locked, 'resolved', 'the lock')
    const other = await session(room)
    await waitFor(() => other.get('count') === 1, 'the write in another session')
    await releasesSettled()
    assert(s.closed, 'the session closed once the lock settled')
  })

  it('renders on the "server" without a socket, and hydrates without a mismatch', async () => {
    const url = await relayUrl()
    const room = freshRoom('hydrate')
    const other = await session(room)
    other.set('count', 7)
    await other.flush()
    const Count = () => {
      const { status, synced } = useServerStatus()
      return <p data-id="count">{`${useServerState<number>('count') ?? 'none'} ${status} ${synced}`}</p>
    }
    const app = (initial?: { count: number }) => (
      <StrictMode>
        <ServerStateProvider url={url} room={room} initialState={initial}>
          <Count />
        </ServerStateProvider>
      </StrictMode>
    )
    const sockets = socketCounter(room)
    try {
      const html = renderToString(app({ count: 5 }))
      assertEqual(sockets.count(), 0, 'sockets opened by a server render')
      assert(html.includes('5 connecting false'), `the server's HTML shows the initial state: ${html}`)
      const host = container()
      host.innerHTML = html
      const recoverable: string[] = []
      const errors = await consoleErrors(async () => {
        const root = hydrateRoot(host, app({ count: 5 }), { onRecoverableError: (err) => recoverable.push(String(err)) })
        roots.push(root)
        await waitFor(() => text(host, 'count') === '7 connected true', "the room's value once synced")
      })
      assertEqual([...recoverable, ...errors], [], 'hydration errors and warnings')
      assertEqual(sockets.count(), 1, 'sockets opened once hydrated')
    } finally {
      sockets.restore()
    }
  })
})

describe('the loading state, useLock and presence hooks', () => {
  let room: string
  let other: ServerState

  beforeEach(async () => {
    renders = {}
    room = freshRoom('hooks')
    other = await session(room)
    await other.ready
  })

  it('useServerStatus says when the room is synced; useServerStateSuspense suspends until then', async () => {
    const url = await relayUrl()
    other.set('count', 3)
    await other.flush()
    const seen: string[] = []
    const Status = () => {
      const { status, synced } = useServerStatus()
      const count = useServerState<number>('count')
      seen.push(`${status}/${synced}/${count ?? 'undefined'}`)
      return null
    }
    const Count = () => <p data-id="count">{useServerStateSuspense<number>('count') ?? 'unset'}</p>
    const Unset = () => <p data-id="unset">{useServerStateSuspense<number>('nothing') ?? 'unset'}</p>
    const host = show(
      <ServerStateProvider url={url} room={room}>
        <Status />
        <Suspense fallback={<p data-id="loading">loading</p>}>
          <Count />
          <Unset />
        </Suspense>
      </ServerStateProvider>
    )
    assertEqual(text(host, 'loading'), 'loading', 'the fallback first')
    await waitFor(() => text(host, 'count') === '3' && text(host, 'unset') === 'unset', 'the values once synced')
    assertEqual(seen[0], 'connecting/false/undefined', 'the first render')
    assert(seen.includes('connected/true/3'), `a render once synced: ${seen.join(', ')}`)
    assert(!seen.some((s) => s.endsWith('/true/undefined')), 'never synced without the value')
    other.set('count', 4)
    await waitFor(() => text(host, 'count') === '4', 'a change after the sync')
  })

  it("useLock works from a child's mount effect, before the provider has connected", async () => {
    const url = await relayUrl()
    const Init = () => {
      const lock = useLock()
      const [done, setDone] = useState('')
      useEffect(() => {
        lock('count', (s) => {
          s.count = (s.count ?? 0) + 1
        }).then(
          () => setDone('done'),
          (e: Error) => setDone(e.message)
        )
      }, [lock])
      return <p data-id="init">{done}</p>
    }
    const host = show(
      <ServerStateProvider url={url} room={room}>
        <Init />
      </ServerStateProvider>
    )
    await waitFor(() => text(host, 'init') !== '', 'the lock to settle')
    assertEqual(text(host, 'init'), 'done', 'the lock')
    await waitFor(() => other.get('count') === 1, 'the write in another session')
  })

  it("setting one's own presence re-renders useSelf, not useOthers' readers; others' changes do", async () => {
    const mine = await session(room)
    await mine.ready
    const Others = () => {
      rendered('others')
      return (
        <p data-id="others">
          {useOthers()
            .map((p) => String(p.state.nickname ?? '?'))
            .join(',')}
        </p>
      )
    }
    const Self = () => {
      rendered('self')
      return <p data-id="self">{String(useSelf()?.nickname ?? '?')}</p>
    }
    let update: (fields: { nickname: string }) => void = () => {}
    const Setter = () => {
      rendered('setter')
      update = useUpdatePresence()
      return null
    }
    const host = show(
      <ServerStateProvider session={mine}>
        <Others />
        <Self />
        <Setter />
      </ServerStateProvider>
    )
    await waitFor(() => text(host, 'others') === '?', 'the other session listed')
    other.presence.set({ nickname: 'bob' })
    await waitFor(() => text(host, 'others') === 'bob', "the other's nickname")
    const before = { ...renders }
    flushSync(() => update({ nickname: 'me' }))
    await waitFor(() => text(host, 'self') === 'me', "one's own nickname")
    // Ordered after the awareness update reached the other session and came back.
    await waitFor(() => other.presence.list().some((p) => p.state.nickname === 'me'), 'the other session to see it')
    other.presence.set({ nickname: 'bob2' })
    await waitFor(() => text(host, 'others') === 'bob2', "the other's new nickname")
    assertEqual(renders.setter, before.setter, 'renders of the setter')
    assertEqual(renders.self, before.self! + 1, "renders of the own presence's reader")
    assertEqual(renders.others, before.others! + 1, "renders of the others' reader: only for the other's change")
  })

  it('presence set before the provider has connected is applied once it has', async () => {
    const url = await relayUrl()
    const Early = () => {
      const update = useUpdatePresence()
      useEffect(() => update({ nickname: 'early' }), [update])
      return <p data-id="self">{String(useSelf()?.nickname ?? '?')}</p>
    }
    const host = show(
      <ServerStateProvider url={url} room={room}>
        <Early />
      </ServerStateProvider>
    )
    await waitFor(() => text(host, 'self') === 'early', 'the nickname shown')
    await waitFor(() => other.presence.list().some((p) => p.state.nickname === 'early'), 'the other session to see it')
  })
})

describe('under load', () => {
  it('readers rendered in a transition while the key changes never tear: every commit shows one value', async () => {
    const room = freshRoom('tearing')
    const mine = await session(room)
    await mine.ready
    mine.set('v', 0)
    const READERS = 40
    const Reader = ({ i }: { i: number }) => {
      const v = useServerState<number>('v')
      const end = performance.now() + 1 // a slow render: React yields between readers
      while (performance.now() < end) {
        /* busy */
      }
      return <span data-reader={i}>{v}</span>
    }
    const torn: string[] = []
    let commits = 0
    const Check = () => {
      useLayoutEffect(() => {
        commits++
        const shown = new Set([...document.querySelectorAll('[data-reader]')].map((e) => e.textContent))
        if (shown.size > 1) torn.push([...shown].join('|'))
      })
      return null
    }
    const List = ({ n }: { n: number }) => (
      <>
        {Array.from({ length: n }, (_, i) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: the index is the reader's own number (its `i` prop), the same at every render
          <Reader key={i} i={i} />
        ))}
        <Check />
      </>
    )
    let grow: (n: number) => void = () => {}
    const App = () => {
      const [n, setN] = useState(1)
      grow = setN
      return <List n={n} />
    }
    const host = show(
      <ServerStateProvider session={mine}>
        <App />
      </ServerStateProvider>
    )
    startTransition(() => grow(READERS))
    // Writes while the transition renders, between its slices.
    for (let v = 1; v <= 5; v++) {
      await new Promise((resolve) => setTimeout(resolve, 5))
      mine.set('v', v)
    }
    await waitFor(
      () =>
        host.querySelectorAll('[data-reader]').length === READERS &&
        [...host.querySelectorAll('[data-reader]')].every((e) => e.textContent === '5'),
      'every reader to show the last value'
    )
    assertEqual(torn, [], 'commits that showed two values at once')
    assert(commits >= 2, 'the transition committed')
  })

  it('1,000 mount cycles of a provider and its readers leave one socket, no subscription, and the session closed', async function () {
    this.timeout(90_000)
    const url = await relayUrl()
    const room = freshRoom('cycles')
    const mine = await session(room)
    const Key = () => (
      <p>
        {JSON.stringify(useServerState('a') ?? null)}
        {useOthers().length}
        {String(useServerStatus().synced)}
      </p>
    )
    const sockets = socketCounter(room)
    // The shared session the providers take: held by nobody, it would close a task from now.
    const peek = acquireSession(url, room)
    const shared = peek.session
    peek.release()
    try {
      for (let i = 0; i < 1_000; i++) {
        const host = container()
        const root = createRoot(host)
        flushSync(() =>
          root.render(
            <>
              <ServerStateProvider url={url} room={room}>
                <Key />
              </ServerStateProvider>
              <ServerStateProvider session={mine}>
                <Key />
              </ServerStateProvider>
            </>
          )
        )
        flushSync(() => root.unmount())
        host.remove()
      }
      await releasesSettled()
      assertEqual(sockets.count(), 1, 'sockets opened by 1,000 mounts in one task')
    } finally {
      sockets.restore()
    }
    assertEqual(mine.bindings.count('a'), 0, 'subscriptions to "a" left on the session given')
    assertEqual(mine.bindings.count('\u0000presence'), 0, 'presence subscriptions left')
    assert(shared.closed, 'the shared session closed once the last provider unmounted')
  })
})
