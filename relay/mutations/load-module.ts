/**
 * The CLI's `--mutations FILE`: a JavaScript module (ESM, or anything Node imports) that exports
 * `mutations` (and, optionally, `mutationOnlyKeys`), resolved against the working directory.
 * Anything wrong (the file missing or failing to load, no `mutations` export, a mutation without
 * `run`) is an Error that says what, and the relay does not start.
 *
 * @example
 *   // mutations.js
 *   export const mutations = { increment: { keys: ['count'], run: (s) => (s.count = (s.count ?? 0) + 1) } }
 *   export const mutationOnlyKeys = ['count']
 *
 *   const { mutations, mutationOnlyKeys } = await loadMutations('./mutations.js', process.cwd())
 */
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { checkMutations, type Mutations } from './mutation.js'

export const loadMutations = async (file: string, cwd: string): Promise<{ mutations: Mutations; mutationOnlyKeys?: readonly string[] }> => {
  const path = resolve(cwd, file)
  let mod: Record<string, unknown>
  try {
    mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>
  } catch (err) {
    throw new Error(`--mutations ${file}: cannot load ${path}: ${(err as Error).message}`)
  }
  const { mutations, mutationOnlyKeys } = mod
  if (mutations === undefined) throw new Error(`--mutations ${file}: the module exports no "mutations"`)
  try {
    checkMutations(mutations, mutationOnlyKeys)
  } catch (err) {
    throw new Error(`--mutations ${file}: ${(err as Error).message}`)
  }
  return {
    mutations: mutations as Mutations,
    ...(mutationOnlyKeys !== undefined ? { mutationOnlyKeys: mutationOnlyKeys as string[] } : {})
  }
}
