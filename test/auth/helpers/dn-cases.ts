/**
 * Subjects for the JDK differential test of src/auth/dn.ts: hand-picked edge cases for every
 * DirectoryString type and escaping rule, malformed text encodings, non-string values, multi-valued
 * and duplicate RDNs, plus fast-check generated names (deterministic seed).
 */
import fc from 'fast-check'
import { OIDS, STRING_TAGS, name, seq, set, stringValue, tlv, integer, nul, bool, octets, oid, type AvaSpec, type StringKind } from './asn1.js'

export interface DnCase {
  id: string
  der: Buffer
}

const KINDS = Object.keys(STRING_TAGS) as StringKind[]

export const EDGE_TEXTS: readonly string[] = [
  '',
  ' ',
  '  ',
  'a',
  'plain value',
  ' lead',
  'trail ',
  ' both ',
  '  two lead',
  'two trail  ',
  'a  b',
  '#hash',
  'a#b',
  'a,b',
  'a+b',
  'a=b',
  'a;b',
  'a<b>c',
  'say "hi"',
  'back\\slash',
  ',+"\\<>;=#',
  '"quoted"',
  '"',
  '""',
  '"a',
  'a"',
  "it's (x) a-b.c/d:e?f",
  'line\nfeed',
  '\nlead-lf',
  'trail-lf\n',
  'cr\rin',
  '\rlead-cr',
  'trail-cr\r',
  ' \r ',
  'tab\there',
  '\ttab-lead',
  'nul\u0000x',
  '\u0000',
  'del\u007f',
  'ctl\u0001\u001f',
  'Café',
  'Müller',
  'ß',
  '日本語',
  'emoji 😀',
  '😀',
  '\u00a0nbsp\u00a0',
  'line\u2028sep',
  'ideographic\u3000space',
  'ﬁ ligature',
  'Ⅻ',
  '*.example.com',
  'user@example.com',
  '_under~score!$%^&*[]{}|`',
]

/** Byte strings that are not valid in (some of) the string types, by kind. */
export const RAW_VALUES: readonly [string, number[]][] = [
  ['utf8-surrogate', [0x61, 0xed, 0xa0, 0x80, 0x62]],
  ['utf8-trunc3-end', [0x61, 0xe2, 0x82]],
  ['utf8-trunc3-mid', [0xe2, 0x82, 0x41]],
  ['utf8-trunc3-bad2', [0xe2, 0x41, 0x42]],
  ['utf8-trunc4-end', [0xf0, 0x9f, 0x98]],
  ['utf8-trunc4-end2', [0xf0, 0x9f]],
  ['utf8-trunc4-end1', [0xf0]],
  ['utf8-trunc4-mid', [0xf0, 0x9f, 0x98, 0x41]],
  ['utf8-trunc4-bad3', [0xf0, 0x9f, 0x41]],
  ['utf8-overlong2', [0xc0, 0x80, 0xc1, 0xbf]],
  ['utf8-overlong3', [0xe0, 0x80, 0x80]],
  ['utf8-overlong3b', [0xe0, 0x9f, 0xbf]],
  ['utf8-overlong4', [0xf0, 0x80, 0x80, 0x80]],
  ['utf8-above-max', [0xf4, 0x90, 0x80, 0x80]],
  ['utf8-f5', [0xf5, 0x80, 0x80, 0x80]],
  ['utf8-f8', [0xf8, 0x88, 0x80, 0x80, 0x80]],
  ['utf8-ff', [0xff, 0xfe, 0x41]],
  ['utf8-cont', [0x80, 0xbf, 0x41]],
  ['utf8-lead2-end', [0x41, 0xc3]],
  ['utf8-lead2-bad', [0xc3, 0x41]],
  ['utf8-latin1', [0x43, 0x61, 0x66, 0xe9]],
  ['utf8-bom', [0xef, 0xbb, 0xbf, 0x41]],
  ['utf8-fffe', [0xef, 0xbf, 0xbe]],
  ['utf8-trunc-3-of-4', [0xf4, 0x8f, 0xbf]],
  ['utf8-f4-then-cont', [0xf4, 0x8f, 0x41, 0x80]],
  ['bmp-odd', [0x00, 0x41, 0x00]],
  ['bmp-lone-high', [0xd8, 0x00, 0x00, 0x41]],
  ['bmp-lone-high-end', [0x00, 0x41, 0xd8, 0x00]],
  ['bmp-lone-high-end-odd', [0xd8, 0x00, 0x41]],
  ['bmp-lone-low', [0xdc, 0x00, 0x00, 0x41]],
  ['bmp-pair', [0xd8, 0x3d, 0xde, 0x00]],
  ['bmp-high-high', [0xd8, 0x3d, 0xd8, 0x3d, 0xde, 0x00]],
  ['bmp-bom', [0xfe, 0xff, 0x00, 0x41]],
  ['bmp-reversed-bom', [0xff, 0xfe, 0x00, 0x41]],
  ['bmp-nul', [0x00, 0x00, 0x00, 0x2c]],
  ['u32-bom', [0x00, 0x00, 0xfe, 0xff, 0x00, 0x00, 0x00, 0x41]],
  ['u32-bom-le', [0xff, 0xfe, 0x00, 0x00, 0x00, 0x00, 0x00, 0x41]],
  ['u32-bom-late', [0x00, 0x00, 0x00, 0x41, 0x00, 0x00, 0xfe, 0xff]],
  ['u32-surrogate', [0x00, 0x00, 0xd8, 0x00, 0x00, 0x00, 0x00, 0x41]],
  ['u32-too-big', [0x00, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0x41]],
  ['u32-negative', [0xff, 0xff, 0xff, 0xff]],
  ['u32-partial', [0x00, 0x00, 0x00, 0x41, 0x00, 0x00]],
  ['u32-short', [0x41]],
  ['latin1-high', [0x41, 0xe9, 0xff, 0x80]],
  ['ascii-nul-del', [0x00, 0x7f, 0x20]],
]

const CN = OIDS.CN!

function single(oidStr: string, value: Buffer): Buffer {
  return name([[{ oid: oidStr, value }]])
}

export function handPickedCases(): DnCase[] {
  const cases: DnCase[] = []
  const add = (id: string, der: Buffer): void => {
    cases.push({ id, der })
  }
  // every edge text as every string type under CN
  EDGE_TEXTS.forEach((text, ti) => {
    for (const kind of KINDS) add(`text${ti}-${kind}`, single(CN, stringValue(kind, text)))
  })
  // the same raw bytes under every string type
  RAW_VALUES.forEach(([label, bytes]) => {
    for (const kind of KINDS) add(`raw-${label}-${kind}`, single(CN, tlv(STRING_TAGS[kind], Buffer.from(bytes))))
  })
  // every known keyword and a few unknown OIDs, with text and with odd characters
  for (const [key, o] of Object.entries(OIDS)) {
    add(`kw-${key}-utf8`, single(o, stringValue('utf8', 'v,al ue')))
    add(`kw-${key}-ia5`, single(o, stringValue('ia5', 'x@y.z')))
    add(`kw-${key}-printable`, single(o, stringValue('printable', 'Val')))
  }
  for (const o of ['1.2.3.4', '2.999.1', '1.3.6.1.4.1.99999.1.2.3', '2.5.4.999', '0.0', '2.25.329800735698586629295641978511506172918']) {
    add(`oid-${o}`, single(o, stringValue('utf8', 'x')))
  }
  // non-string values
  const nonStrings: [string, Buffer][] = [
    ['int', integer(1234)],
    ['null', nul()],
    ['bool', bool(true)],
    ['octets', octets(Buffer.from('abc'))],
    ['seq', seq(stringValue('utf8', 'inner'))],
    ['set', set(stringValue('utf8', 'inner'))],
    ['ctx0', tlv(0x80, Buffer.from('ctx'))],
    ['ctx0c', tlv(0xa0, stringValue('utf8', 'ctx'))],
    ['app1', tlv(0x41, Buffer.from('app'))],
    ['oidval', oid('1.2.3')],
    ['utctime', tlv(0x17, Buffer.from('250101000000Z'))],
    ['constructed-utf8', tlv(0x2c, stringValue('utf8', 'x'))],
    ['private-utf8', tlv(0xcc, Buffer.from('x'))],
  ]
  for (const [label, value] of nonStrings) {
    add(`nonstr-${label}-cn`, single(CN, value))
    add(`nonstr-${label}-email`, single(OIDS.EMAIL!, value))
  }
  // structure: empty name, empty RDN, multi-valued RDNs, duplicates, order
  add('empty-name', seq())
  add('empty-rdn', seq(set()))
  add('empty-rdn-mid', seq(set(seq(oid(CN), stringValue('utf8', 'a'))), set(), set(seq(oid(OIDS.O!), stringValue('utf8', 'b')))))
  const u = (k: string, v: string, kind: StringKind = 'utf8'): AvaSpec => ({ oid: OIDS[k]!, value: stringValue(kind, v) })
  add('multi-cn-uid', name([[u('O', 'Org')], [u('CN', 'node1'), u('UID', 'u1')]]))
  add('multi-uid-cn', name([[u('O', 'Org')], [u('UID', 'u1'), u('CN', 'node1')]]))
  add('multi-three', name([[u('OU', 'z'), u('CN', 'a'), u('EMAIL', 'e@x', 'ia5')]]))
  add('multi-unknown-first', name([[{ oid: '1.2.3.4', value: stringValue('utf8', 'q') }, u('CN', 'a')]]))
  add('multi-specials', name([[u('CN', 'a+b'), u('OU', ' x '), u('O', '#y')]]))
  add('multi-dup', name([[u('CN', 'same'), u('CN', 'same')]]))
  add('dup-rdns', name([[u('CN', 'second')], [u('CN', 'first')], [u('CN', 'first')]]))
  add('many-rdns', name(['C', 'ST', 'L', 'O', 'OU', 'CN', 'STREET', 'DC', 'UID', 'T', 'SERIALNUMBER', 'EMAIL'].map((k) => [u(k, `${k.toLowerCase()} v`, k === 'EMAIL' || k === 'DC' ? 'ia5' : 'utf8')])))
  add('long-value', single(CN, stringValue('utf8', 'x'.repeat(300) + ', y')))
  add('printable-mixed', name([[u('C', 'US', 'printable')], [u('O', 'Example, Inc.', 'printable')], [u('CN', 'a b', 'printable')]]))
  add('canon-ws', name([[u('CN', '  Mixed   CASE\tvalue  ')], [u('O', 'ÉCOLE ﬁ')]]))
  add('canon-hash', name([[u('CN', '#lead')], [u('O', 'a#b')]]))
  return cases
}

/** Characters the generators draw from: all escapees, whitespace, controls, non-ASCII, surrogates. */
const CHAR_POOL = [
  ...'abcXYZ019 ,+=<>#;"\\\'()-./:?*@_!\n\r\t\u0000\u0001\u007f\u0080\u00a0éüß日😀\u2028\u3000\ufeff\ufffd',
  '\ud800',
  '\udc00',
]

const textArb = fc.oneof(
  fc.array(fc.constantFrom(...CHAR_POOL), { maxLength: 12 }).map((a) => a.join('')),
  fc.string({ unit: 'binary', maxLength: 8 }),
  fc.constantFrom(...EDGE_TEXTS),
)

const rawBytesArb = fc.uint8Array({ maxLength: 10 }).map((a) => Buffer.from(a))

const oidArb = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...Object.values(OIDS)) },
  { weight: 1, arbitrary: fc.constantFrom('1.2.3.4', '2.5.4.41', '2.5.4.65', '1.3.6.1.4.1.1.2') },
)

const kindArb = fc.constantFrom(...KINDS)

function encodeTextOrRaw(kind: StringKind, t: string | Buffer): Buffer {
  if (Buffer.isBuffer(t)) return tlv(STRING_TAGS[kind], t)
  // lone surrogates cannot be UTF-8/latin1 encoded faithfully; Buffer.from replaces them, which is fine
  return stringValue(kind, t)
}

const avaArb: fc.Arbitrary<AvaSpec> = fc
  .record({ oid: oidArb, kind: kindArb, text: fc.oneof({ weight: 4, arbitrary: textArb }, { weight: 1, arbitrary: rawBytesArb }) })
  .map(({ oid: o, kind, text }) => ({ oid: o, value: encodeTextOrRaw(kind, text) }))

const nameArb = fc.array(fc.array(avaArb, { minLength: 1, maxLength: 3 }), { minLength: 0, maxLength: 5 }).map(name)

/** `count` generated names (deterministic for a given seed). */
export function generatedCases(count: number, seed: number): DnCase[] {
  return fc.sample(nameArb, { numRuns: count, seed }).map((der, i) => ({ id: `gen${i}`, der }))
}
