/**
 * `rcgw probe`: connects to a remote cluster port (the gateway's, or an Elasticsearch node's 9443) the way an
 * Elasticsearch local cluster in proxy mode does (transport-protocol.md §8.1), step by step, and says which step
 * fails and why:
 *
 *   tcp connect → tls (SNI = server_name, verification like verification_mode: full) → TCP handshake
 *   (internal:tcp/handshake, §5.1) → remote cluster handshake (cluster:internal/remote_cluster/handshake with the
 *   _cross_cluster_access_* headers, §5.2, cross-cluster-auth.md §1) → optionally one request (--action).
 *
 * Exit code 0 when every step succeeded, 1 when one failed (verdict `FAILED at <step>: <reason>`), 2 on usage
 * errors. Error frames are decoded with the codec's readException and printed as an exception chain.
 */
import { X509Certificate, createPrivateKey, sign as cryptoSign, type KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'
import net from 'node:net'
import tls from 'node:tls'
import { performance } from 'node:perf_hooks'
import {
  FrameDecoder,
  HANDSHAKE_V8,
  HANDSHAKE_V9,
  REMOTE_CLUSTER_HANDSHAKE_ACTION,
  StreamReader,
  encodeFrame,
  encodeTcpHandshakeRequest,
  formatException,
  parseTcpHandshakeResponseBody,
  readException,
  releaseForTransportVersion,
  type DecodedException,
  type DecodedHeader,
} from '../codec/index.js'
import { encodeSignatureHeader, signablePayload } from '../auth/signature.js'
import { certificateSubjectRfc2253 } from '../auth/dn.js'
import { parseDuration, formatDuration } from '../config/units.js'
import { UsageError, list, optional, parseOptions, required, type CliIo, type ParsedOptions } from './args.js'

export const PROBE_USAGE = `usage: rcgw probe --address HOST:PORT --credentials ENCODED [options]

Connects like an Elasticsearch local cluster in proxy mode and reports each step.

  --address HOST:PORT         cluster.remote.<alias>.proxy_address (the gateway, or a node's remote cluster port)
  --server-name NAME          cluster.remote.<alias>.server_name (sent as SNI)
  --ca FILE                   CA certificate(s) to verify the server with (xpack.security.remote_cluster_client.ssl
                              .certificate_authorities); default: Node's built-in public CAs
  --verification-mode MODE    full (default: chain + hostname of the --address host) | certificate | none
  --insecure                  same as --verification-mode none
  --client-cert FILE --client-key FILE   TLS client certificate (gateway tls.client_authentication)
  --credentials ENCODED       the encoded cross-cluster API key (cluster.remote.<alias>.credentials);
                              default: the environment variable RCGW_PROBE_CREDENTIALS
  --subject-info BASE64       _cross_cluster_access_subject_info (default: a placeholder)
  --signing-cert FILE --signing-key FILE  sign the headers as cluster.remote.<alias>.signing.* does
  --action NAME               after the handshakes, send one request with an empty body (e.g. cluster:monitor/state)
  --handshake-version V       8800000 (9.x, default) or 7170099 (8.x)
  --transport-version ID      the TransportVersion to announce (default 9250003 = 9.3.0)
  --timeout DURATION          per step (default 10s)
`

/** What every step can be: a failure names one of these. */
export type StepName = 'tcp connect' | 'tls' | 'tcp handshake' | 'remote cluster handshake' | 'request'

export type VerificationMode = 'full' | 'certificate' | 'none'

export interface ProbeOptions {
  readonly host: string
  readonly port: number
  readonly serverName: string | null
  /** PEM CA certificates; null = Node's default trust store. */
  readonly ca: { readonly pem: string; readonly source: string } | null
  readonly verificationMode: VerificationMode
  readonly clientCert: { readonly cert: string; readonly key: string } | null
  /** The encoded API key (without the `ApiKey ` prefix). */
  readonly credentials: string
  readonly subjectInfo: string
  readonly subjectInfoIsPlaceholder: boolean
  readonly signing: SigningMaterial | null
  readonly action: string | null
  readonly handshakeVersion: number
  readonly transportVersion: number
  readonly timeoutMs: number
}

export interface SigningMaterial {
  /** DER certificates, leaf first (cluster.remote.<alias>.signing.certificate may hold a chain). */
  readonly chain: readonly Buffer[]
  readonly leaf: X509Certificate
  readonly key: KeyObject
  readonly algorithm: 'SHA256withRSA' | 'SHA256withECDSA'
}

export type ProbeResult = { readonly ok: true } | { readonly ok: false; readonly step: StepName; readonly reason: string }

/** Readable on sight; the gateway forwards it untouched, a real node rejects it after the API key is accepted. */
export const PLACEHOLDER_SUBJECT_INFO = Buffer.from('rcgw probe: placeholder, not a serialized Authentication').toString('base64')

/**
 * The TransportVersion a signature header first travels with (add_cross_cluster_api_key_signature,
 * transport/definitions/referable/add_cross_cluster_api_key_signature.csv; transport-protocol.md §3.1).
 */
const SIGNATURE_TRANSPORT_VERSION = 9191000
const DEFAULT_TRANSPORT_VERSION = 9250003

// --- command ----------------------------------------------------------------------------------------------

const SPEC = {
  values: [
    'address', 'server-name', 'ca', 'verification-mode', 'client-cert', 'client-key', 'credentials', 'subject-info',
    'signing-cert', 'signing-key', 'action', 'handshake-version', 'transport-version', 'timeout',
  ],
  flags: ['insecure', 'help'],
}

export async function probeCommand(argv: readonly string[], io: CliIo, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let opts: ProbeOptions
  try {
    const parsed = parseOptions(argv, SPEC)
    if (parsed.flags.has('help') || argv[0] === 'help') {
      io.out(PROBE_USAGE)
      return 0
    }
    if (parsed.positionals.length > 0) throw new UsageError(`unexpected argument "${parsed.positionals[0]}"`)
    opts = probeOptions(parsed, env)
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`rcgw probe: ${e.message}\n${PROBE_USAGE}`)
      return 2
    }
    throw e
  }
  const result = await runProbe(opts, io)
  return result.ok ? 0 : 1
}

function readFile(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch (e) {
    throw new UsageError(`cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`)
  }
}

/** Splits host:port / [v6]:port (the syntax of cluster.remote.<alias>.proxy_address). */
export function parseAddress(v: string): { host: string; port: number } {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:\s[\]]+)):(\d{1,5})$/.exec(v.trim())
  const port = m ? Number(m[3]) : NaN
  if (!m || !(port >= 1 && port <= 65535)) throw new UsageError(`--address must be host:port, got "${v}"`)
  return { host: (m[1] ?? m[2])!, port }
}

export function probeOptions(p: ParsedOptions, env: NodeJS.ProcessEnv): ProbeOptions {
  const { host, port } = parseAddress(required(p, 'address'))
  let mode = (optional(p, 'verification-mode') ?? 'full') as VerificationMode
  if (!['full', 'certificate', 'none'].includes(mode)) throw new UsageError(`--verification-mode must be full, certificate or none, got "${mode}"`)
  if (p.flags.has('insecure')) mode = 'none'
  const caFiles = list(p, 'ca')
  const ca = caFiles.length === 0 ? null : { pem: caFiles.map((f) => readFile(f, 'CA file')).join('\n'), source: caFiles.join(', ') }
  const certFile = optional(p, 'client-cert')
  const keyFile = optional(p, 'client-key')
  if ((certFile === undefined) !== (keyFile === undefined)) throw new UsageError('--client-cert and --client-key go together')
  const clientCert = certFile !== undefined && keyFile !== undefined ? { cert: readFile(certFile, 'client certificate'), key: readFile(keyFile, 'client key') } : null

  let credentials = optional(p, 'credentials') ?? env.RCGW_PROBE_CREDENTIALS ?? ''
  // Accept the header form too; Elasticsearch itself always adds the prefix (ApiKeyService.withApiKeyPrefix).
  if (/^apikey /i.test(credentials)) credentials = credentials.slice(7)
  if (credentials === '') throw new UsageError('--credentials (or RCGW_PROBE_CREDENTIALS) is required: the encoded cross-cluster API key')

  const subjectInfoArg = optional(p, 'subject-info')
  const signing = signingMaterial(optional(p, 'signing-cert'), optional(p, 'signing-key'))

  const hv = Number(optional(p, 'handshake-version') ?? HANDSHAKE_V9)
  if (hv !== HANDSHAKE_V9 && hv !== HANDSHAKE_V8) throw new UsageError(`--handshake-version must be ${HANDSHAKE_V9} or ${HANDSHAKE_V8}`)
  const tvArg = optional(p, 'transport-version')
  const tv = tvArg === undefined ? DEFAULT_TRANSPORT_VERSION : Number(tvArg)
  if (!Number.isInteger(tv) || tv <= 0 || tv > 0x7fffffff) throw new UsageError(`--transport-version must be a TransportVersion id, got "${tvArg}"`)
  const timeoutMs = parseDuration(optional(p, 'timeout') ?? '10s')
  if (timeoutMs === null || timeoutMs <= 0) throw new UsageError(`--timeout must be a duration such as 10s`)

  return {
    host,
    port,
    serverName: optional(p, 'server-name') ?? null,
    ca,
    verificationMode: mode,
    clientCert,
    credentials,
    subjectInfo: subjectInfoArg ?? PLACEHOLDER_SUBJECT_INFO,
    subjectInfoIsPlaceholder: subjectInfoArg === undefined,
    signing,
    action: optional(p, 'action') ?? null,
    handshakeVersion: hv,
    transportVersion: tv,
    timeoutMs,
  }
}

function signingMaterial(certFile: string | undefined, keyFile: string | undefined): SigningMaterial | null {
  if (certFile === undefined && keyFile === undefined) return null
  if (certFile === undefined || keyFile === undefined) throw new UsageError('--signing-cert and --signing-key go together')
  const pem = readFile(certFile, 'signing certificate')
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []
  if (blocks.length === 0) throw new UsageError(`${certFile} holds no PEM certificate`)
  const certs = blocks.map((b) => new X509Certificate(b))
  let key: KeyObject
  try {
    key = createPrivateKey(readFile(keyFile, 'signing key'))
  } catch (e) {
    if (e instanceof UsageError) throw e
    throw new UsageError(`cannot load the signing key ${keyFile}: ${(e as Error).message}`)
  }
  const leaf = certs[0]!
  if (!leaf.checkPrivateKey(key)) throw new UsageError(`the signing key ${keyFile} does not belong to the first certificate in ${certFile}`)
  // CrossClusterApiKeySignatureManager: SIGNATURE_ALGORITHM_BY_TYPE, RSA and EC only (cross-cluster-auth.md §2.1).
  const t = key.asymmetricKeyType
  if (t !== 'rsa' && t !== 'ec') throw new UsageError(`unsupported signing key type ${String(t)} (Elasticsearch signs with RSA or EC keys only)`)
  return { chain: certs.map((c) => c.raw), leaf, key, algorithm: t === 'rsa' ? 'SHA256withRSA' : 'SHA256withECDSA' }
}

/**
 * The _cross_cluster_access_signature value, as CrossClusterAccessHeaders.writeToContext builds it: sign
 * UTF-8(subjectInfo + "\n" + credentialsHeader) with the leaf's key (cross-cluster-auth.md §2), then
 * X509CertificateSignature.encode (§1.3). Node signs ECDSA in DER, which is what Java's SHA256withECDSA produces.
 */
export function signatureHeader(s: SigningMaterial, subjectInfo: string, credentialsHeader: string, transportVersion: number): string {
  const signature = cryptoSign('sha256', signablePayload(subjectInfo, credentialsHeader), s.key)
  return encodeSignatureHeader({ transportVersion, certificates: s.chain, algorithm: s.algorithm, signature })
}

// --- the remote-cluster handshake response ----------------------------------------------------------------

export interface HandshakeResponseInfo {
  /** 'simplified': this project's emulator (vInt, build hash, node name, cluster name); 'elasticsearch': a node. */
  readonly format: 'simplified' | 'elasticsearch' | 'unknown'
  readonly bodyLength: number
  readonly release: string | null
  readonly buildHash: string | null
  readonly nodeName: string | null
  readonly nodeId: string | null
  readonly nodeAddress: string | null
  readonly clusterName: string | null
  /** How the cluster name was found (exact parse or the tail heuristic). */
  readonly note: string | null
}

/** Version.writeVersion ids copy the release (M_mm_pp_bb, bb = 99 for GA): 9030099 → 9.3.0. */
export function releaseOfVersionId(id: number): string | null {
  if (!Number.isInteger(id) || id < 1_000_000) return null
  const build = id % 100
  const base = `${Math.floor(id / 1_000_000)}.${Math.floor(id / 10_000) % 100}.${Math.floor(id / 100) % 100}`
  return build === 99 ? base : `${base} (pre-release build ${build})`
}

const CLUSTER_NAME = /^[^\s\x00-\x1f:]{1,255}$/

/**
 * TransportService.HandshakeResponse.writeTo: release Version (vInt), build hash, the node's DiscoveryNode,
 * ClusterName (transport-protocol.md §5.2). DiscoveryNode.writeTo (server/src/main/java/org/elasticsearch/cluster/
 * node/DiscoveryNode.java) starts with name, id, ephemeral id, host name, host address, TransportAddress (byte
 * length + IP bytes, host string, int port), attributes map and roles (name, abbreviation, canContainData); what
 * follows depends on the stream's TransportVersion (node Version, then min/max IndexVersion since 8.8, an external
 * id since 8.11, later changes UNVERIFIED). So the probe reads that stable prefix exactly, tries the two known
 * tails, and otherwise takes the cluster name from the end of the body — the last field is a string, and the
 * longest printable string that ends exactly at the end of the body is taken (correct for names shorter than
 * 32 characters, whose length byte is not printable). The output says which of these happened.
 * The project's emulator (test/emulator/backend.ts) sends a simplified body: vInt, build hash, node name,
 * cluster name; it is recognised by being consumed exactly.
 */
export function parseHandshakeResponse(body: Buffer): HandshakeResponseInfo {
  const base = { bodyLength: body.length, nodeId: null, nodeAddress: null }
  try {
    const r = new StreamReader(body)
    const id = r.readVInt()
    const buildHash = r.readString()
    const nodeName = r.readString()
    const clusterName = r.readString()
    if (r.remaining === 0) {
      return { ...base, format: 'simplified', release: releaseOfVersionId(id), buildHash, nodeName, clusterName, note: 'simplified handshake body of the test emulator' }
    }
  } catch {
    /* not the simplified body */
  }
  let release: string | null = null
  let buildHash: string | null = null
  let nodeName: string | null = null
  let nodeId: string | null = null
  let nodeAddress: string | null = null
  const r = new StreamReader(body)
  try {
    release = releaseOfVersionId(r.readVInt())
    buildHash = r.readString()
    nodeName = r.readString()
    nodeId = r.readString()
    r.readString() // ephemeral id
    r.readString() // host name
    const hostAddress = r.readString()
    const ipLength = r.readByte()
    r.skip(ipLength)
    r.readString() // host string
    const port = r.readInt()
    nodeAddress = `${hostAddress.includes(':') ? `[${hostAddress}]` : hostAddress}:${port}`
    r.readStringMap() // attributes
    const roles = r.readArraySize()
    for (let i = 0; i < roles; i++) {
      r.readString()
      r.readString()
      r.readBoolean()
    }
    const afterRoles = r.pos
    for (const [tail, label] of [
      [['vint', 'vint', 'vint', 'string'], '8.11+ layout'],
      [['vint', 'vint', 'vint'], '8.8–8.10 layout'],
    ] as const) {
      const t = new StreamReader(body, afterRoles)
      try {
        for (const f of tail) if (f === 'vint') t.readVInt(); else t.readString()
        const clusterName = t.readString()
        if (t.remaining === 0 && CLUSTER_NAME.test(clusterName)) {
          return { ...base, format: 'elasticsearch', release, buildHash, nodeName, nodeId, nodeAddress, clusterName, note: `DiscoveryNode parsed exactly (${label})` }
        }
      } catch {
        /* try the next layout */
      }
    }
  } catch {
    /* fall through to the tail heuristic with whatever was read */
  }
  const clusterName = trailingString(body)
  return {
    ...base,
    format: buildHash === null ? 'unknown' : 'elasticsearch',
    release,
    buildHash,
    nodeName,
    nodeId,
    nodeAddress,
    clusterName,
    note: clusterName === null ? 'cluster name not found' : 'cluster name read from the end of the body (DiscoveryNode layout not recognised)',
  }
}

/** The longest cluster-name-like string whose vInt length (one byte) and characters end exactly at the body end. */
function trailingString(body: Buffer): string | null {
  let best: string | null = null
  for (let len = 1; len < 128 && len < body.length; len++) {
    const p = body.length - len - 1
    if (body[p] !== len) continue
    const s = body.subarray(p + 1).toString('latin1')
    if (CLUSTER_NAME.test(s) && /^[\x21-\x7e]+$/.test(s)) best = s
  }
  return best
}

// --- the connection ---------------------------------------------------------------------------------------

interface Frame {
  readonly header: DecodedHeader
  readonly body: Buffer
}

class StepFailure extends Error {
  constructor(readonly step: StepName, message: string, readonly details: readonly string[] = []) {
    super(message)
  }
}

/** One socket's frames, matched to our requests by id (a client channel gets only responses). */
class Link {
  private readonly pending = new Map<bigint, { resolve: (f: Frame) => void; reject: (e: Error) => void }>()
  private chunks: Buffer[] = []
  private closedWith: Error | null = null

  constructor(readonly socket: tls.TLSSocket) {
    const decoder = new FrameDecoder(
      {
        ping: () => {},
        header: () => {
          this.chunks = []
        },
        body: (slice) => {
          this.chunks.push(slice)
        },
        frameEnd: (h) => {
          const p = this.pending.get(h.requestId)
          if (p === undefined) return // Elasticsearch ignores responses nobody waits for
          this.pending.delete(h.requestId)
          if (h.isRequest) p.reject(new Error(`the remote side sent a request (${h.variable?.action ?? '?'}) instead of a response`))
          else p.resolve({ header: h, body: Buffer.concat(this.chunks) })
        },
        error: (e) => this.fail(new Error(`protocol error: ${e.message}`)),
      },
      { maxHeaderSize: 64 * 1024 * 1024 },
    )
    socket.on('data', (c: Buffer) => decoder.push(c))
    socket.on('error', (e) => this.fail(new Error(describeSocketError(e))))
    socket.on('close', () => this.fail(new Error('the remote side closed the connection')))
  }

  private fail(e: Error): void {
    this.closedWith ??= e
    for (const p of this.pending.values()) p.reject(this.closedWith)
    this.pending.clear()
  }

  exchange(requestId: bigint, frame: Buffer): Promise<Frame> {
    if (this.closedWith !== null) return Promise.reject(this.closedWith)
    return new Promise((resolve, reject) => {
      this.pending.set(requestId, { resolve, reject })
      this.socket.write(frame)
    })
  }
}

function describeSocketError(e: Error): string {
  const code = (e as NodeJS.ErrnoException).code
  return code !== undefined && !e.message.includes(code) ? `${code}: ${e.message}` : e.message
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${formatDuration(ms)} (${what})`)), ms)
  })
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer))
}

// --- output helpers ---------------------------------------------------------------------------------------

function label(tv: number): string {
  const r = releaseForTransportVersion(tv)
  return r === null ? `${tv} (unknown release)` : `${tv} (${r})`
}

/** The exception chain as Elasticsearch would log it: one line per cause, security status included. */
export function exceptionChain(e: DecodedException): string[] {
  const out: string[] = []
  let cur: DecodedException | null = e
  let depth = 0
  while (cur !== null && depth < 20) {
    const simple = cur.className.slice(cur.className.lastIndexOf('.') + 1)
    out.push(`${depth === 0 ? '' : 'caused by: '}${simple}${cur.status !== undefined ? ` [${cur.status}]` : ''}: ${cur.message ?? '(no message)'}`)
    cur = cur.cause
    depth++
  }
  return out
}

/** Reads an error frame's body; the innermost message is the most useful one-line reason. */
function remoteError(body: Buffer): { reason: string; lines: string[] } {
  try {
    const e = readException(new StreamReader(body))
    if (e === null) return { reason: 'error response without an exception', lines: [] }
    return { reason: formatException(e), lines: exceptionChain(e) }
  } catch (err) {
    return { reason: `error response that could not be decoded (${(err as Error).message}), ${body.length} bytes`, lines: [] }
  }
}

function certLines(chain: readonly X509Certificate[], now: number): string[] {
  const out: string[] = []
  chain.forEach((c, i) => {
    const daysLeft = Math.floor((Date.parse(c.validTo) - now) / 86_400_000)
    const subject = safeDn(c)
    out.push(`[${i}] subject ${subject}`)
    out.push(`    issuer  ${c.issuer.split('\n').reverse().join(',')}`)
    out.push(`    valid   ${new Date(c.validFrom).toISOString()} → ${new Date(c.validTo).toISOString()} (${daysLeft < 0 ? 'EXPIRED' : `${daysLeft} days left`}${daysLeft >= 0 && daysLeft < 30 ? ', renew soon' : ''})`)
    if (i === 0 && c.subjectAltName) out.push(`    SANs    ${c.subjectAltName}`)
  })
  return out
}

function safeDn(c: X509Certificate): string {
  try {
    return certificateSubjectRfc2253(c)
  } catch {
    return c.subject.split('\n').reverse().join(',')
  }
}

/** The chain as the TLS stack built it (leaf first; Node appends issuers it found in the trust store). */
function peerChain(socket: tls.TLSSocket): X509Certificate[] {
  const out: X509Certificate[] = []
  let cur: tls.DetailedPeerCertificate | undefined = socket.getPeerCertificate(true)
  const seen = new Set<string>()
  while (cur !== undefined && cur.raw !== undefined && !seen.has(cur.fingerprint256)) {
    seen.add(cur.fingerprint256)
    out.push(new X509Certificate(cur.raw))
    cur = cur.issuerCertificate
  }
  return out
}

/** Why a chain did not verify, in words an operator acts on (Node/OpenSSL codes). */
function explainChainError(code: string, caGiven: boolean): string {
  const hint: Record<string, string> = {
    UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the issuer of the server certificate is not among the trusted CAs',
    UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'the issuer of the server certificate is not among the trusted CAs',
    SELF_SIGNED_CERT_IN_CHAIN: 'the chain ends in a CA that is not trusted',
    DEPTH_ZERO_SELF_SIGNED_CERT: 'the server certificate is self-signed and not trusted',
    CERT_HAS_EXPIRED: 'a certificate in the chain has expired',
    CERT_NOT_YET_VALID: 'a certificate in the chain is not valid yet (clock skew?)',
  }
  const why = hint[code] ?? 'chain verification failed'
  return `${code}: ${why}${caGiven ? '' : ' (no --ca given: verified against Node\'s built-in public CAs)'}`
}

// --- the probe --------------------------------------------------------------------------------------------

export async function runProbe(o: ProbeOptions, io: CliIo): Promise<ProbeResult> {
  const say = (s = '') => io.out(s + '\n')
  const detail = (lines: readonly string[]) => lines.forEach((l) => say(`      ${l}`))
  const target = `${o.host.includes(':') ? `[${o.host}]` : o.host}:${o.port}`
  say(`rcgw probe ${target}${o.serverName !== null ? ` (server_name ${o.serverName})` : ''}`)

  let socket: net.Socket | null = null
  let tlsSocket: tls.TLSSocket | null = null
  const step = async <T>(name: StepName, title: string, fn: () => Promise<{ value: T; details: string[] }>): Promise<T> => {
    const start = performance.now()
    let r: { value: T; details: string[] }
    try {
      r = await withTimeout(fn(), o.timeoutMs, name)
    } catch (e) {
      const ms = Math.round(performance.now() - start)
      const f = e instanceof StepFailure ? e : new StepFailure(name, (e as Error).message)
      say(`✗ ${title.padEnd(28)} FAILED (${ms} ms)`)
      detail([f.message, ...f.details])
      throw new StepFailure(name, f.message)
    }
    const ms = Math.round(performance.now() - start)
    say(`✓ ${title.padEnd(28)} ok (${ms} ms)`)
    detail(r.details)
    return r.value
  }

  try {
    socket = await step('tcp connect', 'tcp connect', () =>
      new Promise((resolve, reject) => {
        const s = net.connect({ host: o.host, port: o.port })
        socket = s
        s.once('error', (e) => reject(new Error(describeSocketError(e))))
        s.once('connect', () => resolve({ value: s, details: [`connected to ${s.remoteAddress}:${s.remotePort} from ${s.localAddress}:${s.localPort}`] }))
      }),
    )

    const link = await step('tls', 'tls handshake', () => tlsStep(o, socket!, (t) => (tlsSocket = t)))

    const negotiated = await step('tcp handshake', `tcp handshake (v${o.handshakeVersion})`, async () => {
      const frame = encodeTcpHandshakeRequest({ requestId: 1n, handshakeVersion: o.handshakeVersion, transportVersion: o.transportVersion })
      let f: Frame
      try {
        f = await link.exchange(1n, frame)
      } catch (e) {
        // TransportHandshaker: a refused handshake is answered by closing, never by an error frame (§5.1, §7.1).
        throw new StepFailure('tcp handshake', (e as Error).message, [
          'Elasticsearch closes the connection without an answer when it refuses a TCP handshake: an unsupported',
          'handshake version (try --handshake-version 7170099 for 8.x) or a transport version older than it accepts.',
          'A gateway also closes here when no cluster matches the SNI (--server-name) and none is the default, or when',
          'it cannot reach a backend node; its log says which.',
        ])
      }
      if (f.header.isError) {
        const err = remoteError(f.body)
        throw new StepFailure('tcp handshake', err.reason, ['the remote side answered with an error:', ...err.lines.map((l) => `  ${l}`)])
      }
      if (!f.header.isHandshake) throw new StepFailure('tcp handshake', 'answered with a frame that is not a handshake response')
      const parsed = parseTcpHandshakeResponseBody(f.body, o.handshakeVersion)
      // Elasticsearch picks the best version both know (≤ both); min() is the same for released ids (§5.1).
      const v = Math.min(o.transportVersion, parsed.transportVersion)
      return {
        value: v,
        details: [
          `sent transport version ${label(o.transportVersion)}`,
          `remote transport version ${label(parsed.transportVersion)}${parsed.releaseVersion !== null ? `, release "${parsed.releaseVersion}"` : ''}`,
          `negotiated transport version ${label(v)} (the version field of every later frame)`,
        ],
      }
    })

    const credentialsHeader = `ApiKey ${o.credentials}`
    const headers = new Map<string, string>([
      ['_cross_cluster_access_credentials', credentialsHeader],
      ['_cross_cluster_access_subject_info', o.subjectInfo],
    ])
    const headerNotes: string[] = []
    headerNotes.push(
      o.subjectInfoIsPlaceholder
        ? 'subject info: a placeholder (a real local cluster sends the serialized end-user identity; Elasticsearch decodes it only after the API key is accepted, so a subject-info error from a node means the key itself passed)'
        : 'subject info: as given with --subject-info',
    )
    if (o.signing !== null) {
      headers.set('_cross_cluster_access_signature', signatureHeader(o.signing, o.subjectInfo, credentialsHeader, o.transportVersion))
      headerNotes.push(`signature: ${o.signing.algorithm}, leaf ${safeDn(o.signing.leaf)} (${o.signing.chain.length} certificate${o.signing.chain.length === 1 ? '' : 's'})`)
      if (negotiated < SIGNATURE_TRANSPORT_VERSION) {
        headerNotes.push(`note: a local cluster sends the signature only on connections at transport version ≥ ${SIGNATURE_TRANSPORT_VERSION}; this one is ${negotiated}`)
      }
    }

    const request = async (requestId: bigint, action: string, stepName: StepName): Promise<Frame> => {
      // HandshakeRequest and the probe's request are empty TransportRequests: just the empty parent task id (§5.2).
      const frame = encodeFrame({ requestId, status: 0, version: negotiated, requestHeaders: headers, action, body: Buffer.from([0]) })
      const f = await link.exchange(requestId, frame).catch((e: Error) => {
        throw new StepFailure(stepName, e.message)
      })
      if (f.header.isError) {
        const err = remoteError(f.body)
        throw new StepFailure(stepName, err.reason, [...headerNotes, 'the remote side answered with an error:', ...err.lines.map((l) => `  ${l}`)])
      }
      return f
    }

    await step('remote cluster handshake', 'remote cluster handshake', async () => {
      const f = await request(2n, REMOTE_CLUSTER_HANDSHAKE_ACTION, 'remote cluster handshake')
      const info = parseHandshakeResponse(f.body)
      const details = [`credentials: ApiKey <${o.credentials.length} characters, not shown>`, ...headerNotes]
      details.push(`cluster name: ${info.clusterName ?? '(not found)'}`)
      if (info.nodeName !== null) details.push(`node: ${info.nodeName}${info.nodeId !== null ? ` (id ${info.nodeId})` : ''}${info.nodeAddress !== null ? ` at ${info.nodeAddress}` : ''}`)
      if (info.release !== null || info.buildHash !== null) details.push(`release ${info.release ?? '?'}, build ${info.buildHash ?? '?'}`)
      details.push(`response: ${info.bodyLength} bytes${info.note !== null ? `; ${info.note}` : ''}`)
      return { value: info, details }
    })

    if (o.action !== null) {
      const action = o.action
      await step('request', `request ${action}`, async () => {
        const f = await request(3n, action, 'request')
        return { value: f, details: [`response: ${f.body.length} bytes${f.header.isCompressed ? ' (compressed)' : ''}`] }
      })
    }
    say('OK')
    return { ok: true }
  } catch (e) {
    if (!(e instanceof StepFailure)) throw e
    say(`FAILED at ${e.step}: ${e.message}`)
    return { ok: false, step: e.step, reason: e.message }
  } finally {
    ;(tlsSocket as tls.TLSSocket | null)?.destroy()
    ;(socket as net.Socket | null)?.destroy()
  }
}

async function tlsStep(o: ProbeOptions, socket: net.Socket, onSocket: (t: tls.TLSSocket) => void): Promise<{ value: Link; details: string[] }> {
  // SNI: server_name when set (SecurityNetty4Transport turns it into an SNIHostName). Without it the JDK sends the
  // proxy_address host itself when hostname verification is on and the host is a DNS name (cross-cluster-auth.md
  // §10; JDK behaviour UNVERIFIED there, mirrored here).
  const sni = o.serverName ?? (o.verificationMode === 'full' && net.isIP(o.host) === 0 ? o.host : null)
  const t = tls.connect({
    socket,
    ...(sni !== null && net.isIP(sni) === 0 ? { servername: sni } : {}),
    ...(o.ca !== null ? { ca: o.ca.pem } : {}),
    ...(o.clientCert !== null ? { cert: o.clientCert.cert, key: o.clientCert.key } : {}),
    minVersion: 'TLSv1.2',
    // Verify below, so that the chain can be printed even when it does not verify.
    rejectUnauthorized: false,
    checkServerIdentity: () => undefined,
  })
  onSocket(t)
  await new Promise<void>((resolve, reject) => {
    t.once('error', (e) => reject(new Error(`TLS handshake failed: ${describeSocketError(e)}`)))
    t.once('close', () => reject(new Error('the remote side closed the connection during the TLS handshake')))
    t.once('secureConnect', () => resolve())
  })
  t.removeAllListeners('error')
  t.removeAllListeners('close')
  const cipher = t.getCipher()
  const chain = peerChain(t)
  const details = [
    `protocol ${t.getProtocol() ?? '?'}, cipher ${cipher.standardName ?? cipher.name}`,
    `SNI: ${sni === null ? '(none)' : sni}${o.serverName === null && sni !== null ? ' (the address host, as the JDK sends it without server_name)' : ''}`,
    'certificate chain:',
    ...certLines(chain, Date.now()).map((l) => `  ${l}`),
  ]
  const trust = o.ca !== null ? `--ca ${o.ca.source}` : "Node's built-in public CAs"
  const chainError = t.authorized ? null : String(t.authorizationError ?? 'unknown error')
  details.push(`chain verification against ${trust}: ${chainError === null ? 'ok' : explainChainError(chainError, o.ca !== null)}`)
  // Elasticsearch verifies the host of proxy_address, not server_name (SSLEngine peer host = getHostString() of the
  // connect address, cross-cluster-auth.md §10, transport-protocol.md §8.2).
  const leafDetailed = t.getPeerCertificate()
  const hostError = leafDetailed.raw !== undefined ? tls.checkServerIdentity(o.host, leafDetailed) : new Error('no server certificate')
  details.push(`hostname verification of the address host ${o.host}: ${hostError === undefined ? 'ok' : hostError.message}`)
  if (o.serverName !== null && o.serverName !== o.host && leafDetailed.raw !== undefined) {
    const sniMatch = tls.checkServerIdentity(o.serverName, leafDetailed)
    details.push(`(the certificate ${sniMatch === undefined ? 'also matches' : 'does not match'} the server_name ${o.serverName})`)
  }
  let failure: string | null = null
  if (o.verificationMode !== 'none' && chainError !== null) failure = `certificate verification failed: ${explainChainError(chainError, o.ca !== null)}`
  else if (o.verificationMode === 'full' && hostError !== undefined) failure = `hostname verification failed: ${hostError.message}`
  details.push(`verification_mode ${o.verificationMode}: ${failure === null ? 'accepted' : 'REJECTED'}`)
  if (failure !== null) throw new StepFailure('tls', failure, details)
  return { value: new Link(t), details }
}
