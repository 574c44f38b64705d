/**
 * The documentation's TypeScript examples compile against the packages' public API, so that an
 * example cannot rot: every ```ts, ```typescript and ```tsx block of README.md and of each
 * docs/*.md is written to its own file and the lot is type-checked with the project's tsc and
 * compiler options (strict), with `y-server-state`, `y-server-state-relay` (and its former name
 * `y-server-state/relay`), `y-server-state/components` and `y-server-state/react` mapped to the
 * sources of those entry points (tsconfig `paths`): what a user imports, without a build.
 * test/package-tarball.test.ts checks the same entry points as built and packed.
 *
 * The convention for blocks:
 * - Each block is a module of its own (its imports are its own; top-level `await` works). It may
 *   use, without defining them, only the names of the shared prelude below, which stand for what
 *   the surrounding prose has set up: `server` (a session, as `connect({ url, room })` returns
 *   it), `button` (an element of the page) and `Message` (a chat message's type). A block that
 *   defines one of them itself (`const server = connect(…)`) shadows the prelude's.
 * - Blocks that import Solid (which this project does not install) are checked against the few
 *   declarations of its that the examples use, copied below from its documented signatures: the
 *   check is of our API's use, not of Solid's.
 * - A block that cannot be checked (it uses an API that does not exist yet, or is deliberately
 *   partial) says so where a reader sees it, after its language: ```ts skip-check. Use it
 *   sparingly, and remove it once the API exists.
 * - Other languages (sh, html, svelte, vue, python) are not checked.
 *
 * The same files' relative links are checked too: each names a file of the project, and each
 * `#anchor` a heading of its target, as GitHub makes anchors from headings.
 *
 * A canary file with two names that do not exist (an import and a session method) is checked in
 * the same run: the test asserts that it fails, and exactly there, so a setup that would let
 * anything pass (an unresolved import typed as any, a prelude `server: any`) fails the test.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, normalize, relative } from 'node:path'
import { ROOT } from './support/helpers.js'

/** The word after a fence's language that leaves its block unchecked: ```ts skip-check. */
const SKIP = 'skip-check'

interface Block {
  /** The Markdown file, relative to the project: `README.md`, `docs/relay.md`. */
  file: string
  /** 1-based line of the opening fence in `file`. */
  line: number
  lang: 'ts' | 'tsx'
  code: string
}

/** A Markdown file's TypeScript blocks, without those marked `SKIP` after their language. */
const typeScriptBlocks = (file: string, markdown: string): Block[] => {
  const lines = markdown.split('\n')
  const blocks: Block[] = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)(.*)$/.exec(lines[i]!)
    if (!open) continue
    const end = lines.findIndex((l, j) => j > i && /^```\s*$/.test(l))
    assert.ok(end > i, `${file}:${i + 1}: a code block that is never closed`)
    const lang = open[1] === 'tsx' ? 'tsx' : open[1] === 'ts' || open[1] === 'typescript' ? 'ts' : undefined
    const skipped = open[2]!.trim().split(/\s+/).includes(SKIP)
    if (lang && !skipped) blocks.push({ file, line: i + 1, lang, code: lines.slice(i + 1, end).join('\n') })
    i = end
  }
  return blocks
}

/** README.md and every docs/*.md, relative to the project. */
const markdownFiles = (): string[] => [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`)
]

/** What the blocks may use without defining it (see the convention above). */
const PRELUDE = `import type { ServerState } from 'y-server-state'
declare global {
  /** A session, as \`connect({ url, room })\` returns it. */
  const server: ServerState
  const button: HTMLButtonElement
  type Message = { nickname: string; text: string; at: number }
}
`

/** The parts of Solid's API the examples use, as it declares them. */
const FRAMEWORKS = `declare module 'solid-js' {
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

interface Diagnostic {
  file: string
  line: number
  text: string
}

/** Type-checks `blocks` (and the canary) in a temporary folder inside the project. */
const check = (blocks: Block[]): { diagnostics: Diagnostic[]; output: string; status: number | null } => {
  mkdirSync(join(ROOT, 'test/.tmp'), { recursive: true })
  // Inside the project, so that the blocks find its node_modules and its package.json's "type".
  const dir = mkdtempSync(join(ROOT, 'test/.tmp/readme-'))
  try {
    const files: string[] = []
    for (const [index, block] of blocks.entries()) {
      const name = `block-${index}.${block.lang}`
      // The code keeps its lines, so a diagnostic's line maps back to the Markdown's.
      writeFileSync(join(dir, name), `${block.code}\nexport {}\n`)
      files.push(name)
    }
    writeFileSync(join(dir, 'prelude.d.ts'), `${PRELUDE}export {}\n`)
    writeFileSync(join(dir, 'frameworks.d.ts'), FRAMEWORKS)
    writeFileSync(join(dir, 'canary.ts'), CANARY)
    const source = (path: string) => join(ROOT, path)
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        extends: relative(dir, join(ROOT, 'tsconfig.json')),
        compilerOptions: {
          noEmit: true,
          paths: {
            'y-server-state': [source('client/index.ts')],
            'y-server-state-relay': [source('relay/index.ts')],
            'y-server-state/relay': [source('relay/index.ts')],
            'y-server-state/components': [source('components/index.ts')],
            'y-server-state/react': [source('react/index.ts')],
            'y-server-state/vue': [source('vue/index.ts')]
          }
        },
        include: [],
        // The relay's declarations of y-leveldb, whose package.json does not point to its own.
        files: [source('relay/store/y-leveldb.d.ts'), 'prelude.d.ts', 'frameworks.d.ts', 'canary.ts', ...files]
      })
    )
    const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', '.', '--pretty', 'false'], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 90_000
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

test('every TypeScript example of the README and of docs/ type-checks against the package', { timeout: 120_000 }, () => {
  const files = markdownFiles()
  const blocks = files.flatMap((file) => typeScriptBlocks(file, readFileSync(join(ROOT, file), 'utf8')))
  // The README's quick starts (counter, Node, React) and the docs' examples (the relay from code,
  // tokens, the hook, the inspector's API, the client in depth…): a parser that found none would
  // pass whatever they said.
  assert.ok(blocks.filter((b) => b.file === 'README.md').length >= 3, 'found almost no TypeScript blocks in README.md')
  assert.ok(blocks.length >= 15, `found only ${blocks.length} TypeScript blocks in ${files.join(', ')}`)
  const { diagnostics, output, status } = check(blocks)

  const inDocs = diagnostics
    .filter((d) => d.file.startsWith('block-'))
    .map((d) => {
      const block = blocks[Number(/block-(\d+)/.exec(d.file)![1])]!
      return { file: block.file, line: block.line + d.line, text: d.text }
    })
    .sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line)
    .map((d) => `${d.file}:${d.line}: ${d.text}`)
  assert.deepEqual(
    inDocs,
    [],
    `examples that do not type-check (the names a block may use without defining ` +
      `them, and how to skip one, are at the top of test/docs-blocks.test.ts):\n${inDocs.join('\n')}`
  )

  const canary = diagnostics.filter((d) => d.file === 'canary.ts').map((d) => d.line)
  assert.deepEqual(canary, [1, 3], `the canary's two unknown names must fail, and nothing else:\n${output}`)
  assert.equal(diagnostics.length, 2, `errors outside the documentation's blocks and the canary:\n${output}`)
  assert.equal(status, 2, 'tsc exits 2 when it reports errors')
})

test('a block marked skip-check is left out, and other languages are', () => {
  const markdown = [
    '```sh',
    'npm start',
    '```',
    '```ts skip-check',
    'partial(',
    '```',
    '',
    '```tsx',
    'const a = <p/>',
    '```',
    '```typescript title="x"',
    'const b = 1',
    '```'
  ].join('\n')
  assert.deepEqual(typeScriptBlocks('docs/x.md', markdown), [
    { file: 'docs/x.md', line: 8, lang: 'tsx', code: 'const a = <p/>' },
    { file: 'docs/x.md', line: 11, lang: 'ts', code: 'const b = 1' }
  ])
})

/**
 * Pages that other branches are writing (issues 18, 19 and 20), linked already: a link to one of
 * them may dangle until it is merged. Remove each once it exists.
 */
const AWAITED = new Set(['docs/limits.md'])

/** The anchor GitHub gives a heading: lower case, no punctuation, spaces as hyphens. */
const anchorOf = (heading: string): string =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-')

/** A Markdown file's lines outside fenced code blocks. */
const prose = (markdown: string): { line: number; text: string }[] => {
  let fenced = false
  return markdown.split('\n').flatMap((text, i) => {
    if (/^\s*```/.test(text)) {
      fenced = !fenced
      return []
    }
    return fenced ? [] : [{ line: i + 1, text }]
  })
}

/** The broken relative links of `file` (relative to the project), as `file:line: link (why)`. */
const brokenLinks = (file: string, read: (path: string) => string | undefined): string[] => {
  const broken: string[] = []
  for (const { line, text } of prose(read(file)!)) {
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/i.test(target!)) continue
      const [path, anchor] = target!.split('#') as [string, string | undefined]
      const to = path === '' ? file : normalize(join(dirname(file), path))
      const markdown = read(to)
      if (markdown === undefined) {
        if (!AWAITED.has(to)) broken.push(`${file}:${line}: ${target} (no such file)`)
        continue
      }
      if (anchor === undefined || !to.endsWith('.md')) continue
      const anchors = prose(markdown)
        .flatMap(({ text: t }) => /^#+ (.*)$/.exec(t)?.[1] ?? [])
        .map((h) => anchorOf(h.replace(/`/g, '')))
      if (!anchors.includes(anchor)) broken.push(`${file}:${line}: ${target} (no heading makes #${anchor})`)
    }
  }
  return broken
}

/** A project file's text, or undefined if there is none (a folder counts as a file). */
const readProjectFile = (path: string): string | undefined => {
  const full = join(ROOT, path)
  if (!existsSync(full)) return undefined
  return path.endsWith('.md') ? readFileSync(full, 'utf8') : ''
}

test('every relative link of the README and of docs/ names a file of the project, and a heading of it', () => {
  const broken = markdownFiles().flatMap((file) => brokenLinks(file, readProjectFile))
  assert.deepEqual(broken, [], `broken links:\n${broken.join('\n')}`)
})

test('a link to a missing file or heading is reported, one inside a code block is not', () => {
  const files: Record<string, string> = {
    'README.md': [
      '# Set up',
      '[a](docs/a.md#the-relay-in-depth) [a2](docs/a.md#what-it-guarantees) [b](docs/b.md) [c](#set-up) [d](#nope) [e](https://example.org/x)',
      '```md',
      '[f](docs/none.md)',
      '```',
      '[g](docs/limits.md)'
    ].join('\n'),
    'docs/a.md': '# The `relay`, in depth\n## What it guarantees'
  }
  assert.deepEqual(
    brokenLinks('README.md', (path) => files[path]),
    ['README.md:2: docs/b.md (no such file)', 'README.md:2: #nope (no heading makes #nope)']
  )
  assert.equal(anchorOf('8. Several relays (Redis and PostgreSQL)'), '8-several-relays-redis-and-postgresql')
  assert.equal(anchorOf('What /metrics shows of it'), 'what-metrics-shows-of-it')
})
