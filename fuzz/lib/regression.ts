/**
 * Regression cases: inputs the fuzzer found (crashes, slow cases, invariant violations), committed under
 * fuzz/regressions/*.json and replayed by test/fuzz/regressions.test.ts. A case names its target, the corpus seed
 * whose context it runs with (chain/signature trust anchors), the exact input and `aux` integers.
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs'
import { FUZZ_ROOT } from './target.js'

export interface RegressionCase {
  target: string
  /** Corpus seed whose ctx the case runs with (only matters for targets with a ctx). */
  seed: string
  hex: string
  aux: number[]
  /** What was found (one line). */
  finding: string
  /** The stack / measurement when it was found. */
  stack?: string
  /**
   * Set while the fault is open in src (none are now): the replay skips the case with a loud comment naming the finding, so the
   * suite stays green until the owner fixes it; remove the field then (the case must pass from that day on).
   */
  knownFailing?: string
  /** For slow cases: the replay asserts the deterministic outcome only, never the time. */
  slowMs?: number
}

export const REGRESSIONS_DIR = new URL('regressions/', FUZZ_ROOT)

export function loadRegressions(): Array<{ file: string; rc: RegressionCase }> {
  if (!existsSync(REGRESSIONS_DIR)) return []
  return readdirSync(REGRESSIONS_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ file, rc: JSON.parse(readFileSync(new URL(file, REGRESSIONS_DIR), 'utf8')) as RegressionCase }))
}
