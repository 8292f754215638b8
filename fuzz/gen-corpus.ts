/**
 * Regenerates the committed seed corpus, fuzz/corpus/<target>/, from the project's own encoders and test
 * material: src/codec frame.ts / header.ts / exception.ts, src/auth/signature.ts encodeSignatureHeader, the
 * certificate factory and chain scenarios of test/auth/helpers, the DN cases of test/auth/helpers/dn-cases.ts and
 * the vectors in test/fixtures/vectors/ (their origin: its README.md). Certificates are minted relative to now, so each certificate seed carries
 * the validation time and trust anchors it was minted for (<seed>.ctx.json).
 *
 *   node --import @tapjs/typescript/import fuzz/gen-corpus.ts        (TS_NODE_TRANSPILE_ONLY=1)
 *
 * Existing files are replaced; run it only to change the corpus (the fuzzer's findings live in fuzz/regressions).
 */
import { mkdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs'
import { sign } from 'node:crypto'
import { encodeFrame, encodePing } from '../src/codec/frame.js'
import { encodeErrorFrame } from '../src/codec/exception.js'
import { Status, HANDSHAKE_V8, HANDSHAKE_V9, TCP_HANDSHAKE_ACTION } from '../src/codec/constants.js'
import { encodeSignatureHeader } from '../src/auth/signature.js'
import { encodeCredentialsHeader } from '../src/auth/credentials.js'
import { PROXY_V2_SIGNATURE } from '../src/tls/proxy-protocol.js'
import { buildScenarios } from '../test/auth/helpers/chain-scenarios.js'
import { handPickedCases } from '../test/auth/helpers/dn-cases.js'
import { issueCa, issueLeaf, keyPair } from '../test/auth/helpers/certs.js'
import { corpusDir } from './lib/target.js'
import type { PkiCtxJson } from './lib/pki-ctx.js'

const vectorsDir = new URL('../test/fixtures/vectors/', import.meta.url)
const vectors = (name: string): Record<string, unknown> => JSON.parse(readFileSync(new URL(`${name}.json`, vectorsDir), 'utf8')) as Record<string, unknown>

const counts = new Map<string, number>()
function reset(target: string): void {
  rmSync(corpusDir(target), { recursive: true, force: true })
  mkdirSync(corpusDir(target), { recursive: true })
}
function put(target: string, name: string, bytes: Buffer, ctx?: PkiCtxJson): void {
  const safe = name.replace(/[^A-Za-z0-9_.-]+/g, '-').slice(0, 60)
  writeFileSync(new URL(`${safe}.bin`, corpusDir(target)), bytes)
  if (ctx !== undefined) writeFileSync(new URL(`${safe}.ctx.json`, corpusDir(target)), `${JSON.stringify(ctx)}\n`)
  counts.set(target, (counts.get(target) ?? 0) + 1)
}

// ---- transport frames ----------------------------------------------------------------------------------------

const V = 9250003
const transport = vectors('transport') as { groups: Record<string, Array<{ name: string; hex: string }>> }

const SIG_HEADER_SAMPLE = 'A'.repeat(120)
const CREDS = encodeCredentialsHeader('VuaCfGcBCdbkQm-e5aOx', 'ui2lp2axTNmsyakw9tvNnw')

const req = (id: number, action: string, body = Buffer.alloc(0), headers: Record<string, string> = {}, version = V): Buffer =>
  encodeFrame({ requestId: BigInt(id), status: 0, version, action, requestHeaders: headers, body })
const resp = (id: number, body: Buffer, warnings = 0, status: number = Status.RESPONSE): Buffer =>
  encodeFrame({
    requestId: BigInt(id),
    status,
    version: V,
    ...(warnings > 0 ? { responseHeaders: new Map([['Warning', Array.from({ length: warnings }, (_, i) => `299 Elasticsearch "w${i}"`)]]) } : {}),
    body,
  })
const handshakeReq = (id: number, version = HANDSHAKE_V9): Buffer =>
  encodeFrame({ requestId: BigInt(id), status: Status.HANDSHAKE, version, action: TCP_HANDSHAKE_ACTION, body: Buffer.from('00000000000b04c3f9eb0305392e302e30', 'hex') })
const handshakeResp = (id: number): Buffer => encodeFrame({ requestId: BigInt(id), status: Status.RESPONSE | Status.HANDSHAKE, version: HANDSHAKE_V9, body: Buffer.from('0b04c3f9eb030000', 'hex') })
const errResp = (id: number): Buffer => encodeErrorFrame(BigInt(id), V, { type: 'security', message: 'action [x] is unauthorized', status: 'FORBIDDEN', cause: null })

const authHeaders = { _cross_cluster_access_credentials: CREDS, _cross_cluster_access_subject_info: 'dGhlIHN1YmplY3QgaW5mbw==' }

const frameSeeds: Array<[string, Buffer]> = []
for (const [group, list] of Object.entries(transport.groups)) {
  if (group !== 'handshake' && group !== 'ping' && group !== 'message_length' && group !== 'error_frames') continue
  for (const v of list) frameSeeds.push([`vec-${v.name}`, Buffer.from(v.hex, 'hex')])
}
frameSeeds.push(
  ['handshake-v9', handshakeReq(1)],
  ['handshake-v8', handshakeReq(1, HANDSHAKE_V8)],
  ['request-search', req(2, 'indices:data/read/search', Buffer.alloc(64, 7), authHeaders)],
  ['request-signed', req(3, 'indices:data/read/search', Buffer.alloc(16, 1), { ...authHeaders, _cross_cluster_access_signature: SIG_HEADER_SAMPLE })],
  ['request-7x-features', req(4, 'cluster:monitor/state', Buffer.alloc(8), { a: 'b' }, 7170099)],
  ['request-unicode-headers', req(5, 'indices:data/read/get', Buffer.alloc(3), { 'k\u00e9y': 'v\u{1F600}', '': '\ud800' })],
  ['response-warnings', resp(2, Buffer.alloc(100, 2), 4)],
  ['response-compressed-flag', resp(6, Buffer.from('DFL\0xyz', 'latin1'), 0, Status.RESPONSE | Status.COMPRESS)],
  ['error-response', errResp(7)],
  ['stream-handshake-request-ping', Buffer.concat([handshakeReq(1), req(2, 'indices:data/read/search', Buffer.alloc(40, 9), authHeaders), encodePing(), req(3, 'indices:data/read/search', Buffer.alloc(0), authHeaders)])],
  ['stream-responses', Buffer.concat([handshakeResp(1), resp(2, Buffer.alloc(300, 3), 2), encodePing(), errResp(3), resp(4, Buffer.alloc(0))])],
  ['stream-pings', Buffer.concat([encodePing(), encodePing(), encodePing()])],
)
reset('decoder')
for (const [name, bytes] of frameSeeds) put('decoder', name, bytes)

// Variable headers: bytes 23 .. 23+N of every frame seed that has one.
reset('varheader')
const seenVar = new Set<string>()
for (const [name, bytes] of frameSeeds) {
  if (bytes.length < 23 || bytes[0] !== 0x45 || bytes[1] !== 0x53) continue
  const size = bytes.readInt32BE(19)
  if (size <= 0 || 23 + size > bytes.length) continue
  const vh = bytes.subarray(23, 23 + size)
  if (seenVar.has(vh.toString('hex'))) continue
  seenVar.add(vh.toString('hex'))
  put('varheader', name, vh)
}

// ---- relay: client stream + backend stream ------------------------------------------------------------------

const pair = (client: Buffer, backend: Buffer): Buffer => {
  const h = Buffer.alloc(4)
  h.writeUInt32BE(client.length)
  return Buffer.concat([h, client, backend])
}
reset('relay')
put('relay', 'handshake-search', pair(Buffer.concat([handshakeReq(1), req(2, 'indices:data/read/search', Buffer.alloc(50, 1), authHeaders)]), Buffer.concat([handshakeResp(1), resp(2, Buffer.alloc(200, 2))])))
put('relay', 'denied-open', pair(Buffer.concat([handshakeReq(1), req(2, 'indices:admin/delete', Buffer.alloc(30, 1)), req(3, 'indices:data/read/search', Buffer.alloc(10))]), Buffer.concat([handshakeResp(1), resp(3, Buffer.alloc(64, 3), 3)])))
put('relay', 'denied-close', pair(Buffer.concat([req(2, 'cluster:close', Buffer.alloc(10)), req(3, 'indices:data/read/search')]), resp(9, Buffer.alloc(40))))
put('relay', 'async-allow-deny', pair(Buffer.concat([req(2, 'async:allow', Buffer.alloc(5)), req(3, 'async:deny', Buffer.alloc(5)), encodePing(), req(4, 'indices:data/read/search')]), Buffer.concat([resp(2, Buffer.alloc(500, 5)), encodePing(), resp(4, Buffer.alloc(10))])))
put('relay', 'mid-response-denial', pair(Buffer.concat([req(2, 'indices:data/read/search'), req(3, 'indices:admin/delete'), req(4, 'indices:admin/delete')]), Buffer.concat([resp(2, Buffer.alloc(3000, 8), 10), resp(5, Buffer.alloc(100)), errResp(6)])))
put('relay', 'pings-and-errors', pair(Buffer.concat([encodePing(), handshakeReq(1), encodePing(), req(2, 'indices:data/read/search', Buffer.alloc(1), authHeaders)]), Buffer.concat([encodePing(), handshakeResp(1), errResp(2), encodePing()])))
put('relay', 'second-handshake', pair(Buffer.concat([handshakeReq(1), handshakeReq(2)]), handshakeResp(1)))
put('relay', 'response-from-client', pair(Buffer.concat([req(2, 'indices:data/read/search'), resp(3, Buffer.alloc(4))]), resp(2, Buffer.alloc(4))))
put('relay', 'garbage-backend', pair(req(2, 'indices:data/read/search'), Buffer.concat([resp(2, Buffer.alloc(20)), Buffer.from('HTTP/1.1 200 OK\r\n', 'latin1')])))

// ---- certificates -------------------------------------------------------------------------------------------

const b64 = (b: Buffer): string => b.toString('base64')
const now = new Date()
const scenarios = buildScenarios()
reset('chain')
reset('der')
reset('signature')
const seenDer = new Set<string>()
const PAYLOAD = Buffer.from('subject-info\nApiKey Zm9vOmJhcg==', 'utf8')
scenarios.forEach((sc, i) => {
  const ctx: PkiCtxJson = { now: now.toISOString(), anchors: sc.cas.map((c) => b64(c.der)) }
  put('chain', `s${String(i).padStart(2, '0')}-${sc.name}`, Buffer.concat(sc.chain), ctx)
  for (const der of [...sc.chain, ...sc.cas.map((c) => c.der)]) {
    const h = der.toString('hex')
    if (seenDer.has(h) || der.length > 8192) continue
    seenDer.add(h)
    put('der', `s${String(i).padStart(2, '0')}-${seenDer.size}`, der)
  }
})
// Signature blobs: signed with a real leaf key, chains of 1-3 certificates, both algorithms.
const rootRsa = issueCa([['O', 'Fuzz'], ['CN', 'Fuzz Root RSA']], { key: keyPair('rsa', 0) })
const inter = issueCa([['CN', 'Fuzz Intermediate']], { issuer: rootRsa, key: keyPair('ec', 1) })
const leafRsa = issueLeaf([['CN', 'fuzz-rsa-leaf']], rootRsa, { key: keyPair('rsa', 3) })
const leafEc = issueLeaf([['CN', 'fuzz-ec-leaf']], inter, { key: keyPair('ec', 2) })
const sigCtx: PkiCtxJson = { now: now.toISOString(), anchors: [b64(rootRsa.der)] }
const blob = (certs: Buffer[], algorithm: string, signature: Buffer, tv = 9191000): Buffer =>
  Buffer.from(encodeSignatureHeader({ transportVersion: tv, certificates: certs, algorithm, signature }), 'base64')
put('signature', 'rsa-leaf', blob([leafRsa.der], 'SHA256withRSA', sign('sha256', PAYLOAD, leafRsa.key.privateKey)), sigCtx)
put('signature', 'rsa-leaf-root', blob([leafRsa.der, rootRsa.der], 'SHA256withRSA', sign('sha256', PAYLOAD, leafRsa.key.privateKey)), sigCtx)
put('signature', 'ec-leaf-inter', blob([leafEc.der, inter.der], 'SHA256withECDSA', sign('sha256', PAYLOAD, leafEc.key.privateKey)), sigCtx)
put('signature', 'ec-leaf-inter-root', blob([leafEc.der, inter.der, rootRsa.der], 'SHA256withECDSA', sign('sha256', PAYLOAD, leafEc.key.privateKey), 9250003), sigCtx)
put('signature', 'ec-leaf-missing-inter', blob([leafEc.der], 'SHA256withECDSA', sign('sha256', PAYLOAD, leafEc.key.privateKey)), sigCtx)
put('signature', 'wrong-algorithm', blob([leafRsa.der], 'SHA256withECDSA', Buffer.alloc(70, 1)), sigCtx)
put('signature', 'empty-chain', blob([], 'SHA256withRSA', Buffer.alloc(0)), sigCtx)
const jdkSigs = vectors('jdk-signatures') as { ca_cert_pem: string; vectors: Array<{ id: string; algorithm: string; signature_b64: string; cert_pem: string }> }
const pemDer = (pem: string): Buffer => Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64')
for (const v of jdkSigs.vectors) {
  put('signature', `jdk-${v.id}`, blob([pemDer(v.cert_pem)], v.algorithm, Buffer.from(v.signature_b64, 'base64')), { now: now.toISOString(), anchors: [b64(pemDer(jdkSigs.ca_cert_pem))] })
}

// ---- DN -------------------------------------------------------------------------------------------------------

reset('dn')
const jdkDn = vectors('jdk-dn') as { vectors: Array<{ id: string; subject_der_hex: string }> }
for (const v of jdkDn.vectors) put('dn', `jdk-${v.id}`, Buffer.from(v.subject_der_hex, 'hex'))
const picked = handPickedCases()
const step = Math.max(1, Math.floor(picked.length / 40))
for (let i = 0; i < picked.length; i += step) put('dn', `case-${picked[i]!.id}`, picked[i]!.der)

// ---- Java regex -----------------------------------------------------------------------------------------------

reset('jregex')
const jdkRe = vectors('jdk-regex') as { vectors: Array<{ id: string; pattern: string; subject: string }> }
for (const v of jdkRe.vectors) put('jregex', v.id, Buffer.from(`${v.pattern}\0${v.subject}`, 'utf8'))

// ---- PROXY protocol -------------------------------------------------------------------------------------------

reset('proxy')
const v1 = (line: string): Buffer => Buffer.from(`PROXY ${line}\r\n`, 'latin1')
const v2 = (command: number, fam: number, payload: Buffer): Buffer => {
  const fixed = Buffer.alloc(4)
  fixed[0] = 0x20 | command
  fixed[1] = fam
  fixed.writeUInt16BE(payload.length, 2)
  return Buffer.concat([PROXY_V2_SIGNATURE, fixed, payload])
}
const inet4 = Buffer.from([192, 0, 2, 1, 198, 51, 100, 2, 0xd4, 0x31, 0x24, 0xe3])
const inet6 = Buffer.concat([Buffer.from('20010db8000000000000000000000001', 'hex'), Buffer.from('20010db8000000000000000000000002', 'hex'), Buffer.from([0xd4, 0x31, 0x24, 0xe3])])
const tlv = (type: number, value: Buffer): Buffer => Buffer.concat([Buffer.from([type, value.length >> 8, value.length & 0xff]), value])
put('proxy', 'v1-tcp4', v1('TCP4 192.0.2.1 198.51.100.2 54321 9443'))
put('proxy', 'v1-tcp6', v1('TCP6 2001:db8::1 ::ffff:198.51.100.2 54321 9443'))
put('proxy', 'v1-unknown', v1('UNKNOWN'))
put('proxy', 'v1-unknown-rest', v1('UNKNOWN 1.2.3.4 5.6.7.8 1 2'))
put('proxy', 'v1-then-tls', Buffer.concat([v1('TCP4 10.0.0.1 10.0.0.2 1 2'), Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05])]))
put('proxy', 'v2-tcp4', v2(1, 0x11, inet4))
put('proxy', 'v2-tcp6', v2(1, 0x21, inet6))
put('proxy', 'v2-local', v2(0, 0x00, Buffer.alloc(0)))
put('proxy', 'v2-unix', v2(1, 0x31, Buffer.alloc(216, 0x61)))
put('proxy', 'v2-tcp4-tlvs', v2(1, 0x11, Buffer.concat([inet4, tlv(0x02, Buffer.from('es.example', 'latin1')), tlv(0x04, Buffer.alloc(0)), tlv(0x20, Buffer.concat([Buffer.from([0x07, 0, 0, 0, 0]), tlv(0x21, Buffer.from('TLSv1.3', 'latin1'))]))])))
put('proxy', 'v2-udp4', v2(1, 0x12, inet4))
put('proxy', 'tls-clienthello', Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]))

// ---- credentials ----------------------------------------------------------------------------------------------

reset('credentials')
put('credentials', 'header', Buffer.from(CREDS, 'latin1'))
put('credentials', 'header-lower', Buffer.from(CREDS.replace('ApiKey', 'apikey'), 'latin1'))
put('credentials', 'header-kelvin', Buffer.from(CREDS.replace('k', '\u212a'), 'utf8'))
put('credentials', 'id-secret', Buffer.from('VuaCfGcBCdbkQm-e5aOx:ui2lp2axTNmsyakw9tvNnw', 'utf8'))
put('credentials', 'id-secret-unicode', Buffer.from('\u00e9t\u00e9:\u{1F600}i2lp2axTNmsyakw9tvN', 'utf8'))
put('credentials', 'id-secret-invalid-utf8', Buffer.from([0x61, 0xc3, 0x28, 0x3a, ...Buffer.from('ui2lp2axTNmsyakw9tvNnw')]))
put('credentials', 'no-colon', Buffer.from('VuaCfGcBCdbkQm-e5aOxui2lp2axTNmsyakw9tvNnw', 'utf8'))
put('credentials', 'header-unpadded', Buffer.from(encodeCredentialsHeader('a', 'ui2lp2axTNmsyakw9tvNnw').replace(/=+$/, ''), 'latin1'))

for (const [t, n] of [...counts].sort()) console.log(`${t}: ${n} seeds`)
