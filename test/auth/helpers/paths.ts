/**
 * Locations used by the auth tests, computed from this file so that the suite works wherever the
 * repository is cloned: the shared vectors live in `../shared/vectors` next to the repository root.
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url))
export const vectorsDir = fileURLToPath(new URL('../../../../shared/vectors/', import.meta.url))
export const javaDir = fileURLToPath(new URL('../java/', import.meta.url))

export function readVectors<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(name, new URL('../../../../shared/vectors/', import.meta.url)), 'utf8')) as T
}
