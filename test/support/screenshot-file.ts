/**
 * Where an end-to-end test saves its screenshot: test/.tmp/screenshots/ (ignored by git), so that
 * `npm test` leaves the tracked images alone; with `UPDATE_SCREENSHOTS=1`, test/screenshots/,
 * the images the README shows, to be committed when the pages changed on purpose.
 *
 * @example
 *   await page.screenshot({ path: screenshotFile('demo.png'), fullPage: true })
 *   // UPDATE_SCREENSHOTS=1 node --import tsx --test test/e2e-demo.test.ts
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT } from './helpers.js'

export const screenshotFile = (name: string): string => {
  const dir = join(ROOT, 'test', process.env.UPDATE_SCREENSHOTS === '1' ? 'screenshots' : join('.tmp', 'screenshots'))
  mkdirSync(dir, { recursive: true })
  return join(dir, name)
}
