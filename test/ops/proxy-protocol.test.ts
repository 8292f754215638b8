/**
 * PROXY protocol v1/v2 on the transport listener: the pure parser (vectors, malformed variants, property tests) and
 * the listener end to end — a raw TCP socket writes the header, then TLS starts on the same socket, then the
 * transport protocol runs through the gateway to an emulated backend, and logs show the real client.
 */
import t, { type Test } from 'tap'
import fc from 'fast-check'
import { connect as netConnect, createServer as createNetServer, isIPv6, type Socket, type AddressInfo } from 'node:net'
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
import {
  parseProxyHeader,
  formatIPv6,
  PROXY_HEADER_MAX_LENGTH,
  PROXY_V1_MAX_LENGTH,
  PROXY_V2_MAX_LENGTH,
  PROXY_V2_SIGNATURE,
  type ProxyParseResult,
} from '../../src/tls/proxy-protocol.js'
import { FrameDecoder, HANDSHAKE_V9, encodeFrame, encodeTcpHandshakeRequest, parseTcpHandshakeResponseBody, type DecodedHeader } from '../../src/codec/index.js'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { backend, client, until, CREDENTIALS, SUBJECT_INFO } from '../gateway/fixtures.js'
import { testPki } from '../helpers/pki.js'

const SEARCH = 'indices:data/read/search'

// ---- header encoders (test side) -----------------------------------------------------------------------------

function v1(line: string): Buffer {
  return Buffer.from(`PROXY ${line}\r\n`, 'latin1')
}

function ipv6Bytes(s: string): Buffer {
  // Enough of RFC 4291 text parsing for the test inputs: `::` and an optional dotted IPv4 tail.
  let tail: number[] = []
  let text = s
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (v4) {
    const p = v4[1]!.split('.').map(Number)
    tail = [(p[0]! << 8) | p[1]!, (p[2]! << 8) | p[3]!]
    text = text.slice(0, -v4[1]!.length).replace(/:$/, ':0').replace(/::0$/, '::')
    if (text.endsWith(':0') && !text.endsWith('::0')) text = text.slice(0, -2)
  }
  const [head, rest] = text.includes('::') ? (text.split('::') as [string, string]) : [text, null]
  const h = head === '' ? [] : head.split(':').map((x) => parseInt(x, 16))
  const r = rest === null || rest === '' ? [] : rest.split(':').map((x) => parseInt(x, 16))
  const groups = rest === null ? [...h, ...tail] : [...h, ...Array(8 - h.length - r.length - tail.length).fill(0), ...r, ...tail]
  const b = Buffer.alloc(16)
  groups.forEach((g, i) => b.writeUInt16BE(g, i * 2))
  return b
}

function v2(opts: { command?: number; fam: number; addr?: Buffer; tlvs?: Buffer; version?: number; lengthOverride?: number }): Buffer {
  const payload = Buffer.concat([opts.addr ?? Buffer.alloc(0), opts.tlvs ?? Buffer.alloc(0)])
  const fixed = Buffer.alloc(4)
  fixed[0] = ((opts.version ?? 2) << 4) | (opts.command ?? 1)
  fixed[1] = opts.fam
  fixed.writeUInt16BE(opts.lengthOverride ?? payload.length, 2)
  return Buffer.concat([PROXY_V2_SIGNATURE, fixed, payload])
}

function inet4(src: string, dst: string, sport: number, dport: number): Buffer {
  const b = Buffer.alloc(12)
  src.split('.').forEach((x, i) => (b[i] = Number(x)))
  dst.split('.').forEach((x, i) => (b[4 + i] = Number(x)))
  b.writeUInt16BE(sport, 8)
  b.writeUInt16BE(dport, 10)
  return b
}

function inet6(src: string, dst: string, sport: number, dport: number): Buffer {
  const ports = Buffer.alloc(4)
  ports.writeUInt16BE(sport, 0)
  ports.writeUInt16BE(dport, 2)
  return Buffer.concat([ipv6Bytes(src), ipv6Bytes(dst), ports])
}

function tlv(type: number, value: Buffer): Buffer {
  const h = Buffer.alloc(3)
  h[0] = type
  h.writeUInt16BE(value.length, 1)
  return Buffer.concat([h, value])
}

function ok(t: Test, r: ProxyParseResult, what: string): Extract<ProxyParseResult, { status: 'ok' }> {
  t.equal(r.status, 'ok', `${what}: parsed`)
  if (r.status !== 'ok') throw new Error(`${what}: ${JSON.stringify(r)}`)
  return r
}

// ---- parser ----------------------------------------------------------------------------------------------------

t.test('v1: TCP4, TCP6, UNKNOWN', async (t) => {
  const tail = Buffer.from([0x16, 0x03, 0x01, 0x00])
  const h4 = v1('TCP4 203.0.113.7 192.0.2.1 56324 9443')
  const r4 = ok(t, parseProxyHeader(Buffer.concat([h4, tail])), 'TCP4')
  t.equal(r4.length, h4.length, 'consumes exactly the header, not the ClientHello after it')
  t.same(r4.header, { version: 1, command: 'proxy', family: 'tcp4', source: { address: '203.0.113.7', port: 56324 }, destination: { address: '192.0.2.1', port: 9443 } })

  const r6 = ok(t, parseProxyHeader(v1('TCP6 2001:db8::7 ::1 0 65535')), 'TCP6')
  t.same(r6.header.source, { address: '2001:db8::7', port: 0 })
  t.same(r6.header.destination, { address: '::1', port: 65535 })
  t.equal(r6.header.family, 'tcp6')

  for (const line of ['UNKNOWN', 'UNKNOWN 1.2.3.4 5.6.7.8 1 2', 'UNKNOWN whatever the proxy wants']) {
    const r = ok(t, parseProxyHeader(Buffer.concat([v1(line), tail])), line)
    t.equal(r.header.source, null, `${line}: no client address (use the peer)`)
    t.equal(r.header.family, 'unspec')
    t.equal(r.length, line.length + 8)
  }
  // The spec's worst case: 107 bytes with CRLF ("PROXY UNKNOWN" followed by a full TCP6 address block).
  const longest = v1('UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535')
  t.equal(longest.length, PROXY_V1_MAX_LENGTH)
  t.equal(ok(t, parseProxyHeader(longest), 'worst case').length, 107)
})

t.test('v1: every strict prefix is incomplete', async (t) => {
  const h = v1('TCP4 203.0.113.7 192.0.2.1 56324 9443')
  for (let i = 1; i < h.length; i++) t.equal(parseProxyHeader(h.subarray(0, i)).status, 'incomplete', `${i} bytes`)
  t.equal(parseProxyHeader(Buffer.alloc(0)).status, 'incomplete', 'nothing yet')
})

t.test('v1: malformed variants', async (t) => {
  const cases: Array<[string, Buffer, RegExp]> = [
    ['no space after PROXY', Buffer.from('PROXY\r\n'), /single space/],
    ['unknown protocol', v1('TCP5 1.2.3.4 5.6.7.8 1 2'), /unknown protocol "TCP5"/],
    ['lower-case protocol', v1('tcp4 1.2.3.4 5.6.7.8 1 2'), /unknown protocol/],
    ['double space', v1('TCP4  1.2.3.4 5.6.7.8 1 2'), /expected "PROXY TCP4/],
    ['missing port', v1('TCP4 1.2.3.4 5.6.7.8 1'), /expected/],
    ['extra field', v1('TCP4 1.2.3.4 5.6.7.8 1 2 3'), /expected/],
    ['trailing space', v1('TCP4 1.2.3.4 5.6.7.8 1 2 '), /expected/],
    ['IPv6 address in TCP4', v1('TCP4 ::1 5.6.7.8 1 2'), /invalid TCP4 source address/],
    ['IPv4 address in TCP6', v1('TCP6 ::1 5.6.7.8 1 2'), /invalid TCP6 destination address/],
    ['leading-zero octet', v1('TCP4 01.2.3.4 5.6.7.8 1 2'), /invalid TCP4 source/],
    ['zone id', v1('TCP6 fe80::1%eth0 ::1 1 2'), /invalid TCP6 source/],
    ['port out of range', v1('TCP4 1.2.3.4 5.6.7.8 65536 2'), /invalid source port/],
    ['leading-zero port', v1('TCP4 1.2.3.4 5.6.7.8 1 080'), /invalid destination port/],
    ['negative port', v1('TCP4 1.2.3.4 5.6.7.8 -1 2'), /invalid source port/],
    ['CR without LF', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX'), /CR not followed by LF/],
    ['bare LF', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n'), /unexpected byte 0x0a/],
    ['NUL inside', Buffer.from('PROXY TCP4 1.2.3.4\x005.6.7.8 1 2\r\n', 'latin1'), /unexpected byte 0x00/],
    ['no CRLF within 107 bytes', Buffer.from('PROXY ' + 'A'.repeat(101)), /no CRLF within 107 bytes/],
    ['CRLF one byte too late', Buffer.from('PROXY UNKNOWN ' + 'A'.repeat(92) + '\r\n'), /no CRLF within 107 bytes/],
  ]
  for (const [name, buf, message] of cases) {
    const r = parseProxyHeader(buf)
    t.equal(r.status, 'malformed', name)
    t.match(r.status === 'malformed' ? r.message : '', message, `${name}: says why`)
  }
})

t.test('not a PROXY header at all: missing', async (t) => {
  const clientHello = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
  for (const [name, buf] of [
    ['TLS ClientHello', clientHello],
    ['HTTP', Buffer.from('GET / HTTP/1.1\r\n')],
    ['lower-case proxy', Buffer.from('proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n')],
    ['almost PROXY', Buffer.from('PROXI ')],
    ['almost the v2 signature', Buffer.concat([PROXY_V2_SIGNATURE.subarray(0, 11), Buffer.from([0x0b])])],
  ] as const) {
    const r = parseProxyHeader(buf)
    t.equal(r.status, 'missing', name)
  }
})

t.test('v2: IPv4 with TLVs, IPv6, LOCAL, UNSPEC, UNIX', async (t) => {
  const tail = Buffer.from('rest')
  const tlvs = Buffer.concat([tlv(0x01, Buffer.from('h2')), tlv(0xea, Buffer.from('vpce-0123456789abcdef0')), tlv(0x04, Buffer.alloc(5))])
  const h4 = v2({ fam: 0x11, addr: inet4('198.51.100.23', '10.0.0.1', 40000, 9443), tlvs })
  const r4 = ok(t, parseProxyHeader(Buffer.concat([h4, tail])), 'IPv4')
  t.equal(r4.length, h4.length)
  t.same(r4.header, { version: 2, command: 'proxy', family: 'tcp4', source: { address: '198.51.100.23', port: 40000 }, destination: { address: '10.0.0.1', port: 9443 } })

  const h6 = v2({ fam: 0x21, addr: inet6('2001:db8:0:0:1:0:0:1', '::ffff:10.1.2.3', 1, 2) })
  const r6 = ok(t, parseProxyHeader(h6), 'IPv6')
  t.same(r6.header.source, { address: '2001:db8::1:0:0:1', port: 1 }, 'RFC 5952: the first longest zero run is compressed')
  t.same(r6.header.destination, { address: '::ffff:10.1.2.3', port: 2 }, 'IPv4-mapped in mixed notation')

  const local = v2({ command: 0, fam: 0x11, addr: inet4('1.1.1.1', '2.2.2.2', 1, 2) })
  const rl = ok(t, parseProxyHeader(Buffer.concat([local, tail])), 'LOCAL')
  t.same(rl.header, { version: 2, command: 'local', family: 'unspec', source: null, destination: null }, 'LOCAL: the addresses are ignored')
  t.equal(rl.length, local.length)
  t.equal(ok(t, parseProxyHeader(v2({ command: 0, fam: 0x7f })), 'LOCAL with any family').header.command, 'local')

  const unspec = ok(t, parseProxyHeader(v2({ fam: 0x00, addr: Buffer.from('anything') })), 'UNSPEC')
  t.equal(unspec.header.source, null)
  t.equal(unspec.length, 16 + 8)

  const unix = ok(t, parseProxyHeader(v2({ fam: 0x31, addr: Buffer.alloc(216) })), 'UNIX')
  t.equal(unix.header.family, 'unix')
  t.equal(unix.header.source, null, 'no IP: keep the peer address')
})

t.test('v2: every strict prefix is incomplete', async (t) => {
  const h = v2({ fam: 0x21, addr: inet6('2001:db8::1', '2001:db8::2', 1, 2), tlvs: tlv(0x02, Buffer.from('authority')) })
  for (let i = 1; i < h.length; i++) t.equal(parseProxyHeader(h.subarray(0, i)).status, 'incomplete', `${i} bytes`)
})

t.test('v2: malformed variants', async (t) => {
  const a4 = inet4('1.2.3.4', '5.6.7.8', 1, 2)
  const cases: Array<[string, Buffer, RegExp]> = [
    ['version 1', v2({ version: 1, fam: 0x11, addr: a4 }), /unsupported version 1/],
    ['version 3', v2({ version: 3, fam: 0x11, addr: a4 }), /unsupported version 3/],
    ['unknown command', v2({ command: 2, fam: 0x11, addr: a4 }), /unknown command/],
    ['UDP over IPv4', v2({ fam: 0x12, addr: a4 }), /unsupported address family\/transport 0x12/],
    ['UDP over IPv6', v2({ fam: 0x22, addr: Buffer.alloc(36) }), /0x22/],
    ['UNIX datagram', v2({ fam: 0x32, addr: Buffer.alloc(216) }), /0x32/],
    ['undefined family', v2({ fam: 0x41, addr: a4 }), /0x41/],
    ['IPv4 block too short', v2({ fam: 0x11, addr: a4.subarray(0, 11) }), /shorter than the IPv4 address block/],
    ['IPv6 block too short', v2({ fam: 0x21, addr: Buffer.alloc(35) }), /shorter than the IPv6 address block/],
    ['UNIX block too short', v2({ fam: 0x31, addr: Buffer.alloc(200) }), /shorter than the UNIX address block/],
    ['truncated TLV header', v2({ fam: 0x11, addr: a4, tlvs: Buffer.from([0x01, 0x00]) }), /truncated TLV header/],
    ['TLV overruns', v2({ fam: 0x11, addr: a4, tlvs: Buffer.from([0x01, 0x00, 0x05, 0x41]) }), /runs past the end/],
    ['over the cap', v2({ fam: 0x11, addr: a4, lengthOverride: PROXY_V2_MAX_LENGTH - 15 }), /exceeds the gateway's limit of 2048/],
    ['maximum length field', v2({ fam: 0x11, addr: a4, lengthOverride: 0xffff }), /exceeds/],
  ]
  for (const [name, buf, message] of cases) {
    const r = parseProxyHeader(buf)
    t.equal(r.status, 'malformed', name)
    t.match(r.status === 'malformed' ? r.message : '', message, `${name}: says why`)
  }
  // Exactly at the cap is fine.
  const atCap = v2({ fam: 0x11, addr: a4, tlvs: tlv(0x04, Buffer.alloc(PROXY_V2_MAX_LENGTH - 16 - 12 - 3)) })
  t.equal(atCap.length, PROXY_V2_MAX_LENGTH)
  t.equal(ok(t, parseProxyHeader(atCap), 'at the cap').length, PROXY_V2_MAX_LENGTH)
})

t.test('formatIPv6 follows RFC 5952', async (t) => {
  const cases: Array<[string, string]> = [
    ['0:0:0:0:0:0:0:0', '::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['2001:db8:0:0:0:0:2:1', '2001:db8::2:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group is not compressed
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // the longest run wins
    ['1:0:0:2:0:0:3:4', '1::2:0:0:3:4'], // ties: the first
    ['fe80:0:0:0:abcd:0:0:0', 'fe80::abcd:0:0:0'],
    ['0:0:0:0:0:ffff:c000:0201', '::ffff:192.0.2.1'],
  ]
  for (const [input, want] of cases) t.equal(formatIPv6(ipv6Bytes(input), 0), want, input)
})

t.test('property: never throws, never consumes or buffers more than the cap', async (t) => {
  const check = (bytes: Uint8Array): boolean => {
    const r = parseProxyHeader(bytes)
    switch (r.status) {
      case 'ok':
        return r.length > 0 && r.length <= bytes.length && r.length <= PROXY_HEADER_MAX_LENGTH
      case 'incomplete':
        return bytes.length < PROXY_HEADER_MAX_LENGTH
      default:
        return typeof r.message === 'string' && r.message.length > 0
    }
  }
  const anyBytes = fc.uint8Array({ maxLength: 3000 })
  // Random tails after the two signatures reach the deeper branches far more often than uniform bytes.
  const afterV1 = fc.tuple(fc.constantFrom('TCP4 ', 'TCP6 ', 'UNKNOWN', ''), fc.string({ maxLength: 120 }), fc.uint8Array({ maxLength: 8 })).map(([p, s, b]) =>
    Buffer.concat([Buffer.from(`PROXY ${p}${s}`, 'latin1'), Buffer.from([0x0d, 0x0a]), b]),
  )
  const afterV2 = fc
    .tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 0xffff }), fc.uint8Array({ maxLength: 2200 }))
    .map(([vc, fam, len, rest]) => {
      const fixed = Buffer.alloc(4)
      fixed[0] = vc
      fixed[1] = fam
      fixed.writeUInt16BE(len % 2 === 0 ? len : len % 300, 2)
      return Buffer.concat([PROXY_V2_SIGNATURE, fixed, rest])
    })
  fc.assert(fc.property(fc.oneof(anyBytes, afterV1, afterV2), check), { numRuns: 1500 })
  t.pass('1500 random inputs')
})

t.test('property: valid headers round-trip, whatever follows them', async (t) => {
  const port = fc.integer({ min: 0, max: 65535 })
  const tail = fc.uint8Array({ maxLength: 64 })
  fc.assert(
    fc.property(fc.ipV4(), fc.ipV4(), port, port, tail, (src, dst, sp, dp, rest) => {
      const h = v1(`TCP4 ${src} ${dst} ${sp} ${dp}`)
      const r = parseProxyHeader(Buffer.concat([h, rest]))
      return r.status === 'ok' && r.length === h.length && r.header.source?.address === src && r.header.source.port === sp && r.header.destination?.port === dp
    }),
    { numRuns: 300 },
  )
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.uint8Array({ minLength: 16, maxLength: 16 }), port, port, tail, (s, d, sp, dp, rest) => {
      const ports = Buffer.alloc(4)
      ports.writeUInt16BE(sp, 0)
      ports.writeUInt16BE(dp, 2)
      const h = v2({ fam: 0x21, addr: Buffer.concat([s, d, ports]) })
      const r = parseProxyHeader(Buffer.concat([h, rest]))
      if (r.status !== 'ok' || r.length !== h.length) return false
      const src = r.header.source!
      // The text form is valid IPv6 and denotes the same 16 bytes.
      return isIPv6(src.address) && ipv6Bytes(src.address).equals(Buffer.from(s)) && src.port === sp
    }),
    { numRuns: 300 },
  )
  t.pass('v1 TCP4 and v2 IPv6 round trips')
})

// ---- end to end --------------------------------------------------------------------------------------------------

interface RawExchange {
  socket: TLSSocket
  /** TCP handshake, then one search request with the access headers; resolves with the echoed body. */
  roundTrip(body: string): Promise<string>
}

/**
 * A raw TCP connection that writes `header` (in pieces, to exercise reassembly), then starts TLS on the same socket.
 * The emulator client (test/emulator/client.ts) has no way to pass a pre-connected socket, so the transport part
 * is driven with src/codec directly: TCP handshake, then a request.
 */
async function proxiedConnection(t: Test, port: number, header: Buffer, pieces = 3): Promise<RawExchange> {
  const raw: Socket = netConnect({ host: '127.0.0.1', port })
  raw.on('error', () => {})
  await new Promise<void>((resolve, reject) => raw.once('connect', resolve).once('error', reject))
  const step = Math.max(1, Math.ceil(header.length / pieces))
  for (let i = 0; i < header.length; i += step) {
    await new Promise<void>((resolve) => raw.write(header.subarray(i, i + step), () => resolve()))
    await new Promise((r) => setImmediate(r))
  }
  const socket = tlsConnect({ socket: raw, servername: 'remote-a.example.com', ca: testPki().ca.certPem, checkServerIdentity: () => undefined })
  socket.on('error', () => {})
  t.teardown(() => void socket.destroy())
  await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('close', () => reject(new Error('closed during the TLS handshake'))))
  const waiting = new Map<bigint, (r: { h: DecodedHeader; body: Buffer }) => void>()
  let chunks: Buffer[] = []
  const decoder = new FrameDecoder(
    {
      ping: () => {},
      header: () => {
        chunks = []
      },
      body: (b) => void chunks.push(b),
      frameEnd: (h) => waiting.get(h.requestId)?.({ h, body: Buffer.concat(chunks) }),
      error: (e) => socket.destroy(e),
    },
    { maxHeaderSize: 1 << 20 },
  )
  socket.on('data', (d: Buffer) => decoder.push(d))
  const send = (id: bigint, frame: Buffer) =>
    new Promise<{ h: DecodedHeader; body: Buffer }>((resolve, reject) => {
      waiting.set(id, resolve)
      socket.once('close', () => reject(new Error('connection closed')))
      socket.write(frame)
    })
  return {
    socket,
    async roundTrip(body) {
      const hs = await send(1n, encodeTcpHandshakeRequest({ requestId: 1n, handshakeVersion: HANDSHAKE_V9, transportVersion: 9250003, releaseVersion: '9.3.0' }))
      const version = parseTcpHandshakeResponseBody(hs.body, HANDSHAKE_V9).transportVersion
      const headers = { _cross_cluster_access_credentials: CREDENTIALS, _cross_cluster_access_subject_info: SUBJECT_INFO }
      const r = await send(2n, encodeFrame({ requestId: 2n, status: 0, version, requestHeaders: headers, action: SEARCH, body: Buffer.from(body) }))
      if (r.h.isError) throw new Error('error response')
      return r.body.toString()
    },
  }
}

async function proxyGateway(t: Test, trusted: string[], limits: Record<string, unknown> = {}): Promise<StartedGateway> {
  const be = await backend(t, 'cluster-a')
  return startGateway(t, {
    clusters: [{ name: 'a', server_names: ['remote-a.example.com'], nodes: [`127.0.0.1:${be.port}`] }],
    extra: { listen: { host: '127.0.0.1', port: 0, proxy_protocol: true, proxy_protocol_trusted: trusted }, limits },
  })
}

function closed(s: Socket): Promise<void> {
  return new Promise((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve())))
}

t.test('end to end: v1 and v2 headers, then TLS and the transport protocol; logs show the real client', async (t) => {
  const gw = await proxyGateway(t, ['127.0.0.1/32', '::1'])

  const a = await proxiedConnection(t, gw.port, v1('TCP4 203.0.113.7 192.0.2.1 4242 9443'))
  t.equal(await a.roundTrip('via v1'), 'via v1', 'v1 TCP4: request relayed')
  const b = await proxiedConnection(t, gw.port, v2({ fam: 0x21, addr: inet6('2001:db8::7', '2001:db8::1', 5151, 9443), tlvs: tlv(0xea, Buffer.from('vpce-1')) }), 40)
  t.equal(await b.roundTrip('via v2'), 'via v2', 'v2 IPv6 (header written in 40 pieces): request relayed')
  const c = await proxiedConnection(t, gw.port, v2({ command: 0, fam: 0x00 }), 1)
  t.equal(await c.roundTrip('local'), 'local', 'v2 LOCAL: request relayed')
  const d = await proxiedConnection(t, gw.port, v1('UNKNOWN'), 1)
  t.equal(await d.roundTrip('unknown'), 'unknown', 'v1 UNKNOWN: request relayed')

  // ECS: the gateway's `client` field becomes client.address / client.ip / client.port.
  const opened = gw.logs.filter((l) => l.event === 'connection_opened')
  t.equal(opened.length, 4)
  t.equal(opened[0]?.['client.address'], '203.0.113.7:4242', 'v1: the real client')
  t.equal(opened[0]?.['client.ip'], '203.0.113.7', 'ECS client.ip is the real client')
  t.equal(opened[0]?.['client.port'], 4242)
  t.match(String(opened[0]?.proxied_by), /^127\.0\.0\.1:\d+$/, 'v1: the load balancer is logged too')
  t.equal(opened[1]?.['client.ip'], '2001:db8::7', 'v2 IPv6: the real client')
  t.equal(opened[1]?.['client.port'], 5151)
  t.equal(opened[2]?.['client.ip'], '127.0.0.1', 'LOCAL: the peer address')
  t.equal(opened[2]?.proxied_by, undefined)
  t.equal(opened[3]?.['client.ip'], '127.0.0.1', 'UNKNOWN: the peer address')

  a.socket.end()
  await until(() => gw.logs.some((l) => l.event === 'connection_closed' && l['client.address'] === '203.0.113.7:4242'), 5000, 'close log')
  t.pass('the close line names the real client too')
  for (const reason of ['proxy_missing', 'proxy_malformed', 'proxy_untrusted']) t.equal(await gw.metricValue('rcgw_connections_rejected_total', { reason }), 0, `${reason}: none`)
})

/**
 * A minimal PROXY-speaking load balancer: for each client it opens a connection to the gateway and sends the header
 * glued to the client's first bytes (the TLS ClientHello) in ONE write, as real balancers do — so the gateway must
 * hand the rest of that segment to TLS.
 */
async function loadBalancer(t: Test, gatewayPort: number, header: (client: Socket) => Buffer): Promise<number> {
  const sockets = new Set<Socket>()
  const server = createNetServer((c) => {
    const up = netConnect({ host: '127.0.0.1', port: gatewayPort })
    for (const s of [c, up]) {
      sockets.add(s)
      s.on('error', () => {})
      s.on('close', () => {
        sockets.delete(s)
        c.destroy()
        up.destroy()
      })
    }
    let first = true
    c.on('data', (d: Buffer) => {
      up.write(first ? Buffer.concat([header(c), d]) : d)
      first = false
    })
    up.pipe(c)
  })
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve))
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  )
  return (server.address() as AddressInfo).port
}

t.test('through a PROXY-speaking load balancer: the emulator client, header and ClientHello in one segment', async (t) => {
  const gw = await proxyGateway(t, ['127.0.0.1/32'])
  const lbPort = await loadBalancer(t, gw.port, (c) => v2({ fam: 0x11, addr: inet4('198.51.100.40', '192.0.2.1', c.remotePort ?? 0, 9443) }))
  const c = await client(t, lbPort)
  t.equal(c.clusterName, 'cluster-a', 'TCP handshake and remote cluster handshake through the balancer')
  t.equal((await c.request(SEARCH, Buffer.from('hello'))).body.toString(), 'hello', 'request relayed')
  const opened = gw.logs.find((l) => l.event === 'connection_opened')
  t.equal(opened?.['client.ip'], '198.51.100.40', 'the client address from the header')
  t.equal(opened?.['client.port'], c.socket.localPort, 'and its port')
  await c.close()
  await until(() => gw.gateway.transport.connectionCount === 0, 5000, 'connection closed')
})

t.test('refusals: missing, malformed, timeout, early close', async (t) => {
  const gw = await proxyGateway(t, ['127.0.0.1/32'], { handshake_timeout: '300ms' })

  // A direct TLS client (no PROXY header): the ClientHello is not a header.
  const direct = tlsConnect({ host: '127.0.0.1', port: gw.port, servername: 'remote-a.example.com', ca: testPki().ca.certPem, checkServerIdentity: () => undefined })
  direct.on('error', () => {})
  await closed(direct)
  t.equal(await gw.metricValue('rcgw_connections_rejected_total', { reason: 'proxy_missing' }), 1, 'no header → proxy_missing')
  t.equal(await gw.metricValue('rcgw_tls_handshake_failures_total'), 0, 'not a TLS failure: TLS never started')

  const bad = netConnect({ host: '127.0.0.1', port: gw.port }, () => bad.write('PROXY TCP4 999.1.1.1 1.1.1.1 1 2\r\n'))
  bad.on('error', () => {})
  await closed(bad)
  t.equal(await gw.metricValue('rcgw_connections_rejected_total', { reason: 'proxy_malformed' }), 1, 'malformed → proxy_malformed')
  const line = gw.logs.find((l) => l.event === 'connection_rejected' && l.reason === 'proxy_malformed')
  t.match(line?.msg, /invalid TCP4 source address/, 'the log line says why')

  const silent = netConnect({ host: '127.0.0.1', port: gw.port })
  silent.on('error', () => {})
  await closed(silent)
  t.equal(await gw.metricValue('rcgw_connections_rejected_total', { reason: 'proxy_missing' }), 2, 'deadline while waiting for the header → proxy_missing')
  t.equal(await gw.metricValue('rcgw_limit_hits_total', { limit: 'handshake_timeout' }), 1, 'counted as a handshake_timeout hit')

  const partial = netConnect({ host: '127.0.0.1', port: gw.port }, () => partial.end('PROXY TCP4 1.2.3.4'))
  partial.on('error', () => {})
  await closed(partial)
  await until(async () => (await gw.metricValue('rcgw_connections_rejected_total', { reason: 'proxy_missing' })) === 3, 5000, 'partial header counted')
  t.pass('closed in the middle of a header → proxy_missing')

  const probe = netConnect({ host: '127.0.0.1', port: gw.port }, () => probe.end())
  probe.on('error', () => {})
  await closed(probe)
  await until(() => gw.logs.some((l) => l.msg === 'connection closed before sending anything'), 5000, 'probe log')
  t.equal(await gw.metricValue('rcgw_connections_rejected_total', { reason: 'proxy_missing' }), 3, 'a bare TCP probe is not a refusal')

  const good = await proxiedConnection(t, gw.port, v1('TCP4 198.51.100.1 192.0.2.1 1000 9443'))
  t.equal(await good.roundTrip('still serving'), 'still serving', 'the listener keeps serving everyone else')
})

t.test('a peer outside proxy_protocol_trusted is refused before anything is read', async (t) => {
  const gw = await proxyGateway(t, ['10.0.0.0/8', '2001:db8::/32'])
  const s = netConnect({ host: '127.0.0.1', port: gw.port }, () => s.write(v1('TCP4 203.0.113.7 192.0.2.1 4242 9443')))
  s.on('error', () => {})
  await closed(s)
  t.equal(await gw.metricValue('rcgw_connections_rejected_total', { reason: 'proxy_untrusted' }), 1)
  const line = gw.logs.find((l) => l.event === 'connection_rejected')
  t.equal(line?.reason, 'proxy_untrusted')
  t.equal(line?.['client.ip'], '127.0.0.1', 'logged with the peer address (the header is never believed)')
})

t.test('without proxy_protocol a PROXY header is not understood (TLS fails as not_tls)', async (t) => {
  const be = await backend(t, 'cluster-a')
  const gw = await startGateway(t, { clusters: [{ name: 'a', nodes: [`127.0.0.1:${be.port}`] }] })
  const s = netConnect({ host: '127.0.0.1', port: gw.port }, () => s.write(v1('TCP4 203.0.113.7 192.0.2.1 4242 9443')))
  s.on('error', () => {})
  s.resume()
  await closed(s)
  t.equal(await gw.metricValue('rcgw_tls_handshake_failures_total', { reason: 'not_tls' }), 1)
  const c = await client(t, gw.port)
  t.equal(c.clusterName, 'cluster-a', 'ordinary TLS clients are unaffected')
})

t.test('config: proxy_protocol needs trusted peers; CIDRs are validated', async (t) => {
  const { loadConfigText, ConfigError } = await import('../../src/config/load.js')
  const { writePki } = await import('../helpers/pki.js')
  const { tempDir } = await import('../helpers/tmp.js')
  const { join } = await import('node:path')
  const dir = tempDir(t)
  writePki(dir)
  const base = (listen: string) => `listen: ${listen}\ntls: { certificate: server.crt, key: server.key }\nclusters: [{ name: a, nodes: ["127.0.0.1:1"] }]\n`
  const load = (listen: string) => loadConfigText(base(listen), join(dir, 'gateway.yml'), { env: {} })
  const err = (listen: string) => {
    try {
      load(listen)
      return null
    } catch (e) {
      return e instanceof ConfigError ? e.message : String(e)
    }
  }
  t.match(err('{ proxy_protocol: true }'), /^listen\.proxy_protocol_trusted: required when proxy_protocol is true/)
  t.match(err('{ proxy_protocol: true, proxy_protocol_trusted: ["10.0.0.0/33"] }'), /^listen\.proxy_protocol_trusted\[0\]: invalid address or CIDR block "10.0.0.0\/33"/)
  t.match(err('{ proxy_protocol: true, proxy_protocol_trusted: ["lb.example.com"] }'), /invalid address or CIDR block/)
  t.match(err('{ proxy_protocol: true, proxy_protocol_trusted: ["fe80::1%eth0"] }'), /invalid address or CIDR block/)
  const cfg = load('{ proxy_protocol: true, proxy_protocol_trusted: ["10.1.0.0/16", "192.0.2.7", "2001:db8::/32"] }')
  t.same(cfg.proxyProtocol, {
    enabled: true,
    trusted: [
      { family: 'ipv4', address: '10.1.0.0', prefix: 16, text: '10.1.0.0/16' },
      { family: 'ipv4', address: '192.0.2.7', prefix: 32, text: '192.0.2.7' },
      { family: 'ipv6', address: '2001:db8::', prefix: 32, text: '2001:db8::/32' },
    ],
  })
  t.same(cfg.listen, { host: '0.0.0.0', port: 9443 }, 'listen keeps its shape')
  t.same(load('{}').proxyProtocol, { enabled: false, trusted: [] }, 'off by default')
})
