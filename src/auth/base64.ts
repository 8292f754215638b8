/**
 * Base64 with the exact acceptance rules of `java.util.Base64.getDecoder()` (RFC 4648 basic
 * decoder), which Elasticsearch uses for the `_cross_cluster_access_credentials` value and the
 * `_cross_cluster_access_signature` blob (cross-cluster-auth.md §1.1 item 2, §1.3).
 *
 * Node's Buffer.from(s, 'base64') is lenient (skips whitespace, accepts the URL-safe alphabet,
 * ignores data after padding), so the gateway validates first. Rules, following
 * java/util/Base64.java Decoder.decode0:
 *   - only A-Z a-z 0-9 + / and '=' (no whitespace, no '-'/'_', no line breaks);
 *   - padding is optional, but when present it must complete the final quantum exactly
 *     ("xx==" and "xxx="; "xx=" and "x=" and a leading "=" are errors);
 *   - nothing may follow the padding;
 *   - a final quantum of a single character is an error, and so is a one-byte input;
 *   - the unused low bits of the last character are NOT checked (Java ignores them).
 */

export type Base64ErrorReason = 'illegal_character' | 'bad_padding' | 'dangling_character' | 'data_after_padding' | 'too_short'

export interface Base64Failure {
  reason: Base64ErrorReason
  /** java.util.Base64's IllegalArgumentException message for the same input. */
  message: string
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
const VALUE: ReadonlyMap<number, number> = new Map(Array.from(ALPHABET, (c, i) => [c.charCodeAt(0), i]))

/**
 * Validates `s` against java.util.Base64.getDecoder(); returns null when Java would decode it,
 * else the failure Java reports. Java first converts the String to bytes (UTF-8 in Elasticsearch's
 * CharArrays.toUtf8Bytes path, ISO-8859-1 in Decoder.decode(String)); either way every character
 * outside the alphabet is illegal, and we report the first UTF-16 unit's low byte like Java does for
 * ASCII input.
 */
export function checkStrictBase64(s: string): Base64Failure | null {
  // Decoder.decodedOutLength: a one-byte input fails before any character is looked at. The
  // bytes are UTF-8 (CharArrays.toUtf8Bytes), so only an ASCII character or an unpaired surrogate
  // (encoded as '?') is a single byte.
  if (s.length === 1 && (s.charCodeAt(0) < 0x80 || isSurrogate(s.charCodeAt(0)))) {
    return { reason: 'too_short', message: 'Input byte[] should at least have 2 bytes for base64 bytes' }
  }
  let quantum = 0 // characters seen in the current 4-character unit
  for (let i = 0; i < s.length; i++) {
    const code = s.charCodeAt(i)
    if (code === 0x3d /* '=' */) return checkPadding(s, i, quantum)
    if (!VALUE.has(code)) {
      return { reason: 'illegal_character', message: `Illegal base64 character ${illegalByteHex(s, i)}` }
    }
    quantum = (quantum + 1) % 4
  }
  if (quantum === 1) return { reason: 'dangling_character', message: 'Last unit does not have enough valid bits' }
  return null
}

function checkPadding(s: string, i: number, quantum: number): Base64Failure | null {
  // Decoder.decode0: '=' at a unit start, or "xx=" not followed by a second '=', is a bad ending.
  let next = i + 1
  if (quantum === 0 || (quantum === 2 && s[next++] !== '=')) {
    return { reason: 'bad_padding', message: 'Input byte array has wrong 4-byte ending unit' }
  }
  if (quantum === 1) return { reason: 'dangling_character', message: 'Last unit does not have enough valid bits' }
  if (next < s.length) {
    return { reason: 'data_after_padding', message: `Input byte array has incorrect ending byte at ${next}` }
  }
  return null
}

function isSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdfff
}

/** Java prints the offending byte as `Integer.toString(b, 16)` of the (UTF-8 / Latin-1) byte. */
function illegalByteHex(s: string, i: number): string {
  const code = s.charCodeAt(i)
  const next = s.charCodeAt(i + 1)
  const lone = (code >= 0xdc00 && code <= 0xdfff) || (code >= 0xd800 && code <= 0xdbff && !(next >= 0xdc00 && next <= 0xdfff))
  // CharArrays.toUtf8Bytes encodes an unpaired surrogate as '?'
  const first = lone ? 0x3f : Buffer.from(s.slice(i, i + 2), 'utf8')[0] ?? 0
  // Java's byte is signed: bytes >= 0x80 print as e.g. "-3d" via Integer.toString(b, 16)
  return (first >= 0x80 ? first - 0x100 : first).toString(16)
}

/** Decodes like java.util.Base64.getDecoder().decode(s); null when Java would throw. */
export function decodeStrictBase64(s: string): Buffer | null {
  return checkStrictBase64(s) === null ? Buffer.from(s, 'base64') : null
}

/** java.util.Base64.getEncoder(): standard alphabet, '=' padding, no line breaks. */
export function encodeBase64(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64')
}
