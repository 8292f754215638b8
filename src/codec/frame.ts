/**
 * Frame encoding (spec §1.1-§1.3): fixed 23-byte header + variable header + body.
 * Writer reference: OutboundHandler.serialize and TcpHeader.writeHeader
 * (server/src/main/java/org/elasticsearch/transport/OutboundHandler.java, TcpHeader.java).
 */
import { HEADER_SIZE, MESSAGE_LENGTH_OVERHEAD, PING_BYTES, Status } from './constants.js'
import { CodecError } from './errors.js'
import { writeVariableHeader } from './header.js'
import { StreamWriter } from './writer.js'

export interface FrameSpec {
  requestId: bigint
  /** Status bits (Status.*); bit 0 clear = request. */
  status: number
  /** Header version id: a TransportVersion, or a handshake protocol version on handshake frames. */
  version: number
  requestHeaders?: Map<string, string> | Record<string, string>
  responseHeaders?: Map<string, string[]>
  /** Only written for requests with version < V_8_0_0 (defaults to an empty array there). */
  features?: string[]
  /** Required for requests, ignored for responses. */
  action?: string
  /** Body bytes as they go on the wire (already compressed if the COMPRESS bit is set). */
  body?: Buffer
}

const EMPTY = Buffer.alloc(0)
const ZERO_HEADER = Buffer.alloc(HEADER_SIZE)

/**
 * Fixed + variable header of a frame whose body (written separately, e.g. with writev) has
 * `bodyLength` bytes. messageLength = 17 + varHeaderSize + bodyLength (TcpHeader.writeHeader).
 */
export function encodeFrameHeader(spec: Omit<FrameSpec, 'body'>, bodyLength: number, reserveBody = 0): StreamWriter {
  if (!Number.isInteger(bodyLength) || bodyLength < 0) {
    throw new CodecError('bad_argument', `invalid body length ${bodyLength}`)
  }
  const isRequest = (spec.status & Status.RESPONSE) === 0
  const w = new StreamWriter(HEADER_SIZE + 64 + reserveBody)
  // Placeholder fixed header; patched below once the variable-header size is known.
  w.writeBytes(ZERO_HEADER)
  writeVariableHeader(
    w,
    { requestHeaders: spec.requestHeaders, responseHeaders: spec.responseHeaders, features: spec.features, action: spec.action },
    isRequest,
    spec.version,
  )
  const varHeaderSize = w.length - HEADER_SIZE
  const messageLength = MESSAGE_LENGTH_OVERHEAD + varHeaderSize + bodyLength
  if (messageLength > 0x7fffffff) throw new CodecError('bad_argument', `frame too large: message length ${messageLength}`)
  const b = w.toBuffer()
  b[0] = 0x45
  b[1] = 0x53
  b.writeInt32BE(messageLength, 2)
  b.writeBigInt64BE(BigInt.asIntN(64, spec.requestId), 6)
  b[14] = spec.status & 0xff
  b.writeInt32BE(spec.version | 0, 15)
  b.writeInt32BE(varHeaderSize, 19)
  return w
}


/** One complete frame in a single Buffer. */
export function encodeFrame(spec: FrameSpec): Buffer {
  const body = spec.body ?? EMPTY
  const w = encodeFrameHeader(spec, body.length, body.length)
  w.writeBytes(body)
  return w.toBuffer()
}

/** A fresh copy of the 6 ping bytes `45 53 ff ff ff ff`. */
export function encodePing(): Buffer {
  return Buffer.from(PING_BYTES)
}
