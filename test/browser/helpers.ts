/**
 * Helpers of the browser tests: the relay started by web-test-runner.config.mjs, sessions that
 * reach each other only through it, mounting templates, bounded waits and plain assertions.
 */
import { executeServerCommand } from '@web/test-runner-commands'
import { render, type TemplateResult } from 'lit'
import { connect, type ServerState } from '../../client/index.js'

let url: Promise<string> | undefined

/** The relay's `ws://` URL. */
export const relayUrl = (): Promise<string> => (url ??= executeServerCommand<string, undefined>('relay-url'))

/** A relay counter, e.g. `bytes_in_total`. */
export const relayMetric = (name: string): Promise<number> => executeServerCommand<number, string>('relay-metric', name)

/** A room name no other test uses. */
export const freshRoom = (name: string): string => `${name}-${Math.random().toString(36).slice(2, 10)}`

const opened: ServerState[] = []

/** A session of `room` that reaches other sessions of the page only through the relay. */
export const session = async (room: string): Promise<ServerState> => {
  const s = connect({ url: await relayUrl(), room, broadcastChannel: false })
  opened.push(s)
  return s
}

const mounted: HTMLElement[] = []

/** Renders `template` into a fresh container in the document; returns the container. */
export const mount = (template: TemplateResult): HTMLElement => {
  const host = document.createElement('div')
  document.body.append(host)
  render(template, host)
  mounted.push(host)
  return host
}

/** Removes what `mount` added and closes what `session` opened. Call in afterEach. */
export const cleanup = (): void => {
  for (const host of mounted.splice(0)) host.remove()
  for (const s of opened.splice(0)) s.close()
}

/** Waits until `check()` is true, checking it now and then once a frame, for at most `timeout` ms. */
export const waitFor = (check: () => boolean, what: string, timeout = 5_000): Promise<void> => {
  // Made here, so that a timeout's stack names the waiting test.
  const timedOut = new Error(`timed out after ${timeout} ms waiting for ${what}`)
  return new Promise((resolve, reject) => {
    let frame = 0
    // The bound only: it fails the wait, it never ends one.
    const bound = setTimeout(() => {
      cancelAnimationFrame(frame)
      reject(timedOut)
    }, timeout)
    const poll = (): void => {
      let done: boolean
      try {
        done = check()
      } catch (err) {
        clearTimeout(bound)
        reject(err)
        return
      }
      if (!done) {
        frame = requestAnimationFrame(poll)
        return
      }
      clearTimeout(bound)
      resolve()
    }
    poll()
  })
}

/** The trimmed text of the first match of `selector` in `el`'s shadow root, or null. */
export const textIn = (el: Element, selector: string): string | null => el.shadowRoot!.querySelector(selector)?.textContent?.trim() ?? null

/** The first match of `selector` in `el`'s shadow root; throws if there is none. */
export const inShadow = <E extends Element = HTMLElement>(el: Element, selector: string): E => {
  const found = el.shadowRoot!.querySelector<E>(selector)
  if (!found) throw new Error(`<${el.localName}> has no ${selector} in its shadow root`)
  return found
}

/** Counts the WebSockets the page opens to room `room` (any host) until `restore()`. */
export const socketCounter = (room: string) => {
  const Original = window.WebSocket
  let count = 0
  window.WebSocket = class extends Original {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols)
      if (new URL(String(url)).pathname === `/${encodeURIComponent(room)}`) count++
    }
  }
  return {
    count: () => count,
    restore: () => {
      window.WebSocket = Original
    }
  }
}

export const assertEqual = <T>(actual: T, expected: T, what: string): void => {
  const a = JSON.stringify(actual)
  const e = JSON.stringify(expected)
  if (a !== e) throw new Error(`${what}: expected ${e}, got ${a}`)
}

export const assert = (condition: unknown, what: string): void => {
  if (!condition) throw new Error(`assertion failed: ${what}`)
}
