/**
 * Run after tsc builds the relay package: copies its ambient declarations (the `declare module`
 * files beside the sources, such as the one for y-leveldb, which ships no types its exports point
 * to) into dist/relay at the same place, since tsc emits no .d.ts for them, and references each
 * from dist/relay/index.d.ts, so that a TypeScript user of the package resolves those modules as
 * the relay's own build does.
 *
 * @example
 *   tsc -p tsconfig.build.json && node ambient-types.mjs
 */
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const out = join(here, 'dist', 'relay')
const SKIP = new Set(['dist', 'node_modules'])

/** The .d.ts files under `dir`, outside the build and installed packages. */
const declarations = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? SKIP.has(entry.name)
        ? []
        : declarations(join(dir, entry.name))
      : entry.name.endsWith('.d.ts')
        ? [join(dir, entry.name)]
        : []
  )

const copied = declarations(here).map((source) => {
  const target = join(out, relative(here, source))
  mkdirSync(dirname(target), { recursive: true })
  copyFileSync(source, target)
  return relative(out, target).split('\\').join('/')
})
const index = join(out, 'index.d.ts')
const references = copied.map((path) => `/// <reference path="./${path}" />\n`).join('')
writeFileSync(index, references + readFileSync(index, 'utf8'))
