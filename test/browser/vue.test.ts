/**
 * The Vue bindings in Chromium, against the relay: `useServerState(key)` is a ref that follows the
 * key as another session changes it, and sets it when assigned; `useServerStatus()` says when the
 * room is synced; the provider connects once mounted, shares the page's session of its url and
 * room, and releases it on unmount.
 */
import { createApp, defineComponent, h, nextTick, ref, type App } from 'vue'
import { ServerStateProvider, useServerSession, useServerState, useServerStatus } from '../../vue/index.js'
import { acquireSession, releasesSettled } from '../../components/index.js'
import type { ServerState } from '../../client/index.js'
import { assert, assertEqual, cleanup, freshRoom, relayUrl, session, socketCounter, waitFor } from './helpers.js'

const apps: App[] = []

/** Mounts `component` into a fresh container; returns the container. */
const show = (component: ReturnType<typeof defineComponent>): HTMLElement => {
  const host = document.createElement('div')
  document.body.append(host)
  const app = createApp(component)
  apps.push(app)
  app.mount(host)
  return host
}

const text = (host: HTMLElement, id: string): string | null => host.querySelector(`[data-id="${id}"]`)?.textContent ?? null

afterEach(async () => {
  for (const app of apps.splice(0)) app.unmount()
  cleanup()
  await releasesSettled()
})

describe('Vue bindings', () => {
  it('useServerState is a ref that follows the key in any session and sets it when assigned', async () => {
    const url = await relayUrl()
    const room = freshRoom('vue')
    const other = await session(room)
    other.set('count', 1)
    await other.flush()
    let renders = 0
    let count: { value: number | undefined } = { value: undefined }
    const Counter = defineComponent(() => {
      const value = useServerState<number>('count')
      count = value
      const status = useServerStatus()
      return () => {
        renders++
        return h('p', { 'data-id': 'count' }, `${value.value ?? 'none'} ${status.value.status} ${status.value.synced}`)
      }
    })
    const Unrelated = defineComponent(() => {
      const value = useServerState('other')
      return () => h('p', { 'data-id': 'other' }, String(value.value ?? 'none'))
    })
    const sockets = socketCounter(room)
    let host: HTMLElement
    try {
      host = show(defineComponent(() => () => h(ServerStateProvider, { url, room }, () => [h(Counter), h(Unrelated)])))
      assertEqual(text(host, 'count'), 'none connecting false', 'the first render, before connecting')
      await waitFor(() => text(host, 'count') === '1 connected true', "the room's value once synced")
      assertEqual(sockets.count(), 1, 'sockets the provider opened')
    } finally {
      sockets.restore()
    }
    other.set('count', 2)
    await waitFor(() => text(host, 'count') === '2 connected true', "another session's change")
    count.value = 3
    await waitFor(() => other.get('count') === 3, 'the assignment in the other session')
    await nextTick()
    assertEqual(text(host, 'count'), '3 connected true', 'the assignment shown')
    const before = renders
    other.set('unread', 1)
    other.set('other', 'x')
    await waitFor(() => text(host, 'other') === 'x', 'the unrelated key')
    assertEqual(renders, before, 'renders of the counter for keys it does not read')
  })

  it("the provider shares the page's session of its url and room, follows a key that is a ref, and releases the session on unmount", async () => {
    const url = await relayUrl()
    const room = freshRoom('vue-share')
    const other = await session(room)
    const key = ref('a')
    let seen: ServerState | null = null
    const Reader = defineComponent(() => {
      const server = useServerSession()
      const value = useServerState(key)
      return () => {
        seen = server.value
        return h('p', { 'data-id': 'value' }, JSON.stringify(value.value ?? null))
      }
    })
    const host = show(defineComponent(() => () => h(ServerStateProvider, { url, room }, () => h(Reader))))
    await waitFor(() => seen?.status === 'connected', 'the session to connect')
    const lease = acquireSession(url, room)
    assert(lease.session === seen, "the page's shared session, as the Lit elements get it")
    lease.release()
    other.set('a', 'A')
    other.set('b', 'B')
    await waitFor(() => text(host, 'value') === '"A"', 'the value of "a"')
    key.value = 'b'
    await waitFor(() => text(host, 'value') === '"B"', 'the value of "b" once the key changed')
    const shared = seen!
    apps.pop()!.unmount()
    await releasesSettled()
    assert(shared.closed, 'closed once unmounted')
  })

  it('useServerSession() outside a provider throws', () => {
    let caught: unknown = null
    const Orphan = defineComponent(() => {
      try {
        // biome-ignore lint/correctness/useHookAtTopLevel: the test catches the composable's throw outside a provider; it is the setup's only call
        useServerSession()
      } catch (err) {
        caught = err
      }
      return () => null
    })
    show(Orphan)
    assert(/no <ServerStateProvider>/.test(String(caught)), 'a clear error')
  })
})
