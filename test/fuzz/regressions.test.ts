/**
 * Replays every input the fuzzer found (fuzz/regressions/*.json: crashes, invariant violations, slow cases) against
 * its target. Each must now pass: no exception other than the target's typed errors, every invariant held. A case
 * marked `knownFailing` is a fault still open in src/: it is run, and while it still fails it is skipped with a
 * loud comment naming the finding (the suite stays green until the owner fixes it); once it passes, the comment
 * asks for the mark to be removed. Slow cases are replayed for their outcome only; their time is reported.
 */
import t from 'tap'
import { loadRegressions } from '../../fuzz/lib/regression.js'
import { targetByName } from '../../fuzz/targets/index.js'
import { seedByName, runCase, describeError } from '../../fuzz/lib/target.js'

const cases = loadRegressions()
t.ok(cases.length > 0, `${cases.length} regression cases in fuzz/regressions/`)

for (const { file, rc } of cases) {
  t.test(`${file}: ${rc.finding}`, async (t) => {
    const target = targetByName(rc.target)
    const seed = seedByName(target, rc.seed.replace(/(\+mut)+$/, ''))
    const r = await runCase(target, Buffer.from(rc.hex, 'hex'), rc.aux, seed.ctx)
    if (rc.knownFailing !== undefined) {
      if (!r.ok) {
        t.comment(`KNOWN FAILING — ${rc.knownFailing}: ${describeError(r.error).split('\n')[0]}`)
        t.pass(`SKIPPED (open finding ${rc.knownFailing}, fuzz/lib/known.ts): fix it in src, then drop knownFailing from ${file}`, { skip: true })
        return
      }
      t.comment(`${rc.knownFailing} now passes: remove knownFailing from fuzz/regressions/${file} and the entry from fuzz/lib/known.ts`)
    }
    t.ok(r.ok, r.ok ? `passes (${r.outcome})` : describeError(r.error))
    if (rc.slowMs !== undefined) t.comment(`was ${rc.slowMs} ms when found; ${r.ms.toFixed(1)} ms now (not asserted)`)
  })
}
