/**
 * Dev PKI for tests: CAs, server certificates and arbitrary leaf certificates, RSA or EC.
 *
 * Keys come from node:crypto (fast, and node-forge cannot do EC). Certificates are assembled with
 * node-forge's ASN.1/DER helpers and signed with crypto.sign, so one code path serves RSA and EC
 * subjects and RSA and EC issuers (forge's own certificate object only knows RSA keys).
 *
 * Every certificate gets a fresh key unless `keyId` is given: keys with the same keyId are
 * generated once per process and reused (RSA-2048 generation costs ~0.2 s). Fresh keys by default
 * keep "wrong CA / wrong key" tests honest. `prewarmRsaKeys(n)` fills a pool of fresh RSA keys in
 * the libuv thread pool ahead of time.
 *
 * Not a test file (tap's config excludes test/emulator/**).
 */
import crypto, { type KeyObject } from 'node:crypto'
import net from 'node:net'
import forge from 'node-forge'

const { asn1 } = forge
type Asn1 = forge.asn1.Asn1

export type KeyType = 'rsa' | 'ec'

/** What every maker returns: PEM strings ready for node:tls. */
export interface IssuedCert {
  /** PKCS#8 PEM private key. */
  key: string
  /** PEM certificate. */
  cert: string
  keyType: KeyType
  /** Serial number, lowercase hex. */
  serial: string
}

/** Anything with a PEM cert and its PEM key can issue (e.g. an IssuedCert with isCa). */
export interface Issuer {
  key: string
  cert: string
}

/**
 * Subject attribute value: a string (UTF8String; PrintableString for C; IA5String for emailAddress
 * and DC) or an explicit ASN.1 string type.
 */
export type AttrValue = string | { value: string; encoding: 'utf8' | 'printable' | 'ia5' | 'bmp' | 't61' }

/** [short name or dotted OID, value], outermost RDN first as in the certificate (one attribute per RDN). */
export type SubjectAttr = [string, AttrValue]

export interface LeafOptions {
  subject: SubjectAttr[]
  keyType: KeyType
  notBefore?: Date
  notAfter?: Date
  isCa?: boolean
  /** basicConstraints pathLenConstraint (CA certificates only). */
  pathLen?: number
  dnsNames?: string[]
  ips?: string[]
  /** Default: serverAuth + clientAuth for leaves, none for CAs. Dotted OIDs or 'serverAuth' / 'clientAuth'. */
  extKeyUsage?: string[]
  /** Reuse the key generated for this label (see module doc). */
  keyId?: string
}

export interface ServerCertOptions {
  cn: string
  dnsNames?: string[]
  ips?: string[]
  keyType?: KeyType
  notBefore?: Date
  notAfter?: Date
  keyId?: string
}

// --- keys ---------------------------------------------------------------------------------------

const keyCache = new Map<string, KeyObject>()
const rsaPool: KeyObject[] = []

function newKey(type: KeyType): KeyObject {
  if (type === 'ec') return crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey
  const pooled = rsaPool.pop()
  if (pooled) return pooled
  return crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
}

function keyFor(type: KeyType, keyId: string | undefined): KeyObject {
  if (keyId === undefined) return newKey(type)
  const label = `${type}:${keyId}`
  let k = keyCache.get(label)
  if (!k) {
    k = newKey(type)
    keyCache.set(label, k)
  }
  return k
}

/** Generates `n` RSA keys in the background (libuv thread pool) for later makers to use. */
export async function prewarmRsaKeys(n: number): Promise<void> {
  const keys = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<KeyObject>((resolve, reject) =>
          crypto.generateKeyPair('rsa', { modulusLength: 2048 }, (err, _pub, priv) => (err ? reject(err) : resolve(priv))),
        ),
    ),
  )
  rsaPool.push(...keys)
}

// --- ASN.1 helpers ------------------------------------------------------------------------------

const U = asn1.Class.UNIVERSAL
const T = asn1.Type
const seq = (v: Asn1[]): Asn1 => asn1.create(U, T.SEQUENCE, true, v)
const set = (v: Asn1[]): Asn1 => asn1.create(U, T.SET, true, v)
const oid = (o: string): Asn1 => asn1.create(U, T.OID, false, asn1.oidToDer(o).getBytes())
const octets = (bytes: string): Asn1 => asn1.create(U, T.OCTETSTRING, false, bytes)
const bool = (v: boolean): Asn1 => asn1.create(U, T.BOOLEAN, false, v ? '\xff' : '\x00')
const der = (a: Asn1): Buffer => Buffer.from(asn1.toDer(a).getBytes(), 'binary')
const bin = (b: Buffer): string => b.toString('binary')
/** asn1.fromDer without decoding BIT STRING contents (the runtime accepts an options object; the typings only a boolean). */
const fromDerRaw = (bytes: string): Asn1 =>
  (asn1.fromDer as unknown as (b: string, o: { decodeBitStrings: boolean }) => Asn1)(bytes, { decodeBitStrings: false })

function integer(n: number): Asn1 {
  const b = Buffer.from(asn1.integerToDer(n).getBytes(), 'binary')
  return asn1.create(U, T.INTEGER, false, bin(b))
}

const SHORT_NAMES: Record<string, string> = {
  CN: '2.5.4.3',
  SURNAME: '2.5.4.4',
  SN: '2.5.4.4',
  SERIALNUMBER: '2.5.4.5',
  C: '2.5.4.6',
  L: '2.5.4.7',
  ST: '2.5.4.8',
  STREET: '2.5.4.9',
  O: '2.5.4.10',
  OU: '2.5.4.11',
  T: '2.5.4.12',
  TITLE: '2.5.4.12',
  GIVENNAME: '2.5.4.42',
  INITIALS: '2.5.4.43',
  GENERATION: '2.5.4.44',
  DNQ: '2.5.4.46',
  DNQUALIFIER: '2.5.4.46',
  DC: '0.9.2342.19200300.100.1.25',
  UID: '0.9.2342.19200300.100.1.1',
  E: '1.2.840.113549.1.9.1',
  EMAILADDRESS: '1.2.840.113549.1.9.1',
}

function attrOid(name: string): string {
  if (/^\d+(\.\d+)+$/.test(name)) return name
  const o = SHORT_NAMES[name.toUpperCase()]
  if (!o) throw new Error(`unknown attribute short name ${name}; use a dotted OID`)
  return o
}

function attrValue(o: string, v: AttrValue): Asn1 {
  const spec = typeof v === 'string' ? { value: v, encoding: defaultEncoding(o) } : v
  switch (spec.encoding) {
    case 'utf8':
      return asn1.create(U, T.UTF8, false, forge.util.encodeUtf8(spec.value))
    case 'printable':
      return asn1.create(U, T.PRINTABLESTRING, false, spec.value)
    case 'ia5':
      return asn1.create(U, T.IA5STRING, false, spec.value)
    case 't61':
      return asn1.create(U, 20 as forge.asn1.Type /* TeletexString */, false, spec.value)
    case 'bmp':
      // forge's DER writer encodes BMPString values itself (UTF-16BE per char code).
      return asn1.create(U, T.BMPSTRING, false, spec.value)
  }
}

function defaultEncoding(o: string): 'utf8' | 'printable' | 'ia5' {
  if (o === '2.5.4.6') return 'printable'
  if (o === '1.2.840.113549.1.9.1' || o === '0.9.2342.19200300.100.1.25') return 'ia5'
  return 'utf8'
}

function name(attrs: SubjectAttr[]): Asn1 {
  return seq(
    attrs.map(([n, v]) => {
      const o = attrOid(n)
      return set([seq([oid(o), attrValue(o, v)])])
    }),
  )
}

function time(d: Date): Asn1 {
  const y = d.getUTCFullYear()
  if (y >= 1950 && y < 2050) return asn1.create(U, T.UTCTIME, false, asn1.dateToUtcTime(d))
  return asn1.create(U, T.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(d))
}

function ipBytes(ip: string): Buffer {
  if (net.isIPv4(ip)) return Buffer.from(ip.split('.').map(Number))
  if (!net.isIPv6(ip)) throw new Error(`not an IP address: ${ip}`)
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined]
  const parse = (s: string | undefined): number[] => {
    if (!s) return []
    const parts = s.split(':')
    const out: number[] = []
    for (const p of parts) {
      if (p.includes('.')) {
        const v4 = p.split('.').map(Number)
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!)
      } else out.push(parseInt(p, 16))
    }
    return out
  }
  const h = parse(head)
  const tl = parse(tail)
  const groups = tail === undefined ? h : [...h, ...new Array<number>(8 - h.length - tl.length).fill(0), ...tl]
  const b = Buffer.alloc(16)
  groups.forEach((g, i) => b.writeUInt16BE(g, i * 2))
  return b
}

function extension(id: string, critical: boolean, value: Asn1): Asn1 {
  const parts = [oid(id)]
  if (critical) parts.push(bool(true))
  parts.push(octets(bin(der(value))))
  return seq(parts)
}

/** keyUsage BIT STRING from bit numbers (0 = digitalSignature ... 6 = cRLSign), DER-minimal. */
function keyUsageBits(bits: number[]): Asn1 {
  let v = 0
  for (const b of bits) v |= 0x80 >> b
  let unused = 0
  while (unused < 7 && (v & (1 << unused)) === 0) unused++
  return asn1.create(U, T.BITSTRING, false, String.fromCharCode(unused, v))
}

const EKU: Record<string, string> = { serverAuth: '1.3.6.1.5.5.7.3.1', clientAuth: '1.3.6.1.5.5.7.3.2' }

/** SubjectPublicKeyInfo of a key as ASN.1, plus its RFC 5280 §4.2.1.2 (1) key identifier. */
function spkiOf(key: KeyObject): { spki: Asn1; keyId: Buffer } {
  const spkiDer = crypto.createPublicKey(key).export({ type: 'spki', format: 'der' })
  const spki = fromDerRaw(bin(spkiDer))
  const bits = (spki.value as Asn1[])[1]!.value as string // BIT STRING: unused-bits byte + key
  const keyId = crypto.createHash('sha1').update(Buffer.from(bits.slice(1), 'binary')).digest()
  return { spki, keyId }
}

function signatureAlgorithm(issuerKey: KeyObject): Asn1 {
  if (issuerKey.asymmetricKeyType === 'ec') return seq([oid('1.2.840.10045.4.3.2')]) // ecdsa-with-SHA256, no params
  return seq([oid('1.2.840.113549.1.1.11'), asn1.create(U, T.NULL, false, '')]) // sha256WithRSAEncryption
}

/** Subject Name (raw ASN.1) and key identifier of an issuer certificate. */
function issuerInfo(issuerCertPem: string): { subject: Asn1; keyId: Buffer | null } {
  const cert = fromDerRaw(forge.pem.decode(issuerCertPem)[0]!.body)
  const tbs = (cert.value as Asn1[])[0]!.value as Asn1[]
  const off = tbs[0]!.tagClass === asn1.Class.CONTEXT_SPECIFIC ? 1 : 0
  const subject = tbs[4 + off]!
  let keyId: Buffer | null = null
  for (const f of tbs.slice(6 + off)) {
    if (f.tagClass !== asn1.Class.CONTEXT_SPECIFIC || f.type !== 3) continue
    for (const ext of ((f.value as Asn1[])[0]!.value as Asn1[])) {
      const parts = ext.value as Asn1[]
      if (asn1.derToOid(parts[0]!.value as string) !== '2.5.29.14') continue
      // extnValue is an OCTET STRING holding DER(OCTET STRING keyId); forge may have decoded it already.
      const extnValue = parts[parts.length - 1]!.value
      const inner = typeof extnValue === 'string' ? asn1.fromDer(extnValue) : extnValue[0]!
      keyId = Buffer.from(inner.value as string, 'binary')
    }
  }
  return { subject, keyId }
}

interface BuildSpec {
  subject: Asn1
  issuer: Asn1 | null // null = self-signed
  issuerKey: KeyObject | null
  issuerKeyId: Buffer | null
  key: KeyObject
  notBefore: Date
  notAfter: Date
  isCa: boolean
  pathLen?: number
  dnsNames: string[]
  ips: string[]
  extKeyUsage: string[]
}

function build(spec: BuildSpec): IssuedCert {
  const { spki, keyId } = spkiOf(spec.key)
  const signer = spec.issuerKey ?? spec.key
  const serial = crypto.randomBytes(16)
  serial[0] = (serial[0]! & 0x3f) | 0x40 // positive, no leading zero byte
  const keyType: KeyType = spec.key.asymmetricKeyType === 'ec' ? 'ec' : 'rsa'

  const exts: Asn1[] = []
  const bc: Asn1[] = []
  if (spec.isCa) bc.push(bool(true))
  if (spec.isCa && spec.pathLen !== undefined) bc.push(integer(spec.pathLen))
  exts.push(extension('2.5.29.19', true, seq(bc)))
  const usage = spec.isCa ? [0, 5, 6] : keyType === 'rsa' ? [0, 2] : [0]
  exts.push(extension('2.5.29.15', true, keyUsageBits(usage)))
  if (spec.extKeyUsage.length > 0) {
    exts.push(extension('2.5.29.37', false, seq(spec.extKeyUsage.map((e) => oid(EKU[e] ?? e)))))
  }
  const alt: Asn1[] = [
    ...spec.dnsNames.map((d) => asn1.create(asn1.Class.CONTEXT_SPECIFIC, 2, false, d)),
    ...spec.ips.map((ip) => asn1.create(asn1.Class.CONTEXT_SPECIFIC, 7, false, bin(ipBytes(ip)))),
  ]
  if (alt.length > 0) exts.push(extension('2.5.29.17', false, seq(alt)))
  exts.push(extension('2.5.29.14', false, octets(bin(keyId))))
  const aki = spec.issuer === null ? keyId : spec.issuerKeyId
  if (aki) exts.push(extension('2.5.29.35', false, seq([asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, false, bin(aki))])))

  const sigAlg = signatureAlgorithm(signer)
  const tbs = seq([
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [integer(2)]), // v3
    asn1.create(U, T.INTEGER, false, bin(serial)),
    sigAlg,
    spec.issuer ?? spec.subject,
    seq([time(spec.notBefore), time(spec.notAfter)]),
    spec.subject,
    spki,
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 3, true, [seq(exts)]),
  ])
  const tbsDer = der(tbs)
  const signature = crypto.sign('sha256', tbsDer, signer)
  const certAsn1 = seq([tbs, signatureAlgorithm(signer), asn1.create(U, T.BITSTRING, false, '\x00' + bin(signature))])
  const cert = forge.pem.encode({ type: 'CERTIFICATE', body: bin(der(certAsn1)) }, { maxline: 64 })
  return {
    key: spec.key.export({ type: 'pkcs8', format: 'pem' }) as string,
    cert: cert.replace(/\r\n/g, '\n'),
    keyType,
    serial: serial.toString('hex'),
  }
}

const DAY = 24 * 3600 * 1000
function defaultNotBefore(): Date {
  return new Date(Date.now() - DAY)
}
function defaultNotAfter(): Date {
  return new Date(Date.now() + 365 * DAY)
}

// --- public makers ------------------------------------------------------------------------------

/** Self-signed root CA (RSA unless keyType says otherwise). */
export function makeCa(cn: string, opts: { keyType?: KeyType; notBefore?: Date; notAfter?: Date; keyId?: string; subject?: SubjectAttr[] } = {}): IssuedCert {
  return build({
    subject: name(opts.subject ?? [['CN', cn]]),
    issuer: null,
    issuerKey: null,
    issuerKeyId: null,
    key: keyFor(opts.keyType ?? 'rsa', opts.keyId),
    notBefore: opts.notBefore ?? defaultNotBefore(),
    notAfter: opts.notAfter ?? new Date(Date.now() + 10 * 365 * DAY),
    isCa: true,
    dnsNames: [],
    ips: [],
    extKeyUsage: [],
  })
}

/** TLS server certificate (also usable as client certificate): CN + SANs, serverAuth + clientAuth. */
export function makeServerCert(ca: Issuer, opts: ServerCertOptions): IssuedCert {
  return makeLeaf(ca, {
    subject: [['CN', opts.cn]],
    keyType: opts.keyType ?? 'rsa',
    dnsNames: opts.dnsNames ?? [],
    ips: opts.ips ?? [],
    ...(opts.notBefore ? { notBefore: opts.notBefore } : {}),
    ...(opts.notAfter ? { notAfter: opts.notAfter } : {}),
    ...(opts.keyId !== undefined ? { keyId: opts.keyId } : {}),
  })
}

/** Any certificate issued by `ca`: arbitrary subject, RSA or EC key, optional CA flag. */
export function makeLeaf(ca: Issuer, opts: LeafOptions): IssuedCert {
  const issuer = issuerInfo(ca.cert)
  return build({
    subject: name(opts.subject),
    issuer: issuer.subject,
    issuerKey: crypto.createPrivateKey(ca.key),
    issuerKeyId: issuer.keyId,
    key: keyFor(opts.keyType, opts.keyId),
    notBefore: opts.notBefore ?? defaultNotBefore(),
    notAfter: opts.notAfter ?? defaultNotAfter(),
    isCa: opts.isCa ?? false,
    ...(opts.pathLen !== undefined ? { pathLen: opts.pathLen } : {}),
    dnsNames: opts.dnsNames ?? [],
    ips: opts.ips ?? [],
    extKeyUsage: opts.extKeyUsage ?? (opts.isCa ? [] : ['serverAuth', 'clientAuth']),
  })
}
