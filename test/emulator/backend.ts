/**
 * A fake Elasticsearch node on its remote cluster server port (9443), over node:tls.
 *
 * What it does, per socket (spec transport-protocol.md §4, §5, §7):
 *  - pings: answers with the same 6 bytes (a server channel echoes pings);
 *  - TCP handshake (status 0x08) at 7170099 and 8800000: answers with its TransportVersion (and the
 *    release string at 8800000); the frame decoder closes the socket on any other handshake
 *    version, and a requester version below `minimumCompatibleVersion` is closed too, like ES
 *    (no error frame for handshake failures);
 *  - `cluster:internal/remote_cluster/handshake` and `internal:transport/handshake`: answers with an
 *    APPROXIMATION of TransportService.HandshakeResponse (spec §5.2): vInt release Version id,
 *    build hash string, node name string, cluster name string. Real Elasticsearch writes a full
 *    DiscoveryNode where we write only the node name: a deliberate simplification, so only
 *    test/emulator/client.ts can parse this response;
 *  - any other request: echoes the body back (status 0x01 | request's COMPRESS bit, same request id,
 *    same header version, empty thread context), or whatever `onRequest` answers;
 *  - inbound responses are refused like a [9.x] server channel ("server channels do not accept
 *    inbound responses, only requests, closing channel"); framing errors close the socket ("This is
 *    not an HTTP port" is written first for HTTP requests).
 *
 * Memory: without `onRequest`, the echo is streamed (the response header is written as soon as the
 * request header arrives, then every body slice is written back as it arrives, with socket
 * back-pressure) and bodies are hashed incrementally, so an 8 MiB body is never held whole. With
 * `onRequest`, request bodies ARE buffered whole, because the hook receives the body; every answer
 * is then written as one complete frame, so async hooks can never interleave frames.
 */
import { createHash, type Hash } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import tls from 'node:tls'
import {
  FrameDecoder,
  HANDSHAKE_V9,
  REMOTE_CLUSTER_HANDSHAKE_ACTION,
  Status,
  StreamWriter,
  TRANSPORT_HANDSHAKE_ACTION,
  encodeErrorFrame,
  encodeFrame,
  encodeFrameHeader,
  encodeTcpHandshakeResponse,
  parseTcpHandshakeRequestBody,
  releaseForTransportVersion,
  type DecodedHeader,
  type FrameProtocolError,
  type JavaException,
} from '../../src/codec/index.js'

export interface BackendTlsOptions {
  key: string | Buffer
  cert: string | Buffer
  ca?: string | Buffer | Array<string | Buffer>
  requestCert?: boolean
  /** Only meaningful with requestCert; default true (like node:tls). */
  rejectUnauthorized?: boolean
}

/**
 * What onRequest may answer: a body (sent as a normal response), an exception (sent as an error
 * frame), 'close' (destroy the socket, no answer), 'no_reply' (never answer), or undefined (default
 * behaviour: handshake answer or echo).
 */
export type BackendAnswer = Buffer | JavaException | 'close' | 'no_reply' | RawAnswer | undefined

/** Hostile/edge tests: these bytes are written as they are, one write per event-loop turn (so TLS records split). */
export interface RawAnswer {
  readonly rawChunks: (h: DecodedHeader) => Buffer[]
}

function isRawAnswer(a: unknown): a is RawAnswer {
  return typeof a === 'object' && a !== null && 'rawChunks' in a
}

export interface BackendOptions {
  tls: BackendTlsOptions
  clusterName: string
  nodeName?: string
  /** Current TransportVersion of this node; default 9250003 (9.3.0). */
  transportVersion?: number
  /** Release string, default derived from transportVersion ('9.3.0' for the default). */
  release?: string
  host?: '127.0.0.1'
  /** Requesters below this TransportVersion are refused at the TCP handshake (default 7170099: everything 8.x+). */
  minimumCompatibleVersion?: number
  buildHash?: string
  maxHeaderSize?: number
  onRequest?: (h: DecodedHeader, body: Buffer) => BackendAnswer | Promise<BackendAnswer>
}

export interface RecordedRequest {
  connectionId: number
  action: string | null
  requestHeaders: Record<string, string>
  requestId: bigint
  status: number
  version: number
  isHandshake: boolean
  bodyLength: number
  bodySha256: string
}

export interface RecordedHandshake {
  connectionId: number
  handshakeVersion: number
  requesterVersion: number
  requesterRelease: string | null
  /** What we answered, or null when we closed the socket instead. */
  answeredVersion: number | null
}

export interface Backend {
  readonly host: string
  readonly port: number
  readonly clusterName: string
  readonly nodeName: string
  readonly transportVersion: number
  readonly release: string
  readonly requests: RecordedRequest[]
  readonly handshakes: RecordedHandshake[]
  readonly protocolErrors: Array<{ connectionId: number; error: FrameProtocolError | Error }>
  /** Total TLS connections accepted (secure handshake completed). */
  readonly connections: number
  readonly activeConnections: number
  readonly pingsAnswered: number
  /** Per accepted connection: SNI sent by the client, client certificate subject (with requestCert). */
  readonly connectionInfo: Array<{ connectionId: number; servername: string | null; peerSubject: string | null; authorized: boolean }>
  /** Resolves once no connection is open (event-driven, no polling). */
  idle(): Promise<void>
  close(): Promise<void>
}

/** Release string 'M.m.p' → legacy Version id M_mm_pp_99 (what Version.writeVersion carries; UNVERIFIED as vInt, spec §12 item 5). */
export function releaseVersionId(release: string): number {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(release)
  if (!m) return 0
  return Number(m[1]) * 1_000_000 + Number(m[2]) * 10_000 + Number(m[3]) * 100 + 99
}

function defaultRelease(tv: number): string {
  const r = releaseForTransportVersion(tv)
  return r === null ? '9.3.0' : r.replace(/\.x$/, '.0')
}

/** Body of our approximate HandshakeResponse (see module doc). */
export function encodeRemoteHandshakeResponseBody(p: { release: string; buildHash: string; nodeName: string; clusterName: string }): Buffer {
  const w = new StreamWriter(64)
  w.writeVInt(releaseVersionId(p.release))
  w.writeString(p.buildHash)
  w.writeString(p.nodeName)
  w.writeString(p.clusterName)
  return w.toBuffer()
}

function isJavaException(a: unknown): a is JavaException {
  return typeof a === 'object' && a !== null && !Buffer.isBuffer(a) && 'type' in a
}

type Mode = 'tcp_handshake' | 'stream_echo' | 'buffer'

export async function startBackend(opts: BackendOptions): Promise<Backend> {
  const transportVersion = opts.transportVersion ?? 9250003
  const release = opts.release ?? defaultRelease(transportVersion)
  const nodeName = opts.nodeName ?? 'backend-node'
  const buildHash = opts.buildHash ?? 'emulator'
  const minimumCompatible = opts.minimumCompatibleVersion ?? 7170099
  const requests: RecordedRequest[] = []
  const handshakes: RecordedHandshake[] = []
  const protocolErrors: Backend['protocolErrors'] = []
  const connectionInfo: Backend['connectionInfo'] = []
  let idleWaiters: Array<() => void> = []
  const checkIdle = (): void => {
    if (sockets.size > 0) return
    const w = idleWaiters
    idleWaiters = []
    for (const f of w) f()
  }
  const sockets = new Set<tls.TLSSocket>()
  let connections = 0
  let pingsAnswered = 0

  const server = tls.createServer({
    key: opts.tls.key,
    cert: opts.tls.cert,
    ...(opts.tls.ca !== undefined ? { ca: opts.tls.ca } : {}),
    requestCert: opts.tls.requestCert ?? false,
    rejectUnauthorized: opts.tls.rejectUnauthorized ?? true,
  })

  server.on('secureConnection', (socket: tls.TLSSocket) => {
    const connectionId = ++connections
    sockets.add(socket)
    socket.on('close', () => {
      sockets.delete(socket)
      checkIdle()
    })
    socket.on('error', () => {
      /* peers vanish in hostile tests; 'close' follows */
    })
    const peer = opts.tls.requestCert ? socket.getPeerCertificate() : null
    const sni = (socket as tls.TLSSocket & { servername?: string | false }).servername
    connectionInfo.push({
      connectionId,
      servername: typeof sni === 'string' ? sni : null,
      peerSubject: peer && peer.subject ? Object.entries(peer.subject).map(([k, v]) => `${k}=${String(v)}`).join(', ') : null,
      authorized: socket.authorized,
    })

    let mode: Mode = 'buffer'
    let hash: Hash | null = null
    let chunks: Buffer[] = []

    let waitingForDrain = false
    const write = (b: Buffer): void => {
      if (socket.destroyed) return
      if (!socket.write(b) && !waitingForDrain) {
        // Back-pressure: stop reading until the peer drains our echo (one listener, however many writes).
        waitingForDrain = true
        socket.pause()
        socket.once('drain', () => {
          waitingForDrain = false
          socket.resume()
        })
      }
    }

    const answer = (h: DecodedHeader, a: BackendAnswer, body: Buffer): void => {
      if (socket.destroyed || a === 'no_reply') return
      if (a === 'close') {
        socket.destroy()
        return
      }
      if (isRawAnswer(a)) {
        const chunks = a.rawChunks(h)
        const next = (i: number): void => {
          if (i >= chunks.length || socket.destroyed) return
          write(chunks[i]!)
          setImmediate(() => next(i + 1))
        }
        next(0)
        return
      }
      if (isJavaException(a)) {
        write(encodeErrorFrame(h.requestId, h.version, a))
        return
      }
      const action = h.variable?.action ?? null
      let out: Buffer
      let status: number = Status.RESPONSE
      if (a !== undefined) out = a
      else if (action === REMOTE_CLUSTER_HANDSHAKE_ACTION || action === TRANSPORT_HANDSHAKE_ACTION) {
        out = encodeRemoteHandshakeResponseBody({ release, buildHash, nodeName, clusterName: opts.clusterName })
      } else {
        out = body // echo: the body goes back as it came, so the COMPRESS bit does too
        status |= h.status & Status.COMPRESS
      }
      write(encodeFrame({ requestId: h.requestId, status, version: h.version, body: out }))
    }

    const decoder = new FrameDecoder(
      {
        ping(bytes) {
          pingsAnswered++
          write(Buffer.from(bytes))
        },
        header(h) {
          if (!h.isRequest) {
            protocolErrors.push({ connectionId, error: new Error('server channels do not accept inbound responses, only requests, closing channel') })
            socket.destroy()
            return false
          }
          hash = createHash('sha256')
          chunks = []
          const action = h.variable?.action ?? null
          if (h.isHandshake) mode = 'tcp_handshake'
          else if (opts.onRequest || action === REMOTE_CLUSTER_HANDSHAKE_ACTION || action === TRANSPORT_HANDSHAKE_ACTION) mode = 'buffer'
          else {
            mode = 'stream_echo'
            write(encodeFrameHeader({ requestId: h.requestId, status: Status.RESPONSE | (h.status & Status.COMPRESS), version: h.version }, h.bodyLength).toBuffer())
          }
          return true
        },
        body(slice) {
          hash!.update(slice)
          if (mode === 'stream_echo') write(slice)
          else chunks.push(slice)
        },
        frameEnd(h) {
          const body = mode === 'stream_echo' ? Buffer.alloc(0) : Buffer.concat(chunks)
          chunks = []
          requests.push({
            connectionId,
            action: h.variable?.action ?? null,
            requestHeaders: Object.fromEntries(h.variable?.requestHeaders ?? []),
            requestId: h.requestId,
            status: h.status,
            version: h.version,
            isHandshake: h.isHandshake,
            bodyLength: h.bodyLength,
            bodySha256: hash!.digest('hex'),
          })
          if (mode === 'tcp_handshake') return tcpHandshake(h, body)
          if (mode === 'stream_echo') return
          if (!opts.onRequest) return answer(h, undefined, body)
          let a: BackendAnswer | Promise<BackendAnswer>
          try {
            a = opts.onRequest(h, body)
          } catch (e) {
            protocolErrors.push({ connectionId, error: e as Error })
            socket.destroy()
            return
          }
          if (a instanceof Promise) {
            a.then(
              (v) => answer(h, v, body),
              (e: unknown) => {
                protocolErrors.push({ connectionId, error: e as Error })
                socket.destroy()
              },
            )
          } else answer(h, a, body)
        },
        error(e) {
          protocolErrors.push({ connectionId, error: e })
          if (e.reason === 'http_request') socket.end('This is not an HTTP port')
          else socket.destroy()
        },
      },
      { maxHeaderSize: opts.maxHeaderSize ?? 16 * 1024 * 1024 },
    )

    const tcpHandshake = (h: DecodedHeader, body: Buffer): void => {
      let requester: { transportVersion: number; releaseVersion: string | null }
      try {
        requester = parseTcpHandshakeRequestBody(body, h.version)
      } catch (e) {
        protocolErrors.push({ connectionId, error: e as Error })
        socket.destroy()
        return
      }
      const record: RecordedHandshake = {
        connectionId,
        handshakeVersion: h.version,
        requesterVersion: requester.transportVersion,
        requesterRelease: requester.releaseVersion,
        answeredVersion: null,
      }
      handshakes.push(record)
      if (requester.transportVersion < minimumCompatible) {
        // TransportHandshaker.ensureCompatibleVersion: "Rejecting unreadable transport handshake", close, no error frame.
        socket.destroy()
        return
      }
      // Newer or equal requester → our own version; older → its "best known version", approximated
      // by the requester's own id (we know no id table).
      const answered = requester.transportVersion >= transportVersion ? transportVersion : requester.transportVersion
      record.answeredVersion = answered
      write(
        encodeTcpHandshakeResponse({
          requestId: h.requestId,
          handshakeVersion: h.version,
          transportVersion: answered,
          ...(h.version >= HANDSHAKE_V9 ? { releaseVersion: release } : {}),
        }),
      )
    }

    socket.on('data', (chunk: Buffer) => decoder.push(chunk))
  })

  server.on('tlsClientError', () => {
    /* e.g. a client that rejects our certificate; nothing to do */
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address() as AddressInfo

  return {
    host: address.address,
    port: address.port,
    clusterName: opts.clusterName,
    nodeName,
    transportVersion,
    release,
    requests,
    handshakes,
    protocolErrors,
    connectionInfo,
    get connections() {
      return connections
    },
    get activeConnections() {
      return sockets.size
    },
    get pingsAnswered() {
      return pingsAnswered
    },
    idle() {
      return sockets.size === 0 ? Promise.resolve() : new Promise<void>((resolve) => idleWaiters.push(resolve))
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      for (const s of sockets) s.destroy()
      await closed
    },
  }
}
