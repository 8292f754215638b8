/**
 * PROXY protocol v1 (text) and v2 (binary), receiving side, as specified by HAProxy's "The PROXY protocol,
 * Versions 1 & 2" (doc/proxy-protocol.txt in the haproxy repository). A load balancer in front of the gateway
 * writes the header on the raw TCP connection BEFORE the TLS ClientHello, so it is read here, on the plain socket,
 * and only then is the socket handed to TLS.
 *
 * The parser is pure and strict (the spec: "the receiver must not start processing the connection before it
 * receives a complete and valid PROXY protocol header"; anything invalid closes the connection):
 *   v1: `PROXY TCP4|TCP6 <src> <dst> <sport> <dport>\r\n` with single spaces, addresses of the named family, ports
 *       0..65535 without leading zeros, at most 107 bytes including CRLF; `PROXY UNKNOWN[ <anything>]\r\n`.
 *   v2: the 12-byte signature, version 2, command LOCAL or PROXY, family/transport UNSPEC, TCP over IPv4, TCP over
 *       IPv6 or UNIX stream (datagram families are refused: the gateway relays a TCP stream), a length covering the
 *       address block, and TLVs that exactly fill the rest (their content is not interpreted; CRC32C is not checked).
 *
 * LOCAL (v2), UNSPEC (v2), UNKNOWN (v1) and UNIX (v2) headers carry no usable client address: the spec says to use
 * the real connection endpoints then, so `source` is null and the caller keeps the socket's peer address.
 *
 * Bounds: a v1 header is found within 107 bytes, a v2 header may be at most PROXY_V2_MAX_LENGTH bytes (16-byte
 * fixed part + address block + TLVs). The spec allows up to 16 + 65535, but real senders (HAProxy, AWS NLB,
 * GCP/Azure private endpoints) use a few hundred at most; a larger header is refused as malformed rather than
 * buffered. `parseProxyHeader` only answers `incomplete` while fewer than PROXY_HEADER_MAX_LENGTH bytes are
 * buffered, so a reader that stops on any other answer never holds more than that plus one read chunk.
 */
import { isIPv4, isIPv6, type Socket } from 'node:net'

/** v1: "a 107-byte buffer is enough for the worst case" (the spec's own bound, CRLF included). */
export const PROXY_V1_MAX_LENGTH = 107
/** v2: 16-byte fixed part + addresses + TLVs; our cap (see the header comment). */
export const PROXY_V2_MAX_LENGTH = 2048
export const PROXY_HEADER_MAX_LENGTH = Math.max(PROXY_V1_MAX_LENGTH, PROXY_V2_MAX_LENGTH)

export const PROXY_V2_SIGNATURE: Buffer = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a])
const V1_PREFIX: Buffer = Buffer.from('PROXY ', 'latin1')

/** v2 address block sizes (section 2.2: `struct proxy_hdr_v2` address union). */
const V2_INET_LEN = 12
const V2_INET6_LEN = 36
const V2_UNIX_LEN = 216

export interface ProxyEndpoint {
  readonly address: string
  readonly port: number
}

export interface ProxyHeader {
  readonly version: 1 | 2
  /** v2 LOCAL: a connection the proxy itself made (health check); v1 is always `proxy`. */
  readonly command: 'proxy' | 'local'
  /** `unspec` = v1 UNKNOWN, v2 UNSPEC or any LOCAL header. */
  readonly family: 'tcp4' | 'tcp6' | 'unix' | 'unspec'
  /** The real client; null when the header carries none (use the socket's peer address). */
  readonly source: ProxyEndpoint | null
  readonly destination: ProxyEndpoint | null
}

export type ProxyParseResult =
  | { readonly status: 'incomplete' }
  | { readonly status: 'ok'; readonly header: ProxyHeader; /** bytes consumed */ readonly length: number }
  /** The bytes do not start like a PROXY header at all (e.g. a TLS ClientHello). */
  | { readonly status: 'missing'; readonly message: string }
  /** The bytes start like a PROXY header but break the specification. */
  | { readonly status: 'malformed'; readonly message: string }

const INCOMPLETE: ProxyParseResult = Object.freeze({ status: 'incomplete' })

function missing(message: string): ProxyParseResult {
  return { status: 'missing', message }
}

function malformed(message: string): ProxyParseResult {
  return { status: 'malformed', message }
}

/**
 * Parses the PROXY header at the start of `buf`. Never throws; `ok.length` ≤ PROXY_HEADER_MAX_LENGTH, and
 * `incomplete` only while `buf.length` < PROXY_HEADER_MAX_LENGTH.
 */
export function parseProxyHeader(buf: Uint8Array): ProxyParseResult {
  if (buf.length === 0) return INCOMPLETE
  if (buf[0] === V1_PREFIX[0]) return parseV1(buf)
  if (buf[0] === PROXY_V2_SIGNATURE[0]) return parseV2(buf)
  return missing('the connection does not start with a PROXY protocol header')
}

// ---- v1 ----------------------------------------------------------------------------------------------------------

const PORT = /^(?:0|[1-9][0-9]{0,4})$/

function parsePort(s: string): number | null {
  if (!PORT.test(s)) return null
  const n = Number(s)
  return n <= 65535 ? n : null
}

function parseV1(buf: Uint8Array): ProxyParseResult {
  const n = Math.min(buf.length, V1_PREFIX.length)
  for (let i = 0; i < n; i++) {
    if (buf[i] === V1_PREFIX[i]) continue
    // "PROXY" followed by something other than a space claims to be a header and is not one.
    return i === V1_PREFIX.length - 1 ? malformed('PROXY v1: "PROXY" must be followed by a single space') : missing('the connection does not start with a PROXY protocol header')
  }
  if (buf.length < V1_PREFIX.length) return INCOMPLETE
  // The line ends with CRLF, and CRLF is part of the 107 bytes: CR at index 105 at the latest.
  const scanEnd = Math.min(buf.length, PROXY_V1_MAX_LENGTH)
  let cr = -1
  for (let i = V1_PREFIX.length; i < scanEnd; i++) {
    const c = buf[i]!
    if (c === 0x0d) {
      cr = i
      break
    }
    if (c < 0x20 || c > 0x7e) return malformed(`PROXY v1: unexpected byte 0x${c.toString(16).padStart(2, '0')} at offset ${i}`)
  }
  if (cr < 0 || cr > PROXY_V1_MAX_LENGTH - 2) {
    return buf.length >= PROXY_V1_MAX_LENGTH || cr >= 0 ? malformed(`PROXY v1: no CRLF within ${PROXY_V1_MAX_LENGTH} bytes`) : INCOMPLETE
  }
  if (cr + 1 >= buf.length) return INCOMPLETE
  if (buf[cr + 1] !== 0x0a) return malformed('PROXY v1: CR not followed by LF')
  const line = Buffer.from(buf.buffer, buf.byteOffset + V1_PREFIX.length, cr - V1_PREFIX.length).toString('latin1')
  const length = cr + 2
  // "the receiver must ignore anything presented before the CRLF is found" after UNKNOWN.
  if (line === 'UNKNOWN' || line.startsWith('UNKNOWN ')) {
    return { status: 'ok', length, header: { version: 1, command: 'proxy', family: 'unspec', source: null, destination: null } }
  }
  const f = line.split(' ')
  const proto = f[0]
  if (proto !== 'TCP4' && proto !== 'TCP6') return malformed(`PROXY v1: unknown protocol ${JSON.stringify(proto)} (expected TCP4, TCP6 or UNKNOWN)`)
  if (f.length !== 5) return malformed(`PROXY v1: expected "PROXY ${proto} <source> <destination> <source port> <destination port>"`)
  const isFamily = proto === 'TCP4' ? isIPv4 : (s: string) => isIPv6(s) && !s.includes('%')
  const [, src, dst, sp, dp] = f as [string, string, string, string, string]
  if (!isFamily(src)) return malformed(`PROXY v1: invalid ${proto} source address`)
  if (!isFamily(dst)) return malformed(`PROXY v1: invalid ${proto} destination address`)
  const sport = parsePort(sp)
  const dport = parsePort(dp)
  if (sport === null) return malformed('PROXY v1: invalid source port')
  if (dport === null) return malformed('PROXY v1: invalid destination port')
  return {
    status: 'ok',
    length,
    header: {
      version: 1,
      command: 'proxy',
      family: proto === 'TCP4' ? 'tcp4' : 'tcp6',
      source: { address: src, port: sport },
      destination: { address: dst, port: dport },
    },
  }
}

// ---- v2 ----------------------------------------------------------------------------------------------------------

function parseV2(buf: Uint8Array): ProxyParseResult {
  const n = Math.min(buf.length, PROXY_V2_SIGNATURE.length)
  for (let i = 0; i < n; i++) if (buf[i] !== PROXY_V2_SIGNATURE[i]) return missing('the connection does not start with a PROXY protocol header')
  if (buf.length < 16) return INCOMPLETE
  const verCmd = buf[12]!
  if (verCmd >> 4 !== 2) return malformed(`PROXY v2: unsupported version ${verCmd >> 4}`)
  const command = verCmd & 0x0f
  if (command > 1) return malformed(`PROXY v2: unknown command 0x${command.toString(16)}`)
  const fam = buf[13]!
  const len = (buf[14]! << 8) | buf[15]!
  const total = 16 + len
  if (total > PROXY_V2_MAX_LENGTH) return malformed(`PROXY v2: header of ${total} bytes exceeds the gateway's limit of ${PROXY_V2_MAX_LENGTH}`)
  if (buf.length < total) return INCOMPLETE
  // LOCAL: "the receiver must accept this connection as valid and must use the real connection endpoints and
  // discard the protocol block including the family which is ignored".
  if (command === 0) return { status: 'ok', length: total, header: { version: 2, command: 'local', family: 'unspec', source: null, destination: null } }
  let family: ProxyHeader['family']
  let source: ProxyEndpoint | null = null
  let destination: ProxyEndpoint | null = null
  let tlvStart: number
  switch (fam) {
    case 0x00: // UNSPEC: "the receiver ... use the real endpoint addresses"; no address block to find TLVs after.
      return { status: 'ok', length: total, header: { version: 2, command: 'proxy', family: 'unspec', source: null, destination: null } }
    case 0x11: // TCP over IPv4
      if (len < V2_INET_LEN) return malformed(`PROXY v2: length ${len} is shorter than the IPv4 address block`)
      source = { address: formatIPv4(buf, 16), port: (buf[24]! << 8) | buf[25]! }
      destination = { address: formatIPv4(buf, 20), port: (buf[26]! << 8) | buf[27]! }
      family = 'tcp4'
      tlvStart = 16 + V2_INET_LEN
      break
    case 0x21: // TCP over IPv6
      if (len < V2_INET6_LEN) return malformed(`PROXY v2: length ${len} is shorter than the IPv6 address block`)
      source = { address: formatIPv6(buf, 16), port: (buf[48]! << 8) | buf[49]! }
      destination = { address: formatIPv6(buf, 32), port: (buf[50]! << 8) | buf[51]! }
      family = 'tcp6'
      tlvStart = 16 + V2_INET6_LEN
      break
    case 0x31: // UNIX stream: no IP to report; keep the peer address.
      if (len < V2_UNIX_LEN) return malformed(`PROXY v2: length ${len} is shorter than the UNIX address block`)
      family = 'unix'
      tlvStart = 16 + V2_UNIX_LEN
      break
    default:
      return malformed(`PROXY v2: unsupported address family/transport 0x${fam.toString(16).padStart(2, '0')} (only TCP over IPv4/IPv6, UNIX stream and UNSPEC)`)
  }
  // TLVs: type (1), length (2, big-endian), value; they must exactly fill the announced length.
  for (let p = tlvStart; p < total; ) {
    if (total - p < 3) return malformed('PROXY v2: truncated TLV header')
    const l = (buf[p + 1]! << 8) | buf[p + 2]!
    if (p + 3 + l > total) return malformed('PROXY v2: TLV runs past the end of the header')
    p += 3 + l
  }
  return { status: 'ok', length: total, header: { version: 2, command: 'proxy', family, source, destination } }
}

function formatIPv4(b: Uint8Array, off: number): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`
}

/** RFC 5952 text form: lower-case hex, no leading zeros, the longest run (≥ 2) of zero groups as `::`. */
export function formatIPv6(b: Uint8Array, off: number): string {
  const g: number[] = []
  for (let i = 0; i < 8; i++) g.push((b[off + 2 * i]! << 8) | b[off + 2 * i + 1]!)
  // IPv4-mapped addresses in their usual mixed notation (RFC 5952 §5), as Node reports such peers.
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) return `::ffff:${formatIPv4(b, off + 12)}`
  let bestStart = -1
  let bestLen = 0
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && g[j] === 0) j++
    if (j - i > bestLen) {
      bestStart = i
      bestLen = j - i
    }
    i = j
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(':')
  if (bestLen < 2) return hex(g)
  return `${hex(g.slice(0, bestStart))}::${hex(g.slice(bestStart + bestLen))}`
}

// ---- on a socket ---------------------------------------------------------------------------------------------------

export type ProxyReadOutcome =
  | { readonly status: 'ok'; readonly header: ProxyHeader; readonly length: number }
  | { readonly status: 'missing' | 'malformed'; readonly message: string }
  /** The peer closed (or reset) the connection before a complete header; `received` bytes had arrived. */
  | { readonly status: 'closed'; readonly received: number }

/**
 * Reads the PROXY header from a freshly accepted plain socket and calls `done` once. On `ok` the socket is left
 * paused with everything after the header unshifted back into it, so the next reader (the TLS layer, which feeds a
 * wrapped socket's buffered bytes to OpenSSL first) sees the stream exactly as the client sent it. The caller owns
 * the deadline: destroying the socket ends the read with `closed`.
 */
export function readProxyHeader(socket: Socket, done: (o: ProxyReadOutcome) => void): void {
  let buf: Buffer | null = null
  let finished = false
  const finish = (o: ProxyReadOutcome): void => {
    if (finished) return
    finished = true
    socket.off('data', onData)
    socket.off('end', onEnd)
    socket.off('close', onEnd)
    done(o)
  }
  const onData = (chunk: Buffer): void => {
    buf = buf === null ? chunk : Buffer.concat([buf, chunk])
    const r = parseProxyHeader(buf)
    if (r.status === 'incomplete') return
    if (r.status === 'ok') {
      socket.pause()
      if (r.length < buf.length) socket.unshift(buf.subarray(r.length))
    }
    finish(r)
  }
  const onEnd = (): void => finish({ status: 'closed', received: buf?.length ?? 0 })
  socket.on('data', onData)
  socket.on('end', onEnd)
  socket.on('close', onEnd)
  // Stays attached: a reset during or after the read must never become an uncaught 'error'.
  socket.on('error', () => onEnd())
}
