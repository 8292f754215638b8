/**
 * A client that behaves like an Elasticsearch local cluster in proxy mode on ONE socket
 * (spec transport-protocol.md §8.1): TLS connect (SNI = servername) → TCP handshake → remote
 * cluster handshake carrying the `_cross_cluster_access_*` headers → ordinary requests, pipelined
 * and matched by request id.
 *
 * Deliberate simplifications: the remote-cluster handshake response is parsed in the emulator's
 * approximate format (see backend.ts), so against a real node `clusterName` would not parse; the
 * negotiated version is min(ours, theirs) rather than ES's "best known version" (same result for
 * the ids used in tests); no compression codec: `compress: true` only sets the status bit and the
 * body bytes are sent as given.
 */
import tls from 'node:tls'
import {
  FrameDecoder,
  HANDSHAKE_V9,
  REMOTE_CLUSTER_HANDSHAKE_ACTION,
  Status,
  StreamReader,
  TRANSPORT_HANDSHAKE_ACTION,
  encodeFrame,
  encodePing,
  encodeTcpHandshakeRequest,
  formatException,
  parseTcpHandshakeResponseBody,
  readException,
  releaseForTransportVersion,
  toJavaException,
  type DecodedException,
  type DecodedHeader,
  type FrameProtocolError,
  type JavaException,
} from '../../src/codec/index.js'

export interface ClientOptions {
  host: string
  port: number
  /** SNI (cluster.remote.<alias>.server_name). */
  servername?: string
  ca?: string | Buffer | Array<string | Buffer>
  rejectUnauthorized?: boolean
  /** Client certificate for mutual TLS. */
  cert?: string | Buffer
  key?: string | Buffer
  /** Custom hostname verification. Default: verify `host` (ES verifies the proxy_address host, not server_name). */
  checkServerIdentity?: tls.ConnectionOptions['checkServerIdentity']
  handshakeVersion?: 7170099 | 8800000
  /** Our TransportVersion; default 9250003 (9.3.0). */
  transportVersion?: number
  /** Release string sent in v8800000 handshakes; default derived from transportVersion. */
  release?: string
  /** Full `_cross_cluster_access_credentials` value, e.g. 'ApiKey …'. */
  credentials?: string
  subjectInfo?: string
  signature?: string
  /** Added to every ordinary request (after the access headers). */
  extraHeaders?: Record<string, string>
  /**
   * 'full' (default): TCP handshake, then the remote cluster handshake (`internal:transport/handshake`
   * when no credentials are given, like a certificate-model connection); 'tcp': TCP handshake only;
   * 'none': TLS only.
   */
  handshake?: 'full' | 'tcp' | 'none'
  /** Write every outgoing frame one byte at a time (setImmediate between bytes). */
  writeOneByteAtATime?: boolean
  maxHeaderSize?: number
}

export interface RequestOptions {
  headers?: Record<string, string>
  /** Sets the COMPRESS status bit (the body is sent as given). */
  compress?: boolean
  /** Attach the configured `_cross_cluster_access_*` and extra headers (default true). */
  accessHeaders?: boolean
  /** Overrides for hostile tests. */
  requestId?: bigint
  version?: number
}

export interface TransportResponse {
  body: Buffer
  header: DecodedHeader
}

export interface RemoteHandshakeInfo {
  releaseVersionId: number
  buildHash: string
  nodeName: string
  clusterName: string
}

/** An error response: carries the decoded exception (and its JavaException shape when it has one). */
export class TransportError extends Error {
  readonly exception: DecodedException | null
  readonly javaException: JavaException | null
  readonly header: DecodedHeader
  constructor(header: DecodedHeader, exception: DecodedException | null, parseError?: unknown) {
    super(exception ? formatException(exception) : `unparseable error response: ${String(parseError)}`)
    this.name = 'TransportError'
    this.header = header
    this.exception = exception
    this.javaException = toJavaException(exception)
  }
}

export interface TransportClient {
  readonly socket: tls.TLSSocket
  readonly handshakeVersion: number
  readonly transportVersion: number
  /** Version used in our frame headers after the TCP handshake (null before / without it). */
  readonly negotiatedVersion: number | null
  readonly remoteTransportVersion: number | null
  readonly remoteRelease: string | null
  readonly remoteHandshake: RemoteHandshakeInfo | null
  readonly clusterName: string | null
  readonly accessHeaders: Readonly<Record<string, string>>
  /** Frames the peer sent that nobody asked for (ES ignores unknown responses; it closes on inbound requests). */
  readonly unsolicited: { pings: number; responses: DecodedHeader[]; requests: DecodedHeader[] }
  readonly protocolError: FrameProtocolError | null
  readonly pendingRequests: number
  tcpHandshake(): Promise<{ transportVersion: number; releaseVersion: string | null }>
  remoteClusterHandshake(): Promise<RemoteHandshakeInfo>
  request(action: string, body: Buffer, opts?: RequestOptions): Promise<TransportResponse>
  ping(): Promise<void>
  writeRaw(buf: Buffer): Promise<void>
  readonly closed: Promise<{ hadError: boolean }>
  close(): Promise<void>
}

interface Pending {
  resolve: (r: TransportResponse) => void
  reject: (e: Error) => void
}

function parseRemoteHandshakeBody(body: Buffer): RemoteHandshakeInfo {
  const r = new StreamReader(body)
  const info = { releaseVersionId: r.readVInt(), buildHash: r.readString(), nodeName: r.readString(), clusterName: r.readString() }
  if (r.remaining !== 0) throw new Error(`remote handshake response has ${r.remaining} trailing bytes`)
  return info
}

class Client implements TransportClient {
  readonly socket: tls.TLSSocket
  readonly handshakeVersion: number
  readonly transportVersion: number
  readonly release: string
  negotiatedVersion: number | null = null
  remoteTransportVersion: number | null = null
  remoteRelease: string | null = null
  remoteHandshake: RemoteHandshakeInfo | null = null
  readonly accessHeaders: Record<string, string>
  readonly unsolicited = { pings: 0, responses: [] as DecodedHeader[], requests: [] as DecodedHeader[] }
  protocolError: FrameProtocolError | null = null
  readonly closed: Promise<{ hadError: boolean }>

  private readonly opts: ClientOptions
  private nextId = 1n
  private readonly pending = new Map<bigint, Pending>()
  private readonly pingWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = []
  private chain: Promise<void> = Promise.resolve()
  private isClosed = false
  private current: { pending: Pending | null; chunks: Buffer[] } | null = null

  constructor(socket: tls.TLSSocket, opts: ClientOptions) {
    this.socket = socket
    this.opts = opts
    this.handshakeVersion = opts.handshakeVersion ?? HANDSHAKE_V9
    this.transportVersion = opts.transportVersion ?? 9250003
    this.release = opts.release ?? (releaseForTransportVersion(this.transportVersion) ?? '9.3.0').replace(/\.x$/, '.0')
    this.accessHeaders = {
      ...(opts.credentials !== undefined ? { _cross_cluster_access_credentials: opts.credentials } : {}),
      ...(opts.subjectInfo !== undefined ? { _cross_cluster_access_subject_info: opts.subjectInfo } : {}),
      ...(opts.signature !== undefined ? { _cross_cluster_access_signature: opts.signature } : {}),
      ...(opts.extraHeaders ?? {}),
    }
    const decoder = new FrameDecoder(
      {
        ping: () => {
          const w = this.pingWaiters.shift()
          if (w) w.resolve()
          else this.unsolicited.pings++
        },
        header: (h) => {
          if (h.isRequest) {
            // [9.x] "client channels do not accept inbound requests, only responses, closing channel"
            this.unsolicited.requests.push(h)
            this.socket.destroy()
            return false
          }
          const p = this.pending.get(h.requestId) ?? null
          if (p === null) this.unsolicited.responses.push(h)
          else this.pending.delete(h.requestId)
          this.current = { pending: p, chunks: [] }
          return true
        },
        body: (slice) => {
          if (this.current?.pending) this.current.chunks.push(slice)
        },
        frameEnd: (h) => {
          const cur = this.current!
          this.current = null
          if (!cur.pending) return
          const body = Buffer.concat(cur.chunks)
          if (!h.isError) {
            cur.pending.resolve({ body, header: h })
            return
          }
          let ex: DecodedException | null = null
          let parseError: unknown
          try {
            ex = readException(new StreamReader(body))
          } catch (e) {
            parseError = e
          }
          cur.pending.reject(new TransportError(h, ex, parseError))
        },
        error: (e) => {
          this.protocolError = e
          this.socket.destroy(e)
        },
      },
      { maxHeaderSize: opts.maxHeaderSize ?? 16 * 1024 * 1024 },
    )
    socket.on('data', (chunk: Buffer) => decoder.push(chunk))
    socket.on('error', () => {
      /* reported through `closed` */
    })
    this.closed = new Promise((resolve) => {
      socket.once('close', (hadError: boolean) => {
        this.isClosed = true
        const err = new Error('connection closed')
        for (const p of this.pending.values()) p.reject(err)
        this.pending.clear()
        for (const w of this.pingWaiters.splice(0)) w.reject(err)
        resolve({ hadError: hadError || this.protocolError !== null })
      })
    })
  }

  get clusterName(): string | null {
    return this.remoteHandshake?.clusterName ?? null
  }

  get pendingRequests(): number {
    return this.pending.size
  }

  private send(buf: Buffer): Promise<void> {
    if (!this.opts.writeOneByteAtATime) {
      return new Promise((resolve) => {
        if (this.socket.destroyed) return resolve()
        this.socket.write(buf, () => resolve())
      })
    }
    // Serialised so frames never interleave; ordering never depends on timing.
    const next = this.chain.then(async () => {
      for (let i = 0; i < buf.length && !this.socket.destroyed; i++) {
        await new Promise<void>((resolve) => this.socket.write(buf.subarray(i, i + 1), () => setImmediate(resolve)))
      }
    })
    this.chain = next.catch(() => {})
    return next
  }

  private expect(requestId: bigint): Promise<TransportResponse> {
    if (this.isClosed) return Promise.reject(new Error('connection closed'))
    return new Promise((resolve, reject) => this.pending.set(requestId, { resolve, reject }))
  }

  async tcpHandshake(): Promise<{ transportVersion: number; releaseVersion: string | null }> {
    const requestId = this.nextId++
    const response = this.expect(requestId)
    void this.send(
      encodeTcpHandshakeRequest({
        requestId,
        handshakeVersion: this.handshakeVersion,
        transportVersion: this.transportVersion,
        releaseVersion: this.release,
      }),
    )
    const { body, header } = await response
    if (!header.isHandshake) throw new Error('TCP handshake answered by a non-handshake frame')
    const parsed = parseTcpHandshakeResponseBody(body, this.handshakeVersion)
    this.remoteTransportVersion = parsed.transportVersion
    this.remoteRelease = parsed.releaseVersion
    this.negotiatedVersion = Math.min(this.transportVersion, parsed.transportVersion)
    return parsed
  }

  async remoteClusterHandshake(): Promise<RemoteHandshakeInfo> {
    const action = this.opts.credentials !== undefined ? REMOTE_CLUSTER_HANDSHAKE_ACTION : TRANSPORT_HANDSHAKE_ACTION
    // HandshakeRequest is an empty TransportRequest: just the empty parent task id.
    const { body } = await this.request(action, Buffer.from([0]))
    this.remoteHandshake = parseRemoteHandshakeBody(body)
    return this.remoteHandshake
  }

  request(action: string, body: Buffer, opts: RequestOptions = {}): Promise<TransportResponse> {
    const requestId = opts.requestId ?? this.nextId++
    const headers = { ...(opts.accessHeaders === false ? {} : this.accessHeaders), ...(opts.headers ?? {}) }
    const frame = encodeFrame({
      requestId,
      status: opts.compress ? Status.COMPRESS : 0,
      version: opts.version ?? this.negotiatedVersion ?? this.transportVersion,
      requestHeaders: headers,
      action,
      body,
    })
    const response = this.expect(requestId)
    void this.send(frame)
    return response
  }

  ping(): Promise<void> {
    if (this.isClosed) return Promise.reject(new Error('connection closed'))
    const p = new Promise<void>((resolve, reject) => this.pingWaiters.push({ resolve, reject }))
    void this.send(encodePing())
    return p
  }

  writeRaw(buf: Buffer): Promise<void> {
    return this.send(buf)
  }

  async close(): Promise<void> {
    this.socket.destroy()
    await this.closed
  }
}

export async function connectClient(opts: ClientOptions): Promise<TransportClient> {
  const socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
    const s = tls.connect({
      host: opts.host,
      port: opts.port,
      ...(opts.servername !== undefined ? { servername: opts.servername } : {}),
      ...(opts.ca !== undefined ? { ca: opts.ca } : {}),
      ...(opts.cert !== undefined ? { cert: opts.cert } : {}),
      ...(opts.key !== undefined ? { key: opts.key } : {}),
      // Like Elasticsearch (spec §8.2): hostname verification uses the proxy_address host, never
      // server_name; SNI carries server_name. Node would verify against servername by default.
      checkServerIdentity: opts.checkServerIdentity ?? ((_servername, cert) => tls.checkServerIdentity(opts.host, cert)),
      rejectUnauthorized: opts.rejectUnauthorized ?? true,
    })
    const onError = (e: Error) => {
      s.destroy()
      reject(e)
    }
    s.once('error', onError)
    s.once('secureConnect', () => {
      s.off('error', onError)
      resolve(s)
    })
  })
  const client = new Client(socket, opts)
  const mode = opts.handshake ?? 'full'
  try {
    if (mode !== 'none') await client.tcpHandshake()
    if (mode === 'full') await client.remoteClusterHandshake()
  } catch (e) {
    await client.close()
    throw e
  }
  return client
}
