/**
 * V8 heap flags the gateway process should run with, per Node major version, and the checks for them.
 *
 * Under load, every TLS read hands the gateway a fresh 16 KiB Buffer: a tiny object on the JS heap whose memory is
 * external (outside the heap). How the young generation should be sized for that differs between V8 versions
 * (bench/FINDINGS.md §6 and §7, measured W1/W2 in the same runs):
 *
 *  - Node 20 (V8 11.3): with V8's default young generation (1 MB per semi-space at start, grown only after
 *    scavenges with high survival) a process can settle into a mode where in-flight buffers are promoted and the
 *    old generation is collected back to back (a mark-compact every ~35 ms: ~40 % of W1). A fixed 16 MB
 *    semi-space removes it. 2 MB measured 0.96× W1 / 0.92× W2 of 16 MB.
 *  - Node 24 (V8 13.6): the opposite. With 16 MB, scavenges are so rare that the external memory of dead buffers
 *    piles up and triggers a mark-compact every ~100 ms ("GC in old space requested"): W1 at 0.45-0.5× of what a
 *    fixed 2 MB semi-space gives (14.3k vs 32.8k req/s, W2 1.05×); 4 MB is bimodal, 8 MB and up are slow.
 *  - Node 22 (V8 12.4) is not measured here; it gets Node 20's setting.
 *
 * V8 reads these flags when the heap is created, so they must be on the node command line: the `rcgw` executable
 * (its shebang) and `npm start` pass Node 20's, the Docker image (Node 24) passes Node 24's, and workers forked by
 * the primary get this runtime's. A gateway started without them, or (where node can re-execute itself) with values
 * for another runtime, relaunches itself with the right ones (main.ts relaunchWithGcFlags); RCGW_NO_REEXEC=1 keeps
 * whatever it was given (then it only warns when they are missing).
 */

const SEMI_SPACE_FLAGS = ['--min-semi-space-size', '--max-semi-space-size'] as const

/** The GC flags for a Node version (`process.versions.node` form, e.g. "24.11.0"). */
export function gcFlagsFor(nodeVersion: string): readonly string[] {
  const major = Number.parseInt(nodeVersion, 10)
  const mb = major >= 24 ? 2 : 16
  return SEMI_SPACE_FLAGS.map((f) => `${f}=${mb}`)
}

/** The GC flags for the node running this process. */
export const GC_FLAGS: readonly string[] = gcFlagsFor(process.versions.node)

/** Both spellings V8 accepts for a flag name (`--max-semi-space-size`, `--max_semi_space_size`). */
function spellings(name: string): [string, string] {
  return [name, `--${name.slice(2).replace(/-/g, '_')}`]
}

/**
 * The value `execArgv` gives a flag (the last occurrence wins, as in V8), `true` when it is given without `=value`
 * (V8 then reads the next argument), or undefined when absent.
 */
function valueOf(execArgv: readonly string[], name: string): string | undefined {
  const [a, b] = spellings(name)
  let v: string | undefined
  for (let i = 0; i < execArgv.length; i++) {
    const x = execArgv[i]!
    if (x === a || x === b) v = execArgv[i + 1] ?? ''
    else if (x.startsWith(`${a}=`) || x.startsWith(`${b}=`)) v = x.slice(x.indexOf('=') + 1)
  }
  return v
}

/** The GC flags (by name) that `execArgv` does not set, whatever value it gives them. */
export function missingGcFlags(execArgv: readonly string[], wanted: readonly string[] = GC_FLAGS): string[] {
  return wanted.filter((f) => valueOf(execArgv, f.slice(0, f.indexOf('='))) === undefined)
}

/** The GC flags `execArgv` sets to another value than `wanted` (missing ones are not listed). */
export function differingGcFlags(execArgv: readonly string[], wanted: readonly string[] = GC_FLAGS): string[] {
  return wanted.filter((f) => {
    const v = valueOf(execArgv, f.slice(0, f.indexOf('=')))
    return v !== undefined && v !== f.slice(f.indexOf('=') + 1)
  })
}

/** `execArgv` without any semi-space flag (and the separate value argument of a `--flag value` form). */
function withoutSemiSpaceFlags(execArgv: readonly string[]): string[] {
  const names = SEMI_SPACE_FLAGS.flatMap(spellings)
  const out: string[] = []
  for (let i = 0; i < execArgv.length; i++) {
    const x = execArgv[i]!
    if (names.includes(x)) {
      i++ // and its value
      continue
    }
    if (names.some((n) => x.startsWith(`${n}=`))) continue
    out.push(x)
  }
  return out
}

/** execArgv for forked workers: the primary's own, plus whichever GC flags it lacks. */
export function workerExecArgv(execArgv: readonly string[]): string[] {
  const missing = new Set(missingGcFlags(execArgv))
  return [...execArgv, ...GC_FLAGS.filter((f) => missing.has(f))]
}

/** execArgv with this runtime's GC flags in place of whatever semi-space flags it had (for a relaunch). */
export function withGcFlags(execArgv: readonly string[]): string[] {
  return [...withoutSemiSpaceFlags(execArgv), ...GC_FLAGS]
}
