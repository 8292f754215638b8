/**
 * StreamReader: the read side of Elasticsearch's StreamInput over a Buffer
 * (server/src/main/java/org/elasticsearch/common/io/stream/StreamInput.java [9.x], spec §2).
 *
 * Every read checks bounds and throws CodecError('eof') on truncation; no read ever returns garbage
 * past the end of the view. Reads that hand out bytes (readByteArray) return subarrays, not copies.
 */
import { CodecError, javaIntHex } from './errors.js'

function eof(wanted: number, available: number): CodecError {
  // StreamInput.throwEOF wording.
  return new CodecError('eof', `tried to read: ${wanted} bytes but only ${available} remaining`)
}

/** Largest argument list we hand to String.fromCharCode at once (stack-safe on every engine). */
const FROM_CHAR_CODE_CHUNK = 4096

export class StreamReader {
  readonly buf: Buffer
  pos: number
  readonly end: number

  /** Reads `buf[start, end)`; defaults to the whole buffer. */
  constructor(buf: Buffer, start = 0, end: number = buf.length) {
    if (start < 0 || end > buf.length || start > end) {
      throw new CodecError('bad_argument', `invalid reader bounds [${start}, ${end}) for a buffer of ${buf.length} bytes`)
    }
    this.buf = buf
    this.pos = start
    this.end = end
  }

  get remaining(): number {
    return this.end - this.pos
  }

  private need(n: number): void {
    if (this.end - this.pos < n) throw eof(n, this.end - this.pos)
  }

  skip(n: number): void {
    if (n < 0) throw new CodecError('bad_argument', `cannot skip ${n} bytes`)
    this.need(n)
    this.pos += n
  }

  readByte(): number {
    if (this.pos >= this.end) throw eof(1, 0)
    return this.buf[this.pos++]!
  }

  /** StreamInput.readBoolean: only 00 and 01 are booleans. */
  readBoolean(): boolean {
    const b = this.readByte()
    if (b === 0) return false
    if (b === 1) return true
    // String.format(Locale.ROOT, "unexpected byte [0x%02x]", value)
    throw new CodecError('bad_boolean', `unexpected byte [0x${b.toString(16).padStart(2, '0')}]`)
  }

  readShort(): number {
    this.need(2)
    const v = this.buf.readInt16BE(this.pos)
    this.pos += 2
    return v
  }

  readInt(): number {
    this.need(4)
    const v = this.buf.readInt32BE(this.pos)
    this.pos += 4
    return v
  }

  readLong(): bigint {
    this.need(8)
    const v = this.buf.readBigInt64BE(this.pos)
    this.pos += 8
    return v
  }

  /**
   * StreamInput.readVIntSlow: 7 bits per byte, LSB group first. 32-bit int arithmetic so that 5-byte
   * values wrap like Java `int`; a 5th byte with the continuation bit set is rejected.
   */
  readVInt(): number {
    const buf = this.buf
    const end = this.end
    let p = this.pos
    let result = 0
    for (let shift = 0; shift < 28; shift += 7) {
      if (p >= end) throw eof(1, 0)
      const b = buf[p++]!
      result |= (b & 0x7f) << shift
      if ((b & 0x80) === 0) {
        this.pos = p
        return result
      }
    }
    if (p >= end) throw eof(1, 0)
    const b = buf[p++]!
    if ((b & 0x80) !== 0) {
      // throwOnBrokenVInt: Integer.toHexString(byte) prints the sign-extended byte (ffffff80).
      throw new CodecError('bad_vint', `Invalid vInt ((${javaIntHex((b << 24) >> 24)} & 0x7f) << 28) | ${javaIntHex(result)}`)
    }
    this.pos = p
    return result | ((b & 0x7f) << 28)
  }

  /** StreamInput.readVLongSlow: up to 10 bytes; the 10th may only be 00 or 01. Signed 64-bit result. */
  readVLong(): bigint {
    const buf = this.buf
    const end = this.end
    let p = this.pos
    let lo = 0
    for (let shift = 0; shift < 28; shift += 7) {
      if (p >= end) throw eof(1, 0)
      const b = buf[p++]!
      lo |= (b & 0x7f) << shift
      if ((b & 0x80) === 0) {
        this.pos = p
        return BigInt(lo)
      }
    }
    let acc = BigInt(lo)
    for (let shift = 28n; shift <= 56n; shift += 7n) {
      if (p >= end) throw eof(1, 0)
      const b = buf[p++]!
      acc |= BigInt(b & 0x7f) << shift
      if ((b & 0x80) === 0) {
        this.pos = p
        return acc
      }
    }
    if (p >= end) throw eof(1, 0)
    const b = buf[p++]!
    if (b !== 0 && b !== 1) {
      throw new CodecError('bad_vlong', `Invalid vlong (${javaIntHex((b << 24) >> 24)} << 63) | ${acc.toString(16)}`)
    }
    this.pos = p
    return BigInt.asIntN(64, acc | (BigInt(b) << 63n))
  }

  /**
   * StreamInput.readArraySize: a vInt that must be ≥ 0 and (sanity check against corrupt input)
   * no larger than the bytes left, since every element takes at least one byte.
   */
  readArraySize(): number {
    const n = this.readVInt()
    if (n < 0) throw new CodecError('negative_array_size', `array size must be positive but was: ${n}`)
    if (n > this.end - this.pos) throw eof(n, this.end - this.pos)
    return n
  }

  /**
   * StreamInput.readString: vInt count of UTF-16 code units, each as 1, 2 or 3 bytes chosen by the
   * lead byte's high nibble (0-7, C/D, E). Surrogates arrive as separate 3-byte sequences (CESU-8
   * style) and are kept as-is, including lone ones. Continuation bytes are not validated, exactly
   * like Java (`& 0x3F`). Built with String.fromCharCode, never buffer.toString('utf8').
   */
  readString(): string {
    const count = this.readArraySize()
    if (count === 0) return ''
    const buf = this.buf
    const start = this.pos
    // Fast path: the first `count` bytes are all ASCII (readArraySize guaranteed they exist).
    const asciiEnd = start + count
    let p = start
    while (p < asciiEnd && buf[p]! < 0x80) p++
    if (p === asciiEnd) {
      this.pos = p
      return buf.toString('latin1', start, p)
    }
    const prefixLen = p - start
    const prefix = prefixLen === 0 ? '' : buf.toString('latin1', start, p)
    const rest = count - prefixLen
    const end = this.end
    const codes = new Array<number>(Math.min(rest, FROM_CHAR_CODE_CHUNK))
    let filled = 0
    let out = prefix
    for (let i = 0; i < rest; i++) {
      if (p >= end) throw eof(1, 0)
      const c = buf[p++]!
      let code: number
      switch (c >> 4) {
        case 0: case 1: case 2: case 3: case 4: case 5: case 6: case 7:
          code = c
          break
        case 12: case 13:
          if (p >= end) throw eof(1, 0)
          code = ((c & 0x1f) << 6) | (buf[p++]! & 0x3f)
          break
        case 14:
          if (end - p < 2) throw eof(2, end - p)
          code = ((c & 0x0f) << 12) | ((buf[p]! & 0x3f) << 6) | (buf[p + 1]! & 0x3f)
          p += 2
          break
        default:
          // StreamInput.throwOnBrokenChar
          throw new CodecError('bad_string', `Invalid string; unexpected character: ${c} hex: ${c.toString(16)}`)
      }
      codes[filled++] = code
      if (filled === FROM_CHAR_CODE_CHUNK) {
        out += String.fromCharCode.apply(null, codes)
        filled = 0
      }
    }
    if (filled > 0) {
      out += String.fromCharCode.apply(null, filled === codes.length ? codes : codes.slice(0, filled))
    }
    this.pos = p
    return out
  }

  readOptionalString(): string | null {
    return this.readBoolean() ? this.readString() : null
  }

  /** writeStringArray / writeStringCollection: vInt count + strings. */
  readStringArray(): string[] {
    const n = this.readArraySize()
    const out = new Array<string>(n)
    for (let i = 0; i < n; i++) out[i] = this.readString()
    return out
  }

  /** vInt length + bytes (BytesReference); returns a subarray of the underlying buffer, no copy. */
  readByteArray(): Buffer {
    const n = this.readArraySize()
    const start = this.pos
    this.pos += n
    return this.buf.subarray(start, start + n)
  }

  /**
   * TaskId (server/src/main/java/org/elasticsearch/tasks/TaskId.java): string node id; an empty id
   * means "no task" and nothing follows, otherwise an int64 task id follows. Every request body
   * starts with one (the parent task, spec §1.4).
   */
  readTaskId(): { nodeId: string; id: bigint } | null {
    const nodeId = this.readString()
    if (nodeId.length === 0) return null
    return { nodeId, id: this.readLong() }
  }

  /** `writeMap(map, writeString, writeString)`: vInt size + (key, value) pairs; later keys win like a HashMap. */
  readStringMap(): Map<string, string> {
    const n = this.readArraySize()
    const m = new Map<string, string>()
    for (let i = 0; i < n; i++) {
      const k = this.readString()
      m.set(k, this.readString())
    }
    return m
  }

  /** `writeMapOfLists`: vInt size + (key, vInt count + strings). */
  readMapOfLists(): Map<string, string[]> {
    const n = this.readArraySize()
    const m = new Map<string, string[]>()
    for (let i = 0; i < n; i++) {
      const k = this.readString()
      m.set(k, this.readStringArray())
    }
    return m
  }
}
