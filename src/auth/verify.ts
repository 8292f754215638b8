/**
 * `_cross_cluster_access_signature` verification with bounded caches, deciding exactly as
 * CrossClusterApiKeySignatureManager.Verifier.verify does (cross-cluster-auth.md §3.1): chain trusted by the
 * configured signing CAs, leaf valid now, SHA256withRSA / SHA256withECDSA over UTF-8(subject_info + "\n" +
 * credentials) with the leaf key.
 *
 * Caches (each an LRU):
 *  - decoded header: sha256(header) → certificates, leaf DN, chain fingerprint (decoding and X.509 parsing are the
 *    expensive part);
 *  - chain result: chain fingerprint → trusted or not, reusable only while `now` is inside every certificate's
 *    validity window (so a cached "trusted" can never outlive the earliest notAfter);
 *  - signature result: sha256(header fingerprint, subject info, credentials) → verified or not.
 * A property test shows the cached and uncached paths decide identically.
 */
import { createHash, X509Certificate } from 'node:crypto'
import { LRUCache } from 'lru-cache'
import { decodeSignatureHeader, signablePayload, verifyPayloadSignature, SignatureDecodeError, SignatureVerifyError } from './signature.js'
import { verifyChain, certDescription, type TrustStore } from './chain.js'
import { certificateSubjectRfc2253 } from './dn.js'

export type SignatureFailureReason =
  | 'malformed_signature'
  | 'no_certificates'
  | 'no_signing_trust'
  | 'untrusted_chain'
  | 'expired_certificate'
  | 'unsupported_algorithm'
  | 'bad_signature'

export type SignatureCheck =
  | { readonly ok: true; readonly leafDn: string; readonly leafDescription: string }
  | { readonly ok: false; readonly reason: SignatureFailureReason; readonly message: string; readonly leafDn: string | null; readonly cause?: string }

interface Decoded {
  readonly certs: X509Certificate[]
  readonly algorithm: string
  readonly signature: Buffer
  readonly leafDn: string
  readonly leafDescription: string
  readonly chainKey: string
  /** Validity window shared by all certificates in the header (max notBefore, min notAfter), epoch ms. */
  readonly notBefore: number
  readonly notAfter: number
}

type DecodeOutcome = { ok: true; d: Decoded } | { ok: false; reason: 'malformed_signature' | 'no_certificates'; message: string; cause: string }

type ChainOutcome = { ok: true } | { ok: false; reason: 'untrusted_chain' | 'expired_certificate'; detail: string }

export interface VerifierOptions {
  readonly jdk?: 17 | 25
  /** Entries per cache; 0 disables caching (used by the property test). */
  readonly cacheSize?: number
}

const sha256 = (...parts: string[]): string => {
  const h = createHash('sha256')
  for (const p of parts) h.update(p).update('\u0000')
  return h.digest('base64')
}

export class SignatureVerifier {
  private readonly decodeCache: LRUCache<string, DecodeOutcome> | null
  private lastHeader: string | null = null
  private lastDecoded: DecodeOutcome | null = null
  private readonly chainCache: LRUCache<string, ChainOutcome> | null
  private readonly sigCache: LRUCache<string, boolean> | null
  private readonly recent: LRUCache<string, { header: string; subjectInfo: string; check: SignatureCheck; notBefore: number; notAfter: number }> | null
  private readonly jdk: 17 | 25

  constructor(
    private readonly trust: TrustStore | null,
    opts: VerifierOptions = {},
  ) {
    const size = opts.cacheSize ?? 10_000
    this.decodeCache = size > 0 ? new LRUCache({ max: size }) : null
    this.chainCache = size > 0 ? new LRUCache({ max: size }) : null
    this.sigCache = size > 0 ? new LRUCache({ max: size }) : null
    this.recent = size > 0 ? new LRUCache({ max: Math.max(1, Math.floor(size / 10)) }) : null
    this.jdk = opts.jdk ?? 25
  }

  /** Decodes the header only (no trust decision): used to learn the leaf DN early. */
  decode(header: string): DecodeOutcome {
    // A local cluster sends the same signature header on request after request: the last one is compared as a
    // string (cheap) before hashing ~1.5 KB for the cache (FINDINGS.md §4). decodeUncached is pure in `header`.
    if (header === this.lastHeader) return this.lastDecoded!
    const out = this.decodeKeyed(header)
    this.lastHeader = header
    this.lastDecoded = out
    return out
  }

  private decodeKeyed(header: string): DecodeOutcome {
    const key = this.decodeCache ? sha256(header) : ''
    const hit = this.decodeCache?.get(key)
    if (hit !== undefined) return hit
    const out = this.decodeUncached(header)
    this.decodeCache?.set(key, out)
    return out
  }

  private decodeUncached(header: string): DecodeOutcome {
    try {
      const sig = decodeSignatureHeader(header)
      if (sig.certificates.length === 0)
        return { ok: false, reason: 'no_certificates', message: 'Provided signature does not contain any certificates', cause: 'no certificates' }
      const certs = sig.certificates.map((der) => new X509Certificate(der))
      const leaf = certs[0]!
      let notBefore = -Infinity
      let notAfter = Infinity
      for (const c of certs) {
        notBefore = Math.max(notBefore, Date.parse(c.validFrom))
        notAfter = Math.min(notAfter, Date.parse(c.validTo))
      }
      return {
        ok: true,
        d: {
          certs,
          algorithm: sig.algorithm,
          signature: sig.signature,
          leafDn: certificateSubjectRfc2253(leaf, { jdk: this.jdk }),
          leafDescription: certDescription(leaf),
          chainKey: sha256(...sig.certificates.map((c) => c.toString('base64'))),
          notBefore,
          notAfter,
        },
      }
    } catch (e) {
      if (e instanceof SignatureDecodeError && e.reason === 'no_certificates')
        return { ok: false, reason: 'no_certificates', message: 'Provided signature does not contain any certificates', cause: e.message }
      return { ok: false, reason: 'malformed_signature', message: 'failed to extract credentials from headers', cause: (e as Error).message }
    }
  }

  private chain(d: Decoded, now: number): ChainOutcome {
    const inWindow = now >= d.notBefore && now <= d.notAfter
    if (inWindow) {
      const hit = this.chainCache?.get(d.chainKey)
      if (hit !== undefined) return hit
    }
    const r = verifyChain(d.certs, this.trust!, new Date(now))
    const out: ChainOutcome = r.ok
      ? { ok: true }
      : { ok: false, reason: r.reason === 'expired' || r.reason === 'not_yet_valid' ? 'expired_certificate' : 'untrusted_chain', detail: r.message }
    // Only results computed inside the shared validity window are cached; outside it the answer depends on time.
    if (inWindow) this.chainCache?.set(d.chainKey, out)
    return out
  }

  verify(header: string, subjectInfo: string, credentials: string, now: number = Date.now()): SignatureCheck {
    // Fast path: a local cluster sends the same three header values on every request of one user, so the last
    // answer per credential is reused when all three strings are identical (plain string comparison, no hashing)
    // and `now` is still inside the chain's validity window.
    const recent = this.recent?.get(credentials)
    if (recent !== undefined && recent.header === header && recent.subjectInfo === subjectInfo && now >= recent.notBefore && now <= recent.notAfter)
      return recent.check
    const check = this.verifyFull(header, subjectInfo, credentials, now)
    if (this.recent !== null) {
      const dec = this.decodeCache?.get(sha256(header))
      if (dec !== undefined && dec.ok) this.recent.set(credentials, { header, subjectInfo, check, notBefore: dec.d.notBefore, notAfter: dec.d.notAfter })
    }
    return check
  }

  private verifyFull(header: string, subjectInfo: string, credentials: string, now: number): SignatureCheck {
    const dec = this.decode(header)
    if (!dec.ok) return { ok: false, reason: dec.reason, message: dec.message, leafDn: null, cause: dec.cause }
    const d = dec.d
    if (this.trust === null)
      return {
        ok: false,
        reason: 'no_signing_trust',
        // Elasticsearch's wording (sic), CrossClusterApiKeySignatureManager.
        message: 'Cannot verify signed cross-cluster headers because [cluster.remote.signing] has not trust configuration',
        leafDn: d.leafDn,
      }
    const failedCert = `Failed to verify cross cluster api key signature certificate from [${d.leafDescription}]`
    const c = this.chain(d, now)
    if (!c.ok) return { ok: false, reason: c.reason, message: failedCert, leafDn: d.leafDn, cause: c.detail }
    // The leaf itself must be valid now (leafCertificate().checkValidity()); covered by the chain check above,
    // which checks every certificate's window.
    if (d.algorithm !== 'SHA256withRSA' && d.algorithm !== 'SHA256withECDSA')
      return { ok: false, reason: 'unsupported_algorithm', message: failedCert, leafDn: d.leafDn, cause: `algorithm ${d.algorithm} is not accepted` }
    const sigKey = this.sigCache ? sha256(d.chainKey, d.algorithm, d.signature.toString('base64'), subjectInfo, credentials) : ''
    let valid = this.sigCache?.get(sigKey)
    if (valid === undefined) {
      try {
        valid = verifyPayloadSignature(d.certs[0]!, d.algorithm, signablePayload(subjectInfo, credentials), d.signature)
      } catch (e) {
        // Java throws (GeneralSecurityException) instead of returning false: "Failed to verify ..." wording.
        const reason: SignatureFailureReason = e instanceof SignatureVerifyError && e.reason === 'unsupported_algorithm' ? 'unsupported_algorithm' : 'bad_signature'
        return { ok: false, reason, message: failedCert, leafDn: d.leafDn, cause: (e as Error).message }
      }
      this.sigCache?.set(sigKey, valid)
    }
    if (!valid) return { ok: false, reason: 'bad_signature', message: `Invalid cross cluster api key signature from [${d.leafDescription}]`, leafDn: d.leafDn }
    return { ok: true, leafDn: d.leafDn, leafDescription: d.leafDescription }
  }
}
