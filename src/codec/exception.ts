/**
 * Java exception serialization (spec §7.2): StreamOutput.writeException / ElasticsearchException
 * .readException (server/src/main/java/org/elasticsearch/ElasticsearchException.java [8.x];
 * server/src/main/java/org/elasticsearch/exception/ElasticsearchException.java on recent main, same
 * wire layout).
 *
 * exception   := 00 | 01 vInt(kind) kind-specific
 * kind 0      := vInt(esId) optString(msg) exception(cause) stack mapOfLists(headers) mapOfLists(metadata) tail(esId)
 * kinds 4..18 := see readGeneric below
 * stack       := vInt(n) n × {string class, optString file, string method, vInt line} vInt(m) m × exception
 */
import { Status } from './constants.js'
import { CodecError } from './errors.js'
import { encodeFrame } from './frame.js'
import type { StreamReader } from './reader.js'
import { StreamWriter } from './writer.js'

/** What the gateway (or a test backend) can send. */
export type JavaException =
  | { type: 'security'; message: string; /** RestStatus enum name, e.g. 'UNAUTHORIZED', 'FORBIDDEN' */ status: string; cause?: JavaException | null }
  | { type: 'illegal_argument' | 'illegal_state'; message: string | null; cause?: JavaException | null }
  | { type: 'remote_transport'; message: string; cause: JavaException | null }

export interface StackFrame {
  className: string
  fileName: string | null
  methodName: string
  lineNumber: number
}

export interface DecodedException {
  /** Outer kind: 0 = registered ElasticsearchException subclass, 1-18 = plain Java/Lucene classes. */
  kind: number
  /** ElasticsearchException registry id (kind 0 only). */
  esId?: number
  className: string
  message: string | null
  cause: DecodedException | null
  /** RestStatus name (ElasticsearchSecurityException, id 4). */
  status?: string
  stack: StackFrame[]
  suppressed: DecodedException[]
  /** ElasticsearchException headers / metadata (kind 0 only). */
  headers?: Map<string, string[]>
  metadata?: Map<string, string[]>
  /** Kind-specific fields (kind 1-3, 13, 18). */
  extra?: Record<string, string | number | boolean | null>
}

/** ElasticsearchException registry ids we understand (ElasticsearchExceptionHandle). */
export const EsExceptionId = {
  SECURITY: 4,
  TRANSPORT: 34,
  ELASTICSEARCH: 68,
  REMOTE_TRANSPORT: 103,
} as const

const ES_CLASS: Record<number, string> = {
  [EsExceptionId.SECURITY]: 'org.elasticsearch.ElasticsearchSecurityException',
  [EsExceptionId.TRANSPORT]: 'org.elasticsearch.transport.TransportException',
  [EsExceptionId.ELASTICSEARCH]: 'org.elasticsearch.ElasticsearchException',
  [EsExceptionId.REMOTE_TRANSPORT]: 'org.elasticsearch.transport.RemoteTransportException',
}

/** Outer kinds of StreamOutput.writeException (Java/Lucene classes with a fixed slot). */
export const ExceptionKind = {
  ELASTICSEARCH: 0,
  ILLEGAL_ARGUMENT: 6,
  ILLEGAL_STATE: 14,
} as const

const KIND_CLASS: Record<number, string> = {
  1: 'org.apache.lucene.index.CorruptIndexException',
  2: 'org.apache.lucene.index.IndexFormatTooNewException',
  3: 'org.apache.lucene.index.IndexFormatTooOldException',
  4: 'java.lang.NullPointerException',
  5: 'java.lang.NumberFormatException',
  6: 'java.lang.IllegalArgumentException',
  7: 'org.apache.lucene.store.AlreadyClosedException',
  8: 'java.io.EOFException',
  9: 'java.lang.SecurityException',
  10: 'java.lang.StringIndexOutOfBoundsException',
  11: 'java.lang.ArrayIndexOutOfBoundsException',
  12: 'java.io.FileNotFoundException',
  13: 'java.nio.file.FileSystemException',
  14: 'java.lang.IllegalStateException',
  15: 'org.apache.lucene.store.LockObtainFailedException',
  16: 'java.lang.InterruptedException',
  17: 'java.io.IOException',
  18: 'org.elasticsearch.common.util.concurrent.EsRejectedExecutionException',
}

const FS_SUBCLASS = [
  'java.nio.file.NoSuchFileException',
  'java.nio.file.NotDirectoryException',
  'java.nio.file.DirectoryNotEmptyException',
  'java.nio.file.AtomicMoveNotSupportedException',
  'java.nio.file.FileAlreadyExistsException',
  'java.nio.file.AccessDeniedException',
  'java.nio.file.FileSystemLoopException',
  'java.nio.file.FileSystemException',
]

/** StreamOutput.MAX_NESTED_EXCEPTION_LEVEL. */
export const MAX_NESTED_EXCEPTION_LEVEL = 100

// --- writing ----------------------------------------------------------------------------------

function writeEmptyStack(w: StreamWriter): void {
  w.writeVInt(0) // stack frames
  w.writeVInt(0) // suppressed
}

function writeExceptionAt(w: StreamWriter, e: JavaException | null | undefined, level: number): void {
  if (e === null || e === undefined) {
    w.writeBoolean(false)
    return
  }
  if (level > MAX_NESTED_EXCEPTION_LEVEL) {
    throw new CodecError('too_many_nested', 'too many nested exceptions')
  }
  w.writeBoolean(true)
  switch (e.type) {
    case 'security':
    case 'remote_transport': {
      w.writeVInt(ExceptionKind.ELASTICSEARCH)
      w.writeVInt(e.type === 'security' ? EsExceptionId.SECURITY : EsExceptionId.REMOTE_TRANSPORT)
      // ElasticsearchException.writeTo
      w.writeOptionalString(e.message)
      writeExceptionAt(w, e.cause, level + 1)
      writeEmptyStack(w)
      w.writeVInt(0) // headers
      w.writeVInt(0) // metadata
      // ElasticsearchSecurityException tail: RestStatus.writeTo = writeString(status.name()).
      // RemoteTransportException (via ActionTransportException) has no tail on ≥ 8.1.0 streams (spec §7.2).
      if (e.type === 'security') w.writeString(e.status)
      return
    }
    case 'illegal_argument':
    case 'illegal_state':
      w.writeVInt(e.type === 'illegal_argument' ? ExceptionKind.ILLEGAL_ARGUMENT : ExceptionKind.ILLEGAL_STATE)
      w.writeOptionalString(e.message)
      writeExceptionAt(w, e.cause, level + 1)
      writeEmptyStack(w)
      return
    default: {
      const never: never = e
      throw new CodecError('unsupported_exception', `cannot serialize exception ${JSON.stringify(never)}`)
    }
  }
}

/** StreamOutput.writeException for the exception shapes the gateway sends (no stack traces). */
export function writeException(w: StreamWriter, e: JavaException | null): void {
  writeExceptionAt(w, e, 0)
}

/**
 * Error response frame (spec §7.5): same request id, status 0x03 (RESPONSE | ERROR, never
 * compressed, never the handshake bit), version = the request's header version, variable header
 * `00 00`, body = the exception. No ActionTransportException tail (spec §7.2, vector error-frame-b).
 */
export function encodeErrorFrame(requestId: bigint, version: number, e: JavaException): Buffer {
  const w = new StreamWriter(128)
  writeException(w, e)
  return encodeFrame({ requestId, status: Status.RESPONSE | Status.ERROR, version, body: w.toBuffer() })
}

// --- reading ----------------------------------------------------------------------------------

function readStack(r: StreamReader, d: DecodedException, level: number): void {
  const n = r.readArraySize()
  for (let i = 0; i < n; i++) {
    const className = r.readString()
    const fileName = r.readOptionalString()
    const methodName = r.readString()
    const lineNumber = r.readVInt()
    d.stack.push({ className, fileName, methodName, lineNumber })
  }
  const m = r.readArraySize()
  for (let i = 0; i < m; i++) {
    const s = readExceptionAt(r, level + 1)
    if (s !== null) d.suppressed.push(s)
  }
}

function base(kind: number, className: string, message: string | null): DecodedException {
  return { kind, className, message, cause: null, stack: [], suppressed: [] }
}

function readElasticsearch(r: StreamReader, level: number): DecodedException {
  const esId = r.readVInt()
  const className = ES_CLASS[esId]
  if (className === undefined) {
    throw new CodecError('unsupported_exception', `unsupported ElasticsearchException id: ${esId}`)
  }
  const d = base(0, className, r.readOptionalString())
  d.esId = esId
  d.cause = readExceptionAt(r, level + 1)
  readStack(r, d, level)
  d.headers = r.readMapOfLists()
  d.metadata = r.readMapOfLists()
  if (esId === EsExceptionId.SECURITY) d.status = r.readString()
  // 34 (TransportException), 68 (ElasticsearchException) and 103 (RemoteTransportException on
  // ≥ 8.1.0 streams) have no tail.
  return d
}

function readGeneric(r: StreamReader, kind: number, level: number): DecodedException {
  const className = KIND_CLASS[kind]!
  let d: DecodedException
  switch (kind) {
    case 1: {
      d = base(kind, className, r.readOptionalString())
      d.extra = { resource: r.readOptionalString() }
      d.cause = readExceptionAt(r, level + 1)
      break
    }
    case 2: {
      const resource = r.readOptionalString()
      d = base(kind, className, null)
      d.extra = { resource, version: r.readInt(), minVersion: r.readInt(), maxVersion: r.readInt() }
      break
    }
    case 3: {
      const resource = r.readOptionalString()
      d = base(kind, className, null)
      if (r.readBoolean()) {
        d.extra = { resource, version: r.readInt(), minVersion: r.readInt(), maxVersion: r.readInt() }
      } else {
        d.extra = { resource, version: r.readOptionalString() }
      }
      break
    }
    case 4: case 5: case 8: case 10: case 11: case 12: case 16:
      d = base(kind, className, r.readOptionalString())
      break
    case 6: case 7: case 9: case 14: case 15: case 17:
      d = base(kind, className, r.readOptionalString())
      d.cause = readExceptionAt(r, level + 1)
      break
    case 13: {
      const subclass = r.readVInt()
      const fsClass = FS_SUBCLASS[subclass]
      if (fsClass === undefined) {
        throw new CodecError('unsupported_exception', `unknown FileSystemException with index ${subclass}`)
      }
      const file = r.readOptionalString()
      const other = r.readOptionalString()
      const reason = r.readOptionalString()
      const msg = r.readOptionalString() // composed from file, other and reason by the sender
      d = base(kind, fsClass, msg)
      d.extra = { file, other, reason }
      break
    }
    case 18: {
      const isExecutorShutdown = r.readBoolean()
      d = base(kind, className, r.readOptionalString())
      d.extra = { isExecutorShutdown }
      break
    }
    default:
      throw new CodecError('unsupported_exception', `no such exception for id: ${kind}`)
  }
  readStack(r, d, level)
  return d
}

function readExceptionAt(r: StreamReader, level: number): DecodedException | null {
  if (!r.readBoolean()) return null
  if (level > MAX_NESTED_EXCEPTION_LEVEL) throw new CodecError('too_many_nested', 'too many nested exceptions')
  const kind = r.readVInt()
  if (kind === 0) return readElasticsearch(r, level)
  if (kind >= 1 && kind <= 18) return readGeneric(r, kind, level)
  throw new CodecError('unsupported_exception', `no such exception for id: ${kind}`)
}

/**
 * ElasticsearchException.readException for the subset the gateway meets: kind 0 with ids 4, 34,
 * 68, 103, and kinds 1-18. Anything else throws CodecError('unsupported_exception').
 */
export function readException(r: StreamReader): DecodedException | null {
  return readExceptionAt(r, 0)
}

/** Maps a decoded exception back to the JavaException shape when it is one we can send; else null. */
export function toJavaException(d: DecodedException | null): JavaException | null {
  if (d === null) return null
  const cause = d.cause === null ? null : toJavaException(d.cause)
  if (d.cause !== null && cause === null) return null
  if (d.kind === 0 && d.esId === EsExceptionId.SECURITY && d.status !== undefined) {
    return { type: 'security', message: d.message ?? '', status: d.status, cause }
  }
  if (d.kind === 0 && d.esId === EsExceptionId.REMOTE_TRANSPORT) {
    return { type: 'remote_transport', message: d.message ?? '', cause }
  }
  if (d.kind === ExceptionKind.ILLEGAL_ARGUMENT) return { type: 'illegal_argument', message: d.message, cause }
  if (d.kind === ExceptionKind.ILLEGAL_STATE) return { type: 'illegal_state', message: d.message, cause }
  return null
}

/**
 * Human-readable one-liner in the spirit of ElasticsearchException.getDetailedMessage:
 * `RemoteTransportException[[gw][action]]; nested: ElasticsearchSecurityException[msg]`.
 */
export function formatException(d: DecodedException): string {
  const simple = d.className.slice(d.className.lastIndexOf('.') + 1)
  const self = `${simple}[${d.message ?? 'null'}]`
  return d.cause === null ? self : `${self}; nested: ${formatException(d.cause)}`
}
