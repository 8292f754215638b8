/**
 * Config test helpers shared by test/config and test/http: a folder with the test PKI under certs/, and the
 * assertion that loading a config text fails with a ConfigError naming one key.
 */
import type { Test } from 'tap'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfigText, ConfigError } from '../../src/config/load.js'
import { tempDir } from './tmp.js'
import { writePki } from './pki.js'

/** A temporary folder with certs/ca.crt, certs/server.crt and certs/server.key. */
export function configDir(t: Test): string {
  const dir = tempDir(t)
  mkdirSync(join(dir, 'certs'))
  writePki(join(dir, 'certs'))
  return dir
}

export function expectConfigError(t: Test, dir: string, text: string, key: string, problem: RegExp, env: NodeJS.ProcessEnv = {}): void {
  try {
    loadConfigText(text, join(dir, 'gateway.yml'), { env })
    t.fail('expected a ConfigError')
  } catch (e) {
    t.ok(e instanceof ConfigError, 'ConfigError')
    const ce = e as ConfigError
    t.equal(ce.key, key, `names the key ${key}`)
    t.match(ce.problem, problem)
  }
}
