/**
 * A tiny DER *writer* for tests: build names with unusual string types, certificates with chosen
 * extensions, and malformed inputs. Production code only reads DER (src/auth/der.ts).
 */
import { encodeOid } from '../../../src/auth/der.js'

export function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n])
  const bytes: number[] = []
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff)
  return Buffer.from([0x80 | bytes.length, ...bytes])
}

export function tlv(identifier: number, ...contents: Buffer[]): Buffer {
  const body = Buffer.concat(contents)
  return Buffer.concat([Buffer.from([identifier]), len(body.length), body])
}

export const seq = (...items: Buffer[]): Buffer => tlv(0x30, ...items)
export const set = (...items: Buffer[]): Buffer => tlv(0x31, ...items)
export const oid = (dotted: string): Buffer => tlv(0x06, encodeOid(dotted))
export const nul = (): Buffer => Buffer.from([0x05, 0x00])
export const bool = (v: boolean): Buffer => tlv(0x01, Buffer.from([v ? 0xff : 0x00]))
export const octets = (b: Buffer): Buffer => tlv(0x04, b)
export const bitString = (b: Buffer, unused = 0): Buffer => tlv(0x03, Buffer.from([unused]), b)
export const explicit = (n: number, inner: Buffer): Buffer => tlv(0xa0 | n, inner)

export function integer(v: bigint | number): Buffer {
  let n = BigInt(v)
  const bytes: number[] = []
  if (n === 0n) bytes.push(0)
  while (n > 0n) {
    bytes.unshift(Number(n & 0xffn))
    n >>= 8n
  }
  if ((bytes[0]! & 0x80) !== 0) bytes.unshift(0)
  return tlv(0x02, Buffer.from(bytes))
}

/** String types by name → universal tag. */
export const STRING_TAGS = {
  utf8: 0x0c,
  printable: 0x13,
  t61: 0x14,
  ia5: 0x16,
  general: 0x1b,
  universal: 0x1c,
  bmp: 0x1e,
  numeric: 0x12,
  visible: 0x1a,
} as const
export type StringKind = keyof typeof STRING_TAGS

/** Encodes `text` for the given string type (BMP = UTF-16BE, Universal = UTF-32BE, T61 = latin1). */
export function encodeText(kind: StringKind, text: string): Buffer {
  switch (kind) {
    case 'bmp': {
      const b = Buffer.from(text, 'utf16le')
      return b.swap16()
    }
    case 'universal': {
      const cps = Array.from(text, (c) => c.codePointAt(0)!)
      const b = Buffer.alloc(cps.length * 4)
      cps.forEach((cp, i) => b.writeUInt32BE(cp, i * 4))
      return b
    }
    case 't61':
      return Buffer.from(text, 'latin1')
    case 'utf8':
      return Buffer.from(text, 'utf8')
    default:
      return Buffer.from(text, 'latin1')
  }
}

export function stringValue(kind: StringKind, text: string): Buffer {
  return tlv(STRING_TAGS[kind], encodeText(kind, text))
}

export interface AvaSpec {
  oid: string
  /** Full DER of the value. */
  value: Buffer
}

export const ava = (a: AvaSpec): Buffer => seq(oid(a.oid), a.value)

/** Name = SEQUENCE OF SET OF AVA (RDNs in DER order, AVAs inside an RDN in the given order). */
export function name(rdns: AvaSpec[][]): Buffer {
  return seq(...rdns.map((rdn) => set(...rdn.map(ava))))
}

/** A one-AVA-per-RDN name from [shortName, text] pairs, UTF8String values. */
export function simpleName(pairs: [string, string][]): Buffer {
  return name(pairs.map(([k, v]) => [{ oid: OIDS[k] ?? k, value: stringValue(k === 'C' ? 'printable' : 'utf8', v) }]))
}

export const OIDS: Record<string, string> = {
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
  EMAIL: '1.2.840.113549.1.9.1',
  IP: '1.3.6.1.4.1.42.2.11.2.1',
  NAME: '2.5.4.41',
  PSEUDONYM: '2.5.4.65',
}
