/**
 * Offline fuzz runner: `npm run fuzz` (all targets) or `npm run fuzz -- --target decoder --cases 1000000`.
 *
 * Options: --target NAME (repeatable or comma-separated; default all), --cases N per target (default 1,000,000),
 * --seed S (default 1), --slow-ms M (default 50), --heap-every N cases (default 50,000), --json FILE (append one
 * JSON line per target with the numbers), --out DIR (where crash/slow inputs are written; default fuzz/findings).
 *
 * Each case is a committed seed (or an input that gave a new outcome earlier in this run: cheap behaviour-guided
 * feedback, capped) with 1-6 byte-level mutations and free integers for the target (lib/case shape). Reported per
 * target: cases, distinct crashes (by first stack frame), cases over --slow-ms and the slowest case, heap growth
 * (heapUsed after a forced GC, sampled every --heap-every cases; needs --expose-gc, which the npm script passes).
 * Every crash or slow input is written as a regression JSON (the format test/fuzz/regressions.test.ts replays) to
 * --out; commit the real ones under fuzz/regressions/.
 */
import { mkdirSync, writeFileSync, appendFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { cpus, totalmem } from 'node:os'
import { TARGETS, targetByName } from './targets/index.js'
import { loadSeeds, materialize, runCase, describeError, type Seed, type Target, type Case, FUZZ_ROOT } from './lib/target.js'
import { randomOp, type Op } from './lib/mutate.js'
import { Rng } from './lib/rng.js'
import type { RegressionCase } from './lib/regression.js'

interface Options {
  targets: Target[]
  cases: number
  seed: number
  slowMs: number
  heapEvery: number
  json: string | null
  out: URL
}

function parseArgs(argv: string[]): Options {
  const o: Options = { targets: [], cases: 1_000_000, seed: 1, slowMs: 50, heapEvery: 50_000, json: null, out: new URL('findings/', FUZZ_ROOT) }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    const v = (): string => {
      const x = argv[++i]
      if (x === undefined) throw new Error(`${a} needs a value`)
      return x
    }
    if (a === '--target') for (const n of v().split(',')) o.targets.push(targetByName(n.trim()))
    else if (a === '--cases') o.cases = Number(v().replace(/_/g, ''))
    else if (a === '--seed') o.seed = Number(v())
    else if (a === '--slow-ms') o.slowMs = Number(v())
    else if (a === '--heap-every') o.heapEvery = Number(v())
    else if (a === '--json') o.json = v()
    else if (a === '--out') o.out = new URL(`${v().replace(/\/?$/, '/')}`, `file://${process.cwd()}/`)
    else if (a === '--help' || a === '-h') {
      console.log('usage: npm run fuzz -- [--target NAME[,NAME]] [--cases N] [--seed S] [--slow-ms M] [--heap-every N] [--json FILE] [--out DIR]')
      console.log(`targets: ${TARGETS.map((t) => t.name).join(', ')}`)
      process.exit(0)
    } else throw new Error(`unknown option ${a}`)
  }
  if (o.targets.length === 0) o.targets = [...TARGETS]
  if (!(o.cases > 0)) throw new Error('--cases must be positive')
  return o
}

const gc = (globalThis as { gc?: () => void }).gc

function heapAfterGc(): number {
  if (gc !== undefined) {
    gc()
    gc()
  }
  return process.memoryUsage().heapUsed
}

/**
 * What makes two crashes the same finding: the error's class and the outermost frame in src/ (the entry point it
 * escaped from; for an invariant, its message without numbers), not the error message (offsets and sizes).
 */
function firstFrame(e: unknown): string {
  const stack = describeError(e).split('\n')
  const frames = stack.filter((l) => l.trim().startsWith('at '))
  // The outermost frame in src/: the entry point the exception escaped from (e.g. verifyPayloadSignature).
  const frame = frames.filter((l) => l.includes('/src/')).pop() ?? frames[0] ?? ''
  const name = e instanceof Error ? e.name : typeof e
  const what = e instanceof Error && e.name === 'InvariantError' ? e.message.replace(/\d+/g, 'N') : name
  return `${what} ${frame.trim().replace(/:\d+\)$/, ')')}`
}

interface Finding {
  kind: 'crash' | 'slow'
  key: string
  file: string
  detail: string
}

async function fuzzTarget(target: Target, o: Options): Promise<Record<string, unknown> & { crashes: number }> {
  const seeds = loadSeeds(target)
  const pool: Seed[] = [...seeds]
  /** Inputs added to the pool by novelty (bounded: at most 512 of them and 4 MiB). */
  let poolBytes = 0
  const outcomes = new Map<string, number>()
  const rng = new Rng((o.seed * 0x9e3779b1 + target.name.length * 7919) >>> 0)
  const crashes = new Map<string, Finding>()
  const slow: Finding[] = []
  let slowCount = 0
  let maxMs = 0
  let maxCase: { input: Buffer; aux: number[]; seed: string } | null = null
  let totalMs = 0
  const heap: number[] = []
  const t0 = Date.now()
  let uncaught: unknown = null
  const onUncaught = (e: unknown): void => {
    uncaught = e
  }
  process.on('uncaughtException', onUncaught)
  process.on('unhandledRejection', onUncaught)
  mkdirSync(o.out, { recursive: true })

  const save = (kind: 'crash' | 'slow', seed: Seed, input: Buffer, aux: readonly number[], detail: string): string => {
    const hash = createHash('sha1').update(input).update(JSON.stringify(aux)).digest('hex').slice(0, 12)
    const file = new URL(`${target.name}-${kind}-${hash}.json`, o.out)
    // Paths relative to the repository: a committed case must not name one machine's folders.
    const stack = detail.split(`${process.cwd()}/`).join('')
    const rc: RegressionCase = { target: target.name, seed: seed.name, hex: input.toString('hex'), aux: [...aux], finding: `${kind}: ${detail.split('\n')[0]}`, stack }
    writeFileSync(file, `${JSON.stringify(rc, null, 2)}\n`)
    return file.pathname
  }

  for (let i = 0; i < o.cases; i++) {
    if (i % o.heapEvery === 0) heap.push(heapAfterGc())
    const nOps = rng.small(6)
    const ops: Op[] = []
    for (let k = 0; k < nOps; k++) ops.push(randomOp(rng))
    const aux: number[] = []
    const nAux = 16
    for (let k = 0; k < nAux; k++) aux.push(rng.next() >>> 1)
    // Now and then replay a seed unmutated (and rechunked).
    const c: Case = { seed: rng.int(pool.length), donor: rng.int(pool.length), ops: rng.chance(0.02) ? [] : ops, aux }
    const m = materialize(target, pool, c)
    const r = await runCase(target, m.input, m.aux, m.seed.ctx)
    totalMs += r.ms
    if (r.ms > maxMs) {
      maxMs = r.ms
      maxCase = { input: m.input, aux: [...m.aux], seed: m.seed.name }
    }
    if (uncaught !== null) {
      const e = uncaught
      uncaught = null
      const key = `uncaught ${firstFrame(e)}`
      if (!crashes.has(key)) crashes.set(key, { kind: 'crash', key, file: save('crash', m.seed, m.input, m.aux, `uncaught (asynchronous) ${describeError(e)}`), detail: describeError(e) })
    }
    if (!r.ok) {
      const key = firstFrame(r.error)
      if (!crashes.has(key)) {
        const detail = describeError(r.error)
        crashes.set(key, { kind: 'crash', key, file: save('crash', m.seed, m.input, m.aux, detail), detail })
        console.log(`[${target.name}] CRASH #${crashes.size} at case ${i}: ${key}`)
      }
      continue
    }
    if (r.ms > o.slowMs) {
      // Re-time three times and keep the fastest: a GC pause, JIT work or a neighbour's load on a shared machine is
      // not the input's cost.
      let again = await runCase(target, m.input, m.aux, m.seed.ctx)
      for (let k = 0; k < 2 && again.ms > o.slowMs; k++) {
        const next = await runCase(target, m.input, m.aux, m.seed.ctx)
        if (next.ms < again.ms) again = next
      }
      if (again.ms > o.slowMs) {
        slowCount++
        if (slow.length < 20) slow.push({ kind: 'slow', key: `${again.ms.toFixed(1)} ms`, file: save('slow', m.seed, m.input, m.aux, `${again.ms.toFixed(1)} ms (fastest of 3 re-runs; first run ${r.ms.toFixed(1)} ms), outcome ${r.outcome}`), detail: r.outcome })
      }
    }
    const seen = outcomes.get(r.outcome) ?? 0
    outcomes.set(r.outcome, seen + 1)
    if (seen === 0 && pool.length < seeds.length + 512 && poolBytes < 4 * 2 ** 20 && c.ops.length > 0) {
      pool.push({ name: `${m.seed.name}+mut`, input: Buffer.from(m.input), ctx: m.seed.ctx })
      poolBytes += m.input.length
    }
    if ((i + 1) % 100_000 === 0) console.log(`[${target.name}] ${i + 1} cases, ${crashes.size} crashes, ${slowCount} slow, max ${maxMs.toFixed(1)} ms, ${outcomes.size} outcomes, ${((Date.now() - t0) / 1000).toFixed(0)} s`)
  }
  heap.push(heapAfterGc())
  process.off('uncaughtException', onUncaught)
  process.off('unhandledRejection', onUncaught)
  // The first sample is taken before any case ran: growth is measured from the second (warmed-up) sample on.
  const base = heap.length > 2 ? heap[1]! : heap[0]!
  const last = heap[heap.length - 1]!
  let slowestFile: string | null = null
  if (maxCase !== null && maxMs > o.slowMs) slowestFile = slow[0]?.file ?? null
  const result = {
    target: target.name,
    cases: o.cases,
    seed: o.seed,
    seeds: seeds.length,
    outcomes: outcomes.size,
    crashes: crashes.size,
    crashKeys: [...crashes.values()].map((c) => ({ key: c.key, file: c.file })),
    slowCases: slowCount,
    slowFiles: slow.map((s) => s.file),
    maxCaseMs: Number(maxMs.toFixed(2)),
    slowestSeed: maxCase?.seed ?? null,
    slowestFile,
    meanCaseUs: Number(((totalMs / o.cases) * 1000).toFixed(1)),
    heapBaseMB: Number((base / 2 ** 20).toFixed(2)),
    heapEndMB: Number((last / 2 ** 20).toFixed(2)),
    heapGrowthMB: Number(((last - base) / 2 ** 20).toFixed(2)),
    heapMaxMB: Number((Math.max(...heap.slice(1)) / 2 ** 20).toFixed(2)),
    gc: gc !== undefined,
    seconds: Number(((Date.now() - t0) / 1000).toFixed(1)),
  }
  return result
}

if (process.argv[2] === '--replay') {
  // npm run fuzz -- --replay FILE...: run regression/finding JSON files once each and print what happens.
  const { readFileSync } = await import('node:fs')
  const { seedByName } = await import('./lib/target.js')
  for (const f of process.argv.slice(3)) {
    const rc = JSON.parse(readFileSync(f, 'utf8')) as RegressionCase
    const t = targetByName(rc.target)
    const r = await runCase(t, Buffer.from(rc.hex, 'hex'), rc.aux, seedByName(t, rc.seed.replace(/(\+mut)+$/, '')).ctx)
    console.log(`${f}: ${r.ok ? `ok (${r.outcome})` : `FAILS\n${describeError(r.error)}`} in ${r.ms.toFixed(1)} ms`)
  }
  process.exit(0)
}

const o = parseArgs(process.argv.slice(2))
console.log(`fuzz: node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; ${o.cases} cases per target, seed ${o.seed}, slow > ${o.slowMs} ms${gc === undefined ? ' (no --expose-gc: heap samples are without a forced GC)' : ''}`)
let failed = false
for (const t of o.targets) {
  const r = await fuzzTarget(t, o)
  console.log(JSON.stringify(r))
  if (o.json !== null) appendFileSync(o.json, `${JSON.stringify({ ...r, date: new Date().toISOString(), node: process.version, cpu: cpus()[0]?.model ?? null })}\n`)
  if (r.crashes > 0) failed = true
}
process.exitCode = failed ? 1 : 0
