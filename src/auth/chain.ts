/**
 * Certificate-chain validation for the signature header, reproducing the decision of
 * `trustManager.checkClientTrusted(chain, authType)` followed by `leaf.checkValidity()` in
 * CrossClusterApiKeySignatureManager.Verifier.verify
 * (x-pack/plugin/security/src/main/java/org/elasticsearch/xpack/security/transport/CrossClusterApiKeySignatureManager.java,
 * cross-cluster-auth.md §3.1).
 *
 * The JSSE trust manager is X509TrustManagerImpl with a PKIX Validator for TLS *client* chains
 * (variant VAR_TLS_CLIENT). What it checks, and what we check the same way:
 *  - path: leaf → issuers from the presented chain in any order → a trust anchor; issuers are
 *    matched by name (X500Principal.equals: DER or canonical form) and signature
 *    (sun/security/validator/PKIXValidator.java engineValidate / doBuild);
 *  - a chain whose leaf *is* a trusted certificate (same DER) is accepted without further PKIX
 *    checks; a chain containing the anchor certificate is cut there (PKIXValidator.engineValidate);
 *  - trust anchors are not PKIX-validated: their validity dates are not checked (RFC 5280 §6.1, an
 *    anchor is a name and a key; PKIXCertPathValidator never passes the anchor to its checkers).
 *    But PKIXValidator.verifyTrustAnchor (JDK 25.0.3 and 17.0.15 alike, unless the
 *    jdk.security.allowNonCAAnchor system property is set) requires a v3 anchor that ends a path
 *    to be a CA (basicConstraints cA=true) and, when it has keyUsage, to assert keyCertSign; v1/v2
 *    anchors are exempt. Confirmed by test/auth/chain-oracle.test.ts;
 *  - every non-anchor certificate: validity at `now` (BasicChecker), no unrecognised critical
 *    extension (PKIXCertPathValidator: KeyChecker, ConstraintsChecker and PolicyChecker together
 *    support keyUsage, extendedKeyUsage, subjectAltName, basicConstraints, nameConstraints and the
 *    four policy extensions);
 *  - every issuer in the path: basicConstraints cA=true and RFC 5280 pathLenConstraint
 *    (ConstraintsChecker), keyCertSign when keyUsage is present (KeyChecker.verifyCAKeyUsage);
 *  - the leaf (sun/security/validator/EndEntityChecker.java checkTLSClient): keyUsage, when present,
 *    must allow digitalSignature; extendedKeyUsage, when present, must contain clientAuth or
 *    anyExtendedKeyUsage; a Netscape cert-type extension, when present, must allow SSL client.
 *    Decision on the spec's UNVERIFIED item 6: enforced, because checkClientTrusted selects the
 *    TLS-client end-entity checks; test/auth/chain-oracle.test.ts confirms it against the JDK.
 *  - jdk.certpath.disabledAlgorithms (java.security): MD2/MD5 signatures, RSA keys < 1024 bits and
 *    EC keys < 224 bits are refused.
 *
 * Not implemented, so refused rather than half-checked: nameConstraints on an issuer (the JDK
 * enforces them; we reject the chain as 'untrusted'). Certificate policies are accepted without
 * processing (the JDK's default PKIXParameters require no explicit policy). No revocation checking
 * (the JDK trust manager does none by default; spec §3.1).
 */
import { X509Certificate, createHash, type KeyObject } from 'node:crypto'
import {
  DerError,
  TAG,
  bitIsSet,
  children,
  decodeBoolean,
  decodeInteger,
  decodeOid,
  expectIdentifier,
  parseCertificate,
  readSingle,
  sequenceItems,
  type BitString,
  type CertificateStructure,
  type Tlv,
} from './der.js'
import { namesEqual, parseName, subjectToJavaString, type DnOptions } from './dn.js'

export type ChainFailureReason =
  | 'untrusted'
  | 'expired'
  | 'not_yet_valid'
  | 'bad_signature'
  | 'not_ca'
  | 'key_usage'
  | 'path_too_long'
  | 'malformed'
  /** a critical extension the JDK's PKIX validator does not process */
  | 'critical_extension'

export type ChainResult =
  | { ok: true; path: X509Certificate[] }
  | { ok: false; reason: ChainFailureReason; message: string; certIndex: number }

/** Longest path accepted, anchor excluded. */
export const MAX_PATH_LENGTH = 10
/** Most certificates accepted in one presented chain, duplicates included (bounds parsing work). */
export const MAX_PRESENTED_CERTIFICATES = 32
/**
 * Most *distinct* certificates (by SHA-256 of the DER) in one presented chain; byte-identical copies
 * are dropped before path building (issue #11, finding 2: copies used to multiply the search).
 *
 * Why 10: JSSE bounds the chains it accepts in a TLS Certificate message —
 * sun/security/ssl/SSLConfiguration.java: jdk.tls.client.maxInboundCertificateChainLength default 10
 * (chains a TLS client accepts from a server) and jdk.tls.server.maxInboundCertificateChainLength
 * default 8 (client chains); before JDK 17.0.x/JDK 21 a single jdk.tls.maxCertificateChainLength,
 * default 10, checked in sun/security/ssl/CertificateMessage.java. Elasticsearch calls
 * `trustManager.checkClientTrusted(chain, ...)` directly (CrossClusterApiKeySignatureManager), so
 * none of these TLS-layer limits applies to the signature chain itself. UNVERIFIED that the JDK
 * applies no other count limit there; decision: the gateway refuses more than 10 distinct
 * certificates (the same figure as the path length limit, and as JSSE's default for peer chains).
 * An Elasticsearch signer sends its configured signing certificate chain: 1–3 certificates.
 */
export const MAX_DISTINCT_CERTIFICATES = 10
/**
 * Most search steps spent building a path. Presented certificates sharing one name and one key
 * would otherwise let a client make the depth-first search try every permutation.
 */
export const MAX_PATH_BUILDING_STEPS = 2000
/**
 * Most certificate signature verifications (X509Certificate.verify) spent on one chain. Each RSA/EC
 * verification costs 20–100 µs of blocked event loop; without a cap a chain of same-name
 * certificates made path building try every (child, issuer) pair (issue #11, finding 2: 32
 * same-name certificates ≈ 0.1 s per request). A genuine chain needs one verification per link plus
 * one per same-named anchor that did not sign it (CA rotation), far below 16.
 */
export const MAX_SIGNATURE_VERIFICATIONS = 16

export const OIDS = {
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  nameConstraints: '2.5.29.30',
  certificatePolicies: '2.5.29.32',
  policyMappings: '2.5.29.33',
  policyConstraints: '2.5.29.36',
  extKeyUsage: '2.5.29.37',
  inhibitAnyPolicy: '2.5.29.54',
  netscapeCertType: '2.16.840.1.113730.1.1',
  ekuClientAuth: '1.3.6.1.5.5.7.3.2',
  ekuServerAuth: '1.3.6.1.5.5.7.3.1',
  ekuAny: '2.5.29.37.0',
} as const

/** Critical extensions some PKIX checker claims (see the header comment). */
const SUPPORTED_CRITICAL: ReadonlySet<string> = new Set([
  OIDS.keyUsage,
  OIDS.extKeyUsage,
  OIDS.subjectAltName,
  OIDS.basicConstraints,
  OIDS.nameConstraints,
  OIDS.certificatePolicies,
  OIDS.policyMappings,
  OIDS.policyConstraints,
  OIDS.inhibitAnyPolicy,
])

/** md2WithRSAEncryption, md5WithRSAEncryption: in every JDK's jdk.certpath.disabledAlgorithms. */
const DISABLED_SIGNATURE_ALGORITHMS: ReadonlySet<string> = new Set(['1.2.840.113549.1.1.2', '1.2.840.113549.1.1.4'])

/** Key sizes (bits) of the named curves the JDK's SunEC provider still implements. */
const EC_CURVE_BITS: ReadonlyMap<string, number> = new Map([
  ['prime256v1', 256],
  ['P-256', 256],
  ['secp384r1', 384],
  ['P-384', 384],
  ['secp521r1', 521],
  ['P-521', 521],
])

// ---------------------------------------------------------------------------------------------
// Extensions

export interface Extension {
  oid: string
  critical: boolean
  /** extnValue contents (the DER of the extension's own structure). */
  value: Buffer
}

/** The extensions of a parsed certificate; duplicates are an error (X509CertImpl: "Duplicate extensions not allowed"). */
export function certificateExtensions(cs: CertificateStructure): Extension[] {
  if (cs.extensions === null) return []
  if (cs.version !== 2) throw new DerError('unexpected_tag', 'extensions in a certificate that is not v3')
  const seen = new Set<string>()
  return sequenceItems(cs.extensions, 'Extensions').map((ext) => {
    const items = sequenceItems(ext, 'Extension')
    const oid = decodeOid(expectIdentifier(items[0] ?? missing('extnID'), TAG.OID, 'extnID').value)
    let i = 1
    let critical = false
    if (items[i]?.identifier === TAG.BOOLEAN) critical = decodeBoolean(items[i++]!.value)
    const value = expectIdentifier(items[i++] ?? missing('extnValue'), TAG.OCTET_STRING, 'extnValue').value
    if (i !== items.length) throw new DerError('trailing_bytes', `extension ${oid} has extra fields`)
    if (seen.has(oid)) throw new DerError('unexpected_tag', `duplicate extension ${oid}`)
    seen.add(oid)
    return { oid, critical, value }
  })
}

function missing(what: string): never {
  throw new DerError('truncated', `${what} is missing`)
}

function findExtension(exts: readonly Extension[], oid: string): Extension | undefined {
  return exts.find((e) => e.oid === oid)
}

/**
 * A named-bit BIT STRING, read the way the JDK reads extension values (allowBER: unused bits are
 * not required to be zero).
 */
function namedBits(value: Buffer): BitString {
  const tlv = expectIdentifier(readSingle(value), TAG.BIT_STRING, 'BIT STRING')
  if (tlv.value.length === 0) throw new DerError('bad_bit_string', 'zero-length BIT STRING')
  const unusedBits = tlv.value[0]!
  if (unusedBits > 7) throw new DerError('bad_bit_string', `BIT STRING with ${unusedBits} unused bits`)
  return { unusedBits, bytes: tlv.value.subarray(1) }
}

export const KEY_USAGE = {
  digitalSignature: 0,
  nonRepudiation: 1,
  keyEncipherment: 2,
  dataEncipherment: 3,
  keyAgreement: 4,
  keyCertSign: 5,
  cRLSign: 6,
  encipherOnly: 7,
  decipherOnly: 8,
} as const

/** keyUsage bits, or null when the extension is absent. */
export function keyUsage(exts: readonly Extension[]): BitString | null {
  const ext = findExtension(exts, OIDS.keyUsage)
  return ext === undefined ? null : namedBits(ext.value)
}

/** java.security.Signature.initVerify(Certificate): a critical keyUsage without digitalSignature. */
export function hasCriticalKeyUsageWithoutDigitalSignature(exts: readonly Extension[]): boolean {
  const ext = findExtension(exts, OIDS.keyUsage)
  return ext !== undefined && ext.critical && !bitIsSet(namedBits(ext.value), KEY_USAGE.digitalSignature)
}

export interface BasicConstraints {
  ca: boolean
  /** null = no limit */
  pathLen: number | null
}

/** basicConstraints, or null when absent. */
export function basicConstraints(exts: readonly Extension[]): BasicConstraints | null {
  const ext = findExtension(exts, OIDS.basicConstraints)
  if (ext === undefined) return null
  const items = sequenceItems(readSingle(ext.value), 'BasicConstraints')
  let i = 0
  let ca = false
  if (items[i]?.identifier === TAG.BOOLEAN) ca = decodeBoolean(items[i++]!.value)
  let pathLen: number | null = null
  if (items[i]?.identifier === TAG.INTEGER) {
    const n = decodeInteger(items[i++]!.value)
    if (n < 0n) throw new DerError('bad_integer', 'negative pathLenConstraint')
    pathLen = n > 0x7fffffffn ? 0x7fffffff : Number(n)
  }
  if (i !== items.length) throw new DerError('trailing_bytes', 'BasicConstraints has extra fields')
  return { ca, pathLen }
}

/** extendedKeyUsage purposes, or null when absent. */
export function extendedKeyUsage(exts: readonly Extension[]): string[] | null {
  const ext = findExtension(exts, OIDS.extKeyUsage)
  if (ext === undefined) return null
  return sequenceItems(readSingle(ext.value), 'ExtKeyUsageSyntax').map((t) => decodeOid(expectIdentifier(t, TAG.OID, 'KeyPurposeId').value))
}

// ---------------------------------------------------------------------------------------------
// Certificates as the validator sees them

/** A certificate with the fields the validator uses. */
export interface CertInfo {
  cert: X509Certificate
  structure: CertificateStructure
  extensions: Extension[]
  subject: Buffer
  issuer: Buffer
  spki: Buffer
  /**
   * The subject public key, or null when node:crypto cannot decode it (an unknown key-algorithm OID
   * in SubjectPublicKeyInfo: `X509Certificate.publicKey` throws ERR_OSSL_EVP_DECODE_ERROR). The JDK
   * loads such a certificate (sun/security/x509/X509Key.parse falls back to a generic X509Key) and
   * then fails every signature check with it, so a null key fails closed the same way.
   */
  publicKey: KeyObject | null
  /** lower-case hex SHA-256 of the DER: certificate identity for de-duplication and memoisation */
  fingerprint: string
  /** index in the presented chain; -1 for trust anchors */
  index: number
}

function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/** `cert.publicKey`, or null when node:crypto cannot decode the key (it throws instead). */
export function safePublicKey(cert: X509Certificate): KeyObject | null {
  try {
    return cert.publicKey
  } catch {
    return null
  }
}

/** Lower-case hex SHA-256 of the certificate DER. */
export function sha256Fingerprint(cert: X509Certificate): string {
  return createHash('sha256').update(cert.raw).digest('hex')
}

function certInfo(cert: X509Certificate, index: number, dn: DnOptions): CertInfo {
  const structure = parseCertificate(cert.raw)
  if (!structure.tbsSignatureAlgorithm.raw.equals(structure.signatureAlgorithm.raw)) {
    throw new DerError('unexpected_tag', 'signature algorithm mismatch between tbsCertificate and Certificate')
  }
  // the JDK parses both names while loading the certificate; a name it cannot parse is fatal
  parseName(structure.subject.raw, dn)
  parseName(structure.issuer.raw, dn)
  const extensions = certificateExtensions(structure)
  // parse the extensions the validator relies on, so malformed ones fail here
  keyUsage(extensions)
  basicConstraints(extensions)
  extendedKeyUsage(extensions)
  return {
    cert,
    structure,
    extensions,
    subject: structure.subject.raw,
    issuer: structure.issuer.raw,
    spki: structure.subjectPublicKeyInfo.raw,
    publicKey: safePublicKey(cert),
    fingerprint: sha256Fingerprint(cert),
    index,
  }
}

/** `(<X500Principal.toString()>;X.509;SHA1:<hex>)`, X509CertificateSignature.certificateToString. */
export function certDescription(cert: X509Certificate): string {
  let subject: string
  try {
    subject = subjectToJavaString(parseCertificate(cert.raw).subject.raw)
  } catch {
    // attacker bytes: whatever the failure, the description must not throw (it is built for error messages)
    subject = '<unparseable subject>'
  }
  return `(${subject};X.509;SHA1:${sha1Fingerprint(cert)})`
}

/** Lower-case hex SHA-1 of the certificate DER (org.elasticsearch.common.ssl.SslUtil.calculateFingerprint). */
export function sha1Fingerprint(cert: X509Certificate): string {
  return createHash('sha1').update(cert.raw).digest('hex')
}

// ---------------------------------------------------------------------------------------------
// Trust store

export class TrustStoreError extends Error {
  readonly reason: 'bad_pem' | 'no_certificates'
  constructor(reason: 'bad_pem' | 'no_certificates', message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'TrustStoreError'
    this.reason = reason
  }
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g

/** Trust anchors (`cluster.remote.signing.certificate_authorities`). Each input may hold several PEM blocks. */
export class TrustStore {
  readonly anchors: readonly X509Certificate[]
  private readonly infos: readonly CertInfo[]

  constructor(caPems: readonly string[], opts: DnOptions = {}) {
    const anchors: X509Certificate[] = []
    caPems.forEach((pem, i) => {
      const blocks = pem.match(PEM_BLOCK)
      if (blocks === null) throw new TrustStoreError('no_certificates', `certificate authority [${i}] contains no PEM certificate`)
      for (const block of blocks) {
        try {
          anchors.push(new X509Certificate(block))
        } catch (err) {
          throw new TrustStoreError('bad_pem', `certificate authority [${i}] is not a valid certificate: ${describeError(err)}`, { cause: err })
        }
      }
    })
    this.anchors = anchors
    this.infos = anchors.map((a) => {
      try {
        return certInfo(a, -1, opts)
      } catch (err) {
        throw new TrustStoreError('bad_pem', `certificate authority ${certDescription(a)} cannot be used: ${describeError(err)}`, { cause: err })
      }
    })
  }

  get size(): number {
    return this.anchors.length
  }

  /** @internal anchors with parsed fields */
  anchorInfos(): readonly CertInfo[] {
    return this.infos
  }
}

// ---------------------------------------------------------------------------------------------
// Validation

type Failure = Extract<ChainResult, { ok: false }>

function fail(reason: ChainFailureReason, message: string, certIndex: number): Failure {
  return { ok: false, reason, message, certIndex }
}

export interface VerifyChainOptions extends DnOptions {
  /** Called once per certificate signature verification performed (tests count the work done). */
  readonly onSignatureVerification?: () => void
}

/**
 * Validates the presented chain (leaf first, as sent) against the trust store at `now`.
 * Returns the path leaf → … → anchor (the anchor last; just [leaf] when the leaf is itself trusted).
 *
 * Never throws: the certificates are attacker bytes, and an exception escaping from here used to
 * reach the socket 'data' listener and kill the process (issue #11, finding 1). Any unexpected
 * failure is a 'malformed' refusal.
 */
export function verifyChain(
  certs: readonly X509Certificate[],
  trust: TrustStore,
  now: Date,
  opts: VerifyChainOptions = {},
): ChainResult {
  try {
    return verifyChainUnsafe(certs, trust, now, opts)
  } catch (err) {
    return fail('malformed', `cannot validate the certificate chain: ${describeError(err)}`, -1)
  }
}

function verifyChainUnsafe(certs: readonly X509Certificate[], trust: TrustStore, now: Date, opts: VerifyChainOptions): ChainResult {
  if (certs.length === 0) return fail('malformed', 'no certificates in the chain', -1)
  if (certs.length > MAX_PRESENTED_CERTIFICATES) {
    return fail('malformed', `chain of ${certs.length} certificates exceeds the limit of ${MAX_PRESENTED_CERTIFICATES}`, -1)
  }
  const infos: CertInfo[] = []
  const seen = new Set<string>()
  for (let i = 0; i < certs.length; i++) {
    let info: CertInfo
    try {
      info = certInfo(certs[i]!, i, opts)
    } catch (err) {
      return fail('malformed', `cannot parse certificate ${certDescription(certs[i]!)}: ${describeError(err)}`, i)
    }
    // Byte-identical copies add nothing to path building (the JDK's builder collects the presented
    // certificates into a CertStore, a set) but used to multiply the search (finding 2).
    if (seen.has(info.fingerprint)) continue
    seen.add(info.fingerprint)
    infos.push(info)
  }
  if (infos.length > MAX_DISTINCT_CERTIFICATES) {
    return fail('malformed', `chain of ${infos.length} distinct certificates exceeds the limit of ${MAX_DISTINCT_CERTIFICATES}`, -1)
  }
  // The issuers are searched in fingerprint order, not in the order sent: the decision then depends only on the
  // leaf and the *set* of other certificates, which is what the verifier's canonical chain cache key assumes
  // (verify.ts). (The order sent matters to nothing in PKIXValidator's path building either, except which of
  // several candidate paths is tried first.)
  const leafInfo = infos[0]!
  const issuers = infos.slice(1).sort((x, y) => (x.fingerprint < y.fingerprint ? -1 : x.fingerprint > y.fingerprint ? 1 : 0))
  infos.splice(0, infos.length, leafInfo, ...issuers)
  const leaf = infos[0]!
  const anchors = trust.anchorInfos()

  // PKIXValidator.engineValidate: a leaf that is itself a trusted certificate needs no path (and
  // its anchor is not subject to verifyTrustAnchor).
  if (anchors.some((a) => a.fingerprint === leaf.fingerprint)) {
    return finishLeafChecks(leaf, [leaf.cert], now)
  }

  const built = buildPath(leaf, infos, anchors, opts)
  if (!built.ok) return built
  const { path, anchor } = built

  const checked = checkPath(path, anchor, now) ?? verifyTrustAnchor(anchor)
  if (checked !== null) return checked
  return finishLeafChecks(leaf, [...path.map((p) => p.cert), anchor.cert], now)
}

function finishLeafChecks(leaf: CertInfo, path: X509Certificate[], now: Date): ChainResult {
  const validity = checkValidity(leaf, now)
  if (validity !== null) return validity
  const ee = checkTlsClientEndEntity(leaf)
  if (ee !== null) return ee
  return { ok: true, path }
}

// --- path building ------------------------------------------------------------------------------

type BuildResult = { ok: true; path: CertInfo[]; anchor: CertInfo } | Failure

/**
 * Depth-first search from the leaf: an anchor that names and signed the current certificate ends
 * the path; otherwise a not-yet-used presented certificate that does. Signature checks are
 * memoised by (child, issuer) fingerprint and capped at MAX_SIGNATURE_VERIFICATIONS; certificates
 * are compared by fingerprint, never by object identity. On failure the most informative reason
 * seen is reported: a name match whose signature did not verify ('bad_signature') beats no
 * candidate at all ('untrusted').
 */
function buildPath(leaf: CertInfo, presented: readonly CertInfo[], anchors: readonly CertInfo[], opts: VerifyChainOptions): BuildResult {
  const verified = new Map<string, boolean>()
  let verifications = 0
  let exhausted = false
  const signedBy = (child: CertInfo, parent: CertInfo): boolean => {
    const key = `${child.fingerprint}>${parent.fingerprint}`
    let v = verified.get(key)
    if (v === undefined) {
      if (parent.publicKey === null) v = false // undecodable key: nothing it could have signed verifies
      else {
        if (verifications >= MAX_SIGNATURE_VERIFICATIONS) {
          exhausted = true
          return false
        }
        verifications++
        opts.onSignatureVerification?.()
        v = verifySignedBy(child.cert, parent.publicKey)
      }
      verified.set(key, v)
    }
    return v
  }
  let badSignature: CertInfo | null = null
  let tooLong = false
  let steps = 0
  // the certificate farthest from the leaf whose issuer could not be found
  let deadEnd = leaf
  let deadEndDepth = 0

  const search = (path: CertInfo[]): { path: CertInfo[]; anchor: CertInfo } | null => {
    if (++steps > MAX_PATH_BUILDING_STEPS || exhausted) return null
    const current = path[path.length - 1]!
    for (const anchor of anchors) {
      if (!namesEqual(current.issuer, anchor.subject, opts)) continue
      if (signedBy(current, anchor)) return { path, anchor }
      if (exhausted) return null
      badSignature ??= current
    }
    if (path.length >= MAX_PATH_LENGTH) {
      tooLong = true
      return null
    }
    for (const candidate of presented) {
      if (path.some((p) => p.fingerprint === candidate.fingerprint) || !namesEqual(current.issuer, candidate.subject, opts)) continue
      if (!signedBy(current, candidate)) {
        if (exhausted) return null
        badSignature ??= current
        continue
      }
      const found = search([...path, candidate])
      if (found !== null) return found
      if (exhausted) return null
    }
    if (path.length > deadEndDepth) {
      deadEnd = current
      deadEndDepth = path.length
    }
    return null
  }

  const found = search([leaf])
  if (found !== null) return { ok: true, ...found }
  if (exhausted) {
    return fail(
      'untrusted',
      `path building gave up after ${MAX_SIGNATURE_VERIFICATIONS} signature verifications for ${certDescription(leaf.cert)}`,
      leaf.index,
    )
  }
  if (steps > MAX_PATH_BUILDING_STEPS) {
    return fail('untrusted', `path building gave up after ${MAX_PATH_BUILDING_STEPS} steps for ${certDescription(leaf.cert)}`, leaf.index)
  }
  if (badSignature !== null) {
    const bad: CertInfo = badSignature
    return fail('bad_signature', `signature check failed for certificate ${certDescription(bad.cert)}`, bad.index)
  }
  if (tooLong) return fail('path_too_long', `no certification path of at most ${MAX_PATH_LENGTH} certificates`, leaf.index)
  return fail(
    'untrusted',
    `PKIX path building failed: unable to find valid certification path to requested target: no trusted issuer for ${certDescription(deadEnd.cert)}`,
    deadEnd.index,
  )
}

function verifySignedBy(child: X509Certificate, issuerKey: KeyObject): boolean {
  try {
    return child.verify(issuerKey)
  } catch {
    return false
  }
}

// --- path checks (anchor side first, like PKIXCertPathValidator) --------------------------------

function checkPath(path: readonly CertInfo[], anchor: CertInfo, now: Date): Failure | null {
  const keyProblem = checkAlgorithmConstraints(anchor, null)
  if (keyProblem !== null) return keyProblem
  // RFC 5280 §6.1.2 (k) max_path_length = n, ConstraintsChecker.maxPathLength
  let maxPathLength = path.length
  for (let k = path.length - 1; k >= 0; k--) {
    const cert = path[k]!
    const issuer = k === path.length - 1 ? anchor : path[k + 1]!
    const problem =
      checkAlgorithmConstraints(cert, issuer) ??
      checkValidity(cert, now) ??
      checkCriticalExtensions(cert) ??
      (k > 0 ? checkIssuer(cert) : null)
    if (problem !== null) return problem
    if (k > 0) {
      // intermediate: RFC 5280 §6.1.4 (l), (m)
      if (!selfIssued(cert)) {
        if (maxPathLength <= 0) {
          return fail('path_too_long', `basic constraints check failed: pathLenConstraint violated by ${certDescription(cert.cert)}`, cert.index)
        }
        maxPathLength--
      }
      const pathLen = basicConstraints(cert.extensions)?.pathLen ?? null
      if (pathLen !== null && pathLen < maxPathLength) maxPathLength = pathLen
    }
  }
  return null
}

function selfIssued(cert: CertInfo): boolean {
  return namesEqual(cert.subject, cert.issuer)
}

function checkValidity(cert: CertInfo, now: Date): Failure | null {
  const t = now.getTime()
  if (t > cert.structure.notAfter.getTime()) {
    return fail('expired', `certificate ${certDescription(cert.cert)} expired on ${cert.structure.notAfter.toISOString()}`, cert.index)
  }
  if (t < cert.structure.notBefore.getTime()) {
    return fail('not_yet_valid', `certificate ${certDescription(cert.cert)} is not valid before ${cert.structure.notBefore.toISOString()}`, cert.index)
  }
  return null
}

function checkCriticalExtensions(cert: CertInfo): Failure | null {
  const unknown = cert.extensions.filter((e) => e.critical && !SUPPORTED_CRITICAL.has(e.oid)).map((e) => e.oid)
  if (unknown.length === 0) return null
  return fail('critical_extension', `Unrecognized critical extension(s) ${unknown.join(', ')} in ${certDescription(cert.cert)}`, cert.index)
}

/** A certificate used as an issuer (not the anchor). */
function checkIssuer(cert: CertInfo): Failure | null {
  // ConstraintsChecker: v1/v2 certificates and certificates without cA=true are not CAs. (The
  // JDK's exception for a v1 self-issued certificate directly under the anchor is not reproduced.)
  const bc = basicConstraints(cert.extensions)
  if (bc === null || !bc.ca) {
    return fail('not_ca', `basic constraints check failed: this is not a CA certificate ${certDescription(cert.cert)}`, cert.index)
  }
  const ku = keyUsage(cert.extensions)
  if (ku !== null && !bitIsSet(ku, KEY_USAGE.keyCertSign)) {
    return fail('key_usage', `CA key usage check failed: keyCertSign bit is not set in ${certDescription(cert.cert)}`, cert.index)
  }
  if (cert.extensions.some((e) => e.oid === OIDS.nameConstraints)) {
    return fail('untrusted', `name constraints in ${certDescription(cert.cert)} are not supported by the gateway`, cert.index)
  }
  return null
}

/** PKIXValidator.verifyTrustAnchor: a v3 anchor must be a CA and, with keyUsage, assert keyCertSign. */
function verifyTrustAnchor(anchor: CertInfo): Failure | null {
  if (anchor.structure.version < 2) return null
  const bc = basicConstraints(anchor.extensions)
  if (bc === null || !bc.ca) {
    return fail('not_ca', `TrustAnchor ${certDescription(anchor.cert)} is not a CA certificate`, anchor.index)
  }
  const ku = keyUsage(anchor.extensions)
  if (ku !== null && !bitIsSet(ku, KEY_USAGE.keyCertSign)) {
    return fail('key_usage', `TrustAnchor ${certDescription(anchor.cert)} does not have keyCertSign bit set in KeyUsage extension`, anchor.index)
  }
  return null
}

/** EndEntityChecker.checkTLSClient. */
function checkTlsClientEndEntity(leaf: CertInfo): Failure | null {
  const ku = keyUsage(leaf.extensions)
  if (ku !== null && !bitIsSet(ku, KEY_USAGE.digitalSignature)) {
    return fail('key_usage', `KeyUsage does not allow digital signatures: ${certDescription(leaf.cert)}`, leaf.index)
  }
  const eku = extendedKeyUsage(leaf.extensions)
  if (eku !== null && !eku.includes(OIDS.ekuClientAuth) && !eku.includes(OIDS.ekuAny)) {
    return fail('key_usage', `Extended key usage does not permit use for TLS client authentication: ${certDescription(leaf.cert)}`, leaf.index)
  }
  const nsct = findExtension(leaf.extensions, OIDS.netscapeCertType)
  if (nsct !== undefined && !bitIsSet(namedBits(nsct.value), 0)) {
    return fail('key_usage', `Netscape cert type does not permit use for SSL client: ${certDescription(leaf.cert)}`, leaf.index)
  }
  return null
}

/** jdk.certpath.disabledAlgorithms: the certificate's signature algorithm and its key. */
function checkAlgorithmConstraints(cert: CertInfo, issuer: CertInfo | null): Failure | null {
  if (issuer !== null) {
    const sigAlg = signatureAlgorithmOid(cert.structure.signatureAlgorithm)
    if (DISABLED_SIGNATURE_ALGORITHMS.has(sigAlg)) {
      return fail('bad_signature', `Algorithm constraints check failed on disabled algorithm ${sigAlg} in ${certDescription(cert.cert)}`, cert.index)
    }
  }
  // cert.publicKey would throw for a key node:crypto cannot decode (finding 1); CertInfo holds the
  // safely decoded key, null for such a key, refused as an unsupported key type.
  const problem = cert.publicKey === null ? 'undecodable public key (unsupported key algorithm)' : weakKey(cert.publicKey)
  return problem === null ? null : fail('bad_signature', `Algorithm constraints check failed: ${problem} in ${certDescription(cert.cert)}`, cert.index)
}

function signatureAlgorithmOid(algorithmIdentifier: Tlv): string {
  const [oid] = children(algorithmIdentifier)
  return oid === undefined ? '' : decodeOid(expectIdentifier(oid, TAG.OID, 'AlgorithmIdentifier').value)
}

function weakKey(key: KeyObject): string | null {
  const details = key.asymmetricKeyDetails ?? {}
  switch (key.asymmetricKeyType) {
    case 'rsa':
    case 'rsa-pss':
    case 'dsa': {
      const bits = details.modulusLength ?? 0
      return bits < 1024 ? `${key.asymmetricKeyType} key of ${bits} bits` : null
    }
    case 'ec': {
      const bits = EC_CURVE_BITS.get(details.namedCurve ?? '')
      return bits === undefined ? `EC curve ${details.namedCurve ?? 'unknown'} is not supported` : bits < 224 ? `EC key of ${bits} bits` : null
    }
    case 'ed25519':
    case 'ed448':
      return null
    default:
      return `unsupported key type ${key.asymmetricKeyType ?? 'unknown'}`
  }
}
