/**
 * Target `proxy`: src/tls/proxy-protocol.ts parseProxyHeader (PROXY protocol v1 and v2) on mutated headers.
 * Invariants: never throws; `ok.length` ≤ PROXY_HEADER_MAX_LENGTH and ≤ the bytes given; `incomplete` only while
 * fewer than PROXY_HEADER_MAX_LENGTH bytes are given; prefix-stable: once a prefix parses `ok` with length L, any
 * longer prefix gives the same header and length, and a prefix that is `missing`/`malformed` stays so when longer
 * (the socket reader decides on what it has so far).
 */
import { isDeepStrictEqual } from 'node:util'
import { parseProxyHeader, PROXY_HEADER_MAX_LENGTH, PROXY_V2_SIGNATURE } from '../../src/tls/proxy-protocol.js'
import { invariant, latin1, type Target } from '../lib/target.js'

export const proxyTarget: Target = {
  name: 'proxy',
  description: 'src/tls/proxy-protocol.ts parseProxyHeader (v1 text, v2 binary with TLVs)',
  maxLen: 4096,
  dict: [latin1('PROXY '), latin1('TCP4 '), latin1('TCP6 '), latin1('UNKNOWN'), latin1('\r\n'), latin1(' 65535'), latin1('::ffff:'), PROXY_V2_SIGNATURE, Buffer.from([0x21, 0x11]), Buffer.from([0x21, 0x21]), Buffer.from([0x20, 0x00]), Buffer.from([0x21, 0x31])],
  exec(input, aux) {
    const full = parseProxyHeader(input)
    invariant(full.status !== 'incomplete' || input.length < PROXY_HEADER_MAX_LENGTH, `incomplete with ${input.length} bytes`)
    if (full.status === 'ok') {
      invariant(full.length > 0 && full.length <= PROXY_HEADER_MAX_LENGTH && full.length <= input.length, `ok.length ${full.length}`)
    }
    // Prefixes: a few chosen by aux, plus the ok length itself.
    const cuts = aux.slice(0, 4).map((x) => (input.length === 0 ? 0 : x % (input.length + 1)))
    if (full.status === 'ok') cuts.push(full.length)
    for (const k of cuts) {
      const p = parseProxyHeader(input.subarray(0, k))
      if (p.status === 'ok') {
        invariant(full.status === 'ok' && full.length === p.length && isDeepStrictEqual(full.header, p.header), () => `prefix of ${k} bytes is ok(${p.length}) but the whole is ${full.status}`)
      } else if (p.status === 'missing' || p.status === 'malformed') {
        invariant(full.status === p.status, () => `prefix of ${k} bytes is ${p.status} but the whole is ${full.status}`)
      }
    }
    return full.status === 'ok' ? `ok:${full.header.version}:${full.header.family}` : full.status
  },
}
