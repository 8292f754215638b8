/**
 * What a fuzz target is, how its committed corpus is loaded, and how one case is built and run. Shared by the
 * offline runner (fuzz/run.ts), the CI slice (test/fuzz/slice.test.ts) and the regression replay
 * (test/fuzz/regressions.test.ts).
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { applyOps, type Op } from './mutate.js'

/** One committed valid input; `ctx` is the target's per-seed context (e.g. the trust anchors of a chain). */
export interface Seed {
  readonly name: string
  readonly input: Buffer
  readonly ctx: unknown
}

export interface Target {
  readonly name: string
  readonly description: string
  /** Mutated inputs are cut to this length. */
  readonly maxLen: number
  /** Tokens for the dictionary mutator (markers, keywords, magic values). */
  readonly dict: readonly Buffer[]
  /** Turns a seed's `<name>.ctx.json` (if any) into the context exec() gets. */
  loadCtx?(json: unknown): unknown
  /**
   * Runs one case: `aux` are free integers the target uses for chunk cuts, modes and schedules. Returns a short
   * outcome label (what happened: 'ok', an error reason; used as cheap novelty feedback). Throws on a crash (an
   * exception other than the target's documented typed errors) or an invariant violation (InvariantError).
   */
  exec(input: Buffer, aux: readonly number[], ctx: unknown): string | Promise<string>
}

/** A broken invariant (as opposed to an exception that escaped from the code under test). */
export class InvariantError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'InvariantError'
  }
}

export function invariant(cond: boolean, message: string | (() => string)): asserts cond {
  if (!cond) throw new InvariantError(typeof message === 'string' ? message : message())
}

/** A case: which seed, which donor (for splices), the mutations and the target's free integers. */
export interface Case {
  readonly seed: number
  readonly donor: number
  readonly ops: readonly Op[]
  readonly aux: readonly number[]
}

export interface Materialized {
  readonly seed: Seed
  readonly input: Buffer
  readonly aux: readonly number[]
}

export const FUZZ_ROOT = new URL('../', import.meta.url)

export function corpusDir(target: string): URL {
  return new URL(`corpus/${target}/`, FUZZ_ROOT)
}

const seedCache = new Map<string, Seed[]>()

/** The committed corpus of a target, in name order (cached). */
export function loadSeeds(target: Target): Seed[] {
  const hit = seedCache.get(target.name)
  if (hit !== undefined) return hit
  const dir = corpusDir(target.name)
  const names = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.bin')).sort() : []
  const seeds = names.map((f) => {
    const base = f.slice(0, -'.bin'.length)
    const ctxUrl = new URL(`${base}.ctx.json`, dir)
    const ctx = existsSync(ctxUrl) && target.loadCtx !== undefined ? target.loadCtx(JSON.parse(readFileSync(ctxUrl, 'utf8'))) : undefined
    return { name: base, input: readFileSync(new URL(f, dir)), ctx }
  })
  if (seeds.length === 0) throw new Error(`fuzz target ${target.name}: no corpus in ${dir.pathname}`)
  seedCache.set(target.name, seeds)
  return seeds
}

export function seedByName(target: Target, name: string): Seed {
  const s = loadSeeds(target).find((x) => x.name === name)
  if (s === undefined) throw new Error(`fuzz target ${target.name}: no corpus seed named ${name}`)
  return s
}

export function materialize(target: Target, pool: readonly Seed[], c: Case): Materialized {
  const seed = pool[c.seed % pool.length]!
  const donor = pool[c.donor % pool.length]!
  return { seed, input: applyOps(seed.input, c.ops, donor.input, target.dict, target.maxLen), aux: c.aux }
}

export type CaseResult =
  | { readonly ok: true; readonly outcome: string; readonly ms: number }
  | { readonly ok: false; readonly error: unknown; readonly ms: number }

/** Runs one case, timing it; never throws. */
export async function runCase(target: Target, input: Buffer, aux: readonly number[], ctx: unknown): Promise<CaseResult> {
  const t0 = performance.now()
  try {
    const r = target.exec(input, aux, ctx)
    const outcome = typeof r === 'string' ? r : await r
    return { ok: true, outcome, ms: performance.now() - t0 }
  } catch (error) {
    return { ok: false, error, ms: performance.now() - t0 }
  }
}

export function describeError(e: unknown): string {
  if (e instanceof Error) return e.stack ?? `${e.name}: ${e.message}`
  return String(e)
}

/** Splits `buf` at the cut points given by `aux` (positions modulo the length); `[buf]` when there are none. */
export function cutsFrom(buf: Buffer, aux: readonly number[], maxChunks = aux.length): Buffer[] {
  if (buf.length === 0) return []
  const points = [...new Set(aux.slice(0, maxChunks).map((x) => x % buf.length).filter((x) => x > 0))].sort((x, y) => x - y)
  const out: Buffer[] = []
  let prev = 0
  for (const p of points) {
    out.push(buf.subarray(prev, p))
    prev = p
  }
  out.push(buf.subarray(prev))
  return out
}

/** Chunking from `aux[i]`: mode 0 one chunk, 1 byte by byte (short inputs), 2 fixed size, else the cut points. */
export function chunking(buf: Buffer, aux: readonly number[]): Buffer[] {
  const mode = (aux[0] ?? 0) % 4
  if (buf.length === 0) return []
  if (mode === 0) return [buf]
  if (mode === 1 && buf.length <= 4096) {
    const out: Buffer[] = []
    for (let i = 0; i < buf.length; i++) out.push(buf.subarray(i, i + 1))
    return out
  }
  if (mode === 2 || mode === 1) {
    const size = 1 + ((aux[1] ?? 7) % 64)
    const out: Buffer[] = []
    for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size))
    return out
  }
  return cutsFrom(buf, aux.slice(1))
}

export const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1')
