/**
 * Streaming frame decoder: the hot path of the gateway.
 *
 * Mirrors TcpTransport.readMessageLength / readHeaderBuffer and InboundDecoder.internalDecode /
 * headerBytesToRead / readHeader (server/src/main/java/org/elasticsearch/transport/TcpTransport.java,
 * InboundDecoder.java [9.x]; spec §1.6), with two deliberate differences:
 *  - non-handshake header versions and the direction of frames (request vs response) are NOT
 *    checked here: that is policy, decided by the caller from DecodedHeader;
 *  - garbage at a frame start is classified as soon as the bytes prove it (ES waits for 6 bytes).
 *
 * Cost model: header bytes are held only until 23 + varHeaderSize bytes are there (a view into
 * the chunk when the header is inside one chunk, otherwise one bounded copy); body bytes are
 * handed out as subarrays of the pushed chunks, O(1) per chunk, never concatenated or copied.
 */
import {
  ALLOWED_HANDSHAKE_VERSIONS,
  BYTES_REQUIRED_FOR_VERSION,
  HANDSHAKE_LEGACY,
  HEADER_SIZE,
  MESSAGE_LENGTH_OVERHEAD,
  PING_DATA_SIZE,
  PING_SIZE,
  Status,
} from './constants.js'
import { CodecError, FrameProtocolError, javaIntHex } from './errors.js'
import { parseVariableHeader, type VariableHeader } from './header.js'

export interface DecodedHeader {
  readonly requestId: bigint
  readonly status: number
  readonly version: number
  readonly messageLength: number
  readonly varHeaderSize: number
  readonly bodyLength: number
  readonly isRequest: boolean
  readonly isError: boolean
  readonly isHandshake: boolean
  readonly isCompressed: boolean
  /** null when the decoder was created with parseVariableHeader: false. */
  readonly variable: VariableHeader | null
}

export interface FrameHandler {
  /** Exactly the 6 ping bytes (a view into the pushed chunk when possible, else a private copy). */
  ping(bytes: Buffer): void
  /**
   * The fixed + variable header (`raw` = the 23 + N header bytes; a view into the chunk when the
   * header was inside one chunk, otherwise a buffer owned by this frame). Return false to pause.
   */
  header(h: DecodedHeader, raw: Buffer): boolean | void
  /** Body bytes: always subarrays of pushed chunks, never copies. */
  body(slice: Buffer): void
  /** After the last body slice (also for empty bodies). */
  frameEnd(h: DecodedHeader): void
  /** Framing violation; the decoder is dead afterwards. Called at most once. */
  error(e: FrameProtocolError): void
}

export interface DecoderOptions {
  /** Bound on 23 + varHeaderSize (must be ≥ 23; Infinity = no bound). Elasticsearch [9.x] defaults to 2gb. */
  maxHeaderSize: number
  /** Parse the variable header into DecodedHeader.variable (default true). */
  parseVariableHeader?: boolean
  /**
   * Observe-only mode (implies parseVariableHeader: false): `header()` fires as soon as the 23 fixed bytes are
   * there, with `raw` = those 23 bytes, and the variable header is handed out through `body()` ahead of the body.
   * Nothing beyond 23 bytes is ever held, so `maxHeaderSize` is not applied (the relay uses this for responses
   * from the trusted backend, whose thread context may legitimately be large, e.g. many `Warning` headers).
   */
  fixedHeaderOnly?: boolean
}

class FrameHeader implements DecodedHeader {
  readonly requestId: bigint
  readonly status: number
  readonly version: number
  readonly messageLength: number
  readonly varHeaderSize: number
  readonly bodyLength: number
  readonly isRequest: boolean
  readonly isError: boolean
  readonly isHandshake: boolean
  readonly isCompressed: boolean
  readonly variable: VariableHeader | null

  constructor(requestId: bigint, status: number, version: number, messageLength: number, varHeaderSize: number, variable: VariableHeader | null) {
    this.requestId = requestId
    this.status = status
    this.version = version
    this.messageLength = messageLength
    this.varHeaderSize = varHeaderSize
    this.bodyLength = messageLength - MESSAGE_LENGTH_OVERHEAD - varHeaderSize
    this.isRequest = (status & Status.RESPONSE) === 0
    this.isError = (status & Status.ERROR) !== 0
    this.isHandshake = (status & Status.HANDSHAKE) !== 0
    this.isCompressed = (status & Status.COMPRESS) !== 0
    this.variable = variable
  }
}

// --- garbage classification (TcpTransport.readHeaderBuffer) -------------------------------------

const MSG_HTTP_REQUEST = 'This is not an HTTP port'
const MSG_HTTP_RESPONSE =
  'received HTTP response on transport port, ensure that transport port (not HTTP port) of a remote node is specified in the configuration'

/** In Elasticsearch's order: appearsToBeHTTPRequest (note: `OPTION`, not `OPTIONS`), then appearsToBeHTTPResponse. */
const NON_TRANSPORT_PREFIXES: ReadonlyArray<readonly [Buffer, 'http_request' | 'http_response']> = [
  ...['GET', 'POST', 'PUT', 'HEAD', 'DELETE', 'OPTION', 'PATCH', 'TRACE'].map(
    (m) => [Buffer.from(m, 'latin1'), 'http_request'] as const,
  ),
  [Buffer.from('HTTP', 'latin1'), 'http_response'] as const,
]

/**
 * Classifies bytes at a frame start that are not (or may not be) `ES`.
 * Returns the number of bytes needed before a decision is possible, or the error.
 * Precondition: n ≥ 1 and the bytes do not start with `ES`.
 */
function classifyNonTransport(src: Buffer, s: number, n: number): number | FrameProtocolError {
  let earlierPartial = false
  for (const [prefix, reason] of NON_TRANSPORT_PREFIXES) {
    const m = n < prefix.length ? n : prefix.length
    let match = true
    for (let i = 0; i < m; i++) {
      if (src[s + i] !== prefix[i]) {
        match = false
        break
      }
    }
    if (!match) continue
    if (n >= prefix.length && !earlierPartial) {
      return new FrameProtocolError(reason, reason === 'http_request' ? MSG_HTTP_REQUEST : MSG_HTTP_RESPONSE)
    }
    earlierPartial = true
  }
  if (earlierPartial) return n + 1
  const b0 = src[s]!
  if (n < 2 && (b0 === 0x45 || b0 === 0x16)) return 2
  // The message prints the first four bytes, so wait for them.
  if (n < 4) return 4
  const b1 = src[s + 1]!
  const first = `(${javaIntHex(b0)},${javaIntHex(b1)},${javaIntHex(src[s + 2]!)},${javaIntHex(src[s + 3]!)})`
  if (b0 === 0x16 && b1 === 0x03) {
    return new FrameProtocolError('tls_record', `SSL/TLS request received but SSL/TLS is not enabled on this node, got ${first}`)
  }
  return new FrameProtocolError('bad_marker', `invalid internal transport message format, got ${first}`)
}

/**
 * Port of TcpTransport.readMessageLength for a buffer holding the start of a frame: -1 = need
 * more (fewer than 6 bytes), 0 = ping, otherwise the message length. Throws FrameProtocolError
 * exactly where Elasticsearch throws (it also needs 6 bytes before it classifies anything).
 */
export function readMessageLength(buf: Buffer): number {
  if (buf.length < PING_SIZE) return -1
  if (buf[0] !== 0x45 || buf[1] !== 0x53) {
    const r = classifyNonTransport(buf, 0, buf.length)
    // With ≥ 6 bytes every prefix is decided.
    if (r instanceof FrameProtocolError) throw r
    throw new Error('unreachable: undecided classification with 6 bytes')
  }
  const len = buf.readInt32BE(2)
  if (len === PING_DATA_SIZE) return 0
  if (len <= 0) throw new FrameProtocolError('bad_length', `invalid data length: ${len}`)
  return len
}

/** ByteSizeValue-like rendering of the configured limit, for the "exceeds limit of [...]" message. */
export function formatByteSize(n: number): string {
  const units: Array<[number, string]> = [
    [1024 ** 4, 'tb'],
    [1024 ** 3, 'gb'],
    [1024 ** 2, 'mb'],
    [1024, 'kb'],
  ]
  for (const [size, suffix] of units) {
    if (n >= size && n % size === 0) return `${n / size}${suffix}`
  }
  return `${n}b`
}

/** Set.toString of ALLOWED_HANDSHAKE_VERSIONS as InboundDecoder.checkHandshakeVersionCompatibility prints it. */
const ALLOWED_TEXT = `[${ALLOWED_HANDSHAKE_VERSIONS.join(', ')}]`

// inspect() results other than "need k bytes" (k > 0).
const R_PING = -1
const R_HEADER = -2
const R_ERROR = -3

const EMPTY = Buffer.alloc(0)

/** Variable headers up to this size are remembered for reuse (a signature header with its chain is 1.5-6 KB). */
const MEMO_MAX_BYTES = 16 * 1024

/**
 * Push-based decoder for one direction of one connection.
 *
 * Back-pressure: when `header()` returns false the decoder pauses right after that header; the
 * unconsumed rest of the current chunk is kept (a view, not a copy) and processed on `resume()`.
 * Chunks pushed while paused are queued as views, so a paused decoder holds memory proportional to
 * what the caller keeps feeding it: callers should pause the socket while the decoder is paused.
 *
 * Handler callbacks run synchronously inside push()/resume(). push() itself never throws; if a
 * handler callback throws, the exception propagates to the caller of push()/resume() and the
 * decoder marks itself dead (its position in the stream is no longer trustworthy).
 * Calling push() from inside a callback is allowed (the chunk is queued and processed in order).
 */
export class FrameDecoder {
  private readonly handler: FrameHandler
  private readonly maxHeaderSize: number
  private readonly parseVar: boolean
  private readonly fixedOnly: boolean

  /** 23-byte scratch for header prefixes split across chunks; reused, never handed out. */
  private readonly scratch: Buffer = Buffer.allocUnsafe(HEADER_SIZE)
  /** Either `scratch` or a per-frame buffer of exactly 23 + N bytes. */
  private stash: Buffer
  private stashLen = 0

  private current: FrameHeader | null = null
  private bodyRemaining = 0

  private queue: Buffer[] = []
  private qHead = 0
  private queuedBytes = 0
  private _paused = false
  private _dead = false
  private processing = false

  /** The last variable header decoded (a copy of its bytes), see emitHeader. */
  private memo: { readonly bytes: Buffer; readonly isRequest: boolean; readonly version: number; readonly variable: VariableHeader } | null = null

  // Outputs of inspect() for R_HEADER.
  private hTotal = 0
  private hMsgLen = 0
  private hVarSize = 0

  constructor(handler: FrameHandler, opts: DecoderOptions) {
    // Infinity is accepted ("no limit of our own"); NaN and anything below 23 are not.
    if (!(opts.maxHeaderSize >= HEADER_SIZE)) {
      throw new RangeError(`maxHeaderSize must be at least ${HEADER_SIZE}, got ${opts.maxHeaderSize}`)
    }
    this.handler = handler
    this.maxHeaderSize = opts.maxHeaderSize
    this.fixedOnly = opts.fixedHeaderOnly === true
    this.parseVar = opts.parseVariableHeader !== false && !this.fixedOnly
    this.stash = this.scratch
  }

  get paused(): boolean {
    return this._paused
  }

  get dead(): boolean {
    return this._dead
  }

  /** Partial header bytes held + chunk remainders retained while paused. */
  get bufferedBytes(): number {
    return this.stashLen + this.queuedBytes
  }

  /**
   * Feeds bytes. Header views and body slices handed to the handler point into `chunk`, so the
   * caller must not reuse or overwrite a pushed buffer (socket 'data' chunks are never reused).
   */
  push(chunk: Buffer): void {
    if (this._dead || chunk.length === 0) return
    if (this._paused || this.processing) {
      this.queue.push(chunk)
      this.queuedBytes += chunk.length
      return
    }
    this.run(chunk)
  }

  resume(): void {
    if (!this._paused || this._dead) return
    this._paused = false
    if (this.processing) return // a callback resumed us; the running loop continues
    this.run(null)
  }

  private run(first: Buffer | null): void {
    this.processing = true
    try {
      // A frame with an empty body whose header() paused us still owes its frameEnd.
      if (this.current !== null && this.bodyRemaining === 0) this.finishFrame()
      if (first !== null) this.processChunk(first)
      while (!this._paused && !this._dead && this.qHead < this.queue.length) {
        const c = this.queue[this.qHead]!
        this.queue[this.qHead++] = EMPTY
        this.queuedBytes -= c.length
        this.processChunk(c)
      }
      if (this.qHead >= this.queue.length) {
        this.queue.length = 0
        this.qHead = 0
      }
    } catch (e) {
      this.kill()
      throw e
    } finally {
      this.processing = false
    }
  }

  private kill(): void {
    this._dead = true
    this._paused = false
    this.stash = this.scratch
    this.stashLen = 0
    this.queue = []
    this.qHead = 0
    this.queuedBytes = 0
    this.current = null
  }

  private fail(reason: FrameProtocolError['reason'], message: string, cause?: unknown): number {
    this.failWith(new FrameProtocolError(reason, message, cause === undefined ? undefined : { cause }))
    return R_ERROR
  }

  private failWith(e: FrameProtocolError): void {
    if (this._dead) return
    this.kill()
    this.handler.error(e)
  }

  /**
   * Looks at the first `n` bytes of a frame start in `src[s..]`. Returns k > n when k bytes are
   * needed before the next decision, R_PING, R_HEADER (hTotal/hMsgLen set) or R_ERROR (reported).
   * Check order follows spec §1.6 and the brief: marker, ping, length, (legacy handshake from the
   * 19-byte prefix), var header size, header limit, handshake version.
   */
  private inspect(src: Buffer, s: number, n: number): number {
    if (src[s] !== 0x45 || (n >= 2 && src[s + 1] !== 0x53)) {
      const r = classifyNonTransport(src, s, n)
      if (typeof r === 'number') return r
      this.failWith(r)
      return R_ERROR
    }
    if (n < PING_SIZE) return PING_SIZE
    const len = src.readInt32BE(s + 2)
    if (len === PING_DATA_SIZE) return R_PING
    if (len <= 0) return this.fail('bad_length', `invalid data length: ${len}`)
    if (n < BYTES_REQUIRED_FOR_VERSION) return BYTES_REQUIRED_FOR_VERSION
    const status = src[s + 14]!
    const version = src.readInt32BE(s + 15)
    const handshake = (status & Status.HANDSHAKE) !== 0
    if (handshake && version === HANDSHAKE_LEGACY) {
      // 7.x nodes open connections with the 6.8-layout handshake (19-byte fixed header, no
      // variable-header-size field). The remote cluster port (9443) exists only since 8.x and 9.x
      // decoders accept only ALLOWED_HANDSHAKE_VERSIONS, so a 7.x node can never use this port:
      // reject it here, before bytes 19-22 (which are not a size field in this layout) are misread.
      return this.fail(
        'legacy_handshake',
        `Received message from unsupported version: [${version}] allowed versions are: ${ALLOWED_TEXT}`,
      )
    }
    if (n < HEADER_SIZE) return HEADER_SIZE
    const varSize = src.readInt32BE(s + 19)
    if (varSize < 0) return this.fail('bad_var_header_size', `invalid negative variable header size: ${varSize}`)
    const total = HEADER_SIZE + varSize
    if (total > PING_SIZE + len) {
      // Not checked by Elasticsearch (it would misparse the frame later); our own wording.
      return this.fail(
        'bad_var_header_size',
        `invalid variable header size: ${varSize} exceeds the message length ${len} (at most ${Math.max(0, len - MESSAGE_LENGTH_OVERHEAD)})`,
      )
    }
    if (!this.fixedOnly && total > this.maxHeaderSize) {
      // InboundDecoder.headerBytesToRead; decided from the fixed header, before buffering.
      return this.fail('header_too_large', `header size [${total}] exceeds limit of [${formatByteSize(this.maxHeaderSize)}]`)
    }
    if (handshake && !ALLOWED_HANDSHAKE_VERSIONS.includes(version)) {
      // InboundDecoder.checkHandshakeVersionCompatibility
      return this.fail(
        'bad_handshake_version',
        `Received message from unsupported version: [${version}] allowed versions are: ${ALLOWED_TEXT}`,
      )
    }
    if (this.fixedOnly) {
      this.hTotal = HEADER_SIZE
      this.hMsgLen = len
      this.hVarSize = varSize
      return R_HEADER
    }
    if (n < total) return total
    this.hTotal = total
    this.hMsgLen = len
    this.hVarSize = varSize
    return R_HEADER
  }

  /** Copies `count` bytes of `src` at `off` into the stash, growing it to `capacity` if needed. */
  private stashBytes(src: Buffer, off: number, count: number, capacity: number): void {
    if (capacity > this.stash.length) {
      const grown = Buffer.allocUnsafe(capacity)
      this.stash.copy(grown, 0, 0, this.stashLen)
      this.stash = grown
    }
    src.copy(this.stash, this.stashLen, off, off + count)
    this.stashLen += count
  }

  private processChunk(chunk: Buffer): void {
    const len = chunk.length
    let off = 0
    while (off < len) {
      if (this.current !== null) {
        const n = this.bodyRemaining < len - off ? this.bodyRemaining : len - off
        const slice = chunk.subarray(off, off + n)
        off += n
        this.bodyRemaining -= n
        this.handler.body(slice)
        if (this.bodyRemaining === 0) this.finishFrame()
        continue
      }
      if (this.stashLen === 0) {
        // Fast path: the frame start is in this chunk.
        const avail = len - off
        const r = this.inspect(chunk, off, avail)
        if (r === R_PING) {
          this.handler.ping(chunk.subarray(off, off + PING_SIZE))
          off += PING_SIZE
          continue
        }
        if (r === R_HEADER) {
          const total = this.hTotal
          const raw = chunk.subarray(off, off + total)
          off += total
          if (!this.emitHeader(raw, this.hMsgLen, this.hVarSize)) {
            if (!this._dead) this.retain(chunk, off)
            return
          }
          continue
        }
        if (r === R_ERROR) return
        // Need r > avail bytes: keep what we have (bounded: r ≤ maxHeaderSize).
        this.stashBytes(chunk, off, avail, r)
        return
      }
      // Slow path: a frame start is partially stashed.
      for (;;) {
        const r = this.inspect(this.stash, 0, this.stashLen)
        if (r > 0) {
          if (off >= len) return
          const want = r - this.stashLen
          const m = want < len - off ? want : len - off
          this.stashBytes(chunk, off, m, r)
          off += m
          continue
        }
        if (r === R_ERROR) return
        if (r === R_PING) {
          // Only the 6 ping bytes are ever stashed for a ping (we copy up to the decision point).
          const ping = Buffer.from(this.stash.subarray(0, PING_SIZE))
          this.stashLen = 0
          this.handler.ping(ping)
          break
        }
        // R_HEADER: hand out a buffer the handler may keep (never the reused scratch).
        const total = this.hTotal
        const raw = this.stash === this.scratch ? Buffer.from(this.scratch.subarray(0, total)) : this.stash
        this.stash = this.scratch
        this.stashLen = 0
        if (!this.emitHeader(raw, this.hMsgLen, this.hVarSize)) {
          if (!this._dead) this.retain(chunk, off)
          return
        }
        break
      }
    }
  }

  /** Emits the header; returns false when paused or dead. */
  private emitHeader(raw: Buffer, messageLength: number, varHeaderSize: number): boolean {
    const status = raw[14]!
    const version = raw.readInt32BE(15)
    let variable: VariableHeader | null = null
    if (this.parseVar) {
      const bytes = raw.subarray(HEADER_SIZE)
      const isRequest = (status & Status.RESPONSE) === 0
      try {
        const m = this.memo
        // One connection sends the same thread context and action request after request: a byte-identical
        // variable header (same direction and version) decodes to the same (read-only) object.
        if (m !== null && m.bytes.length === bytes.length && m.isRequest === isRequest && m.version === version && m.bytes.equals(bytes)) variable = m.variable
        else {
          variable = parseVariableHeader(bytes, isRequest, version)
          this.memo = bytes.length <= MEMO_MAX_BYTES ? { bytes: Buffer.from(bytes), isRequest, version, variable } : null
        }
      } catch (e) {
        if (e instanceof CodecError) {
          // Elasticsearch would close with the stream's own exception, so its message is ours.
          this.fail('bad_var_header', e.message, e)
          return false
        }
        throw e
      }
    }
    const h = new FrameHeader(raw.readBigInt64BE(6), status, version, messageLength, varHeaderSize, variable)
    this.current = h
    // In fixed-header-only mode the variable header is streamed out as body bytes.
    this.bodyRemaining = this.fixedOnly ? h.bodyLength + varHeaderSize : h.bodyLength
    if (this.handler.header(h, raw) === false) {
      this._paused = true
      return false
    }
    if (this.bodyRemaining === 0) this.finishFrame()
    return true
  }

  private finishFrame(): void {
    const h = this.current!
    this.current = null
    this.handler.frameEnd(h)
  }

  /** Keeps the unconsumed rest of a chunk (a view) at the front of the queue. */
  private retain(chunk: Buffer, off: number): void {
    if (off >= chunk.length) return
    const rest = chunk.subarray(off)
    if (this.qHead > 0) this.queue[--this.qHead] = rest
    else this.queue.unshift(rest)
    this.queuedBytes += rest.length
  }
}
