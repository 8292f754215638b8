/**
 * Locations used by the auth tests, computed from this file so that the suite works wherever the
 * repository is cloned: the vectors live in the repository, test/fixtures/vectors/ (origin: its README.md).
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url))
export const vectorsDir = fileURLToPath(new URL('../../fixtures/vectors/', import.meta.url))
export const javaDir = fileURLToPath(new URL('../java/', import.meta.url))

export function readVectors<T>(name: string): T {
  return JSON.parse(readFileSync(join(vectorsDir, name), 'utf8')) as T
}
