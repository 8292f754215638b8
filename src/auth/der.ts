/**
 * A minimal, strict DER reader for the few ASN.1 structures the gateway needs (X.509 names,
 * extensions, validity, ECDSA signatures).
 *
 * Strictness is deliberate: certificates reaching us were already parsed by OpenSSL (node:crypto
 * X509Certificate), so anything that is not canonical DER is either an attack or a bug, and we
 * would rather fail closed than guess. Only single-octet identifiers are accepted (tag numbers
 * 0..30), like the JDK's sun.security.util.DerValue, which stores the tag in one byte.
 *
 * Every failure is a DerError; no other exception type escapes from this module for any input
 * (property-tested in test/auth/der.test.ts).
 */

export type DerErrorReason =
  | 'truncated'
  | 'indefinite_length'
  | 'non_minimal_length'
  | 'length_too_large'
  | 'high_tag_number'
  | 'unexpected_tag'
  | 'trailing_bytes'
  | 'bad_oid'
  | 'bad_integer'
  | 'bad_boolean'
  | 'bad_bit_string'
  | 'bad_time'

export class DerError extends Error {
  readonly reason: DerErrorReason
  constructor(reason: DerErrorReason, message: string) {
    super(message)
    this.name = 'DerError'
    this.reason = reason
  }
}

export type TagClass = 'universal' | 'application' | 'context' | 'private'

export interface Tlv {
  /** Tag number (low five bits of the identifier octet). */
  tag: number
  constructed: boolean
  tagClass: TagClass
  /** The whole identifier octet, e.g. 0x30 for SEQUENCE, 0xa3 for [3] constructed. */
  identifier: number
  /** Offset of the identifier octet in the buffer that was read. */
  start: number
  headerLength: number
  length: number
  /** Contents octets (a view, not a copy). */
  value: Buffer
  /** Offset just past this TLV. */
  end: number
  /** Identifier + length + contents (a view, not a copy). */
  raw: Buffer
}

/** Universal tag numbers used by the gateway. */
export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  SEQUENCE: 0x10,
  SET: 0x11,
  PRINTABLE_STRING: 0x13,
  T61_STRING: 0x14,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  GENERAL_STRING: 0x1b,
  UNIVERSAL_STRING: 0x1c,
  BMP_STRING: 0x1e,
} as const

/** Identifier octets (tag byte as it appears on the wire). */
export const ID = {
  SEQUENCE: 0x30,
  SET: 0x31,
} as const

const TAG_CLASSES: readonly TagClass[] = ['universal', 'application', 'context', 'private']

/** Largest length we accept: four length octets (certificates are far smaller). */
const MAX_LENGTH_OCTETS = 4

/** The JDK caps encoded OIDs at 4096 bytes (sun.security.util.ObjectIdentifier MAXIMUM_OID_SIZE). */
const MAX_OID_BYTES = 4096

/** Reads one TLV starting at `offset`. The TLV must fit inside `buf`. */
export function readTlv(buf: Buffer, offset = 0): Tlv {
  if (!Number.isInteger(offset) || offset < 0 || offset >= buf.length) {
    throw new DerError('truncated', `no DER value at offset ${offset} (buffer has ${buf.length} bytes)`)
  }
  const identifier = buf[offset]!
  if ((identifier & 0x1f) === 0x1f) {
    throw new DerError('high_tag_number', `multi-octet tag at offset ${offset} is not supported`)
  }
  const { length, lengthOctets } = readLength(buf, offset + 1)
  const headerLength = 1 + lengthOctets
  const valueStart = offset + headerLength
  if (length > buf.length - valueStart) {
    throw new DerError(
      'truncated',
      `DER value at offset ${offset} declares ${length} content bytes but only ${buf.length - valueStart} remain`,
    )
  }
  const end = valueStart + length
  return {
    tag: identifier & 0x1f,
    constructed: (identifier & 0x20) !== 0,
    tagClass: TAG_CLASSES[identifier >> 6]!,
    identifier,
    start: offset,
    headerLength,
    length,
    value: buf.subarray(valueStart, end),
    end,
    raw: buf.subarray(offset, end),
  }
}

function readLength(buf: Buffer, pos: number): { length: number; lengthOctets: number } {
  if (pos >= buf.length) throw new DerError('truncated', `missing length octet at offset ${pos}`)
  const first = buf[pos]!
  if (first < 0x80) return { length: first, lengthOctets: 1 }
  if (first === 0x80) throw new DerError('indefinite_length', `indefinite length at offset ${pos} is not DER`)
  const n = first & 0x7f
  if (n > MAX_LENGTH_OCTETS) throw new DerError('length_too_large', `${n} length octets at offset ${pos}`)
  if (pos + 1 + n > buf.length) throw new DerError('truncated', `truncated length at offset ${pos}`)
  if (buf[pos + 1] === 0) throw new DerError('non_minimal_length', `length with a leading zero octet at offset ${pos}`)
  let length = 0
  for (let i = 0; i < n; i++) length = length * 256 + buf[pos + 1 + i]!
  if (length < 0x80) throw new DerError('non_minimal_length', `long-form length ${length} at offset ${pos} must use the short form`)
  return { length, lengthOctets: 1 + n }
}

/** Reads exactly one TLV that spans the whole buffer. */
export function readSingle(buf: Buffer): Tlv {
  const tlv = readTlv(buf, 0)
  if (tlv.end !== buf.length) {
    throw new DerError('trailing_bytes', `${buf.length - tlv.end} bytes after the DER value`)
  }
  return tlv
}

/** Parses the contents of a constructed TLV into its elements; they must fill it exactly. */
export function children(tlv: Tlv): Tlv[] {
  if (!tlv.constructed) {
    throw new DerError('unexpected_tag', `identifier 0x${hexByte(tlv.identifier)} is not constructed`)
  }
  const out: Tlv[] = []
  let pos = 0
  while (pos < tlv.value.length) {
    const child = readTlv(tlv.value, pos)
    out.push(child)
    pos = child.end
  }
  return out
}

/** Asserts the identifier octet of a TLV. */
export function expectIdentifier(tlv: Tlv, identifier: number, what: string): Tlv {
  if (tlv.identifier !== identifier) {
    throw new DerError(
      'unexpected_tag',
      `${what}: expected identifier 0x${hexByte(identifier)}, found 0x${hexByte(tlv.identifier)}`,
    )
  }
  return tlv
}

/** The elements of a SEQUENCE (identifier 0x30). */
export function sequenceItems(tlv: Tlv, what = 'SEQUENCE'): Tlv[] {
  return children(expectIdentifier(tlv, ID.SEQUENCE, what))
}

/** The elements of a SET (identifier 0x31), in encoded order. */
export function setItems(tlv: Tlv, what = 'SET'): Tlv[] {
  return children(expectIdentifier(tlv, ID.SET, what))
}

/**
 * Decodes OBJECT IDENTIFIER contents octets to dotted form, exactly as
 * sun.security.util.ObjectIdentifier.toString prints them (first arc 0/1/2, arbitrary-size arcs).
 * Rejects the encodings ObjectIdentifier.check rejects: empty, unterminated, and sub-identifiers
 * with a leading 0x80 octet.
 */
export function decodeOid(value: Buffer): string {
  if (value.length === 0) throw new DerError('bad_oid', 'empty OBJECT IDENTIFIER')
  if (value.length > MAX_OID_BYTES) throw new DerError('bad_oid', `OBJECT IDENTIFIER longer than ${MAX_OID_BYTES} bytes`)
  if ((value[value.length - 1]! & 0x80) !== 0) throw new DerError('bad_oid', 'unterminated OBJECT IDENTIFIER')
  const arcs: bigint[] = []
  let current = 0n
  let startOfArc = true
  for (const byte of value) {
    if (startOfArc && byte === 0x80) {
      throw new DerError('bad_oid', 'OBJECT IDENTIFIER sub-identifier with a leading 0x80 octet')
    }
    current = (current << 7n) | BigInt(byte & 0x7f)
    startOfArc = (byte & 0x80) === 0
    if (startOfArc) {
      arcs.push(current)
      current = 0n
    }
  }
  const first = arcs[0]!
  const head = first < 40n ? [0n, first] : first < 80n ? [1n, first - 40n] : [2n, first - 80n]
  return [...head, ...arcs.slice(1)].map((a) => a.toString()).join('.')
}

/** Encodes a dotted OID to contents octets (used by tests and by OID comparisons). */
export function encodeOid(dotted: string): Buffer {
  const parts = dotted.split('.')
  if (parts.length < 2 || parts.some((p) => !/^\d+$/.test(p))) {
    throw new DerError('bad_oid', `not a dotted OID: ${dotted}`)
  }
  const arcs = parts.map((p) => BigInt(p))
  const a0 = arcs[0]!
  const a1 = arcs[1]!
  if (a0 > 2n || (a0 < 2n && a1 >= 40n)) throw new DerError('bad_oid', `invalid first arcs in ${dotted}`)
  const out: number[] = []
  for (const arc of [a0 * 40n + a1, ...arcs.slice(2)]) {
    const bytes: number[] = [Number(arc & 0x7fn)]
    let rest = arc >> 7n
    while (rest > 0n) {
      bytes.unshift(Number(rest & 0x7fn) | 0x80)
      rest >>= 7n
    }
    out.push(...bytes)
  }
  return Buffer.from(out)
}

/** INTEGER contents octets to a bigint; rejects empty and non-minimal encodings. */
export function decodeInteger(value: Buffer): bigint {
  if (value.length === 0) throw new DerError('bad_integer', 'zero-length INTEGER')
  if (value.length > 1) {
    const b0 = value[0]!
    const b1 = value[1]!
    if ((b0 === 0x00 && (b1 & 0x80) === 0) || (b0 === 0xff && (b1 & 0x80) !== 0)) {
      throw new DerError('bad_integer', 'INTEGER with redundant leading octets')
    }
  }
  let n = 0n
  for (const byte of value) n = (n << 8n) | BigInt(byte)
  if ((value[0]! & 0x80) !== 0) n -= 1n << BigInt(value.length * 8)
  return n
}

/** BOOLEAN contents octets; DER allows only 0x00 and 0xFF. */
export function decodeBoolean(value: Buffer): boolean {
  if (value.length !== 1) throw new DerError('bad_boolean', `BOOLEAN of ${value.length} octets`)
  if (value[0] === 0x00) return false
  if (value[0] === 0xff) return true
  throw new DerError('bad_boolean', `BOOLEAN value 0x${hexByte(value[0]!)} is not DER (00 or ff)`)
}

export interface BitString {
  unusedBits: number
  bytes: Buffer
}

/** BIT STRING contents octets; unused bits must be 0..7, zero for an empty string, and zero-valued. */
export function decodeBitString(value: Buffer): BitString {
  if (value.length === 0) throw new DerError('bad_bit_string', 'zero-length BIT STRING')
  const unusedBits = value[0]!
  if (unusedBits > 7) throw new DerError('bad_bit_string', `BIT STRING with ${unusedBits} unused bits`)
  const bytes = value.subarray(1)
  if (bytes.length === 0 && unusedBits !== 0) throw new DerError('bad_bit_string', 'empty BIT STRING with unused bits')
  if (unusedBits > 0 && (bytes[bytes.length - 1]! & ((1 << unusedBits) - 1)) !== 0) {
    throw new DerError('bad_bit_string', 'BIT STRING with non-zero unused bits')
  }
  return { unusedBits, bytes }
}

/** Bit `n` (0 = most significant bit of the first octet, as in X.509 named bit lists). */
export function bitIsSet(bits: BitString, n: number): boolean {
  if (!Number.isInteger(n) || n < 0 || n >= bits.bytes.length * 8 - bits.unusedBits) return false
  return (bits.bytes[n >> 3]! & (0x80 >> (n & 7))) !== 0
}

/**
 * UTCTime / GeneralizedTime (RFC 5280 §4.1.2.5 profile: `YYMMDDHHMMSSZ` and `YYYYMMDDHHMMSSZ`).
 * UTCTime years 50..99 are 19xx, 00..49 are 20xx (RFC 5280; also sun.security.util.DerValue).
 */
export function decodeTime(tlv: Tlv): Date {
  const text = tlv.value.toString('latin1')
  let m: RegExpExecArray | null
  let year: number
  if (tlv.identifier === TAG.UTC_TIME) {
    m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text)
    if (m === null) throw new DerError('bad_time', `invalid UTCTime '${printable(text)}'`)
    const yy = Number(m[1])
    year = yy < 50 ? 2000 + yy : 1900 + yy
  } else if (tlv.identifier === TAG.GENERALIZED_TIME) {
    m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text)
    if (m === null) throw new DerError('bad_time', `invalid GeneralizedTime '${printable(text)}'`)
    year = Number(m[1])
  } else {
    throw new DerError('unexpected_tag', `expected UTCTime or GeneralizedTime, found 0x${hexByte(tlv.identifier)}`)
  }
  const [month, day, hour, minute, second] = [m[2], m[3], m[4], m[5], m[6]].map(Number) as [
    number,
    number,
    number,
    number,
    number,
  ]
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) {
    throw new DerError('bad_time', `time out of range '${printable(text)}'`)
  }
  const d = new Date(0)
  d.setUTCFullYear(year, month - 1, day)
  d.setUTCHours(hour, minute, second, 0)
  if (d.getUTCDate() !== day) throw new DerError('bad_time', `no such day '${printable(text)}'`)
  return d
}

function printable(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, '?')
}

export function hexByte(b: number): string {
  return b.toString(16).padStart(2, '0')
}

/** The structural fields of an X.509 certificate (RFC 5280 §4.1), as TLVs over the input buffer. */
export interface CertificateStructure {
  tbs: Tlv
  /** 0 = v1, 1 = v2, 2 = v3 (the encoded INTEGER, DEFAULT v1). */
  version: number
  serialNumber: Tlv
  /** tbsCertificate.signature AlgorithmIdentifier. */
  tbsSignatureAlgorithm: Tlv
  issuer: Tlv
  notBefore: Date
  notAfter: Date
  subject: Tlv
  subjectPublicKeyInfo: Tlv
  /** The Extensions SEQUENCE inside [3], or null when absent. */
  extensions: Tlv | null
  signatureAlgorithm: Tlv
  signatureValue: Tlv
}

/** Parses the certificate skeleton from DER (strict). */
export function parseCertificate(der: Buffer): CertificateStructure {
  const [tbs, signatureAlgorithm, signatureValue, ...extra] = sequenceItems(readSingle(der), 'Certificate')
  if (tbs === undefined || signatureAlgorithm === undefined || signatureValue === undefined || extra.length > 0) {
    throw new DerError('unexpected_tag', 'Certificate must be SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }')
  }
  expectIdentifier(signatureAlgorithm, ID.SEQUENCE, 'Certificate.signatureAlgorithm')
  expectIdentifier(signatureValue, TAG.BIT_STRING, 'Certificate.signatureValue')
  const items = sequenceItems(tbs, 'TBSCertificate')
  let i = 0
  let version = 0
  if (items[0]?.identifier === 0xa0) {
    const inner = children(items[0])
    if (inner.length !== 1) throw new DerError('unexpected_tag', 'TBSCertificate.version must hold one INTEGER')
    version = Number(decodeInteger(expectIdentifier(inner[0]!, TAG.INTEGER, 'TBSCertificate.version').value))
    i = 1
  }
  const need = (what: string, identifier: number): Tlv => {
    const t = items[i++]
    if (t === undefined) throw new DerError('truncated', `TBSCertificate.${what} is missing`)
    return expectIdentifier(t, identifier, `TBSCertificate.${what}`)
  }
  const serialNumber = need('serialNumber', TAG.INTEGER)
  const tbsSignatureAlgorithm = need('signature', ID.SEQUENCE)
  const issuer = need('issuer', ID.SEQUENCE)
  const validity = sequenceItems(need('validity', ID.SEQUENCE), 'Validity')
  if (validity.length !== 2) throw new DerError('unexpected_tag', 'Validity must hold notBefore and notAfter')
  const notBefore = decodeTime(validity[0]!)
  const notAfter = decodeTime(validity[1]!)
  const subject = need('subject', ID.SEQUENCE)
  const subjectPublicKeyInfo = need('subjectPublicKeyInfo', ID.SEQUENCE)
  let extensions: Tlv | null = null
  while (i < items.length) {
    const t = items[i++]!
    if (t.identifier === 0x81 || t.identifier === 0x82) continue // issuer/subject unique IDs
    if (t.identifier === 0xa3 && i === items.length) {
      const inner = children(t)
      if (inner.length !== 1) throw new DerError('unexpected_tag', 'TBSCertificate.extensions must hold one SEQUENCE')
      extensions = expectIdentifier(inner[0]!, ID.SEQUENCE, 'Extensions')
      continue
    }
    throw new DerError('unexpected_tag', `unexpected TBSCertificate field 0x${hexByte(t.identifier)}`)
  }
  return {
    tbs,
    version,
    serialNumber,
    tbsSignatureAlgorithm,
    issuer,
    notBefore,
    notAfter,
    subject,
    subjectPublicKeyInfo,
    extensions,
    signatureAlgorithm,
    signatureValue,
  }
}
