/**
 * Error types of the codec. Messages follow Elasticsearch's wording where the spec gives it, so
 * that logs read the same on both sides (spec §1.6, §2).
 */

/**
 * A malformed primitive or structure inside a buffer (vInt, string, boolean, exception, ...).
 * `code` is machine readable: 'eof', 'bad_vint', 'bad_vlong', 'bad_string', 'bad_boolean',
 * 'negative_array_size', 'trailing_bytes', 'negative_vlong', 'missing_action',
 * 'unsupported_exception', 'too_many_nested', 'bad_handshake', 'bad_argument'.
 */
export class CodecError extends Error {
  readonly code: string
  constructor(code: string, message: string) {
    super(message)
    this.name = 'CodecError'
    this.code = code
  }
}

export type FrameErrorReason =
  | 'http_request'
  | 'http_response'
  | 'tls_record'
  | 'bad_marker'
  | 'bad_length'
  | 'bad_var_header_size'
  | 'header_too_large'
  | 'bad_var_header'
  | 'legacy_handshake'
  | 'bad_handshake_version'

/** A framing violation: Elasticsearch closes the channel on each of these (spec §1.6, §7.6). */
export class FrameProtocolError extends Error {
  readonly reason: FrameErrorReason
  constructor(reason: FrameErrorReason, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'FrameProtocolError'
    this.reason = reason
  }
}

/** Shared by the reader and the frame checks: `n` printed like Java's Integer.toHexString(n). */
export function javaIntHex(n: number): string {
  return (n >>> 0).toString(16)
}
