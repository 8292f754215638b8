/**
 * Target `der`: src/auth/der.ts parseCertificate on mutated certificate DER, then the extension parsers the chain
 * validator relies on (chain.ts certificateExtensions, keyUsage, basicConstraints, extendedKeyUsage) and the
 * subject formatters reached from a certificate (dn.ts certificateSubjectRfc2253 / certificateSubjectJavaString).
 * Allowed: DerError, DnError. node:crypto's own X509Certificate constructor may reject the bytes (not ours);
 * what we build on a loaded certificate for error messages (chain.ts certDescription, safePublicKey,
 * sha256Fingerprint) must never throw.
 */
import { X509Certificate } from 'node:crypto'
import { parseCertificate, DerError } from '../../src/auth/der.js'
import { certificateExtensions, keyUsage, basicConstraints, extendedKeyUsage, certDescription, safePublicKey, sha256Fingerprint } from '../../src/auth/chain.js'
import { certificateSubjectRfc2253, certificateSubjectJavaString, DnError } from '../../src/auth/dn.js'
import { invariant, type Target } from '../lib/target.js'

function allowed(e: unknown): string {
  if (e instanceof DerError) return `der:${e.reason}`
  if (e instanceof DnError) return `dn:${e.reason}`
  throw e
}

export const derTarget: Target = {
  name: 'der',
  description: 'src/auth/der.ts parseCertificate (+ chain.ts extension parsers, dn.ts certificate subject formatters)',
  maxLen: 16 * 1024,
  dict: [Buffer.from([0x06, 0x03, 0x55, 0x1d, 0x13]), Buffer.from([0x06, 0x03, 0x55, 0x1d, 0x0f]), Buffer.from([0x06, 0x03, 0x55, 0x1d, 0x25]), Buffer.from([0x01, 0x01, 0xff]), Buffer.from([0xa0, 0x03, 0x02, 0x01, 0x02]), Buffer.from([0x05, 0x00]), Buffer.from([0x1e, 0x02, 0xd8, 0x3d])],
  exec(input, aux) {
    const jdk = ((aux[0] ?? 0) & 1) === 0 ? 25 : 17
    let outcome = 'ok'
    try {
      const cs = parseCertificate(input)
      invariant(cs.tbs.end <= input.length && cs.signatureValue.end <= input.length, 'TLV past the input')
      const exts = certificateExtensions(cs)
      keyUsage(exts)
      basicConstraints(exts)
      extendedKeyUsage(exts)
    } catch (e) {
      outcome = allowed(e)
    }
    let names = 'names'
    try {
      certificateSubjectRfc2253(input, { jdk })
      certificateSubjectJavaString(input, { jdk })
    } catch (e) {
      names = allowed(e)
    }
    let x: X509Certificate | null = null
    try {
      x = new X509Certificate(input)
    } catch {
      // node:crypto refused it: not code under test
    }
    if (x !== null) {
      const d = certDescription(x)
      invariant(d.startsWith('(') && d.includes(';X.509;SHA1:'), 'certDescription shape')
      safePublicKey(x)
      sha256Fingerprint(x)
    }
    return `${outcome}|${names}|${x === null ? 'node-refused' : 'node-ok'}`
  },
}
