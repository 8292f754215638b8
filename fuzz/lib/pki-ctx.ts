/**
 * Per-seed context of the certificate targets: the trust anchors and the validation time the seed was minted for
 * (`<seed>.ctx.json`: { "now": ISO time, "anchors": [base64 DER, ...] }), so a committed chain keeps its meaning
 * whatever day the fuzzer runs.
 */
import { X509Certificate } from 'node:crypto'
import { TrustStore } from '../../src/auth/chain.js'

export interface PkiCtx {
  readonly now: Date
  readonly trust: TrustStore
}

export interface PkiCtxJson {
  now: string
  anchors: string[]
}

export function loadPkiCtx(json: unknown): PkiCtx {
  const j = json as PkiCtxJson
  const pems = j.anchors.map((b64) => new X509Certificate(Buffer.from(b64, 'base64')).toString())
  return { now: new Date(j.now), trust: new TrustStore(pems) }
}

let fallback: PkiCtx | null = null

/** Seeds without a ctx file are checked against an empty-but-valid context (nothing is trusted). */
export function pkiCtxOf(ctx: unknown): PkiCtx {
  if (ctx !== undefined) return ctx as PkiCtx
  fallback ??= { now: new Date('2027-01-01T00:00:00Z'), trust: new TrustStore([]) }
  return fallback
}
