/**
 * The React bindings in Chromium, with two sessions that reach each other only through the relay:
 * a key changed in one re-renders exactly the components that read it in the other (render
 * counts), a component that stops reading a key or unmounts holds no subscription (binding
 * counts), and the provider's session lives exactly as long as it is mounted.
 */
import { StrictMode, useState, type ReactNode } from 'react'
import { createRoot, type Root } from 'react-dom/client'
import { flushSync } from 'react-dom'
import { ServerStateProvider, usePresence, useServerSession, useServerState, useServerStatus } from '../../react/index.js'
import { acquireSession, releasesSettled } from '../../components/index.js'
import type { ServerState } from '../../client/index.js'
import { assert, assertEqual, cleanup, freshRoom, relayUrl, session, waitFor } from './helpers.js'

const roots: Root[] = []

/** Renders `node` into a fresh container; returns the container. */
const show = (node: ReactNode): HTMLElement => {
  const host = document.createElement('div')
  document.body.append(host)
  const root = createRoot(host)
  roots.push(root)
  flushSync(() => root.render(node))
  return host
}

const text = (host: HTMLElement, id: string): string | null => host.querySelector(`[data-id="${id}"]`)?.textContent ?? null

/** Render counts by component id. */
let renders: Record<string, number> = {}
const rendered = (id: string): void => {
  renders[id] = (renders[id] ?? 0) + 1
}

/** Shows the value of `k` as JSON, counting its renders under `id`. */
const Key = ({ id, k }: { id: string; k: string }) => {
  rendered(id)
  return <p data-id={id}>{JSON.stringify(useServerState(k) ?? null)}</p>
}

/** Orders the test after everything `writer` sent so far, in `reader` (see test/support/helpers.ts barrier). */
let barriers = 0
const barrier = async (writer: ServerState, reader: ServerState): Promise<void> => {
  const value = ++barriers
  writer.set('__barrier', value)
  await waitFor(() => reader.get('__barrier') === value, 'the barrier')
}

describe('React bindings', () => {
  let room: string
  let mine: ServerState
  let other: ServerState

  beforeEach(async () => {
    renders = {}
    room = freshRoom('react')
    mine = await session(room)
    other = await session(room)
    await Promise.all([mine.ready, other.ready])
  })

  afterEach(() => {
    for (const root of roots.splice(0)) root.unmount()
    cleanup()
  })

  it('a key changed in the other session re-renders exactly the components that read it', async () => {
    const host = show(
      <ServerStateProvider session={mine}>
        <Key id="a1" k="a" />
        <Key id="b" k="b" />
        <Key id="a2" k="a" />
      </ServerStateProvider>
    )
    assertEqual(renders, { a1: 1, b: 1, a2: 1 }, 'first renders')
    await waitFor(() => mine.bindings.count('a') === 2 && mine.bindings.count('b') === 1, 'the subscriptions')
    other.set('a', { n: 1 })
    await waitFor(() => text(host, 'a1') === '{"n":1}' && text(host, 'a2') === '{"n":1}', 'both readers of "a" to show it')
    await barrier(other, mine)
    assertEqual(renders, { a1: 2, b: 1, a2: 2 }, 'renders after a change of "a"')
    other.set('b', 'x')
    await waitFor(() => text(host, 'b') === '"x"', 'the reader of "b" to show it')
    await barrier(other, mine)
    assertEqual(renders, { a1: 2, b: 2, a2: 2 }, 'renders after a change of "b"')
    other.set('b', 'x') // equal: no update at all
    other.set('unread', 1)
    await barrier(other, mine)
    assertEqual(renders, { a1: 2, b: 2, a2: 2 }, 'no render for an equal value or an unread key')
  })

  it('keys changed in one transaction render a component that reads them once; a forced re-run renders it', async () => {
    const Both = () => {
      rendered('both')
      return <p data-id="both">{`${useServerState<number>('x') ?? 0}+${useServerState<number>('y') ?? 0}`}</p>
    }
    const host = show(
      <ServerStateProvider session={mine}>
        <Both />
      </ServerStateProvider>
    )
    await waitFor(() => mine.bindings.count('x') === 1 && mine.bindings.count('y') === 1, 'the subscriptions')
    await other.lock(['x', 'y'], (s) => {
      s.x = 1
      s.y = 2
    })
    await waitFor(() => text(host, 'both') === '1+2', 'both values')
    await barrier(other, mine)
    assertEqual(renders.both, 2, 'one render for one transaction of two keys')
    other.forceRerunBoundSessions('x')
    await waitFor(() => renders.both === 3, 'a render for the forced re-run')
    await barrier(other, mine)
    assertEqual(renders.both, 3, 'exactly one')
  })

  it('a value is the same object until its key changes (a stable snapshot)', async () => {
    mine.set('list', [1, 2, 3])
    const seen: unknown[] = []
    const Reader = () => {
      seen.push(useServerState('list'))
      return <p data-id="other">{useServerState<number>('other') ?? 0}</p>
    }
    const host = show(
      <ServerStateProvider session={mine}>
        <Reader />
      </ServerStateProvider>
    )
    other.set('other', 1)
    await waitFor(() => text(host, 'other') === '1', 'a render for another key')
    assert(seen.length >= 2 && seen.every((v) => v === seen[0]), 'the list value is the same object in every render')
    assert(Object.isFrozen(seen[0]), 'and frozen')
  })

  it('a component that stops reading a key, or unmounts, holds no subscription to it', async () => {
    let choose: (k: string) => void = () => {}
    const Chooser = () => {
      const [k, setK] = useState('a')
      choose = setK
      return <Key id="k" k={k} />
    }
    const host = show(
      <ServerStateProvider session={mine}>
        <Chooser />
      </ServerStateProvider>
    )
    await waitFor(() => mine.bindings.count('a') === 1, 'a subscription to "a"')
    flushSync(() => choose('b'))
    await waitFor(() => mine.bindings.count('b') === 1, 'a subscription to "b"')
    assertEqual(mine.bindings.count('a'), 0, 'no subscription to "a" left')
    const before = renders.k
    other.set('a', 1)
    await barrier(other, mine)
    assertEqual(renders.k, before, 'no render for the key it stopped reading')
    other.set('b', 2)
    await waitFor(() => text(host, 'k') === '2', 'the key it reads now')
    roots.pop()!.unmount()
    assertEqual(mine.bindings.count('b'), 0, 'no subscription after unmounting')
  })

  it('useServerStatus and usePresence follow the session; a presence change renders only presence readers', async () => {
    const Status = () => <p data-id="status">{useServerStatus().status}</p>
    const Online = () => {
      rendered('online')
      const names = usePresence().map((p) => `${p.state.nickname ?? '?'}${p.self ? '*' : ''}`)
      return <p data-id="online">{names.join(',')}</p>
    }
    const Me = () => {
      const server = useServerSession()
      return (
        <button type="button" data-id="me" onClick={() => server!.presence.set({ nickname: 'me' })}>
          me
        </button>
      )
    }
    const host = show(
      <ServerStateProvider session={mine}>
        <Status />
        <Online />
        <Me />
        <Key id="a" k="a" />
      </ServerStateProvider>
    )
    assertEqual(text(host, 'status'), 'connected', 'the status of a synced session')
    await waitFor(() => text(host, 'online') === '?*,?', 'both sessions present, self first')
    other.presence.set({ nickname: 'bob' })
    await waitFor(() => text(host, 'online') === '?*,bob', "the other session's nickname")
    host.querySelector<HTMLButtonElement>('[data-id="me"]')!.click()
    await waitFor(() => text(host, 'online') === 'me*,bob', 'the own nickname')
    assertEqual(renders.a, 1, 'the key reader did not render for presence changes')
    assertEqual(mine.bindings.count('\u0000presence'), 1, 'one presence subscription')
    other.close()
    await waitFor(() => text(host, 'online') === 'me*', 'the closed session gone')
    mine.close()
    await waitFor(() => text(host, 'status') === 'disconnected', 'the status of a closed session')
  })

  it('the provider shares the session of its url and room, and closes it once unmounted', async () => {
    const url = await relayUrl()
    const Probe = ({ id }: { id: string }) => {
      const server = useServerSession()
      return (
        <p
          data-id={id}
          ref={(p) => {
            if (p && server) (p as unknown as { server: ServerState }).server = server
          }}
        >
          {JSON.stringify(useServerState('a') ?? null)}
        </p>
      )
    }
    const serverOf = (host: HTMLElement, id: string) =>
      (host.querySelector(`[data-id="${id}"]`) as unknown as { server: ServerState }).server
    const host = show(
      <StrictMode>
        <ServerStateProvider url={url} room={room}>
          <Probe id="p1" />
        </ServerStateProvider>
        <ServerStateProvider url={url} room={room}>
          <Probe id="p2" />
        </ServerStateProvider>
      </StrictMode>
    )
    // The providers connect in an effect, after the first render.
    await waitFor(() => !!serverOf(host, 'p1') && !!serverOf(host, 'p2'), 'both providers to have a session')
    await releasesSettled()
    const shared = serverOf(host, 'p1')
    assert(shared === serverOf(host, 'p2'), 'one session for one url and room')
    assert(shared !== mine && shared !== other, 'not a test session')
    const lease = acquireSession(url, room)
    assert(lease.session === shared, "the page's shared session, as the Lit elements get it")
    lease.release()
    await releasesSettled()
    assert(!shared.closed, "open while mounted, after StrictMode's second mount")
    other.set('a', 'shared')
    await waitFor(() => text(host, 'p1') === '"shared"' && text(host, 'p2') === '"shared"', 'both show a change')
    roots.pop()!.unmount()
    await releasesSettled()
    assert(shared.closed, 'closed once its providers unmounted')
  })

  it('useServerSession() outside a provider throws', () => {
    let caught: unknown = null
    const Orphan = () => {
      try {
        // biome-ignore lint/correctness/useHookAtTopLevel: the test catches the hook's throw outside a provider; it is the component's only hook
        useServerSession()
      } catch (err) {
        caught = err
      }
      return null
    }
    show(<Orphan />)
    assert(/no <ServerStateProvider>/.test(String(caught)), 'a clear error')
  })
})
