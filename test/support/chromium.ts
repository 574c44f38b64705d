/**
 * Debian's Chromium and the flags it needs on this machine (see TOOLCHAIN.md), shared by the
 * browser tests (web-test-runner) and the end-to-end test (playwright-core).
 *
 * @example
 *   chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS })
 */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

export const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--disable-extensions',
  '--no-first-run',
  '--no-default-browser-check',
  '--disable-quic',
  '--mute-audio'
]
