/**
 * A small X.509 issuer for `rcgw certs`: CA, server, client and signing certificates with RSA or EC keys.
 *
 * node-forge's certificate object only knows RSA keys, so the TBSCertificate is assembled with forge's ASN.1/DER
 * helpers and signed with node:crypto (crypto.sign), which serves RSA and EC subjects and RSA and EC issuers
 * through one code path (the same approach as the test PKI in test/emulator/certs.ts). Keys come from node:crypto.
 *
 * Subject DNs are given as RFC 2253 / RFC 4514 strings, most specific RDN first, exactly as Elasticsearch prints
 * them with `X500Principal.getName(X500Principal.RFC2253)` (cross-cluster-auth.md §4.1): the DER encoding puts
 * the RDNs in the reverse order, so that the generated certificate's RFC 2253 DN reads back as requested.
 */
import crypto, { X509Certificate, type KeyObject } from 'node:crypto'
import net from 'node:net'
import forge from 'node-forge'
import { certificateExtensions, basicConstraints } from '../auth/chain.js'
import { children, parseCertificate, readSingle } from '../auth/der.js'

const { asn1 } = forge
type Asn1 = forge.asn1.Asn1

export type KeyType = 'rsa' | 'ec'

export class CertificateError extends Error {
  readonly reason: 'bad_dn' | 'bad_ip' | 'bad_issuer' | 'key_mismatch' | 'bad_key'
  constructor(reason: CertificateError['reason'], message: string) {
    super(message)
    this.name = 'CertificateError'
    this.reason = reason
  }
}

// --- keys -------------------------------------------------------------------------------------------------

/**
 * RSA 2048 or EC P-256: the key types Elasticsearch's signer accepts (SIGNATURE_ALGORITHM_BY_TYPE in
 * CrossClusterApiKeySignatureManager.java: RSA → SHA256withRSA, EC → SHA256withECDSA) and that every JDK trust
 * manager accepts for TLS.
 */
export function generateKey(type: KeyType): KeyObject {
  if (type === 'ec') return crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey
  return crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
}

export function keyTypeOf(key: KeyObject): KeyType {
  const t = key.asymmetricKeyType
  if (t === 'rsa' || t === 'ec') return t
  throw new CertificateError('bad_key', `unsupported key type ${String(t)} (rsa or ec)`)
}

export function privateKeyPem(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }).toString()
}

export function describeKey(key: KeyObject): string {
  const d = key.asymmetricKeyDetails
  if (key.asymmetricKeyType === 'rsa') return `RSA ${d?.modulusLength ?? '?'}`
  if (key.asymmetricKeyType === 'ec') return `EC ${d?.namedCurve === 'prime256v1' ? 'P-256' : (d?.namedCurve ?? '?')}`
  return String(key.asymmetricKeyType)
}

// --- distinguished names ----------------------------------------------------------------------------------

/** Attribute keywords accepted in --subject (case-insensitive), RFC 4514 plus the usual X.520 names. */
const KEYWORDS: Readonly<Record<string, string>> = {
  CN: '2.5.4.3',
  C: '2.5.4.6',
  L: '2.5.4.7',
  ST: '2.5.4.8',
  S: '2.5.4.8',
  STREET: '2.5.4.9',
  O: '2.5.4.10',
  OU: '2.5.4.11',
  T: '2.5.4.12',
  TITLE: '2.5.4.12',
  SERIALNUMBER: '2.5.4.5',
  SURNAME: '2.5.4.4',
  GIVENNAME: '2.5.4.42',
  INITIALS: '2.5.4.43',
  GENERATION: '2.5.4.44',
  DNQ: '2.5.4.46',
  DNQUALIFIER: '2.5.4.46',
  DC: '0.9.2342.19200300.100.1.25',
  UID: '0.9.2342.19200300.100.1.1',
  EMAILADDRESS: '1.2.840.113549.1.9.1',
  EMAIL: '1.2.840.113549.1.9.1',
  E: '1.2.840.113549.1.9.1',
}

/** X.520 / PKCS#9 value types: country, serialNumber and dnQualifier are PrintableString; DC and email IA5String. */
const PRINTABLE_OIDS = new Set(['2.5.4.6', '2.5.4.5', '2.5.4.46'])
const IA5_OIDS = new Set(['0.9.2342.19200300.100.1.25', '1.2.840.113549.1.9.1'])
const PRINTABLE_STRING = /^[A-Za-z0-9 '()+,\-./:=?]*$/

export interface ParsedAva {
  readonly oid: string
  /** Text value, or the DER of the value for the `#hex` form. */
  readonly value: string | Buffer
}
export type ParsedRdn = readonly ParsedAva[]

const SPECIALS = new Set([',', '+', '"', '\\', '<', '>', ';', '=', '#', ' '])

/**
 * Parses an RFC 4514 DN string (`CN=a\,b+UID=x,O=Org`): RDNs separated by `,` (or `;`), multi-valued RDNs by `+`,
 * backslash escapes (`\,` and `\2C` forms), `"quoted"` values and `OID=#hex` values. Spaces around separators are
 * tolerated (people write `CN=a, O=b`); escaped spaces are kept. Returns the RDNs in string order.
 */
export function parseDn(dn: string): ParsedRdn[] {
  let i = 0
  const fail = (msg: string): never => {
    throw new CertificateError('bad_dn', `invalid DN "${dn}": ${msg}`)
  }
  const skipSpaces = () => {
    while (dn[i] === ' ') i++
  }
  const rdns: ParsedRdn[] = []
  skipSpaces()
  if (i >= dn.length) fail('empty')
  for (;;) {
    const rdn: ParsedAva[] = []
    for (;;) {
      skipSpaces()
      const eq = dn.indexOf('=', i)
      if (eq === -1) fail(`missing "=" after "${dn.slice(i)}"`)
      const type = dn.slice(i, eq).trim()
      i = eq + 1
      rdn.push({ oid: attributeOid(type, fail), value: readValue() })
      skipSpaces()
      if (dn[i] === '+') {
        i++
        continue
      }
      break
    }
    rdns.push(rdn)
    if (i >= dn.length) return rdns
    if (dn[i] !== ',' && dn[i] !== ';') fail(`unexpected "${dn[i]}" at position ${i}`)
    i++
  }

  function readValue(): string | Buffer {
    skipSpaces()
    if (dn[i] === '#') {
      const m = /^#([0-9A-Fa-f]+)/.exec(dn.slice(i))
      if (!m || m[1]!.length % 2 !== 0) return fail(`bad hex value at position ${i}`)
      i += m[0].length
      const der = Buffer.from(m[1]!, 'hex')
      try {
        if (readSingle(der).raw.length !== der.length) throw new Error('trailing bytes')
      } catch (e) {
        fail(`hex value is not one DER value (${(e as Error).message})`)
      }
      return der
    }
    const bytes: number[] = []
    let significant = 0 // bytes.length up to the last non-space or escaped byte
    const push = (chunk: Buffer, keep: boolean) => {
      for (const b of chunk) bytes.push(b)
      if (keep) significant = bytes.length
    }
    const quoted = dn[i] === '"'
    if (quoted) i++
    for (;;) {
      if (i >= dn.length) {
        if (quoted) fail('unterminated quoted value')
        break
      }
      const c = dn[i]!
      if (quoted && c === '"') {
        i++
        significant = bytes.length
        break
      }
      if (!quoted && (c === ',' || c === ';' || c === '+')) break
      if (c === '\\') {
        const next = dn[i + 1]
        if (next !== undefined && /^[0-9A-Fa-f]{2}$/.test(dn.slice(i + 1, i + 3))) {
          push(Buffer.from([parseInt(dn.slice(i + 1, i + 3), 16)]), true)
          i += 3
          continue
        }
        if (next === undefined || !SPECIALS.has(next)) fail(`bad escape at position ${i}`)
        push(Buffer.from(next!, 'utf8'), true)
        i += 2
        continue
      }
      if (!quoted && c === '"') fail(`unescaped '"' at position ${i}`)
      const cp = dn.codePointAt(i)!
      const ch = String.fromCodePoint(cp)
      push(Buffer.from(ch, 'utf8'), quoted || c !== ' ')
      i += ch.length
    }
    const text = new TextDecoder('utf-8', { fatal: true })
    try {
      return text.decode(Buffer.from(bytes.slice(0, significant)))
    } catch {
      return fail('escaped bytes are not UTF-8')
    }
  }
}

function attributeOid(type: string, fail: (m: string) => never): string {
  const t = type.replace(/^oid\./i, '')
  if (/^\d+(\.\d+)+$/.test(t)) return t
  const oid = KEYWORDS[t.toUpperCase()]
  if (oid === undefined) return fail(`unknown attribute type "${type}" (use CN, O, OU, C, L, ST, DC, UID, ... or a dotted OID)`)
  return oid
}

const U = asn1.Class.UNIVERSAL
const T = asn1.Type
const seq = (v: Asn1[]): Asn1 => asn1.create(U, T.SEQUENCE, true, v)
const set = (v: Asn1[]): Asn1 => asn1.create(U, T.SET, true, v)
const oid = (o: string): Asn1 => asn1.create(U, T.OID, false, asn1.oidToDer(o).getBytes())
const octets = (bytes: string): Asn1 => asn1.create(U, T.OCTETSTRING, false, bytes)
const bool = (v: boolean): Asn1 => asn1.create(U, T.BOOLEAN, false, v ? '\xff' : '\x00')
const toDer = (a: Asn1): Buffer => Buffer.from(asn1.toDer(a).getBytes(), 'binary')
const bin = (b: Buffer): string => b.toString('binary')
const fromDer = (b: Buffer): Asn1 =>
  // decodeBitStrings: false keeps BIT STRING contents opaque, so that DER re-encodes byte for byte (the
  // runtime accepts an options object; the typings only a boolean).
  (asn1.fromDer as unknown as (b: string, o: { decodeBitStrings: boolean }) => Asn1)(bin(b), { decodeBitStrings: false })

function avaValue(a: ParsedAva): Asn1 {
  if (Buffer.isBuffer(a.value)) return fromDer(a.value)
  const v = a.value
  if (a.oid === '2.5.4.6' && !/^[A-Za-z]{2}$/.test(v)) throw new CertificateError('bad_dn', `C (country) must be a two-letter code, got "${v}"`)
  if (PRINTABLE_OIDS.has(a.oid) && PRINTABLE_STRING.test(v)) return asn1.create(U, T.PRINTABLESTRING, false, v)
  if (IA5_OIDS.has(a.oid)) {
    if (!/^[\x00-\x7f]*$/.test(v)) throw new CertificateError('bad_dn', `DC and emailAddress values must be ASCII, got "${v}"`)
    return asn1.create(U, T.IA5STRING, false, v)
  }
  return asn1.create(U, T.UTF8, false, forge.util.encodeUtf8(v))
}

/**
 * DER Name for RDNs in string order. The certificate stores them reversed (X500Name.generateRFC2253DN prints the
 * last RDN first); the AVAs of a multi-valued RDN are a DER SET OF, so they are sorted by their encoding.
 */
export function encodeName(rdns: readonly ParsedRdn[]): Asn1 {
  return seq(
    [...rdns].reverse().map((rdn) => {
      const avas = rdn.map((a) => seq([oid(a.oid), avaValue(a)]))
      const sorted = avas.map((a) => ({ a, der: toDer(a) })).sort((x, y) => Buffer.compare(x.der, y.der))
      return set(sorted.map((s) => s.a))
    }),
  )
}

// --- certificates -----------------------------------------------------------------------------------------

export type ExtKeyUsage = 'serverAuth' | 'clientAuth'
const EKU_OIDS: Record<ExtKeyUsage, string> = { serverAuth: '1.3.6.1.5.5.7.3.1', clientAuth: '1.3.6.1.5.5.7.3.2' }

export interface Issuer {
  readonly cert: X509Certificate
  readonly key: KeyObject
}

export interface IssueOptions {
  /** RFC 2253 DN, most specific RDN first. */
  readonly subject: string
  /** The subject's private key (its public half goes into the certificate). */
  readonly key: KeyObject
  /** Absent: self-signed. */
  readonly issuer?: Issuer
  readonly days: number
  readonly isCa?: boolean
  readonly dnsNames?: readonly string[]
  readonly ips?: readonly string[]
  readonly extKeyUsage?: readonly ExtKeyUsage[]
  /** keyUsage for leaves: 'tls' adds keyEncipherment for RSA keys (TLS 1.2 RSA key exchange); 'sign' is digitalSignature only. */
  readonly usage?: 'tls' | 'sign'
  /** For tests: fixed validity start (default: one hour ago, to tolerate clock skew between machines). */
  readonly notBefore?: Date
}

export interface IssuedCertificate {
  readonly certPem: string
  readonly cert: X509Certificate
}

function ipBytes(ip: string): Buffer {
  if (net.isIPv4(ip)) return Buffer.from(ip.split('.').map(Number))
  if (!net.isIPv6(ip)) throw new CertificateError('bad_ip', `not an IP address: ${ip}`)
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined]
  const groups = (s: string | undefined): number[] => {
    if (!s) return []
    return s.split(':').flatMap((p) => {
      if (!p.includes('.')) return [parseInt(p, 16)]
      const v4 = p.split('.').map(Number)
      return [(v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!]
    })
  }
  const h = groups(head)
  const t = groups(tail)
  const all = tail === undefined ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t]
  const b = Buffer.alloc(16)
  all.forEach((g, i) => b.writeUInt16BE(g, i * 2))
  return b
}

function extension(id: string, critical: boolean, value: Asn1): Asn1 {
  return seq([oid(id), ...(critical ? [bool(true)] : []), octets(bin(toDer(value)))])
}

/** keyUsage BIT STRING (bit 0 = digitalSignature … 6 = cRLSign), DER-minimal (trailing zero bits dropped). */
function keyUsageBits(bits: readonly number[]): Asn1 {
  let v = 0
  for (const b of bits) v |= 0x80 >> b
  let unused = 0
  while (unused < 7 && (v & (1 << unused)) === 0) unused++
  return asn1.create(U, T.BITSTRING, false, String.fromCharCode(unused, v))
}

function time(d: Date): Asn1 {
  // RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
  const y = d.getUTCFullYear()
  if (y >= 1950 && y < 2050) return asn1.create(U, T.UTCTIME, false, asn1.dateToUtcTime(d))
  return asn1.create(U, T.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(d))
}

function signatureAlgorithm(signer: KeyObject): Asn1 {
  if (signer.asymmetricKeyType === 'ec') return seq([oid('1.2.840.10045.4.3.2')]) // ecdsa-with-SHA256, no parameters
  return seq([oid('1.2.840.113549.1.1.11'), asn1.create(U, T.NULL, false, '')]) // sha256WithRSAEncryption
}

/** RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING contents. */
function spkiOf(key: KeyObject): { spki: Asn1; keyId: Buffer } {
  const der = crypto.createPublicKey(key).export({ type: 'spki', format: 'der' })
  // SubjectPublicKeyInfo ::= SEQUENCE { algorithm, subjectPublicKey BIT STRING }: skip the unused-bits octet.
  const bitString = children(readSingle(der))[1]!
  return { spki: fromDer(der), keyId: crypto.createHash('sha1').update(bitString.value.subarray(1)).digest() }
}

function subjectKeyIdentifier(cert: X509Certificate): Buffer | null {
  const ext = certificateExtensions(parseCertificate(cert.raw)).find((e) => e.oid === '2.5.29.14')
  return ext === undefined ? null : readSingle(ext.value).value
}

/** Checks that `issuer` can issue: a CA certificate whose public key belongs to the given private key. */
export function checkIssuer(issuer: Issuer): void {
  const bc = basicConstraints(certificateExtensions(parseCertificate(issuer.cert.raw)))
  if (bc === null || !bc.ca) throw new CertificateError('bad_issuer', `${issuer.cert.subject.replace(/\n/g, ', ')} is not a CA certificate (basicConstraints cA is not set)`)
  if (!issuer.cert.checkPrivateKey(issuer.key)) throw new CertificateError('key_mismatch', 'the CA key does not belong to the CA certificate')
}

export function issueCertificate(o: IssueOptions): IssuedCertificate {
  const subjectName = encodeName(parseDn(o.subject))
  const { spki, keyId } = spkiOf(o.key)
  if (o.issuer) checkIssuer(o.issuer)
  const signer = o.issuer?.key ?? o.key
  const issuerName = o.issuer ? fromDer(parseCertificate(o.issuer.cert.raw).subject.raw) : subjectName
  const authorityKeyId = o.issuer ? subjectKeyIdentifier(o.issuer.cert) : keyId
  const isCa = o.isCa ?? false
  const keyType = keyTypeOf(o.key)

  const serial = crypto.randomBytes(16)
  serial[0] = (serial[0]! & 0x3f) | 0x40 // positive, no leading zero octet
  const notBefore = o.notBefore ?? new Date(Date.now() - 3600_000)
  const notAfter = new Date(notBefore.getTime() + 3600_000 + o.days * 86_400_000)

  const exts: Asn1[] = [extension('2.5.29.19', true, seq(isCa ? [bool(true)] : []))]
  // A critical keyUsage without digitalSignature makes Java's Signature.initVerify(Certificate) throw "Wrong key
  // usage" (cross-cluster-auth.md §3.1), so every leaf has digitalSignature.
  const usage = isCa ? [5, 6] : keyType === 'rsa' && o.usage !== 'sign' ? [0, 2] : [0]
  exts.push(extension('2.5.29.15', true, keyUsageBits(usage)))
  const eku = o.extKeyUsage ?? []
  if (eku.length > 0) exts.push(extension('2.5.29.37', false, seq(eku.map((e) => oid(EKU_OIDS[e])))))
  const alt = [
    ...(o.dnsNames ?? []).map((d) => asn1.create(asn1.Class.CONTEXT_SPECIFIC, 2, false, d)),
    ...(o.ips ?? []).map((ip) => asn1.create(asn1.Class.CONTEXT_SPECIFIC, 7, false, bin(ipBytes(ip)))),
  ]
  if (alt.length > 0) exts.push(extension('2.5.29.17', false, seq(alt)))
  exts.push(extension('2.5.29.14', false, octets(bin(keyId))))
  if (authorityKeyId !== null) {
    exts.push(extension('2.5.29.35', false, seq([asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, false, bin(authorityKeyId))])))
  }

  const tbs = seq([
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [asn1.create(U, T.INTEGER, false, String.fromCharCode(2))]), // v3
    asn1.create(U, T.INTEGER, false, bin(serial)),
    signatureAlgorithm(signer),
    issuerName,
    seq([time(notBefore), time(notAfter)]),
    subjectName,
    spki,
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 3, true, [seq(exts)]),
  ])
  // sha256 with an RSA key is RSASSA-PKCS1-v1_5; with an EC key Node's default dsaEncoding is DER, which is what
  // X.509 (RFC 5758 §3.2) wants.
  const signature = crypto.sign('sha256', toDer(tbs), signer)
  const der = toDer(seq([tbs, signatureAlgorithm(signer), asn1.create(U, T.BITSTRING, false, '\x00' + bin(signature))]))
  const cert = new X509Certificate(der)
  return { cert, certPem: cert.toString() }
}

/**
 * Quotes a string for a java.util.regex pattern that must match it literally (certificate_identity is a
 * Java regex matched with Matcher.matches(), cross-cluster-auth.md §4). Backslash-escaping each metacharacter
 * keeps the pattern readable, unlike Pattern.quote's \Q…\E.
 */
export function javaRegexQuote(s: string): string {
  return s.replace(/[\\.[\]{}()*+?^$|]/g, (c) => '\\' + c)
}
