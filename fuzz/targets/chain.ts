/**
 * Target `chain`: src/auth/chain.ts verifyChain (path building) on mutated presented chains, against the trust
 * anchors the seed was minted for (seed `.ctx.json`). The input is the chain's certificates' DER concatenated
 * (leaf first); it is cut back into certificates at DER boundaries (der.ts readTlv), and like
 * signature.ts decodeSignatureHeader only what parseCertificate and node:crypto both load is presented. `aux`
 * reorders, duplicates or drops certificates. Invariants: never throws; at most MAX_SIGNATURE_VERIFICATIONS
 * signature checks; an accepted path starts with the leaf, is at most MAX_PATH_LENGTH + 1 long and ends at a
 * trust anchor (or is the trusted leaf alone).
 */
import { X509Certificate } from 'node:crypto'
import { readTlv, parseCertificate } from '../../src/auth/der.js'
import { verifyChain, MAX_PATH_LENGTH, MAX_SIGNATURE_VERIFICATIONS } from '../../src/auth/chain.js'
import { invariant, type Target } from '../lib/target.js'
import { loadPkiCtx, pkiCtxOf } from '../lib/pki-ctx.js'

export function splitDer(input: Buffer): Buffer[] {
  const out: Buffer[] = []
  let off = 0
  while (off < input.length && out.length < 64) {
    let end: number
    try {
      end = readTlv(input, off).end
    } catch {
      break
    }
    out.push(input.subarray(off, end))
    off = end
  }
  return out
}

function load(der: Buffer): X509Certificate | null {
  try {
    parseCertificate(der)
    return new X509Certificate(der)
  } catch {
    return null
  }
}

export const chainTarget: Target = {
  name: 'chain',
  description: 'src/auth/chain.ts verifyChain (path building, extension checks) with a TrustStore from the seed\'s test CA',
  maxLen: 48 * 1024,
  dict: [Buffer.from([0x06, 0x03, 0x55, 0x1d, 0x13]), Buffer.from([0x30, 0x06, 0x01, 0x01, 0xff, 0x02, 0x01, 0x00]), Buffer.from([0x01, 0x01, 0xff]), Buffer.from([0x03, 0x02, 0x01, 0x06]), Buffer.from([0x03, 0x02, 0x07, 0x80])],
  loadCtx: loadPkiCtx,
  exec(input, aux, ctx) {
    const pieces = splitDer(input)
    let certs = pieces.map(load).filter((x): x is X509Certificate => x !== null)
    const shuffle = (aux[0] ?? 0) % 6
    if (certs.length > 1 && shuffle === 1) certs = [certs[0]!, ...certs.slice(1).reverse()]
    else if (certs.length > 0 && shuffle === 2) certs = [...certs, ...certs]
    else if (certs.length > 1 && shuffle === 3) certs = certs.filter((_, i) => i !== 1 + ((aux[1] ?? 0) % (certs.length - 1)))
    else if (certs.length > 1 && shuffle === 4) certs = [certs[(aux[1] ?? 0) % certs.length]!, ...certs]
    if (certs.length === 0) return 'no-certs'
    const { now, trust } = pkiCtxOf(ctx)
    let verifications = 0
    const r = verifyChain(certs, trust, now, { onSignatureVerification: () => void verifications++ })
    invariant(verifications <= MAX_SIGNATURE_VERIFICATIONS, `${verifications} signature verifications`)
    if (r.ok) {
      invariant(r.path.length >= 1 && r.path[0]!.raw.equals(certs[0]!.raw), 'accepted path does not start with the leaf')
      invariant(r.path.length <= MAX_PATH_LENGTH + 1, `accepted path of ${r.path.length}`)
      const last = r.path[r.path.length - 1]!
      invariant(trust.anchors.some((a) => a.raw.equals(last.raw)), 'accepted path does not end at a trust anchor')
      return `ok:${r.path.length}`
    }
    invariant(typeof r.message === 'string' && r.certIndex >= -1 && r.certIndex < certs.length, 'failure shape')
    return `fail:${r.reason}`
  },
}
