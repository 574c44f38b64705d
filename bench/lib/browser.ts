/**
 * Headless Chromium for the render scenario: the system's /usr/bin/chromium driven by
 * playwright-core (no browser download), and a page bundled from bench/browser with esbuild.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { chromium, type Browser } from 'playwright-core'
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../test/support/chromium.js'

export const launchChromium = (): Promise<Browser> =>
  chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true, timeout: 60_000 })

/**
 * Bundles `entry` (relative to bench/browser) into a fresh temp folder with an index.html that
 * loads it; returns the folder and a function that removes it.
 */
export const bundlePage = async (entry: string): Promise<{ dir: string; remove(): void }> => {
  const dir = mkdtempSync(join(tmpdir(), 'yss-bench-page-'))
  try {
    await build({
      entryPoints: [fileURLToPath(new URL(`../browser/${entry}`, import.meta.url))],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      minify: true,
      outfile: join(dir, 'page.js'),
      logLevel: 'error'
    })
  } catch (err) {
    rmSync(dir, { recursive: true, force: true })
    throw err
  }
  writeFileSync(
    join(dir, 'index.html'),
    '<!doctype html><meta charset="utf-8"><title>bench</title><div id="root"></div><script type="module" src="page.js"></script>\n'
  )
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) }
}
