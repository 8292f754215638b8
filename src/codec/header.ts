/**
 * The variable header (spec §1.3, §3): thread-context headers, then for requests the legacy
 * features array (header version < 8.0.0) and the action name.
 *
 * Reader: Header.finishParsingHeader (server/src/main/java/org/elasticsearch/transport/Header.java);
 * writer: OutboundHandler.serialize / ThreadContext.ThreadContextStruct.writeTo
 * (server/src/main/java/org/elasticsearch/common/util/concurrent/ThreadContext.java).
 */
import { V_8_0_0 } from './constants.js'
import { CodecError } from './errors.js'
import { StreamReader } from './reader.js'
import { StreamWriter } from './writer.js'

/**
 * Read-only: a decoder hands the same object out again for a byte-identical variable header (FrameDecoder's
 * memo), so nobody may change one.
 */
export interface VariableHeader {
  /** ThreadContext request headers (`Map<String,String>`). Entry order is wire order and carries no meaning. */
  readonly requestHeaders: ReadonlyMap<string, string>
  /**
   * ThreadContext response headers (`Map<String, Set<String>>`). Values are kept exactly as read
   * (Java would collapse duplicates in its LinkedHashSet; we keep the wire content for pass-through).
   */
  readonly responseHeaders: ReadonlyMap<string, readonly string[]>
  /** The pre-8.0 "features" array: only present on requests whose header version is < V_8_0_0. */
  readonly features: readonly string[] | null
  /** Action name: requests only (responses carry none, spec §1.3). */
  readonly action: string | null
}

/** True when a request variable header carries the features array (Header.finishParsingHeader). */
export function hasFeatures(isRequest: boolean, version: number): boolean {
  return isRequest && version < V_8_0_0
}

/**
 * Parses exactly `buf` as a variable header. Throws CodecError on malformed content and
 * CodecError('trailing_bytes') when bytes are left over.
 */
export function parseVariableHeader(buf: Buffer, isRequest: boolean, version: number): VariableHeader {
  const r = new StreamReader(buf)
  const requestHeaders = r.readStringMap()
  const responseHeaders = r.readMapOfLists()
  let features: string[] | null = null
  let action: string | null = null
  if (isRequest) {
    if (hasFeatures(isRequest, version)) features = r.readStringArray()
    action = r.readString()
  }
  if (r.remaining !== 0) {
    throw new CodecError('trailing_bytes', `variable header has ${r.remaining} unread trailing bytes`)
  }
  return { requestHeaders, responseHeaders, features, action }
}

/** Input shape accepted by writeVariableHeader: maps may be omitted (written as empty). */
export interface VariableHeaderInput {
  requestHeaders?: ReadonlyMap<string, string> | Readonly<Record<string, string>> | undefined
  responseHeaders?: ReadonlyMap<string, readonly string[]> | undefined
  features?: readonly string[] | null | undefined
  action?: string | null | undefined
}

const EMPTY_REQUEST_HEADERS: ReadonlyMap<string, string> = new Map()
const EMPTY_RESPONSE_HEADERS: ReadonlyMap<string, readonly string[]> = new Map()

/**
 * Writes a variable header. For requests the action is required; the features array is written
 * (empty unless given, as current senders do) exactly when the version is below 8.0.0, and ignored
 * otherwise.
 */
export function writeVariableHeader(w: StreamWriter, vh: VariableHeaderInput, isRequest: boolean, version: number): void {
  w.writeStringMap(vh.requestHeaders ?? EMPTY_REQUEST_HEADERS)
  w.writeMapOfLists(vh.responseHeaders ?? EMPTY_RESPONSE_HEADERS)
  if (isRequest) {
    if (hasFeatures(isRequest, version)) w.writeStringArray(vh.features ?? [])
    if (vh.action === null || vh.action === undefined) {
      throw new CodecError('missing_action', 'a request variable header needs an action name')
    }
    w.writeString(vh.action)
  }
}
