/**
 * Target `signature`: src/auth/signature.ts decodeSignatureHeader on mutated signature blobs (base64 of the
 * decoded bytes, or the mutated bytes as the header string itself to hit the base64 layer), then what the
 * verifier does with a decoded one: chain.ts verifyChain and signature.ts verifyPayloadSignature.
 * Allowed exceptions: SignatureDecodeError (decode), SignatureVerifyError (verifyPayloadSignature). verifyChain
 * must never throw and performs at most MAX_SIGNATURE_VERIFICATIONS signature checks.
 */
import { decodeSignatureHeader, verifyPayloadSignature, SignatureDecodeError, SignatureVerifyError, type DecodeOptions } from '../../src/auth/signature.js'
import { verifyChain, MAX_PRESENTED_CERTIFICATES, MAX_SIGNATURE_VERIFICATIONS } from '../../src/auth/chain.js'
import { invariant, latin1, type Target } from '../lib/target.js'
import { loadPkiCtx, pkiCtxOf } from '../lib/pki-ctx.js'

const PAYLOAD = Buffer.from('subject-info\nApiKey Zm9vOmJhcg==', 'utf8')

export const signatureTarget: Target = {
  name: 'signature',
  description: 'src/auth/signature.ts decodeSignatureHeader (+ chain.ts verifyChain, signature.ts verifyPayloadSignature on what decodes)',
  maxLen: 16 * 1024,
  dict: [latin1('\x0dSHA256withRSA'), latin1('\x0fSHA256withECDSA'), Buffer.from([0x30, 0x82]), Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]), Buffer.from([0x00]), Buffer.from([0x20])],
  loadCtx: loadPkiCtx,
  exec(input, aux, ctx) {
    const mode = (aux[0] ?? 1) % 8
    let header: string
    if (mode === 0) header = input.toString('latin1')
    else {
      header = input.toString('base64')
      if (mode === 7) header = header.replace(/=+$/, '')
    }
    const flags = aux[1] ?? 0
    const opts: DecodeOptions = {
      ...((flags & 1) !== 0 ? { allowTrailingBytes: true } : {}),
      ...((flags & 2) !== 0 ? { allowEmptyChain: true } : {}),
      ...((flags & 4) === 0 ? { maxCertificates: MAX_PRESENTED_CERTIFICATES } : {}),
    }
    let decoded
    try {
      decoded = decodeSignatureHeader(header, opts)
    } catch (e) {
      if (e instanceof SignatureDecodeError) return `decode:${e.reason}`
      throw e
    }
    invariant(decoded.certificates.length === decoded.x509.length, 'certificates and x509 differ in length')
    decoded.x509.forEach((x, i) => invariant(x.raw.equals(decoded.certificates[i]!), `x509[${i}] is not certificates[${i}]`))
    if (decoded.x509.length === 0) return 'decode:empty-ok'
    const { now, trust } = pkiCtxOf(ctx)
    let verifications = 0
    const r = verifyChain(decoded.x509, trust, now, { onSignatureVerification: () => void verifications++ })
    invariant(verifications <= MAX_SIGNATURE_VERIFICATIONS, `${verifications} signature verifications`)
    let sig: string
    try {
      sig = String(verifyPayloadSignature(decoded.x509[0]!, decoded.algorithm, PAYLOAD, decoded.signature))
    } catch (e) {
      if (e instanceof SignatureVerifyError) sig = e.reason
      else throw e
    }
    return `chain:${r.ok ? 'ok' : r.reason}:${sig}`
  },
}
