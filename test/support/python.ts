/**
 * The Python side's environment for the node tests: the venv `npm run setup:python` makes, and
 * child processes of it whose output is kept for the failure message. A missing venv fails the
 * test with the command that makes it, never skips it.
 *
 * @example
 *   const python = venvPython()                        // throws, naming the setup, if missing
 *   const p = spawnLogged(python, ['-m', 'unittest'], { cwd: ROOT })
 *   assert.equal(await p.exited, 0, p.output())
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT } from './helpers.js'

export const VENV = join(ROOT, '.venv')

/** The venv's `bin/<name>`; throws with the setup command when the venv (or `name` in it) is missing. */
export const venvBin = (name: string): string => {
  const path = join(VENV, 'bin', name)
  if (!existsSync(path)) {
    throw new Error(
      `${path} is missing: run \`npm run setup:python\` first (it makes .venv/ with Streamlit and the y_server_state package)`
    )
  }
  return path
}

export const venvPython = (): string => venvBin('python')

export interface LoggedProcess {
  proc: ChildProcess
  exited: Promise<number | null>
  /** stdout and stderr so far, interleaved by line. */
  output(): string
  /** Resolves with the first line matching `pattern` (its match), rejecting if the process exits first. */
  line(pattern: RegExp): Promise<RegExpExecArray>
  kill(): Promise<number | null>
}

/** Spawns `command`, keeping its output; `kill()` ends it and waits for its exit. */
export const spawnLogged = (command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): LoggedProcess => {
  const proc = spawn(command, args, {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let text = ''
  const watchers: { pattern: RegExp; resolve: (m: RegExpExecArray) => void }[] = []
  const onData = (chunk: Buffer) => {
    text += chunk.toString()
    for (const w of [...watchers]) {
      const m = w.pattern.exec(text)
      if (m) {
        watchers.splice(watchers.indexOf(w), 1)
        w.resolve(m)
      }
    }
  }
  proc.stdout!.on('data', onData)
  proc.stderr!.on('data', onData)
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)))
  return {
    proc,
    exited,
    output: () => text,
    line: (pattern) =>
      new Promise((resolve, reject) => {
        const m = pattern.exec(text)
        if (m) return resolve(m)
        watchers.push({ pattern, resolve })
        void exited.then((code) => reject(new Error(`${command} exited with ${code} before printing ${pattern}:\n${text}`)))
      }),
    kill: () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM')
      return exited
    }
  }
}
