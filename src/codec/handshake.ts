/**
 * The TCP-level handshake `internal:tcp/handshake` (spec §5.1).
 *
 * Source: server/src/main/java/org/elasticsearch/transport/TransportHandshaker.java ([9.x] and
 * [8.x]); the byte layouts below reproduce the examples in its source comment and the vectors in
 * test/fixtures/vectors/transport.json byte for byte.
 */
import {
  HANDSHAKE_LEGACY,
  HANDSHAKE_V9,
  MESSAGE_LENGTH_OVERHEAD,
  Status,
  TCP_HANDSHAKE_ACTION,
  releaseForTransportVersion,
} from './constants.js'
import { CodecError } from './errors.js'
import { encodeFrame } from './frame.js'
import { StreamReader } from './reader.js'
import { StreamWriter } from './writer.js'

export interface TcpHandshakeParams {
  requestId: bigint
  /** Header version field: 7170099 (8.x), 8800000 (9.x) or 6080099 (legacy 6.8 layout, tests only). */
  handshakeVersion: number
  /** The sender's TransportVersion (request) or the negotiated/own version (response). */
  transportVersion: number
  /**
   * Release string (v8800000 only), e.g. "9.0.0". Defaults to releaseForTransportVersion(transportVersion)
   * and to "unknown" when that is null. Elasticsearch only uses it in log and error messages.
   */
  releaseVersion?: string
}

export interface TcpHandshakeBody {
  transportVersion: number
  /** Present for handshake version ≥ 8800000, null for 7170099 and the legacy layout. */
  releaseVersion: string | null
}

/** The release string travels from handshake version 8800000 on (`onOrAfter(V9_HANDSHAKE_VERSION)`). */
function carriesRelease(handshakeVersion: number): boolean {
  return handshakeVersion >= HANDSHAKE_V9
}

function releaseOf(p: TcpHandshakeParams): string {
  return p.releaseVersion ?? releaseForTransportVersion(p.transportVersion) ?? 'unknown'
}

function versionPayload(p: TcpHandshakeParams): Buffer {
  const w = new StreamWriter(32)
  w.writeVInt(p.transportVersion)
  if (carriesRelease(p.handshakeVersion)) w.writeString(releaseOf(p))
  return w.toBuffer()
}

/**
 * Legacy 6.8 layout (19-byte fixed header: no variable-header-size field). Only used to produce
 * the frames a 7.x node would send, for tests of the rejection path.
 */
function encodeLegacy(requestId: bigint, status: number, version: number, varHeader: Buffer, body: Buffer): Buffer {
  const contentSize = varHeader.length + body.length
  // The legacy length field counts requestId(8) + status(1) + version(4) + content.
  const messageLength = MESSAGE_LENGTH_OVERHEAD - 4 + contentSize
  const out = Buffer.allocUnsafe(19 + contentSize)
  out[0] = 0x45
  out[1] = 0x53
  out.writeInt32BE(messageLength, 2)
  out.writeBigInt64BE(BigInt.asIntN(64, requestId), 6)
  out[14] = status
  out.writeInt32BE(version, 15)
  varHeader.copy(out, 19)
  body.copy(out, 19 + varHeader.length)
  return out
}

/**
 * Request body: parent task id (`00`) + a bytes reference wrapping the payload (vInt
 * TransportVersion, plus the release string from v8800000 on).
 */
export function encodeTcpHandshakeRequest(p: TcpHandshakeParams): Buffer {
  const body = new StreamWriter(40)
  body.writeTaskId(null)
  body.writeByteArray(versionPayload(p))
  const status = Status.HANDSHAKE
  if (p.handshakeVersion === HANDSHAKE_LEGACY) {
    const vh = new StreamWriter(40)
    vh.writeVInt(0) // request headers
    vh.writeVInt(0) // response headers
    vh.writeStringArray(['x-pack']) // 6.8 features, as in the [8.x] TransportHandshaker comment
    vh.writeString(TCP_HANDSHAKE_ACTION)
    return encodeLegacy(p.requestId, status, p.handshakeVersion, vh.toBuffer(), body.toBuffer())
  }
  return encodeFrame({
    requestId: p.requestId,
    status,
    version: p.handshakeVersion,
    action: TCP_HANDSHAKE_ACTION,
    body: body.toBuffer(),
  })
}

/**
 * Response: same request id and handshake version, status 0x09, empty variable header; the body is
 * the payload itself (not wrapped in a bytes reference).
 */
export function encodeTcpHandshakeResponse(p: TcpHandshakeParams): Buffer {
  const body = versionPayload(p)
  const status = Status.HANDSHAKE | Status.RESPONSE
  if (p.handshakeVersion === HANDSHAKE_LEGACY) {
    return encodeLegacy(p.requestId, status, p.handshakeVersion, Buffer.from([0, 0]), body)
  }
  return encodeFrame({ requestId: p.requestId, status, version: p.handshakeVersion, body })
}

function trailing(r: StreamReader, what: string): void {
  if (r.remaining !== 0) {
    throw new CodecError('trailing_bytes', `Message not fully read (${what}): ${r.remaining} trailing bytes`)
  }
}

/**
 * Parses a handshake request body. Bytes after the payload inside the bytes reference are ignored,
 * as TransportHandshaker.HandshakeRequest does (that wrapper exists so future versions can add
 * fields); bytes after the bytes reference are rejected like InboundHandler's "not fully read" check.
 */
export function parseTcpHandshakeRequestBody(body: Buffer, handshakeVersion: number): TcpHandshakeBody {
  const r = new StreamReader(body)
  r.readTaskId()
  if (r.remaining === 0) {
    throw new CodecError('bad_handshake', 'handshake request carries no version payload')
  }
  const payload = r.readByteArray()
  trailing(r, 'request')
  const inner = new StreamReader(payload)
  const transportVersion = inner.readVInt()
  const releaseVersion = carriesRelease(handshakeVersion) ? inner.readString() : null
  return { transportVersion, releaseVersion }
}

/** Parses a handshake response body: vInt TransportVersion (+ release string from v8800000 on). */
export function parseTcpHandshakeResponseBody(body: Buffer, handshakeVersion: number): TcpHandshakeBody {
  const r = new StreamReader(body)
  const transportVersion = r.readVInt()
  const releaseVersion = carriesRelease(handshakeVersion) ? r.readString() : null
  trailing(r, 'response')
  return { transportVersion, releaseVersion }
}
