/**
 * X.500 distinguished names rendered exactly as the JDK renders them.
 *
 * Elasticsearch compares a cross-cluster API key's `certificate_identity` regex against
 * `leaf.getSubjectX500Principal().getName(X500Principal.RFC2253)`
 * (x-pack/plugin/security/src/main/java/org/elasticsearch/xpack/security/authc/CrossClusterAccessHeaders.java,
 * cross-cluster-auth.md §4), and prints `X500Principal.toString()` in its error messages (§3.2, §8).
 * The gateway must produce the same strings byte for byte, from the DER subject.
 *
 * The behaviour below follows OpenJDK's
 *   src/java.base/share/classes/javax/security/auth/x500/X500Principal.java (getName, toString),
 *   src/java.base/share/classes/sun/security/x509/X500Name.java (RDN order, separators),
 *   src/java.base/share/classes/sun/security/x509/RDN.java (multi-valued RDNs keep DER order),
 *   src/java.base/share/classes/sun/security/x509/AVA.java (keywords, escaping, quoting),
 *   src/java.base/share/classes/sun/security/util/DerValue.java (string decoding per ASN.1 type),
 *   src/java.base/share/classes/java/lang/String.java (UTF-8 replacement rules),
 *   src/java.base/share/classes/sun/nio/cs/UnicodeDecoder.java, UTF_32Coder.java (BMP/Universal),
 * and is differential-tested against Temurin 25 and OpenJDK 17 (test/auth/dn-oracle.test.ts).
 *
 * JDK 17 vs JDK 25 (the `jdk` option; checked against 17.0.15 and 25.0.3, and in the 25.0.3 sources):
 *  - getName(RFC2253) / CANONICAL: 17 decodes every text value's raw bytes as UTF-8, so a
 *    BMPString "AB" prints as `\00A\00B` and a Latin-1 byte in a PrintableString becomes U+FFFD;
 *    25 (AVA.getCharset) decodes UTF8String as UTF-8, BMPString as UTF-16BE, and PrintableString,
 *    TeletexString, IA5String and GeneralString as ISO-8859-1.
 *  - parsing: 25 (DerValue.validateBMPString, called by AVA(DerValue)) refuses a BMPString that
 *    decodes to a surrogate (a supplementary character), making the whole name, and so the
 *    certificate, unparseable. 17 accepts it.
 *  - toString(): identical (DerValue.getAsString: per-type charset in both).
 *  - identical otherwise: escaping, keywords, `#hex` for non-keyword OIDs and for UniversalString,
 *    NumericString, VisibleString and non-string values in RFC 2253.
 * Whether later 17.0.x updates backport the JDK 25 behaviour is UNVERIFIED; `jdk: 17` reproduces
 * 17.0.15. Elasticsearch 9.x runs on JDK 25, the default.
 */
import { X509Certificate } from 'node:crypto'
import { DerError, TAG, decodeOid, expectIdentifier, parseCertificate, readSingle, sequenceItems, setItems, type Tlv } from './der.js'

export type JdkVersion = 17 | 25

export interface DnOptions {
  /** Which JDK's output to reproduce (Elasticsearch 9.x bundles JDK 25). Default 25. */
  jdk?: JdkVersion
}

export type DnErrorReason = 'malformed'

/** The subject could not be parsed the way X500Principal(byte[]) parses it. */
export class DnError extends Error {
  readonly reason: DnErrorReason
  constructor(reason: DnErrorReason, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'DnError'
    this.reason = reason
  }
}

/** One AttributeTypeAndValue: the dotted OID and the whole value TLV. */
export interface Ava {
  oid: string
  value: Tlv
}

/** A RelativeDistinguishedName: its AVAs in encoded (DER SET) order. */
export type Rdn = Ava[]

const OID = {
  CN: '2.5.4.3',
  C: '2.5.4.6',
  L: '2.5.4.7',
  ST: '2.5.4.8',
  STREET: '2.5.4.9',
  O: '2.5.4.10',
  OU: '2.5.4.11',
  T: '2.5.4.12',
  SURNAME: '2.5.4.4',
  SERIALNUMBER: '2.5.4.5',
  GIVENNAME: '2.5.4.42',
  INITIALS: '2.5.4.43',
  GENERATION: '2.5.4.44',
  DNQ: '2.5.4.46',
  DC: '0.9.2342.19200300.100.1.25',
  UID: '0.9.2342.19200300.100.1.1',
  EMAILADDRESS: '1.2.840.113549.1.9.1',
  IP: '1.3.6.1.4.1.42.2.11.2.1',
} as const

/**
 * Keywords AVAKeyword marks RFC 2253 compliant (AVA.java, class AVAKeyword). Everything else is
 * printed as its dotted OID, and then the value is always `#` + hex of the value's DER.
 */
const RFC2253_KEYWORDS: ReadonlyMap<string, string> = new Map([
  [OID.CN, 'CN'],
  [OID.C, 'C'],
  [OID.L, 'L'],
  [OID.ST, 'ST'],
  [OID.O, 'O'],
  [OID.OU, 'OU'],
  [OID.STREET, 'STREET'],
  [OID.DC, 'DC'],
  [OID.UID, 'UID'],
])

/**
 * Keywords for toString() (AVA DEFAULT format: every registered AVAKeyword). When several keywords
 * share an OID, AVAKeyword registers the preferred one last: ST over S, DNQ over DNQUALIFIER,
 * EMAILADDRESS over EMAIL. Unknown OIDs print as `OID.<dotted>`.
 */
const DEFAULT_KEYWORDS: ReadonlyMap<string, string> = new Map([
  ...RFC2253_KEYWORDS,
  [OID.T, 'T'],
  [OID.IP, 'IP'],
  [OID.DNQ, 'DNQ'],
  [OID.SURNAME, 'SURNAME'],
  [OID.GIVENNAME, 'GIVENNAME'],
  [OID.INITIALS, 'INITIALS'],
  [OID.GENERATION, 'GENERATION'],
  [OID.EMAILADDRESS, 'EMAILADDRESS'],
  [OID.SERIALNUMBER, 'SERIALNUMBER'],
])

/**
 * The value types AVA.isDerString(value, false) accepts for RFC 2253 text output. UniversalString
 * is deliberately absent there (it is printed as #hex), although toString() decodes it.
 */
const RFC2253_TEXT_TAGS: ReadonlySet<number> = new Set([
  TAG.PRINTABLE_STRING,
  TAG.T61_STRING,
  TAG.IA5_STRING,
  TAG.GENERAL_STRING,
  TAG.BMP_STRING,
  TAG.UTF8_STRING,
])

/** AVA.isDerString(value, true): the only types the CANONICAL form prints as text. */
const CANONICAL_TEXT_TAGS: ReadonlySet<number> = new Set([TAG.PRINTABLE_STRING, TAG.UTF8_STRING])

// ---------------------------------------------------------------------------------------------
// Parsing

/**
 * Parses a DER Name the way X500Name(DerValue) / RDN(DerValue) / AVA(DerValue) do: SEQUENCE of
 * SET of SEQUENCE { OID, any value }, nothing after the value, AVAs kept in encoded order.
 */
export function parseName(der: Buffer, opts: DnOptions = {}): Rdn[] {
  const jdk = jdkOf(opts)
  let rdns: Rdn[]
  try {
    rdns = sequenceItems(readSingle(der), 'Name').map((rdn) => setItems(rdn, 'RelativeDistinguishedName').map(parseAva))
  } catch (err) {
    if (err instanceof DerError) throw new DnError('malformed', `invalid X.500 name: ${err.message}`, { cause: err })
    throw err
  }
  if (jdk === 25) rdns.forEach((rdn) => rdn.forEach(validateBmpString))
  return rdns
}

/**
 * JDK 25's AVA(DerValue) calls DerValue.validateBMPString: a BMPString whose UTF-16 decoding holds
 * a surrogate (i.e. a supplementary character, which UCS-2 cannot express) makes the whole name
 * unparseable ("Illegal character in BMPString"), so X500Principal / the certificate is rejected.
 * Lone surrogates are already U+FFFD after decoding and pass. JDK 17.0.15 has no such check.
 */
function validateBmpString(ava: Ava): void {
  if (ava.value.identifier !== TAG.BMP_STRING) return
  const s = decodeUtf16beJava(ava.value.value)
  for (let i = 0; i < s.length; i++) {
    const u = s.charCodeAt(i)
    if (u >= 0xd800 && u <= 0xdfff) throw new DnError('malformed', `Illegal character in BMPString, index: ${i}`)
  }
}

function parseAva(tlv: Tlv): Ava {
  const items = sequenceItems(tlv, 'AttributeTypeAndValue')
  const [type, value] = items
  if (type === undefined || value === undefined || items.length !== 2) {
    // AVA(DerValue): "AVA, extra bytes" / missing value.
    throw new DerError('unexpected_tag', `AttributeTypeAndValue has ${items.length} elements, expected 2`)
  }
  return { oid: decodeOid(expectIdentifier(type, TAG.OID, 'AttributeType').value), value }
}

// ---------------------------------------------------------------------------------------------
// Java string decoding (U+FFFD replacement exactly where the JDK puts it)

const REPL = 0xfffd

function fromCodeUnits(units: number[]): string {
  let s = ''
  for (let i = 0; i < units.length; i += 4096) s += String.fromCharCode(...units.slice(i, i + 4096))
  return s
}

function isContinuation(b: number): boolean {
  return (b & 0xc0) === 0x80
}

/**
 * `new String(bytes, UTF_8)`: the replacement rules of String.decodeUTF8_UTF16 (java/lang/String.java),
 * which differ from WHATWG/Node in places (an encoded surrogate ED A0 80 is one U+FFFD, not three;
 * a truncated sequence at the end of input is one U+FFFD).
 */
export function decodeUtf8Java(bytes: Uint8Array): string {
  const out: number[] = []
  const n = bytes.length
  let i = 0
  while (i < n) {
    const b1 = bytes[i++]!
    if (b1 < 0x80) {
      out.push(b1)
    } else if (b1 >= 0xc2 && b1 <= 0xdf) {
      if (i >= n) {
        out.push(REPL)
        break
      }
      const b2 = bytes[i]!
      if (isContinuation(b2)) {
        out.push(((b1 & 0x1f) << 6) | (b2 & 0x3f))
        i++
      } else {
        out.push(REPL)
      }
    } else if (b1 >= 0xe0 && b1 <= 0xef) {
      const r = decodeThreeByte(bytes, i, b1)
      out.push(r.unit)
      i = r.next
      if (r.stop) break
    } else if (b1 >= 0xf0 && b1 <= 0xf7) {
      const r = decodeFourByte(bytes, i, b1)
      out.push(...r.units)
      i = r.next
      if (r.stop) break
    } else {
      out.push(REPL) // stray continuation, C0/C1, F8..FF
    }
  }
  return fromCodeUnits(out)
}

function overlongE0(b1: number, b2: number): boolean {
  return b1 === 0xe0 && (b2 & 0xe0) === 0x80
}

/** `i` points just after the lead byte b1 (E0..EF). */
function decodeThreeByte(bytes: Uint8Array, i: number, b1: number): { unit: number; next: number; stop: boolean } {
  const n = bytes.length
  if (i + 1 < n) {
    const b2 = bytes[i]!
    const b3 = bytes[i + 1]!
    if (overlongE0(b1, b2) || !isContinuation(b2) || !isContinuation(b3)) {
      // String.malformed3: skip only the lead byte unless b2 was a usable continuation.
      const skip = overlongE0(b1, b2) || !isContinuation(b2) ? 0 : 1
      return { unit: REPL, next: i + skip, stop: false }
    }
    const c = ((b1 & 0x0f) << 12) | ((b2 & 0x3f) << 6) | (b3 & 0x3f)
    return { unit: c >= 0xd800 && c <= 0xdfff ? REPL : c, next: i + 2, stop: false }
  }
  if (i < n && (overlongE0(b1, bytes[i]!) || !isContinuation(bytes[i]!))) {
    return { unit: REPL, next: i, stop: false }
  }
  // Truncated at the end of input: one replacement for the rest.
  return { unit: REPL, next: n, stop: true }
}

function badFourByteSecond(b1: number, b2: number): boolean {
  return (b1 === 0xf0 && (b2 < 0x90 || b2 > 0xbf)) || (b1 === 0xf4 && (b2 & 0xf0) !== 0x80) || !isContinuation(b2)
}

/** `i` points just after the lead byte b1 (F0..F7). */
function decodeFourByte(bytes: Uint8Array, i: number, b1: number): { units: number[]; next: number; stop: boolean } {
  const n = bytes.length
  if (i + 2 < n) {
    const b2 = bytes[i]!
    const b3 = bytes[i + 1]!
    const b4 = bytes[i + 2]!
    const cp = ((b1 & 0x07) << 18) | ((b2 & 0x3f) << 12) | ((b3 & 0x3f) << 6) | (b4 & 0x3f)
    const malformed = !isContinuation(b2) || !isContinuation(b3) || !isContinuation(b4)
    if (malformed || cp < 0x10000 || cp > 0x10ffff) {
      // String.malformed4
      const skip = b1 > 0xf4 || badFourByteSecond(b1, b2) ? 0 : !isContinuation(b3) ? 1 : 2
      return { units: [REPL], next: i + skip, stop: false }
    }
    const v = cp - 0x10000
    return { units: [0xd800 | (v >> 10), 0xdc00 | (v & 0x3ff)], next: i + 3, stop: false }
  }
  if (b1 > 0xf4 || (i < n && badFourByteSecond(b1, bytes[i]!))) {
    return { units: [REPL], next: i, stop: false }
  }
  // Truncated: consume b2; continue only if a following byte is not a continuation.
  const next = i + 1
  if (next < n && !isContinuation(bytes[next]!)) return { units: [REPL], next, stop: false }
  return { units: [REPL], next: n, stop: true }
}

/** US_ASCII: every byte >= 0x80 becomes U+FFFD. */
function decodeAsciiJava(bytes: Uint8Array): string {
  const out: number[] = []
  for (const b of bytes) out.push(b < 0x80 ? b : REPL)
  return fromCodeUnits(out)
}

function decodeLatin1(bytes: Uint8Array): string {
  return fromCodeUnits(Array.from(bytes))
}

/**
 * UTF_16BE through sun.nio.cs.UnicodeDecoder with REPLACE: a high surrogate not followed by a low
 * one swallows both units into one U+FFFD; a lone low surrogate is one U+FFFD; leftover bytes at the
 * end (odd byte, or a high surrogate without its pair) are one U+FFFD together. No BOM handling for
 * the explicit big-endian charset.
 */
export function decodeUtf16beJava(bytes: Uint8Array): string {
  const out: number[] = []
  const n = bytes.length
  let i = 0
  while (n - i > 1) {
    const c = (bytes[i]! << 8) | bytes[i + 1]!
    if (c >= 0xdc00 && c <= 0xdfff) {
      out.push(REPL)
      i += 2
    } else if (c >= 0xd800 && c <= 0xdbff) {
      if (n - i < 4) break
      const c2 = (bytes[i + 2]! << 8) | bytes[i + 3]!
      if (c2 >= 0xdc00 && c2 <= 0xdfff) out.push(c, c2)
      else out.push(REPL)
      i += 4
    } else {
      out.push(c)
      i += 2
    }
  }
  if (i < n) out.push(REPL)
  return fromCodeUnits(out)
}

/**
 * sun.nio.cs.UTF_32BE (UTF_32Coder.Decoder): a leading 0000FEFF byte-order mark is dropped; every
 * BMP value (surrogates included) is one unit; values above U+10FFFF are U+FFFD; fewer than four
 * leftover bytes are one U+FFFD.
 */
export function decodeUtf32beJava(bytes: Uint8Array): string {
  const out: number[] = []
  const n = bytes.length
  let i = 0
  if (n >= 4 && bytes[0] === 0 && bytes[1] === 0 && bytes[2] === 0xfe && bytes[3] === 0xff) i = 4
  for (; n - i >= 4; i += 4) {
    const cp = (bytes[i]! * 0x1000000 + ((bytes[i + 1]! << 16) | (bytes[i + 2]! << 8) | bytes[i + 3]!)) >>> 0
    if (cp <= 0xffff) {
      out.push(cp)
    } else if (cp <= 0x10ffff) {
      const v = cp - 0x10000
      out.push(0xd800 | (v >> 10), 0xdc00 | (v & 0x3ff))
    } else {
      out.push(REPL)
    }
  }
  if (i < n) out.push(REPL)
  return fromCodeUnits(out)
}

/** DerValue.getAsString(): the Java string of a DirectoryString-ish value, or null for other types. */
function javaAsString(value: Tlv): string | null {
  if (value.tagClass !== 'universal' || value.constructed) return null
  switch (value.tag) {
    case TAG.UTF8_STRING:
      return decodeUtf8Java(value.value)
    case TAG.PRINTABLE_STRING:
    case TAG.IA5_STRING:
    case TAG.GENERAL_STRING:
      return decodeAsciiJava(value.value)
    case TAG.T61_STRING:
      return decodeLatin1(value.value)
    case TAG.UNIVERSAL_STRING:
      return decodeUtf32beJava(value.value)
    case TAG.BMP_STRING:
      return decodeUtf16beJava(value.value)
    default:
      return null
  }
}

function isUniversalPrimitive(value: Tlv, tags: ReadonlySet<number>): boolean {
  // DerValue compares the whole tag byte, so only universal primitive identifiers qualify.
  return value.tagClass === 'universal' && !value.constructed && tags.has(value.tag)
}

/** DerValue.isPrintableStringChar. */
function isPrintableStringChar(c: string): boolean {
  return /^[A-Za-z0-9 '()+,\-./:=?]$/.test(c)
}

// ---------------------------------------------------------------------------------------------
// RFC 2253 (X500Principal.getName(RFC2253))

const RFC2253_ESCAPEES = ',=+<>#;"\\'

/**
 * AVA.toRFC2253String: keyword=value. Non-keyword types and non-text values are `#` + hex of the
 * value's DER. Text values are the *raw contents octets decoded as UTF-8* whatever their ASN.1 type
 * (so a BMPString comes out as UTF-8-misread UTF-16: this is what the JDK does). Then:
 * `, = + < > # ; " \` get a backslash anywhere in the value (not only a leading `#`), NUL becomes
 * `\00`, every other character is emitted raw (control characters and non-ASCII included), and
 * leading/trailing runs of space or CR get a backslash before each character.
 */
function avaToRfc2253(ava: Ava, jdk: JdkVersion): string {
  const keyword = RFC2253_KEYWORDS.get(ava.oid) ?? ava.oid
  if (!RFC2253_KEYWORDS.has(ava.oid) || !isUniversalPrimitive(ava.value, RFC2253_TEXT_TAGS)) {
    return `${keyword}=#${ava.value.raw.toString('hex')}`
  }
  const chars: string[] = []
  for (const c of rfc2253Text(ava.value, jdk)) {
    // iterate by code point but escape per UTF-16 unit: the escapees are all ASCII, so the same
    if (RFC2253_ESCAPEES.includes(c)) chars.push('\\' + c)
    else if (c === '\u0000') chars.push('\\00')
    else chars.push(c)
  }
  return `${keyword}=${escapeEdgeWhitespace(chars.join(''))}`
}

/**
 * The text AVA.toRFC2253String escapes. JDK 17 decodes the raw contents octets as UTF-8 whatever the
 * type (so a BMPString comes out as UTF-8-misread UTF-16). JDK 25 (AVA.getCharset) decodes
 * UTF8String as UTF-8, BMPString as UTF-16BE, and the 8-bit types (Printable, T61, IA5, General) as
 * ISO-8859-1 so that non-ASCII bytes survive instead of becoming U+FFFD.
 */
function rfc2253Text(value: Tlv, jdk: JdkVersion): string {
  if (jdk === 17 || value.tag === TAG.UTF8_STRING) return decodeUtf8Java(value.value)
  if (value.tag === TAG.BMP_STRING) return decodeUtf16beJava(value.value)
  return decodeLatin1(value.value)
}

/** The text AVA.toRFC2253CanonicalString works on (PrintableString / UTF8String only, same charsets). */
function canonicalText(value: Tlv, jdk: JdkVersion): string {
  if (jdk === 25 && value.tag === TAG.PRINTABLE_STRING) return decodeLatin1(value.value)
  return decodeUtf8Java(value.value)
}

function escapeEdgeWhitespace(s: string): string {
  const isWs = (c: string | undefined): boolean => c === ' ' || c === '\r'
  let lead = 0
  while (lead < s.length && isWs(s[lead])) lead++
  let trail = s.length - 1
  while (trail >= 0 && isWs(s[trail])) trail--
  let out = ''
  for (let i = 0; i < s.length; i++) out += (i < lead || i > trail ? '\\' : '') + s[i]
  return out
}

/** X500Principal.getName(X500Principal.RFC2253) for a DER-encoded Name. */
export function subjectToRfc2253(subjectDer: Buffer, opts: DnOptions = {}): string {
  const jdk = jdkOf(opts)
  // X500Name.generateRFC2253DN: last RDN first, ","; RDN: AVAs in encoded order, "+".
  return parseName(subjectDer, opts)
    .reverse()
    .map((rdn) => rdn.map((ava) => avaToRfc2253(ava, jdk)).join('+'))
    .join(',')
}

// ---------------------------------------------------------------------------------------------
// toString() (RFC 1779-like DEFAULT format)

const DEFAULT_ESCAPEES = ',+=\n<>#;\\"'

/**
 * AVA.toKeywordValueString: the value from DerValue.getAsString() (per-type charset), quoted with
 * `"..."` when it contains a special character, a leading or trailing space/LF, or two consecutive
 * spaces/LFs; inside, only `"` and `\` are backslash-escaped. A value that already starts and ends
 * with `"` is emitted as is. Non-string values are `#` + hex of the DER.
 */
function avaToJavaString(ava: Ava): string {
  const keyword = DEFAULT_KEYWORDS.get(ava.oid) ?? `OID.${ava.oid}`
  const val = javaAsString(ava.value)
  if (val === null) return `${keyword}=#${ava.value.raw.toString('hex')}`
  const length = val.length
  const alreadyQuoted = length > 1 && val[0] === '"' && val[length - 1] === '"'
  let quoteNeeded = false
  let previousWhite = false
  let out = ''
  for (let i = 0; i < length; i++) {
    const c = val[i]!
    if (alreadyQuoted && (i === 0 || i === length - 1)) {
      out += c
      continue
    }
    const special = DEFAULT_ESCAPEES.includes(c)
    if (!isPrintableStringChar(c) && !special) {
      previousWhite = false
      out += c
      continue
    }
    const white = c === ' ' || c === '\n'
    if (special || (i === 0 && white)) quoteNeeded = true
    if (white) {
      if (previousWhite) quoteNeeded = true
      previousWhite = true
    } else {
      if (c === '"' || c === '\\') out += '\\'
      previousWhite = false
    }
    out += c
  }
  const last = out[out.length - 1]
  if (last === ' ' || last === '\n') quoteNeeded = true
  return `${keyword}=${!alreadyQuoted && quoteNeeded ? `"${out}"` : out}`
}

/** X500Principal.toString() for a DER-encoded Name: RDNs last-first joined by ", ", AVAs by " + ". */
export function subjectToJavaString(subjectDer: Buffer, opts: DnOptions = {}): string {
  return parseName(subjectDer, opts)
    .reverse()
    .map((rdn) => rdn.map(avaToJavaString).join(' + '))
    .join(', ')
}

// ---------------------------------------------------------------------------------------------
// CANONICAL (X500Principal.getName(CANONICAL)); X500Principal.equals compares these.

const CANONICAL_ESCAPEES = ',+<>;"\\'

/** Character.isWhitespace. */
function isJavaWhitespace(c: string): boolean {
  const u = c.charCodeAt(0)
  if ((u >= 0x09 && u <= 0x0d) || (u >= 0x1c && u <= 0x1f)) return true
  if (u === 0xa0 || u === 0x2007 || u === 0x202f) return false
  return /^[\p{Zs}\p{Zl}\p{Zp}]$/u.test(c)
}

/** String.trim: strips code units <= U+0020 at both ends. */
function javaTrim(s: string): string {
  let a = 0
  let b = s.length
  while (a < b && s.charCodeAt(a) <= 0x20) a++
  while (b > a && s.charCodeAt(b - 1) <= 0x20) b--
  return s.slice(a, b)
}

function avaToCanonical(ava: Ava, jdk: JdkVersion): string {
  const keyword = RFC2253_KEYWORDS.get(ava.oid) ?? ava.oid
  let body: string
  if (!RFC2253_KEYWORDS.has(ava.oid) || !isUniversalPrimitive(ava.value, CANONICAL_TEXT_TAGS)) {
    body = `#${ava.value.raw.toString('hex')}`
  } else {
    const val = canonicalText(ava.value, jdk)
    let out = ''
    let previousWhite = false
    for (let i = 0; i < val.length; i++) {
      const c = val[i]!
      const escapee = CANONICAL_ESCAPEES.includes(c) || (i === 0 && c === '#')
      if (!isPrintableStringChar(c) && !escapee) {
        previousWhite = false
        out += c
        continue
      }
      if (escapee) out += '\\'
      if (!isJavaWhitespace(c)) {
        previousWhite = false
        out += c
      } else if (!previousWhite) {
        previousWhite = true
        out += c
      }
    }
    body = javaTrim(out)
  }
  // AVA.toRFC2253CanonicalString: upper- then lower-case (Locale.US), then NFKD.
  return `${keyword}=${body}`.toUpperCase().toLowerCase().normalize('NFKD')
}

/**
 * AVAComparator: AVAs with an RFC 2253 keyword first, then by canonical string (String.compareTo,
 * i.e. UTF-16 code unit order).
 */
function compareCanonicalAvas(a: { has: boolean; s: string }, b: { has: boolean; s: string }): number {
  if (a.has !== b.has) return a.has ? -1 : 1
  return a.s < b.s ? -1 : a.s > b.s ? 1 : 0
}

/** X500Principal.getName(X500Principal.CANONICAL). */
export function subjectToCanonical(subjectDer: Buffer, opts: DnOptions = {}): string {
  const jdk = jdkOf(opts)
  return parseName(subjectDer, opts)
    .reverse()
    .map((rdn) =>
      rdn
        .map((ava) => ({ has: RFC2253_KEYWORDS.has(ava.oid), s: avaToCanonical(ava, jdk) }))
        .sort(compareCanonicalAvas)
        .map((x) => x.s)
        .join('+'),
    )
    .join(',')
}

/** X500Principal.equals: byte equality, or equal canonical forms. */
export function namesEqual(a: Buffer, b: Buffer, opts: DnOptions = {}): boolean {
  if (a.equals(b)) return true
  try {
    return subjectToCanonical(a, opts) === subjectToCanonical(b, opts)
  } catch (err) {
    if (err instanceof DnError) return false
    throw err
  }
}

// ---------------------------------------------------------------------------------------------
// Certificates

function certificateDer(cert: X509Certificate | Buffer): Buffer {
  return cert instanceof X509Certificate ? cert.raw : cert
}

/** tbsCertificate.subject of a certificate, as DER (a view into the certificate bytes). */
export function certificateSubjectDer(cert: X509Certificate | Buffer): Buffer {
  return nameOf(cert, 'subject')
}

/** tbsCertificate.issuer of a certificate, as DER. */
export function certificateIssuerDer(cert: X509Certificate | Buffer): Buffer {
  return nameOf(cert, 'issuer')
}

function nameOf(cert: X509Certificate | Buffer, field: 'subject' | 'issuer'): Buffer {
  try {
    return parseCertificate(certificateDer(cert))[field].raw
  } catch (err) {
    if (err instanceof DerError) throw new DnError('malformed', `invalid certificate: ${err.message}`, { cause: err })
    throw err
  }
}

/** `cert.getSubjectX500Principal().getName(X500Principal.RFC2253)`. */
export function certificateSubjectRfc2253(cert: X509Certificate | Buffer, opts: DnOptions = {}): string {
  return subjectToRfc2253(certificateSubjectDer(cert), opts)
}

/** `cert.getSubjectX500Principal().toString()`. */
export function certificateSubjectJavaString(cert: X509Certificate | Buffer, opts: DnOptions = {}): string {
  return subjectToJavaString(certificateSubjectDer(cert), opts)
}

function jdkOf(opts: DnOptions): JdkVersion {
  const jdk = opts.jdk ?? 25
  if (jdk !== 17 && jdk !== 25) throw new RangeError(`unsupported jdk ${String(jdk)} (17 or 25)`)
  return jdk
}
