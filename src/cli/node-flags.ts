/**
 * V8 heap flags the gateway process should run with, and the check for them.
 *
 * Under load, every TLS read hands the gateway a fresh 16 KiB Buffer. With V8's default young generation (it starts
 * at 1 MB per semi-space and grows only after scavenges with high survival), a process can settle into a mode where
 * those buffers are promoted and the old generation is collected back to back: a full mark-compact every ~35 ms,
 * which on one core costs ~40 % of W1 throughput (29-30k → 17-19k req/s in the same run, bench/FINDINGS.md §6).
 * Whether a process falls into that mode depends on its first seconds of traffic, so two processes of the same
 * build differ. A fixed 16 MB semi-space (V8's default maximum on 64-bit) removes it: in-flight buffers die young.
 * Cost: up to 32 MB more resident memory per process (both semi-spaces), independent of connection count.
 *
 * V8 reads these flags when the heap is created, so they must be on the node command line: the `rcgw` executable
 * (its shebang), `npm start` and the Docker image pass them; workers forked by the primary get them too; a gateway
 * started as a plain `node dist/cli/main.js start` logs a warning.
 */
export const GC_FLAGS: readonly string[] = ['--min-semi-space-size=16', '--max-semi-space-size=16']

/** The GC flags (by name) that `execArgv` does not set, whatever value it gives them. */
export function missingGcFlags(execArgv: readonly string[]): string[] {
  return GC_FLAGS.filter((f) => {
    const name = f.slice(0, f.indexOf('='))
    const alt = `--${name.slice(2).replace(/-/g, '_')}`
    return !execArgv.some((a) => a === name || a.startsWith(`${name}=`) || a === alt || a.startsWith(`${alt}=`))
  })
}

/** execArgv for forked workers: the primary's own, plus whichever GC flags it lacks. */
export function workerExecArgv(execArgv: readonly string[]): string[] {
  const missing = new Set(missingGcFlags(execArgv))
  return [...execArgv, ...GC_FLAGS.filter((f) => missing.has(f))]
}
