/**
 * Byte-level mutation of captured valid inputs. A mutation is data (`Op`: four unsigned integers), so the same case
 * can be drawn from the runner's PRNG or from fast-check (which then shrinks a failing case to fewer, smaller ops),
 * and a regression case replays exactly.
 *
 * Mutators: bit flip, interesting byte, random byte, insert, delete, duplicate, splice from a second valid input
 * (the "donor"), 32-bit / 16-bit big-endian length-field tweaks, vInt overwrite, DER length-octet tweak,
 * truncation, run of one byte, swap of two ranges, and dictionary tokens (per target: markers, keywords).
 * Chunk re-splitting is not a mutation of the bytes: stream targets cut their input at `aux` points (lib/case.ts).
 */
import { Rng } from './rng.js'

/** [kind, a, b, c]: every field an unsigned 31-bit integer; each mutator reduces them modulo what it needs. */
export type Op = readonly [number, number, number, number]

export const OP_KINDS = 15

const INTERESTING_BYTES = [0x00, 0x01, 0x7f, 0x80, 0x81, 0xfe, 0xff, 0x20, 0x30, 0x31, 0x3a, 0x3d, 0x5c, 0x0a, 0x0d, 0x41]

const INTERESTING_INT32 = [0, 1, 2, 5, 6, 16, 17, 22, 23, 0x7f, 0x80, 0xff, 0x100, 0x3fff, 0x4000, 0xffff, 0x10000, 0x7fffffff, -1, -2, -0x80000000]

const INTERESTING_VINT = [0, 1, 2, 0x7f, 0x80, 0x3fff, 0x4000, 0x1fffff, 0x200000, 0x0fffffff, 0x10000000, 0x7fffffff, -1, 33, 1024, 65536]

function clampLen(buf: Buffer, maxLen: number): Buffer {
  return buf.length > maxLen ? buf.subarray(0, maxLen) : buf
}

function vIntBytes(v: number): Buffer {
  const out: number[] = []
  let i = v | 0
  while ((i & ~0x7f) !== 0) {
    out.push((i & 0x7f) | 0x80)
    i >>>= 7
  }
  out.push(i)
  return Buffer.from(out)
}

function insertAt(buf: Buffer, pos: number, bytes: Buffer): Buffer {
  return Buffer.concat([buf.subarray(0, pos), bytes, buf.subarray(pos)])
}

function overwriteAt(buf: Buffer, pos: number, bytes: Buffer): Buffer {
  const out = Buffer.from(buf)
  bytes.copy(out, pos, 0, Math.min(bytes.length, out.length - pos))
  return out
}

/**
 * Applies one op. Never throws; returns a new buffer (or the input when the op does not apply).
 * `donor` is another valid input of the same target, `dict` the target's tokens.
 */
export function applyOp(buf: Buffer, op: Op, donor: Buffer, dict: readonly Buffer[]): Buffer {
  const [kind, a, b, c] = op
  const n = buf.length
  const pos = n === 0 ? 0 : a % n
  switch (kind % OP_KINDS) {
    case 0: {
      if (n === 0) return buf
      const out = Buffer.from(buf)
      out[pos]! ^= 1 << (b % 8)
      return out
    }
    case 1: {
      if (n === 0) return Buffer.from([INTERESTING_BYTES[b % INTERESTING_BYTES.length]!])
      const out = Buffer.from(buf)
      out[pos] = INTERESTING_BYTES[b % INTERESTING_BYTES.length]!
      return out
    }
    case 2: {
      if (n === 0) return Buffer.from([b & 0xff])
      const out = Buffer.from(buf)
      out[pos] = b & 0xff
      return out
    }
    case 3: {
      // Insert 1-16 bytes: random-ish (from c) or a repeat of one byte.
      const count = 1 + (b % 16)
      const bytes = Buffer.alloc(count)
      let x = c | 1
      for (let i = 0; i < count; i++) {
        x = (Math.imul(x, 1103515245) + 12345) >>> 0
        bytes[i] = (c & 1) === 0 ? x >>> 24 : c >>> 8
      }
      return insertAt(buf, n === 0 ? 0 : a % (n + 1), bytes)
    }
    case 4: {
      if (n === 0) return buf
      const count = 1 + (b % Math.min(64, n))
      return Buffer.concat([buf.subarray(0, pos), buf.subarray(Math.min(n, pos + count))])
    }
    case 5: {
      // Duplicate a range somewhere else (repeated fields, repeated frames).
      if (n === 0) return buf
      const len = 1 + (b % Math.min(n - pos, 4096))
      return insertAt(buf, c % (n + 1), Buffer.from(buf.subarray(pos, pos + len)))
    }
    case 6: {
      // Splice: a range of the donor inserted (c odd) or overwritten (c even) at a position of ours.
      if (donor.length === 0) return buf
      const dpos = b % donor.length
      const len = 1 + ((c >>> 1) % Math.min(donor.length - dpos, 8192))
      const piece = donor.subarray(dpos, dpos + len)
      if ((c & 1) === 1 || n === 0) return insertAt(buf, n === 0 ? 0 : a % (n + 1), piece)
      return overwriteAt(buf, pos, piece)
    }
    case 7: {
      // 32-bit big-endian field: an interesting value, or the current value nudged.
      if (n < 4) return buf
      const p = a % (n - 3)
      const out = Buffer.from(buf)
      const cur = out.readInt32BE(p)
      const choice = b % (INTERESTING_INT32.length + 4)
      let v: number
      if (choice < INTERESTING_INT32.length) v = INTERESTING_INT32[choice]!
      else if (choice === INTERESTING_INT32.length) v = cur + 1 + (c % 16)
      else if (choice === INTERESTING_INT32.length + 1) v = cur - 1 - (c % 16)
      else if (choice === INTERESTING_INT32.length + 2) v = n - p
      else v = n - p - 6
      out.writeInt32BE(v | 0, p)
      return out
    }
    case 8: {
      // Overwrite (c even) or insert (c odd) a vInt of an interesting value.
      const bytes = vIntBytes(INTERESTING_VINT[b % INTERESTING_VINT.length]!)
      if ((c & 1) === 1 || n === 0) return insertAt(buf, n === 0 ? 0 : a % (n + 1), bytes)
      return overwriteAt(buf, pos, bytes)
    }
    case 9: {
      // DER length octets: from pos, find a byte that looks like a tag followed by a length, and rewrite the length.
      if (n < 2) return buf
      for (let i = 0; i < n - 1; i++) {
        const p = (pos + i) % (n - 1)
        const tag = buf[p]!
        if (tag !== 0x30 && tag !== 0x31 && tag !== 0x02 && tag !== 0x03 && tag !== 0x04 && tag !== 0x06 && tag !== 0x0c && tag !== 0x13 && tag !== 0x17 && (tag & 0xe0) !== 0xa0) continue
        const forms: Buffer[] = [
          Buffer.from([0x80]),
          Buffer.from([0x00]),
          Buffer.from([0x7f]),
          Buffer.from([0x81, c & 0xff]),
          Buffer.from([0x82, (c >>> 8) & 0xff, c & 0xff]),
          Buffer.from([0x84, 0xff, 0xff, 0xff, 0xff]),
          Buffer.from([0x81, 0x05]),
          Buffer.from([0x88, 1, 0, 0, 0, 0, 0, 0, 0]),
          Buffer.from([(buf[p + 1]! + 1) & 0xff]),
          Buffer.from([(buf[p + 1]! - 1) & 0xff]),
        ]
        const form = forms[b % forms.length]!
        // Replace the existing length octets (short form = 1 byte; long form 0x8k = 1 + k bytes).
        const first = buf[p + 1]!
        const oldLen = first < 0x80 ? 1 : 1 + (first & 0x7f)
        return Buffer.concat([buf.subarray(0, p + 1), form, buf.subarray(Math.min(n, p + 1 + oldLen))])
      }
      return buf
    }
    case 10:
      return buf.subarray(0, n === 0 ? 0 : a % n)
    case 11: {
      if (n === 0) return buf
      const len = 1 + (b % Math.min(n - pos, 256))
      const out = Buffer.from(buf)
      out.fill(INTERESTING_BYTES[c % INTERESTING_BYTES.length]!, pos, pos + len)
      return out
    }
    case 12: {
      // Swap two ranges of equal length (reorders fields / certificates / frames).
      if (n < 2) return buf
      const len = 1 + (c % Math.max(1, Math.floor(n / 2)))
      const p1 = a % (n - len + 1)
      const p2 = b % (n - len + 1)
      if (Math.abs(p1 - p2) < len) return buf
      const out = Buffer.from(buf)
      buf.copy(out, p1, p2, p2 + len)
      buf.copy(out, p2, p1, p1 + len)
      return out
    }
    case 13: {
      if (n < 2) return buf
      const p = a % (n - 1)
      const out = Buffer.from(buf)
      const cur = out.readUInt16BE(p)
      const vals = [0, 1, 0xffff, 0x8000, 0x7fff, cur + 1, cur - 1, n - p - 2, (cur + (c % 64)) & 0xffff]
      out.writeUInt16BE(vals[b % vals.length]! & 0xffff, p)
      return out
    }
    default: {
      // Dictionary token: inserted (c odd) or overwritten (c even).
      if (dict.length === 0) return buf
      const tok = dict[b % dict.length]!
      if ((c & 1) === 1 || n === 0) return insertAt(buf, n === 0 ? 0 : a % (n + 1), tok)
      return overwriteAt(buf, pos, tok)
    }
  }
}

export function applyOps(buf: Buffer, ops: readonly Op[], donor: Buffer, dict: readonly Buffer[], maxLen: number): Buffer {
  let out = buf
  for (const op of ops) out = clampLen(applyOp(out, op, donor, dict), maxLen)
  return out
}

/** A random op (the runner's draw; fast-check draws the same shape in lib/case.ts). */
export function randomOp(rng: Rng): Op {
  return [rng.next() >>> 1, rng.next() >>> 1, rng.next() >>> 1, rng.next() >>> 1]
}
