/**
 * StreamWriter: the write side of Elasticsearch's StreamOutput into a growable Buffer
 * (server/src/main/java/org/elasticsearch/common/io/stream/StreamOutput.java, spec §2).
 */
import { CodecError } from './errors.js'

const INT32_MIN = -0x80000000
const INT32_MAX = 0x7fffffff

function checkInt32(n: number, what: string): void {
  if (!Number.isInteger(n) || n < INT32_MIN || n > INT32_MAX) {
    throw new CodecError('bad_argument', `${what} must be a 32-bit signed integer, got ${n}`)
  }
}

/** Bytes a vInt takes: 1-5; negative ints always take 5 (StreamOutput.writeVInt). */
export function vIntLength(n: number): number {
  const i = n | 0
  if (i < 0) return 5
  if (i < 0x80) return 1
  if (i < 0x4000) return 2
  if (i < 0x200000) return 3
  if (i < 0x10000000) return 4
  return 5
}

/**
 * Encoded size of the string's characters (without the count prefix): 1 byte per code unit ≤ 0x7F,
 * 2 bytes ≤ 0x7FF, else 3 bytes, surrogates encoded one by one.
 */
export function stringByteLength(s: string): number {
  const n = s.length
  let bytes = n
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0x80) bytes += c < 0x800 ? 1 : 2
  }
  return bytes
}

/** Full wire encoding of StreamOutput.writeString(s): vInt UTF-16 length + the code units. */
export function encodeString(s: string): Buffer {
  const w = new StreamWriter(vIntLength(s.length) + stringByteLength(s))
  w.writeString(s)
  return w.toBuffer()
}

export class StreamWriter {
  private buf: Buffer
  private pos = 0

  constructor(initialSize = 64) {
    this.buf = Buffer.allocUnsafe(Math.max(8, initialSize))
  }

  /** Bytes written so far. */
  get length(): number {
    return this.pos
  }

  private ensure(extra: number): void {
    const need = this.pos + extra
    if (need <= this.buf.length) return
    let cap = this.buf.length * 2
    while (cap < need) cap *= 2
    const next = Buffer.allocUnsafe(cap)
    this.buf.copy(next, 0, 0, this.pos)
    this.buf = next
  }

  /**
   * A view of the bytes written so far (no copy). Later writes append past the view and never
   * change it (growing moves to a new buffer), so the view stays valid.
   */
  toBuffer(): Buffer {
    return this.buf.subarray(0, this.pos)
  }

  writeByte(b: number): void {
    this.ensure(1)
    this.buf[this.pos++] = b & 0xff
  }

  writeBoolean(v: boolean): void {
    this.writeByte(v ? 1 : 0)
  }

  writeShort(n: number): void {
    this.ensure(2)
    this.buf.writeInt16BE((n << 16) >> 16, this.pos)
    this.pos += 2
  }

  writeInt(n: number): void {
    checkInt32(n, 'int')
    this.ensure(4)
    this.buf.writeInt32BE(n, this.pos)
    this.pos += 4
  }

  /** Writes the low 64 bits (two's complement), so both signed and unsigned inputs round-trip. */
  writeLong(v: bigint): void {
    this.ensure(8)
    this.buf.writeBigInt64BE(BigInt.asIntN(64, v), this.pos)
    this.pos += 8
  }

  /** StreamOutput.writeVInt: `while ((i & ~0x7F) != 0) { writeByte((i & 0x7f) | 0x80); i >>>= 7; }`. */
  writeVInt(n: number): void {
    checkInt32(n, 'vInt')
    this.ensure(5)
    const buf = this.buf
    let p = this.pos
    let i = n
    while ((i & ~0x7f) !== 0) {
      buf[p++] = (i & 0x7f) | 0x80
      i >>>= 7
    }
    buf[p++] = i
    this.pos = p
  }

  /** StreamOutput.writeVLong refuses negative values. */
  writeVLong(value: bigint | number): void {
    let v = typeof value === 'bigint' ? value : BigInt(value)
    if (v < 0n) {
      throw new CodecError('negative_vlong', `Negative longs unsupported, use writeLong or writeZLong for negative numbers [${v}]`)
    }
    if (v > 0x7fffffffffffffffn) throw new CodecError('bad_argument', `vLong out of range: ${v}`)
    this.ensure(10)
    while (v >= 0x80n) {
      this.buf[this.pos++] = Number(v & 0x7fn) | 0x80
      v >>= 7n
    }
    this.buf[this.pos++] = Number(v)
  }

  /** StreamOutput.writeString: vInt count of UTF-16 code units, then 1/2/3 bytes per code unit. */
  writeString(s: string): void {
    const n = s.length
    const bytes = stringByteLength(s)
    this.writeVInt(n)
    this.ensure(bytes)
    const buf = this.buf
    let p = this.pos
    if (bytes === n) {
      // All code units < 0x80.
      buf.write(s, p, n, 'latin1')
      this.pos = p + n
      return
    }
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i)
      if (c < 0x80) {
        buf[p++] = c
      } else if (c < 0x800) {
        buf[p++] = 0xc0 | (c >> 6)
        buf[p++] = 0x80 | (c & 0x3f)
      } else {
        buf[p++] = 0xe0 | (c >> 12)
        buf[p++] = 0x80 | ((c >> 6) & 0x3f)
        buf[p++] = 0x80 | (c & 0x3f)
      }
    }
    this.pos = p
  }

  writeOptionalString(s: string | null | undefined): void {
    if (s === null || s === undefined) {
      this.writeBoolean(false)
    } else {
      this.writeBoolean(true)
      this.writeString(s)
    }
  }

  writeStringArray(a: readonly string[]): void {
    this.writeVInt(a.length)
    for (const s of a) this.writeString(s)
  }

  /** vInt length + bytes (writeBytesReference). */
  writeByteArray(b: Uint8Array): void {
    this.writeVInt(b.length)
    this.writeBytes(b)
  }

  /** Raw bytes, no length prefix. */
  writeBytes(b: Uint8Array): void {
    this.ensure(b.length)
    this.buf.set(b, this.pos)
    this.pos += b.length
  }

  /** TaskId: empty node id (`00`) for "no parent task", else node id + int64 id. */
  writeTaskId(task: { nodeId: string; id: bigint } | null | undefined): void {
    if (!task || task.nodeId.length === 0) {
      this.writeString('')
      return
    }
    this.writeString(task.nodeId)
    this.writeLong(task.id)
  }

  /** `writeMap(map, writeString, writeString)`. */
  writeStringMap(m: ReadonlyMap<string, string> | Readonly<Record<string, string>>): void {
    const entries = m instanceof Map ? [...m.entries()] : Object.entries(m)
    this.writeVInt(entries.length)
    for (const [k, v] of entries) {
      this.writeString(k)
      this.writeString(v)
    }
  }

  /** `writeMapOfLists`: vInt size + (key, vInt count + strings). */
  writeMapOfLists(m: ReadonlyMap<string, readonly string[]>): void {
    this.writeVInt(m.size)
    for (const [k, v] of m) {
      this.writeString(k)
      this.writeStringArray(v)
    }
  }
}
