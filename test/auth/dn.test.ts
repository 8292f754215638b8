import t from 'tap'
import { X509Certificate } from 'node:crypto'
import {
  DnError,
  certificateIssuerDer,
  certificateSubjectDer,
  certificateSubjectJavaString,
  certificateSubjectRfc2253,
  decodeUtf16beJava,
  decodeUtf32beJava,
  decodeUtf8Java,
  namesEqual,
  parseName,
  subjectToCanonical,
  subjectToJavaString,
  subjectToRfc2253,
} from '../../src/auth/dn.js'
import { readVectors } from './helpers/paths.js'
import { OIDS, name, seq, set, simpleName, stringValue, tlv, oid, type StringKind } from './helpers/asn1.js'
import { issue } from './helpers/certs.js'

interface DnVector {
  id: string
  case: string
  cert_pem: string
  rfc2253: string
  rfc1779: string
  name_default: string
  to_string: string
  canonical: string
  subject_der_hex: string
}

const vectors = readVectors<{ java_version: string; vectors: DnVector[] }>('jdk-dn.json')

t.test('jdk-dn.json: every vector, from the certificate and from the subject DER', async (t) => {
  t.comment(`vectors produced by ${vectors.java_version}`)
  t.equal(vectors.vectors.length, 17)
  for (const v of vectors.vectors) {
    const cert = new X509Certificate(v.cert_pem)
    const der = Buffer.from(v.subject_der_hex, 'hex')
    t.equal(certificateSubjectDer(cert).toString('hex'), v.subject_der_hex, `${v.id}: subject DER extracted from the certificate`)
    t.equal(certificateSubjectRfc2253(cert), v.rfc2253, `${v.id}: rfc2253 from cert (${v.case})`)
    t.equal(certificateSubjectRfc2253(cert.raw), v.rfc2253, `${v.id}: rfc2253 from cert DER`)
    t.equal(subjectToRfc2253(der), v.rfc2253, `${v.id}: rfc2253 from subject DER`)
    t.equal(subjectToRfc2253(der, { jdk: 17 }), v.rfc2253, `${v.id}: rfc2253 (jdk 17 rules) from subject DER`)
    t.equal(certificateSubjectJavaString(cert), v.to_string, `${v.id}: toString from cert`)
    t.equal(subjectToJavaString(der), v.to_string, `${v.id}: toString from subject DER`)
    t.equal(subjectToCanonical(der), v.canonical, `${v.id}: canonical`)
  }
})

t.test('spec §4.1 examples', async (t) => {
  const cn = (kind: StringKind, text: string): Buffer => name([[{ oid: OIDS.CN!, value: stringValue(kind, text) }]])
  t.equal(subjectToRfc2253(simpleName([['C', 'US'], ['O', 'Example Corp'], ['CN', 'local-cluster.example.com']])), 'CN=local-cluster.example.com,O=Example Corp,C=US')
  t.equal(
    subjectToRfc2253(name([[{ oid: OIDS.O!, value: stringValue('utf8', 'Org') }], [{ oid: OIDS.CN!, value: stringValue('utf8', 'node1') }, { oid: OIDS.UID!, value: stringValue('utf8', 'u1') }]])),
    'CN=node1+UID=u1,O=Org',
  )
  t.equal(subjectToRfc2253(name([[{ oid: OIDS.EMAIL!, value: stringValue('ia5', 'ops@example.com') }]])), '1.2.840.113549.1.9.1=#160f6f7073406578616d706c652e636f6d')
  t.equal(subjectToRfc2253(name([[{ oid: OIDS.SERIALNUMBER!, value: stringValue('printable', '1234') }]])), '2.5.4.5=#130431323334')
  t.equal(subjectToRfc2253(name([[{ oid: OIDS.T!, value: stringValue('utf8', 'Boss') }]])), '2.5.4.12=#0c04426f7373')
  t.equal(subjectToRfc2253(cn('utf8', 'a,b+c <x>;y\\z=w')), 'CN=a\\,b\\+c \\<x\\>\\;y\\\\z\\=w')
  t.equal(subjectToRfc2253(simpleName([['O', '#hash']])), 'O=\\#hash')
  t.equal(subjectToRfc2253(cn('utf8', ' lead and trail ')), 'CN=\\ lead and trail\\ ')
  t.equal(subjectToRfc2253(simpleName([['CN', 'Müller'], ['O', 'Café']])), 'O=Café,CN=Müller')
  t.equal(subjectToRfc2253(cn('utf8', 'line\nfeed\u0007')), 'CN=line\nfeed\u0007', 'control characters are raw')
  t.equal(subjectToJavaString(simpleName([['C', 'US'], ['O', 'Example Corp'], ['CN', 'local-cluster.example.com']])), 'CN=local-cluster.example.com, O=Example Corp, C=US')
  t.equal(subjectToJavaString(cn('utf8', 'a,b')), 'CN="a,b"')
  t.equal(subjectToJavaString(name([[{ oid: OIDS.EMAIL!, value: stringValue('ia5', 'a@b') }], [{ oid: OIDS.SERIALNUMBER!, value: stringValue('printable', '7') }]])), 'SERIALNUMBER=7, EMAILADDRESS=a@b')
})

t.test('escaping details taken from AVA.java', async (t) => {
  const cn = (text: string, kind: StringKind = 'utf8'): Buffer => name([[{ oid: OIDS.CN!, value: stringValue(kind, text) }]])
  t.equal(subjectToRfc2253(cn('a#b')), 'CN=a\\#b', '# is escaped anywhere, not only in front')
  t.equal(subjectToRfc2253(cn('nul\u0000')), 'CN=nul\\00', 'NUL becomes \\00')
  t.equal(subjectToRfc2253(cn('\rx\r')), 'CN=\\\rx\\\r', 'leading and trailing CR are escaped like spaces')
  t.equal(subjectToRfc2253(cn('  ')), 'CN=\\ \\ ', 'all-space value')
  t.equal(subjectToRfc2253(cn('')), 'CN=', 'empty value')
  t.equal(subjectToRfc2253(cn('x\t')), 'CN=x\t', 'tab is not whitespace for RFC 2253 escaping')
  t.equal(subjectToJavaString(cn('a  b')), 'CN="a  b"', 'double space forces quotes')
  t.equal(subjectToJavaString(cn('"quoted"')), 'CN="quoted"', 'already quoted values are kept')
  t.equal(subjectToJavaString(cn('say "hi"')), 'CN="say \\"hi\\""')
  t.equal(subjectToJavaString(cn('tail ')), 'CN="tail "')
  t.equal(subjectToJavaString(cn('x\ny')), 'CN="x\ny"', 'LF forces quotes in toString')
  t.equal(subjectToJavaString(name([[{ oid: '1.2.3.4', value: stringValue('utf8', 'v') }]])), 'OID.1.2.3.4=v')
  t.equal(subjectToRfc2253(name([[{ oid: '1.2.3.4', value: stringValue('utf8', 'v') }]])), '1.2.3.4=#0c0176')
  t.equal(subjectToJavaString(name([[{ oid: OIDS.CN!, value: tlv(0x02, Buffer.from([5])) }]])), 'CN=#020105', 'non-string value')
  t.equal(subjectToRfc2253(seq()), '', 'empty name')
  t.equal(subjectToRfc2253(seq(set())), '', 'empty RDN')
  t.equal(subjectToJavaString(name([[{ oid: OIDS.CN!, value: stringValue('utf8', 'a') }, { oid: OIDS.O!, value: stringValue('utf8', 'b') }]])), 'CN=a + O=b')
})

t.test('JDK 17 vs JDK 25 string decoding', async (t) => {
  const v = (kind: StringKind, bytes: number[]): Buffer => name([[{ oid: OIDS.CN!, value: tlv({ utf8: 0x0c, printable: 0x13, t61: 0x14, ia5: 0x16, general: 0x1b, universal: 0x1c, bmp: 0x1e, numeric: 0x12, visible: 0x1a }[kind], Buffer.from(bytes)) }]])
  // BMPString "AB": JDK 17 misreads the UTF-16 bytes as UTF-8, JDK 25 decodes UTF-16BE
  t.equal(subjectToRfc2253(v('bmp', [0, 0x41, 0, 0x42]), { jdk: 17 }), 'CN=\\00A\\00B')
  t.equal(subjectToRfc2253(v('bmp', [0, 0x41, 0, 0x42]), { jdk: 25 }), 'CN=AB')
  // PrintableString with a Latin-1 byte: U+FFFD on 17, 'é' on 25
  t.equal(subjectToRfc2253(v('printable', [0x43, 0xe9]), { jdk: 17 }), 'CN=C\ufffd')
  t.equal(subjectToRfc2253(v('printable', [0x43, 0xe9]), { jdk: 25 }), 'CN=Cé')
  t.equal(subjectToCanonical(v('printable', [0x43, 0xe9]), { jdk: 25 }), 'cn=ce\u0301')
  // UniversalString is never text in RFC 2253, but toString decodes it (both JDKs)
  t.equal(subjectToRfc2253(v('universal', [0, 0, 0, 0x41])), 'CN=#1c0400000041')
  t.equal(subjectToJavaString(v('universal', [0, 0, 0, 0x41])), 'CN=A')
  // A BMPString holding a surrogate pair: JDK 25 refuses the whole name
  const pair = v('bmp', [0xd8, 0x3d, 0xde, 0x00])
  t.throws(() => subjectToRfc2253(pair), DnError)
  t.equal(subjectToJavaString(pair, { jdk: 17 }), 'CN=😀')
  t.throws(() => subjectToRfc2253(pair, { jdk: 18 as 17 }), RangeError)
})

t.test('Java decoders', async (t) => {
  t.equal(decodeUtf8Java(Buffer.from([0x61, 0xed, 0xa0, 0x80, 0x62])), 'a\ufffdb', 'an encoded surrogate is one U+FFFD')
  t.equal(decodeUtf8Java(Buffer.from([0xe2, 0x82])), '\ufffd', 'truncated 3-byte at end')
  t.equal(decodeUtf8Java(Buffer.from([0xf0, 0x9f, 0x98, 0x80])), '😀')
  t.equal(decodeUtf8Java(Buffer.from([0xc0, 0x80])), '\ufffd\ufffd')
  t.equal(decodeUtf16beJava(Buffer.from([0xd8, 0x00, 0x00, 0x41])), '\ufffd', 'high surrogate swallows the next unit')
  t.equal(decodeUtf16beJava(Buffer.from([0x00, 0x41, 0x00])), 'A\ufffd')
  t.equal(decodeUtf32beJava(Buffer.from([0, 0, 0xfe, 0xff, 0, 0, 0, 0x41])), 'A', 'leading BOM dropped')
  t.equal(decodeUtf32beJava(Buffer.from([0, 0x11, 0, 0])), '\ufffd')
  t.equal(decodeUtf32beJava(Buffer.from([0, 0, 0xd8, 0])), '\ud800', 'BMP surrogate values are kept')
})

t.test('malformed names', async (t) => {
  const bad: [string, Buffer][] = [
    ['not a sequence', set()],
    ['truncated', Buffer.from('3005310330', 'hex')],
    ['RDN not a SET', seq(seq())],
    ['AVA with three elements', seq(set(seq(oid(OIDS.CN!), stringValue('utf8', 'a'), stringValue('utf8', 'b'))))],
    ['AVA without value', seq(set(seq(oid(OIDS.CN!))))],
    ['type not an OID', seq(set(seq(stringValue('utf8', 'x'), stringValue('utf8', 'b'))))],
    ['bad OID', seq(set(seq(tlv(0x06, Buffer.from([0x80, 0x01])), stringValue('utf8', 'b'))))],
    ['trailing bytes', Buffer.concat([seq(), Buffer.from([0])])],
  ]
  for (const [label, der] of bad) {
    t.throws(() => subjectToRfc2253(der), { name: 'DnError', reason: 'malformed' }, label)
    t.throws(() => parseName(der), DnError, label)
  }
  t.throws(() => certificateSubjectDer(Buffer.from('3000', 'hex')), { name: 'DnError' })
})

t.test('names compare like X500Principal.equals', async (t) => {
  const a = name([[{ oid: OIDS.CN!, value: stringValue('printable', 'Node  One') }]])
  const b = name([[{ oid: OIDS.CN!, value: stringValue('utf8', 'node one') }]])
  const c = name([[{ oid: OIDS.CN!, value: stringValue('utf8', 'node two') }]])
  t.ok(namesEqual(a, a))
  t.ok(namesEqual(a, b), 'case and inner whitespace are canonicalised')
  t.notOk(namesEqual(a, c))
  t.notOk(namesEqual(a, Buffer.from('00', 'hex')), 'unparseable names are never equal')
  t.equal(subjectToCanonical(name([[{ oid: OIDS.OU!, value: stringValue('utf8', 'b') }, { oid: '1.2.3', value: stringValue('utf8', 'x') }, { oid: OIDS.CN!, value: stringValue('utf8', 'a') }]])), 'cn=a+ou=b+1.2.3=#0c0178', 'multi-valued RDNs are sorted')
})

t.test('subject and issuer of a generated certificate', async (t) => {
  const ca = issue({ subject: [['CN', 'Issuer, Inc.']], ca: { ca: true } })
  const leaf = issue({ subject: [['O', 'Org'], ['CN', ' spaced ']], issuer: ca })
  t.equal(certificateSubjectRfc2253(leaf.cert), 'CN=\\ spaced\\ ,O=Org')
  t.equal(subjectToRfc2253(certificateIssuerDer(leaf.cert)), 'CN=Issuer\\, Inc.')
  t.equal(certificateSubjectJavaString(leaf.der), 'CN=" spaced ", O=Org')
})
