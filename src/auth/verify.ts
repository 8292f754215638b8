/**
 * `_cross_cluster_access_signature` verification with bounded caches, deciding exactly as
 * CrossClusterApiKeySignatureManager.Verifier.verify does (cross-cluster-auth.md §3.1): chain trusted by the
 * configured signing CAs, leaf valid now, SHA256withRSA / SHA256withECDSA over UTF-8(subject_info + "\n" +
 * credentials) with the leaf key.
 *
 * Caches (each an LRU):
 *  - decoded header: sha256(header) → certificates, leaf DN, chain key (decoding and X.509 parsing are the
 *    expensive part);
 *  - chain result: (chain key, validity interval) → trusted or not, failures included. The chain key is canonical:
 *    the leaf's SHA-256 fingerprint plus the sorted, de-duplicated fingerprints of the other certificates, so that
 *    re-ordering or repeating the intermediates cannot defeat the cache (issue #11, finding 2; chain.ts verifyChain
 *    drops duplicates and searches the issuers in fingerprint order, so its answer depends on exactly this key). The validity interval is the index of `now` among the
 *    sorted validity boundaries (every notBefore and notAfter + 1 ms) of the presented certificates: inside one
 *    interval every certificate's "valid now?" answer is constant, so a cached result can never be reused at a time
 *    when any certificate's validity differs from when it was computed (finding 6: a result computed before the
 *    leaf's notBefore used to stick once the certificate became valid);
 *  - signature result: sha256(chain key, algorithm, signature, subject info, credentials) → verified or not
 *    (time-independent);
 *  - recent: credentials → the last full answer, reused only for the identical three strings AND the same validity
 *    interval.
 * A property test shows the cached and uncached paths decide identically.
 *
 * Nothing here throws: the header is attacker bytes, and an exception escaping from the policy reached the socket
 * 'data' listener and killed the process (finding 1). Unexpected failures are 'malformed_signature' refusals.
 */
import { createHash, X509Certificate } from 'node:crypto'
import { LRUCache } from 'lru-cache'
import { decodeSignatureHeader, signablePayload, verifyPayloadSignature, SignatureDecodeError, SignatureVerifyError } from './signature.js'
import { verifyChain, certDescription, sha256Fingerprint, MAX_PRESENTED_CERTIFICATES, type TrustStore } from './chain.js'
import { parseCertificate } from './der.js'
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
  /** Canonical (order- and duplicate-independent) identity of the presented chain. */
  readonly chainKey: string
  /**
   * Sorted, distinct instants (epoch ms) at which some presented certificate's validity changes: each notBefore and
   * each notAfter + 1 (a certificate is valid for notBefore ≤ t ≤ notAfter, chain.ts checkValidity).
   */
  readonly boundaries: readonly number[]
}

type DecodeOutcome = { ok: true; d: Decoded } | { ok: false; reason: 'malformed_signature' | 'no_certificates'; message: string; cause: string }

type ChainOutcome = { ok: true } | { ok: false; reason: 'untrusted_chain' | 'expired_certificate'; detail: string }

/** Work counters (tests assert on them; cheap enough to keep in production). */
export interface VerifierCounters {
  /** verifyChain calls (chain-cache misses). */
  chainValidations: number
  /** certificate signature verifications performed during path building. */
  certificateSignatureChecks: number
  /** unexpected exceptions turned into 'malformed_signature' refusals. */
  unexpectedErrors: number
}

/** The index of `now` among the sorted boundaries: how many of them are ≤ now. */
export function validityInterval(boundaries: readonly number[], now: number): number {
  let lo = 0
  let hi = boundaries.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (boundaries[mid]! <= now) lo = mid + 1
    else hi = mid
  }
  return lo
}

export interface VerifierOptions {
  readonly jdk?: 17 | 25
  /** Entries per cache; 0 disables caching (used by the property test). */
  readonly cacheSize?: number
}

const describe = (e: unknown): string => (e instanceof Error ? e.message : String(e))

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
  private readonly recent: LRUCache<string, { header: string; subjectInfo: string; check: SignatureCheck; interval: number }> | null
  private readonly jdk: 17 | 25
  readonly counters: VerifierCounters = { chainValidations: 0, certificateSignatureChecks: 0, unexpectedErrors: 0 }
  private readonly countCheck = (): void => {
    this.counters.certificateSignatureChecks++
  }

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
    let out: DecodeOutcome
    try {
      out = this.decodeKeyed(header)
    } catch (e) {
      // last resort (decodeUncached already catches everything it calls): never throw out of the verifier
      this.counters.unexpectedErrors++
      return { ok: false, reason: 'malformed_signature', message: 'failed to extract credentials from headers', cause: describe(e) }
    }
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
      const sig = decodeSignatureHeader(header, { maxCertificates: MAX_PRESENTED_CERTIFICATES })
      if (sig.certificates.length === 0)
        return { ok: false, reason: 'no_certificates', message: 'Provided signature does not contain any certificates', cause: 'no certificates' }
      const certs = sig.x509
      const leaf = certs[0]!
      const boundaries = new Set<number>()
      for (const der of sig.certificates) {
        // The DER validity (what chain.ts checks), not Date.parse(X509Certificate.validFrom): that string has
        // second precision and its parse is implementation-defined.
        const cs = parseCertificate(der)
        boundaries.add(cs.notBefore.getTime())
        boundaries.add(cs.notAfter.getTime() + 1)
      }
      const fingerprints = certs.map(sha256Fingerprint)
      const rest = [...new Set(fingerprints.slice(1))].filter((f) => f !== fingerprints[0]).sort()
      return {
        ok: true,
        d: {
          certs,
          algorithm: sig.algorithm,
          signature: sig.signature,
          leafDn: certificateSubjectRfc2253(leaf, { jdk: this.jdk }),
          leafDescription: certDescription(leaf),
          chainKey: sha256(fingerprints[0]!, ...rest),
          boundaries: [...boundaries].filter((b) => Number.isFinite(b)).sort((a, b) => a - b),
        },
      }
    } catch (e) {
      if (e instanceof SignatureDecodeError && e.reason === 'no_certificates')
        return { ok: false, reason: 'no_certificates', message: 'Provided signature does not contain any certificates', cause: e.message }
      return { ok: false, reason: 'malformed_signature', message: 'failed to extract credentials from headers', cause: describe(e) }
    }
  }

  private chain(d: Decoded, now: number): ChainOutcome {
    // Keyed on the validity interval, so both successes and failures are cached and never reused at a time when
    // some certificate's validity differs (finding 6). A hostile chain that fails is therefore validated once per
    // interval, not once per request, however its intermediates are ordered or repeated (finding 2).
    const key = `${d.chainKey}#${validityInterval(d.boundaries, now)}`
    const hit = this.chainCache?.get(key)
    if (hit !== undefined) return hit
    this.counters.chainValidations++
    const r = verifyChain(d.certs, this.trust!, new Date(now), { onSignatureVerification: this.countCheck })
    const out: ChainOutcome = r.ok
      ? { ok: true }
      : { ok: false, reason: r.reason === 'expired' || r.reason === 'not_yet_valid' ? 'expired_certificate' : 'untrusted_chain', detail: r.message }
    this.chainCache?.set(key, out)
    return out
  }

  verify(header: string, subjectInfo: string, credentials: string, now: number = Date.now()): SignatureCheck {
    try {
      return this.verifyCached(header, subjectInfo, credentials, now)
    } catch (e) {
      // Last resort: every parser below is meant to fail closed by itself; if one still throws, refuse the request
      // rather than let the exception reach the connection (finding 1).
      this.counters.unexpectedErrors++
      return { ok: false, reason: 'malformed_signature', message: 'failed to extract credentials from headers', leafDn: null, cause: describe(e) }
    }
  }

  private verifyCached(header: string, subjectInfo: string, credentials: string, now: number): SignatureCheck {
    // Fast path: a local cluster sends the same three header values on every request of one user, so the last
    // answer per credential is reused when all three strings are identical (plain string comparison, no hashing)
    // and `now` is in the same validity interval as when it was computed (finding 6: it used to be reused anywhere
    // inside [max notBefore, min notAfter], even when it had been computed outside that window).
    const recent = this.recent?.get(credentials)
    if (recent !== undefined && recent.header === header && recent.subjectInfo === subjectInfo) {
      const dec = this.decode(header)
      if (dec.ok && validityInterval(dec.d.boundaries, now) === recent.interval) return recent.check
    }
    const check = this.verifyFull(header, subjectInfo, credentials, now)
    if (this.recent !== null) {
      const dec = this.decode(header)
      if (dec.ok) this.recent.set(credentials, { header, subjectInfo, check, interval: validityInterval(dec.d.boundaries, now) })
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
        return { ok: false, reason, message: failedCert, leafDn: d.leafDn, cause: describe(e) }
      }
      this.sigCache?.set(sigKey, valid)
    }
    if (!valid) return { ok: false, reason: 'bad_signature', message: `Invalid cross cluster api key signature from [${d.leafDescription}]`, leafDn: d.leafDn }
    return { ok: true, leafDn: d.leafDn, leafDescription: d.leafDescription }
  }
}
