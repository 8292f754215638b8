/**
 * The `_cross_cluster_access_signature` header (cross-cluster-auth.md §1.3, §2, §3.1).
 *
 * Layout (X509CertificateSignature.encode / writeTo, and the StreamInput constructor, in
 * x-pack/plugin/security/src/main/java/org/elasticsearch/xpack/security/transport/X509CertificateSignature.java):
 *   base64( vInt transportVersion | vInt N | N × (vInt len + DER certificate) | string algorithm |
 *           vInt len + signature bytes )
 * Wire primitives as in StreamInput (transport-protocol.md §2). A tiny local reader is used
 * instead of src/codec so that this module has no dependency on the transport codec.
 *
 * Signed payload: UTF-8(subjectInfoHeader + "\n" + credentialsHeader)
 * (CrossClusterApiKeySignatureManager.getSignableBytes).
 */
import { X509Certificate, verify as cryptoVerify } from 'node:crypto'
import { checkStrictBase64, encodeBase64 } from './base64.js'
import { DerError, TAG, expectIdentifier, parseCertificate, readSingle, sequenceItems } from './der.js'
import { certificateExtensions, hasCriticalKeyUsageWithoutDigitalSignature, safePublicKey } from './chain.js'

export const CROSS_CLUSTER_ACCESS_SIGNATURE_HEADER_KEY = '_cross_cluster_access_signature'

/** The only algorithms Elasticsearch's signer emits (SIGNATURE_ALGORITHM_BY_TYPE). */
export const SUPPORTED_SIGNATURE_ALGORITHMS = ['SHA256withRSA', 'SHA256withECDSA'] as const
export type SignatureAlgorithm = (typeof SUPPORTED_SIGNATURE_ALGORITHMS)[number]

export type SignatureDecodeErrorReason =
  | 'bad_base64'
  | 'truncated'
  | 'trailing_bytes'
  | 'no_certificates'
  | 'empty_certificate'
  | 'bad_certificate'
  /** broken vInt, negative length, or a string byte StreamInput.readString rejects */
  | 'malformed'

export class SignatureDecodeError extends Error {
  readonly reason: SignatureDecodeErrorReason
  constructor(reason: SignatureDecodeErrorReason, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'SignatureDecodeError'
    this.reason = reason
  }
}

export interface DecodedSignature {
  /** The sender's TransportVersion id (any value is accepted, §1.3). */
  transportVersion: number
  /** DER certificates, leaf first, exactly as sent. */
  certificates: Buffer[]
  /** The same certificates parsed by node:crypto. */
  x509: X509Certificate[]
  algorithm: string
  signature: Buffer
}

export interface DecodeOptions {
  /**
   * X509CertificateSignature.decode ignores bytes after the signature; the gateway rejects them by
   * default (an Elasticsearch sender never writes any). Set true to mirror Elasticsearch exactly.
   */
  allowTrailingBytes?: boolean
  /**
   * Elasticsearch decodes a header with zero certificates and only then fails
   * ("Provided signature does not contain any certificates", CrossClusterAccessHeaders); the
   * gateway rejects it while decoding unless this is set.
   */
  allowEmptyChain?: boolean
  /**
   * Refuse ('malformed') a header announcing more certificates than this, before parsing any of them, so the
   * parsing work is bounded by a count rather than only by the header size (issue #11, finding 2). Elasticsearch
   * has no such limit; the gateway's verifier passes chain.ts MAX_PRESENTED_CERTIFICATES.
   */
  maxCertificates?: number
}

// ---------------------------------------------------------------------------------------------
// StreamInput subset

class Cursor {
  pos = 0
  constructor(private readonly buf: Buffer) {}

  get remaining(): number {
    return this.buf.length - this.pos
  }

  byte(): number {
    if (this.pos >= this.buf.length) throw new SignatureDecodeError('truncated', 'tried to read: 1 bytes but only 0 remaining')
    return this.buf[this.pos++]!
  }

  /** StreamInput.readVInt: 1–5 bytes, the 5th must not have its high bit set; wraps like Java int. */
  vInt(): number {
    let value = 0
    for (let shift = 0; shift < 28; shift += 7) {
      const b = this.byte()
      value |= (b & 0x7f) << shift
      if ((b & 0x80) === 0) return value
    }
    const b = this.byte()
    if ((b & 0x80) !== 0) {
      const signExtended = ((b << 24) >> 24) >>> 0
      throw new SignatureDecodeError('malformed', `Invalid vInt ((${signExtended.toString(16)} & 0x7f) << 28) | ${(value >>> 0).toString(16)}`)
    }
    return value | ((b & 0x7f) << 28)
  }

  /** StreamInput.readArraySize: non-negative and not more than the bytes left. */
  size(what: string): number {
    const n = this.vInt()
    if (n < 0) throw new SignatureDecodeError('malformed', `${what} size must be positive but was: ${n}`)
    if (n > this.remaining) {
      throw new SignatureDecodeError('truncated', `${what}: tried to read: ${n} bytes but only ${this.remaining} remaining`)
    }
    return n
  }

  bytes(n: number): Buffer {
    if (n > this.remaining) throw new SignatureDecodeError('truncated', `tried to read: ${n} bytes but only ${this.remaining} remaining`)
    const out = this.buf.subarray(this.pos, this.pos + n)
    this.pos += n
    return out
  }

  /**
   * StreamInput.readString: vInt UTF-16 length, then per code unit 1, 2 or 3 bytes chosen by the
   * lead byte's high nibble (0–7, C/D, E); anything else is "Invalid string".
   */
  string(): string {
    const length = this.vInt()
    if (length < 0) throw new SignatureDecodeError('malformed', `string length must be positive but was: ${length}`)
    // every code unit takes at least one byte
    if (length > this.remaining) {
      throw new SignatureDecodeError('truncated', `string of ${length} chars but only ${this.remaining} bytes remaining`)
    }
    const units: number[] = []
    for (let i = 0; i < length; i++) {
      const b = this.byte()
      switch (b >> 4) {
        case 0x0: case 0x1: case 0x2: case 0x3: case 0x4: case 0x5: case 0x6: case 0x7:
          units.push(b)
          break
        case 0xc: case 0xd:
          units.push(((b & 0x1f) << 6) | (this.byte() & 0x3f))
          break
        case 0xe:
          units.push(((b & 0x0f) << 12) | ((this.byte() & 0x3f) << 6) | (this.byte() & 0x3f))
          break
        default:
          throw new SignatureDecodeError('malformed', `Invalid string; unexpected character: ${b} hex: ${b.toString(16)}`)
      }
    }
    let out = ''
    for (let i = 0; i < units.length; i += 4096) out += String.fromCharCode(...units.slice(i, i + 4096))
    return out
  }
}

// StreamOutput subset, for encodeSignatureHeader.
function writeVInt(out: number[], value: number): void {
  let v = value >>> 0
  while ((v & ~0x7f) !== 0) {
    out.push((v & 0x7f) | 0x80)
    v >>>= 7
  }
  out.push(v)
}

function writeString(out: number[], s: string): void {
  writeVInt(out, s.length)
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c <= 0x7f) out.push(c)
    else if (c <= 0x7ff) out.push(0xc0 | (c >> 6), 0x80 | (c & 0x3f))
    else out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f))
  }
}

// ---------------------------------------------------------------------------------------------
// Header codec

/**
 * Decodes and validates a signature header. Every certificate must be exactly one DER X.509
 * certificate that node:crypto can load (Elasticsearch: CertificateFactory.generateCertificate,
 * "Certificate bytes cannot be empty" / "Cannot read certificate"); being stricter than the JDK
 * here (no PEM text, no bytes after the certificate) only rejects what no Elasticsearch sender writes.
 */
export function decodeSignatureHeader(value: string, opts: DecodeOptions = {}): DecodedSignature {
  const b64 = checkStrictBase64(value)
  if (b64 !== null) throw new SignatureDecodeError('bad_base64', `signature header is not base64: ${b64.message}`)
  const cur = new Cursor(Buffer.from(value, 'base64'))
  const transportVersion = cur.vInt()
  const count = cur.size('certificate array')
  if (opts.maxCertificates !== undefined && count > opts.maxCertificates) {
    throw new SignatureDecodeError('malformed', `${count} certificates exceed the gateway's limit of ${opts.maxCertificates}`)
  }
  const certificates: Buffer[] = []
  const x509: X509Certificate[] = []
  for (let i = 0; i < count; i++) {
    const der = cur.bytes(cur.size(`certificate [${i}]`))
    if (der.length === 0) throw new SignatureDecodeError('empty_certificate', 'Certificate bytes cannot be empty')
    x509.push(loadCertificate(der, i))
    certificates.push(der)
  }
  const algorithm = cur.string()
  const signature = cur.bytes(cur.size('signature'))
  if (cur.remaining > 0 && opts.allowTrailingBytes !== true) {
    throw new SignatureDecodeError('trailing_bytes', `${cur.remaining} unexpected bytes after the signature`)
  }
  if (count === 0 && opts.allowEmptyChain !== true) {
    throw new SignatureDecodeError('no_certificates', 'Provided signature does not contain any certificates')
  }
  return { transportVersion, certificates, x509, algorithm, signature }
}

function loadCertificate(der: Buffer, index: number): X509Certificate {
  try {
    parseCertificate(der)
    const cert = new X509Certificate(der)
    // FUZZ-2 (fuzz/lib/known.ts history): der.ts accepts a few non-DER encodings inside the certificate (e.g. a
    // constructed, empty string as AlgorithmIdentifier parameters) that OpenSSL re-encodes when it loads it, so
    // cert.raw would not be the bytes the client sent: fingerprints, the chain cache key and path building would
    // run on other bytes than the signature covers. Decision: refuse such a certificate (fail closed). The JDK
    // would keep the original encoding; no CA Elasticsearch works with emits non-DER certificates.
    if (!cert.raw.equals(der)) throw new Error('the certificate is not DER-encoded (it does not re-encode to the bytes sent)')
    return cert
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err)
    throw new SignatureDecodeError('bad_certificate', `Cannot read certificate [${index}]: ${detail}`, { cause: err })
  }
}

export interface SignatureHeaderFields {
  transportVersion: number
  certificates: readonly Uint8Array[]
  algorithm: string
  signature: Uint8Array
}

/** X509CertificateSignature.encode: the header value a querying cluster would send. */
export function encodeSignatureHeader(fields: SignatureHeaderFields): string {
  const out: number[] = []
  writeVInt(out, fields.transportVersion)
  writeVInt(out, fields.certificates.length)
  const parts: Buffer[] = []
  for (const cert of fields.certificates) {
    writeVInt(out, cert.length)
    parts.push(Buffer.from(out.splice(0)), Buffer.from(cert))
  }
  writeString(out, fields.algorithm)
  writeVInt(out, fields.signature.length)
  parts.push(Buffer.from(out.splice(0)), Buffer.from(fields.signature))
  return encodeBase64(Buffer.concat(parts))
}

/** CrossClusterApiKeySignatureManager.getSignableBytes(subjectInfo, credentials). */
export function signablePayload(subjectInfo: string, credentials: string): Buffer {
  return Buffer.from(`${subjectInfo}\n${credentials}`, 'utf8')
}

// ---------------------------------------------------------------------------------------------
// Verification

export type SignatureVerifyErrorReason = 'unsupported_algorithm' | 'key_mismatch' | 'malformed_signature' | 'key_usage' | 'bad_certificate'

/**
 * Conditions under which Java's Signature.initVerify / verify throws a GeneralSecurityException
 * instead of returning false. Elasticsearch reports those as "Failed to verify cross cluster api
 * key signature certificate from [...]" rather than "Invalid cross cluster api key signature from
 * [...]" (CrossClusterAccessAuthenticationService.verifySignature), so the distinction is kept.
 */
export class SignatureVerifyError extends Error {
  readonly reason: SignatureVerifyErrorReason
  constructor(reason: SignatureVerifyErrorReason, message: string) {
    super(message)
    this.name = 'SignatureVerifyError'
    this.reason = reason
  }
}

const KEY_TYPE_BY_ALGORITHM: Record<SignatureAlgorithm, string> = {
  SHA256withRSA: 'rsa',
  SHA256withECDSA: 'ec',
}

function isSupportedAlgorithm(algorithm: string): algorithm is SignatureAlgorithm {
  return (SUPPORTED_SIGNATURE_ALGORITHMS as readonly string[]).includes(algorithm)
}

/**
 * `Signature.getInstance(algorithm); initVerify(leaf); update(payload); verify(sig)`.
 *
 * Returns false where Java returns false; throws SignatureVerifyError where Java throws:
 *  - any algorithm other than the two Elasticsearch emits (decision: the JCA would try any name,
 *    case-insensitively; the gateway accepts only the exact two names, spec §2.1);
 *  - a key type that does not fit the algorithm (InvalidKeyException; an RSASSA-PSS-only key is
 *    not an RSA key here, as in the JDK);
 *  - a leaf with a *critical* keyUsage extension without digitalSignature
 *    (java/security/Signature.java initVerify(Certificate): "Wrong key usage");
 *  - an RSA signature whose length differs from the modulus length
 *    (sun/security/rsa/RSASignature.java engineVerify: "Bad signature length");
 *  - an ECDSA signature that is not a strict-DER SEQUENCE of two INTEGERs
 *    (sun/security/util/ECUtil.java decodeSignature: "Invalid encoding for signature");
 *  - a leaf whose DER or extensions do not parse strictly ('bad_certificate').
 */
export function verifyPayloadSignature(leaf: X509Certificate, algorithm: string, payload: Buffer, sig: Buffer): boolean {
  if (!isSupportedAlgorithm(algorithm)) {
    throw new SignatureVerifyError('unsupported_algorithm', `unsupported signature algorithm [${algorithm}]`)
  }
  // X509Certificate.publicKey throws for a key node:crypto cannot decode (unknown SubjectPublicKeyInfo algorithm,
  // issue #11 finding 1); the JDK would throw InvalidKeyException from initVerify: a GeneralSecurityException.
  const key = safePublicKey(leaf)
  if (key === null) throw new SignatureVerifyError('bad_certificate', 'the leaf certificate public key cannot be decoded')
  const keyType = key.asymmetricKeyType ?? 'unknown'
  if (keyType !== KEY_TYPE_BY_ALGORITHM[algorithm]) {
    throw new SignatureVerifyError('key_mismatch', `a ${keyType} key cannot verify ${algorithm}`)
  }
  if (criticalKeyUsageWithoutDigitalSignature(leaf)) {
    throw new SignatureVerifyError('key_usage', 'Wrong key usage')
  }
  if (algorithm === 'SHA256withRSA') {
    const expected = Math.ceil((key.asymmetricKeyDetails?.modulusLength ?? 0) / 8)
    if (sig.length !== expected) {
      throw new SignatureVerifyError('malformed_signature', `Bad signature length: got ${sig.length} but was expecting ${expected}`)
    }
  } else {
    checkEcdsaSignatureEncoding(sig)
  }
  return cryptoVerify('sha256', payload, key, sig)
}

/**
 * The leaf's keyUsage check, with every parse inside the try: a keyUsage value that is not one BIT STRING used to
 * escape as a DerError (FUZZ-1, found by `npm run fuzz`, target signature).
 */
function criticalKeyUsageWithoutDigitalSignature(leaf: X509Certificate): boolean {
  try {
    return hasCriticalKeyUsageWithoutDigitalSignature(certificateExtensions(parseCertificate(leaf.raw)))
  } catch (err) {
    // the JDK would not have loaded such a certificate at all (CertificateFactory)
    // (any failure, not only DerError: attacker bytes must fail closed, never escape as an unexpected exception)
    throw new SignatureVerifyError('bad_certificate', `cannot parse the leaf certificate: ${err instanceof Error ? err.message : String(err)}`)
  }
}

/** ECUtil.decodeSignature with strict DER: SEQUENCE { INTEGER r, INTEGER s } and nothing else. */
function checkEcdsaSignatureEncoding(sig: Buffer): void {
  try {
    const items = sequenceItems(readSingle(sig), 'ECDSA-Sig-Value')
    if (items.length !== 2) throw new DerError('unexpected_tag', `${items.length} elements`)
    for (const item of items) {
      const v = expectIdentifier(item, TAG.INTEGER, 'ECDSA-Sig-Value').value
      // DerValue.getBigIntegerInternal (allowBER = false): non-empty, no redundant leading 0x00
      if (v.length === 0) throw new DerError('bad_integer', 'zero length Int value')
      if (v.length >= 2 && v[0] === 0 && v[1]! < 0x80) throw new DerError('bad_integer', 'redundant leading 0s')
    }
  } catch (err) {
    if (err instanceof DerError) throw new SignatureVerifyError('malformed_signature', `Invalid encoding for signature: ${err.message}`)
    throw err
  }
}
