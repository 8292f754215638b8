#!/usr/bin/env node
/**
 * Micro-benchmarks of the gateway's own per-request work, without TLS and without sockets: what the relay costs in
 * JavaScript on top of the (unavoidable) TLS + syscall work. Deterministic enough to compare two builds of dist/ on
 * a busy machine, where end-to-end numbers swing by ±30 %.
 *
 *   node bench/micro.mjs [--dist DIR] [--compare-dist DIR] [--ms 1500]
 *
 * Cases (W1 shapes: request = ~0.6 KiB variable header with credentials + subject info, 1 KiB body; response =
 * 16 KiB body):
 *   decode.request     FrameDecoder.push of a 16 KiB chunk of back-to-back W1 requests, variable headers parsed
 *   decode.response    FrameDecoder.push (no variable header parsing) of 16 KiB+25 B responses, one chunk each
 *   policy.check       the authentication policy's check() on a decoded W1 request header
 *   policy.signed      the same with a `_cross_cluster_access_signature` header (verification result cached)
 *   relay.roundtrip    Relay with in-memory sockets: one chunk of 8 requests in, 8 responses out (per request)
 * Each case runs for --ms (after a warm-up of the same length), alternating A and B builds three times; the
 * table shows the best ns/op of the three rounds for each build.
 */
import { EventEmitter } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { performance } from 'node:perf_hooks'
import { makeBenchPki, BACKEND_NAME, CLUSTER_SNI } from './lib/certs.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const root = resolve(here, '..')
const args = process.argv.slice(2)
const opt = (name, dflt) => {
  const i = args.indexOf(name)
  return i >= 0 ? args[i + 1] : dflt
}
const distA = resolve(opt('--dist', join(root, 'dist')))
const distB = opt('--compare-dist', null) ? resolve(opt('--compare-dist')) : null
const MS = Number(opt('--ms', 1500))

const tmp = mkdtempSync(join(tmpdir(), 'rcgw-micro-'))
try {
  const pki = await makeBenchPki(join(root, 'dist'), tmp)
  const builds = [['A', distA], ...(distB ? [['B', distB]] : [])]
  const suites = []
  for (const [name, dist] of builds) suites.push({ name, dist, cases: await setup(dist, pki) })
  const caseNames = Object.keys(suites[0].cases)
  const best = Object.fromEntries(suites.map((s) => [s.name, {}]))
  for (const s of suites) for (const c of caseNames) run(s.cases[c], MS / 3) // warm-up
  for (let round = 0; round < 3; round++) {
    for (const s of suites) {
      for (const c of caseNames) {
        const ns = run(s.cases[c], MS)
        best[s.name][c] = Math.min(best[s.name][c] ?? Infinity, ns)
      }
    }
  }
  const pad = (x, n) => String(x).padStart(n)
  process.stdout.write(`\nns per operation (best of 3 rounds of ${MS} ms)   A = ${distA}${distB ? `\n${' '.repeat(48)}B = ${distB}` : ''}\n\n`)
  process.stdout.write(`${'case'.padEnd(20)}${pad('A', 10)}${distB ? `${pad('B', 10)}${pad('B/A', 8)}` : ''}\n`)
  for (const c of caseNames) {
    const a = best.A[c]
    const b = best.B?.[c]
    process.stdout.write(`${c.padEnd(20)}${pad(a.toFixed(0), 10)}${b !== undefined ? `${pad(b.toFixed(0), 10)}${pad((b / a).toFixed(2) + '×', 8)}` : ''}\n`)
  }
} finally {
  rmSync(tmp, { recursive: true, force: true })
}

/** Runs op() in batches for about `ms`; returns ns per op. */
function run(c, ms) {
  let n = 0
  const t0 = performance.now()
  let t = t0
  while (t - t0 < ms) {
    for (let i = 0; i < c.batch; i++) c.op()
    n += c.batch
    t = performance.now()
  }
  return ((t - t0) * 1e6) / n / c.per
}

async function setup(dist, pki) {
  const imp = (p) => import(pathToFileURL(join(dist, p)).href)
  const codec = await imp('codec/index.js')
  const { loadConfigText } = await imp('config/load.js')
  const { GatewayMetrics } = await imp('admin/metrics.js')
  const { createClusterPolicy } = await imp('auth/factory.js')
  const { Relay } = await imp('gateway/relay.js')
  const { silentLogger } = await imp('log.js')
  const f = pki.files
  const cfg = loadConfigText(
    `listen: {host: 127.0.0.1, port: 0}
tls: {certificate: ${f.proxyCert}, key: ${f.proxyKey}}
admin: {enabled: false}
health_check: {enabled: false}
clusters:
  - name: bench
    server_names: [${CLUSTER_SNI}]
    nodes: ["127.0.0.1:9"]
    backend_tls: {certificate_authorities: [${f.ca}], server_name: ${BACKEND_NAME}}
    signing: {certificate_authorities: [${f.signingCa}]}
`,
    join(tmp, 'micro.yml'),
    { env: {} },
  )
  const metrics = new GatewayMetrics({ collectDefault: false })
  const policy = createClusterPolicy(cfg.clusters[0], { metrics })
  const h = pki.headers
  const TV = 9250003
  const body = Buffer.alloc(1024, 0x61)
  body[0] = 0
  body.writeUInt32BE(16384, 1)
  const reqHeaders = { _cross_cluster_access_credentials: h.credentials, _cross_cluster_access_subject_info: h.subjectInfo }
  const request = (id, extra = {}) =>
    Buffer.from(codec.encodeFrame({ requestId: BigInt(id), status: 0, version: TV, requestHeaders: { ...reqHeaders, ...extra }, action: 'indices:data/read/search', body }))
  const response = (id) => Buffer.from(codec.encodeFrame({ requestId: BigInt(id), status: 1, version: TV, body: Buffer.alloc(16384, 0x62) }))

  // decode.request: a 16 KiB-ish chunk of back-to-back requests, fresh decoder state per push is not needed
  // (the decoder ends at a frame boundary).
  const reqs8 = Buffer.concat(Array.from({ length: 8 }, (_, i) => request(i + 3)))
  let sink = 0
  const dReq = new codec.FrameDecoder(
    { ping() {}, header(hd) { sink += hd.variable.requestHeaders.size }, body(s) { sink += s.length }, frameEnd() {}, error(e) { throw e } },
    { maxHeaderSize: 65536 },
  )
  const resp = response(7)
  const dResp = new codec.FrameDecoder(
    { ping() {}, header(hd) { sink += hd.status }, body(s) { sink += s.length }, frameEnd() {}, error(e) { throw e } },
    { maxHeaderSize: 65536, parseVariableHeader: false },
  )
  // A decoded header to feed the policy with.
  let decoded = null
  let decodedSigned = null
  const grab = (frame, set) =>
    new codec.FrameDecoder({ ping() {}, header: (hd) => set(hd), body() {}, frameEnd() {}, error(e) { throw e } }, { maxHeaderSize: 65536 }).push(frame)
  grab(request(3), (x) => (decoded = x))
  grab(request(4, { _cross_cluster_access_signature: h.signature }), (x) => (decodedSigned = x))
  const conn = { cluster: 'bench', remoteAddress: '127.0.0.1:1', servername: CLUSTER_SNI }
  const first = policy.check(decodedSigned, conn)
  if ((first instanceof Promise ? await first : first) !== null) throw new Error('micro: the signed request is denied; check the bench PKI')
  if (policy.check(decoded, conn) !== null) throw new Error('micro: the W1 request is denied')

  // relay.roundtrip with in-memory sockets.
  const fakeSocket = () => {
    const s = new EventEmitter()
    s.writes = 0
    s.write = (b) => {
      s.writes += b.length
      return true
    }
    s.cork = () => {}
    s.uncork = () => {}
    s.pause = () => {}
    s.resume = () => {}
    s.end = () => {}
    s.destroy = () => {}
    s.writable = true
    s.destroyed = false
    return s
  }
  const client = fakeSocket()
  const backend = fakeSocket()
  const pool = { acquire: async () => ({ socket: backend, node: { cfg: { id: 'n' }, active: 0 } }), release() {} }
  const relay = new Relay(
    client,
    { pool, policy, metrics, clusterMetrics: metrics.forCluster('bench'), log: silentLogger(), maxHeaderSize: 65536, maxInFlight: 65536 },
    conn,
    () => {},
  )
  await relay.start()
  // Fresh request ids per round trip (the relay tracks them); chunks are pre-built for a ring of ids.
  const RING = 64
  const reqChunks = []
  const respChunks = []
  for (let k = 0; k < RING; k++) {
    reqChunks.push(Buffer.concat(Array.from({ length: 8 }, (_, i) => request(1000 + k * 8 + i))))
    respChunks.push(Array.from({ length: 8 }, (_, i) => response(1000 + k * 8 + i)))
  }
  let k = 0
  const roundtrip = () => {
    const i = k++ % RING
    client.emit('data', reqChunks[i])
    for (const r of respChunks[i]) backend.emit('data', r)
  }
  roundtrip()
  process.on('exit', () => sink === -1 && console.log(sink)) // keep the decoders' work observable
  if (relay.inFlightCount !== 0 || backend.writes === 0 || client.writes === 0) throw new Error('micro: relay round trip did not pass through')

  return {
    'decode.request': { batch: 50, per: 8, op: () => dReq.push(reqs8) },
    'decode.response': { batch: 200, per: 1, op: () => dResp.push(resp) },
    'policy.check': { batch: 500, per: 1, op: () => policy.check(decoded, conn) },
    'policy.signed': { batch: 200, per: 1, op: () => policy.check(decodedSigned, conn) },
    'relay.roundtrip': { batch: 20, per: 8, op: roundtrip },
  }
}
