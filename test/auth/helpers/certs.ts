/**
 * Test certificate factory: builds X.509 v3 certificates from our own DER writer and signs them
 * with node:crypto, so that RSA and EC certificates with any subject bytes, validity and
 * extensions can be minted without openssl or node-forge (forge cannot handle EC keys).
 */
import { X509Certificate, generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import { bitString, bool, explicit, integer, nul, octets, oid, seq, simpleName, tlv } from './asn1.js'

export type KeyKind = 'rsa' | 'ec' | 'rsa1024' | 'ec-p384'

export interface KeyPair {
  kind: KeyKind
  privateKey: KeyObject
  publicKey: KeyObject
}

const keyCache = new Map<string, KeyPair>()

/** Key pairs are cached per (kind, slot): RSA generation is the slowest part of these tests. */
export function keyPair(kind: KeyKind, slot = 0): KeyPair {
  const cacheKey = `${kind}:${slot}`
  let kp = keyCache.get(cacheKey)
  if (kp === undefined) {
    const generated =
      kind === 'rsa'
        ? generateKeyPairSync('rsa', { modulusLength: 2048 })
        : kind === 'rsa1024'
          ? generateKeyPairSync('rsa', { modulusLength: 1024 })
          : generateKeyPairSync('ec', { namedCurve: kind === 'ec-p384' ? 'secp384r1' : 'prime256v1' })
    kp = { kind, ...generated }
    keyCache.set(cacheKey, kp)
  }
  return kp
}

export interface ExtensionSpec {
  oid: string
  critical?: boolean
  /** DER of the extension structure (wrapped in the extnValue OCTET STRING by the builder). */
  value: Buffer
}

export interface CertSpec {
  /** Subject Name DER, or [shortName, value] pairs (UTF8String, C as PrintableString). */
  subject: Buffer | [string, string][]
  /** The issuing certificate; omitted = self-signed. */
  issuer?: Issued
  key?: KeyPair
  notBefore?: Date
  notAfter?: Date
  serial?: bigint
  /** basicConstraints; undefined = absent. */
  ca?: { ca: boolean; pathLen?: number; critical?: boolean }
  keyUsage?: { bits: number[]; critical?: boolean }
  eku?: { oids: string[]; critical?: boolean }
  extensions?: ExtensionSpec[]
  /** Certificate version field (2 = v3, default). */
  version?: 0 | 1 | 2
  /** Override the signature algorithm OID (e.g. md5WithRSAEncryption) while still signing with SHA-256. */
  signatureAlgorithmOid?: string
}

export interface Issued {
  cert: X509Certificate
  der: Buffer
  pem: string
  key: KeyPair
  subjectDer: Buffer
}

export const DAY = 24 * 3600 * 1000

function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z' // YYYYMMDDHHMMSSZ
  const year = d.getUTCFullYear()
  // RFC 5280: UTCTime through 2049, GeneralizedTime from 2050
  return year >= 1950 && year < 2050 ? tlv(0x17, Buffer.from(iso.slice(2), 'latin1')) : tlv(0x18, Buffer.from(iso, 'latin1'))
}

function algorithmIdentifier(key: KeyPair, override?: string): Buffer {
  if (override !== undefined) return seq(oid(override), nul())
  return key.privateKey.asymmetricKeyType === 'ec' ? seq(oid('1.2.840.10045.4.3.2')) : seq(oid('1.2.840.113549.1.1.11'), nul())
}

/** keyUsage / Netscape-style named bits → DER BIT STRING (trailing zero bits trimmed). */
export function namedBitString(bits: number[]): Buffer {
  if (bits.length === 0) return bitString(Buffer.alloc(0))
  const max = Math.max(...bits)
  const bytes = Buffer.alloc((max >> 3) + 1)
  for (const b of bits) bytes[b >> 3]! |= 0x80 >> (b & 7)
  return bitString(bytes, 7 - (max & 7))
}

function extension(e: ExtensionSpec): Buffer {
  return seq(oid(e.oid), ...(e.critical === true ? [bool(true)] : []), octets(e.value))
}

function extensionsFor(spec: CertSpec): ExtensionSpec[] {
  const out: ExtensionSpec[] = []
  if (spec.ca !== undefined) {
    const body = [...(spec.ca.ca ? [bool(true)] : []), ...(spec.ca.pathLen !== undefined ? [integer(spec.ca.pathLen)] : [])]
    out.push({ oid: '2.5.29.19', critical: spec.ca.critical ?? true, value: seq(...body) })
  }
  if (spec.keyUsage !== undefined) {
    out.push({ oid: '2.5.29.15', critical: spec.keyUsage.critical ?? true, value: namedBitString(spec.keyUsage.bits) })
  }
  if (spec.eku !== undefined) {
    out.push({ oid: '2.5.29.37', critical: spec.eku.critical ?? false, value: seq(...spec.eku.oids.map(oid)) })
  }
  return [...out, ...(spec.extensions ?? [])]
}

let serialCounter = 1000n

/** Builds and signs one certificate. */
export function issue(spec: CertSpec): Issued {
  const key = spec.key ?? keyPair('rsa')
  const signer = spec.issuer?.key ?? key
  const subjectDer = Buffer.isBuffer(spec.subject) ? spec.subject : simpleName(spec.subject)
  const issuerDer = spec.issuer?.subjectDer ?? subjectDer
  const now = Date.now()
  const notBefore = spec.notBefore ?? new Date(now - DAY)
  const notAfter = spec.notAfter ?? new Date(now + 365 * DAY)
  const sigAlg = algorithmIdentifier(signer, spec.signatureAlgorithmOid)
  const exts = extensionsFor(spec)
  const version = spec.version ?? 2
  const tbs = seq(
    ...(version === 0 ? [] : [explicit(0, integer(version))]),
    integer(spec.serial ?? serialCounter++),
    sigAlg,
    issuerDer,
    seq(time(notBefore), time(notAfter)),
    subjectDer,
    key.publicKey.export({ type: 'spki', format: 'der' }),
    ...(exts.length > 0 ? [explicit(3, seq(...exts.map(extension)))] : []),
  )
  const signature = sign('sha256', tbs, signer.privateKey)
  const der = seq(tbs, sigAlg, bitString(signature))
  const cert = new X509Certificate(der)
  return { cert, der, pem: cert.toString(), key, subjectDer }
}

/** A typical CA certificate. */
export function issueCa(subject: CertSpec['subject'], extra: Partial<CertSpec> = {}): Issued {
  return issue({ subject, ca: { ca: true }, keyUsage: { bits: [5, 6] }, ...extra })
}

/** A typical client (signing) leaf: digitalSignature, EKU clientAuth. */
export function issueLeaf(subject: CertSpec['subject'], issuer: Issued, extra: Partial<CertSpec> = {}): Issued {
  return issue({ subject, issuer, ca: { ca: false, critical: false }, keyUsage: { bits: [0] }, eku: { oids: ['1.3.6.1.5.5.7.3.2'] }, ...extra })
}

/** PKCS#8 PEM of a private key (for the Java signer). */
export function pkcs8Der(kp: KeyPair): Buffer {
  return kp.privateKey.export({ type: 'pkcs8', format: 'der' })
}

/** Flip one bit of the certificate's signature (last byte of the DER). */
export function tamperSignature(issued: Issued): Buffer {
  const der = Buffer.from(issued.der)
  der[der.length - 1]! ^= 0x01
  return der
}
