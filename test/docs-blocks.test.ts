/**
 * The README's TypeScript examples compile against the package's public API, so that an example
 * cannot rot: every ```ts, ```typescript and ```tsx block of README.md is written to its own file
 * and the lot is type-checked with the project's tsc and compiler options (strict), with
 * `y-server-state`, `y-server-state/relay`, `y-server-state/components` and `y-server-state/react`
 * mapped to the sources of those entry points (tsconfig `paths`): what a user imports, without a
 * build. test/package-tarball.test.ts checks the same entry points as built and packed.
 *
 * The convention for blocks:
 * - Each block is a module of its own (its imports are its own; top-level `await` works). It may
 *   use, without defining them, only the names of the shared prelude below, which stand for what
 *   the surrounding prose has set up: `server` (a session, as `connect({ url, room })` returns
 *   it), `button` (an element of the page) and `Message` (a chat message's type). A block that
 *   defines one of them itself (`const server = connect(…)`) shadows the prelude's.
 * - Blocks that import Vue or Solid (which this project does not install) are checked against
 *   the few declarations of theirs that the examples use, copied below from their documented
 *   signatures: the check is of our API's use, not of theirs.
 * - A block that is deliberately partial and cannot compile even so is preceded by the line
 *   `<!-- readme-check: skip -->`, which GitHub does not show. None is today; use it sparingly.
 * - Other languages (sh, html, svelte, python) are not checked.
 *
 * A canary file with two names that do not exist (an import and a session method) is checked in
 * the same run: the test asserts that it fails, and exactly there, so a setup that would let
 * anything pass (an unresolved import typed as any, a prelude `server: any`) fails the test.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { ROOT } from './support/helpers.js'

const SKIP = '<!-- readme-check: skip -->'

interface Block {
  /** 1-based line of the opening fence in README.md. */
  line: number
  lang: 'ts' | 'tsx'
  code: string
}

/** The README's TypeScript blocks, without those marked with `SKIP` on the line before. */
const typeScriptBlocks = (markdown: string): Block[] => {
  const lines = markdown.split('\n')
  const blocks: Block[] = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i]!)
    if (!open) continue
    const end = lines.findIndex((l, j) => j > i && /^```\s*$/.test(l))
    assert.ok(end > i, `README.md:${i + 1}: a code block that is never closed`)
    const lang = open[1] === 'tsx' ? 'tsx' : open[1] === 'ts' || open[1] === 'typescript' ? 'ts' : undefined
    if (lang && lines[i - 1]?.trim() !== SKIP) blocks.push({ line: i + 1, lang, code: lines.slice(i + 1, end).join('\n') })
    i = end
  }
  return blocks
}

/** What the blocks may use without defining it (see the convention above). */
const PRELUDE = `import type { ServerState } from 'y-server-state'
declare global {
  /** A session, as \`connect({ url, room })\` returns it. */
  const server: ServerState
  const button: HTMLButtonElement
  type Message = { nickname: string; text: string; at: number }
}
`

/** The parts of Vue's and Solid's APIs the examples use, as those libraries declare them. */
const FRAMEWORKS = `declare module 'vue' {
  export interface ShallowRef<T> { value: T }
  export interface WritableComputedRef<T, S = T> { get value(): T; set value(v: S) }
  export function shallowRef<T = any>(): ShallowRef<T | undefined>
  export function computed<T, S = T>(options: { get: () => T; set: (v: S) => void }): WritableComputedRef<T, S>
  export function onScopeDispose(fn: () => void, failSilently?: boolean): void
}
declare module 'solid-js' {
  export type Accessor<T> = () => T
  export function from<T>(
    producer: ((setter: (v: T) => T) => () => void) | { subscribe: (fn: (v: T) => void) => (() => void) | { unsubscribe: () => void } },
    initialValue?: T
  ): Accessor<T | undefined>
}
`

/** Must fail: \`connectTo\` is not exported, \`lockKey\` is no method of a session. */
const CANARY = `import { connectTo } from 'y-server-state'
connectTo({ room: 'default' })
await server.lockKey('count', () => {})
export {}
`

interface Diagnostic { file: string; line: number; text: string }

/** Type-checks `blocks` (and the canary) in a temporary folder inside the project. */
const check = (blocks: Block[]): { diagnostics: Diagnostic[]; output: string; status: number | null } => {
  mkdirSync(join(ROOT, 'test/.tmp'), { recursive: true })
  // Inside the project, so that the blocks find its node_modules and its package.json's "type".
  const dir = mkdtempSync(join(ROOT, 'test/.tmp/readme-'))
  try {
    const files: string[] = []
    for (const block of blocks) {
      const name = `readme-${block.line}.${block.lang}`
      // The code keeps its lines, so a diagnostic's line maps back to the README's.
      writeFileSync(join(dir, name), block.code + '\nexport {}\n')
      files.push(name)
    }
    writeFileSync(join(dir, 'prelude.d.ts'), PRELUDE + 'export {}\n')
    writeFileSync(join(dir, 'frameworks.d.ts'), FRAMEWORKS)
    writeFileSync(join(dir, 'canary.ts'), CANARY)
    const source = (path: string) => join(ROOT, path)
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
      extends: relative(dir, join(ROOT, 'tsconfig.json')),
      compilerOptions: {
        noEmit: true,
        paths: {
          'y-server-state': [source('client/index.ts')],
          'y-server-state/relay': [source('relay/index.ts')],
          'y-server-state/components': [source('components/index.ts')],
          'y-server-state/react': [source('react/index.ts')]
        }
      },
      include: [],
      // The relay's declarations of y-leveldb, whose package.json does not point to its own.
      files: [source('relay/store/y-leveldb.d.ts'), 'prelude.d.ts', 'frameworks.d.ts', 'canary.ts', ...files]
    }))
    const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', '.', '--pretty', 'false'], {
      cwd: dir, encoding: 'utf8', timeout: 90_000
    })
    const output = tsc.stdout + tsc.stderr
    const diagnostics: Diagnostic[] = []
    for (const match of output.matchAll(/^(.+?)\((\d+),\d+\): (error .*)$/gm)) {
      diagnostics.push({ file: match[1]!, line: Number(match[2]), text: match[3]! })
    }
    return { diagnostics, output, status: tsc.status }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

test('every TypeScript example of the README type-checks against the package', { timeout: 120_000 }, () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const blocks = typeScriptBlocks(readme)
  // The sections with TypeScript examples: counter, client, trackers, locks, the original, your
  // own element, React, other frameworks, Vue, Solid, presence, the relay from code.
  assert.ok(blocks.length >= 12, `found only ${blocks.length} TypeScript blocks in README.md`)
  const { diagnostics, output, status } = check(blocks)

  const inReadme = diagnostics
    .filter((d) => d.file.startsWith('readme-'))
    .map((d) => ({ line: Number(/readme-(\d+)/.exec(d.file)![1]) + d.line, text: d.text }))
    .sort((a, b) => a.line - b.line)
    .map((d) => `README.md:${d.line}: ${d.text}`)
  assert.deepEqual(inReadme, [], `README examples that do not type-check (the names a block may use without defining ` +
    `them, and how to skip one, are at the top of test/docs-blocks.test.ts):\n${inReadme.join('\n')}`)

  const canary = diagnostics.filter((d) => d.file === 'canary.ts').map((d) => d.line)
  assert.deepEqual(canary, [1, 3], `the canary's two unknown names must fail, and nothing else:\n${output}`)
  assert.equal(diagnostics.length, 2, `errors outside the README blocks and the canary:\n${output}`)
  assert.equal(status, 2, 'tsc exits 2 when it reports errors')
})

test('a block marked to be skipped is left out, and other languages are', () => {
  const blocks = typeScriptBlocks(['```sh', 'npm start', '```', SKIP, '```ts', 'partial(', '```', '', '```tsx', 'const a = <p/>', '```'].join('\n'))
  assert.deepEqual(blocks, [{ line: 9, lang: 'tsx', code: 'const a = <p/>' }])
})
