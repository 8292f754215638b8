#!/usr/bin/env node
/**
 * Bench load generator: behaves like an Elasticsearch local cluster in proxy mode (transport-protocol.md §5, §8):
 * per socket TLS (SNI = server name) → TCP handshake (v8800000) → signed `cluster:internal/remote_cluster/handshake`
 * → requests carrying `_cross_cluster_access_credentials` + `_cross_cluster_access_subject_info`.
 *
 * One invocation = one trial; the spec is a JSON argument; the result is one JSON line on stdout.
 *   w1   request/response: `conns` sockets × `depth` pipelined requests (closed loop), or an open loop at `rate`
 *        req/s spread round-robin over the sockets; reports req/s and latency percentiles (send → last byte)
 *   w2   bulk: one `respSize` response at a time per socket; reports received bytes/s
 *   w3   connection setup: `concurrency` loops of TLS connect + TCP handshake + signed RCS handshake + close
 *   w4   idle: opens `count` handshaken sockets, prints {"event":"ready"}, waits for "close" on stdin
 * Everything measured happens inside [warm-up end, warm-up end + measureMs].
 */
import { connect, createSecureContext } from 'node:tls'
import { readFileSync } from 'node:fs'
import { join, resolve, dirname } from 'node:path'
import { pathToFileURL, fileURLToPath } from 'node:url'
import { performance } from 'node:perf_hooks'
import { createInterface } from 'node:readline'
import { Scanner, STATUS_ERROR, STATUS_RESPONSE } from './lib/wire.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const spec = JSON.parse(process.argv[2] ?? '{}')
const distDir = resolve(spec.dist ?? join(here, '..', 'dist'))
const codec = await import(pathToFileURL(join(distDir, 'codec/index.js')).href)
const access = JSON.parse(readFileSync(spec.headersFile, 'utf8'))
const caPem = readFileSync(spec.caFile)
// One context for all sockets: passing `ca` to every connect() would rebuild the trust store per connection.
const secureContext = createSecureContext({ ca: caPem })
const TV = 9250003
const SEARCH_ACTION = 'indices:data/read/search'

const TCP_HS = codec.encodeTcpHandshakeRequest({ requestId: 1n, handshakeVersion: codec.HANDSHAKE_V9, transportVersion: TV, releaseVersion: '9.3.0' })
const RCS_HS = codec.encodeFrame({
  requestId: 2n,
  status: 0,
  version: TV,
  requestHeaders: {
    _cross_cluster_access_credentials: access.credentials,
    _cross_cluster_access_subject_info: access.subjectInfo,
    _cross_cluster_access_signature: access.signature,
  },
  action: codec.REMOTE_CLUSTER_HANDSHAKE_ACTION,
  body: Buffer.from([0]),
})

/** A request frame with request id 0 whose body asks the bench backend for `respSize` bytes (see backend.mjs). */
function requestTemplate(reqBody, respSize) {
  const body = Buffer.alloc(Math.max(5, reqBody), 0x61)
  body[0] = 0 // parent task id: empty
  body.writeUInt32BE(respSize, 1)
  const headers = { _cross_cluster_access_credentials: access.credentials, _cross_cluster_access_subject_info: access.subjectInfo }
  if (spec.signedRequests) headers._cross_cluster_access_signature = access.signature
  return Buffer.from(codec.encodeFrame({ requestId: 0n, status: 0, version: TV, requestHeaders: headers, action: SEARCH_ACTION, body }))
}

const RING = 1024 // send timestamps per socket, indexed by request id
let errorResponses = 0
let firstError = null

class Conn {
  constructor(socket) {
    this.socket = socket
    this.nextId = 3
    this.inflight = 0
    this.sentAt = new Float64Array(RING)
    this.onResponse = null // (idLow, now) => void
    this.onBytes = null
    this.status = 0
    this.id = 0
    this.scanner = new Scanner({
      onHeader: (src, s) => {
        this.status = src[s + 14]
        this.id = src.readUInt32BE(s + 10)
      },
      onFrameEnd: () => {
        if ((this.status & STATUS_RESPONSE) === 0) return fail(new Error('backend sent a request frame'))
        if ((this.status & STATUS_ERROR) !== 0) {
          errorResponses++
          firstError ??= `error response (status 0x${this.status.toString(16)}) to request id ${this.id}`
        }
        this.inflight--
        this.onResponse(this.id, performance.now())
      },
      onError: (e) => fail(e),
    })
    socket.on('data', (c) => {
      if (this.onBytes !== null) this.onBytes(c.length)
      socket.cork()
      this.scanner.push(c)
      socket.uncork()
    })
  }

  sendFrame(tmpl) {
    const id = this.nextId++
    const b = Buffer.allocUnsafe(tmpl.length)
    tmpl.copy(b)
    b.writeUInt32BE(id >>> 0, 10)
    this.sentAt[id & (RING - 1)] = performance.now()
    this.inflight++
    this.socket.write(b)
    return id
  }
}

/** TLS + TCP handshake + signed remote-cluster handshake. Resolves with a Conn ready for requests. */
function openConn() {
  return new Promise((resolveConn, reject) => {
    const socket = connect({ host: '127.0.0.1', port: spec.target.port, servername: spec.target.servername, secureContext })
    let step = 0
    const onErr = (e) => {
      socket.destroy()
      reject(e)
    }
    socket.once('error', onErr)
    socket.once('close', () => {
      if (step < 2) reject(new Error(`connection closed during the handshakes (step ${step})`))
    })
    const conn = new Conn(socket)
    conn.onResponse = (id) => {
      if (step === 0 && id === 1) {
        step = 1
        conn.inflight++
        socket.write(RCS_HS)
      } else if (step === 1 && id === 2) {
        step = 2
        socket.removeListener('error', onErr)
        socket.on('error', () => {})
        if (conn.status !== STATUS_RESPONSE) return reject(new Error(`remote cluster handshake refused: ${firstError}`))
        resolveConn(conn)
      }
    }
    socket.once('secureConnect', () => {
      socket.setNoDelay(true)
      conn.inflight++
      socket.write(TCP_HS)
    })
  })
}

async function openMany(n, concurrency) {
  const conns = []
  let failed = 0
  let lastErr = null
  let next = 0
  async function worker() {
    while (next < n) {
      next++
      try {
        conns.push(await openConn())
      } catch (e) {
        failed++
        lastErr = e
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker))
  return { conns, failed, lastErr }
}

function fail(e) {
  process.stdout.write(JSON.stringify({ ok: false, error: String(e?.message ?? e) }) + '\n')
  process.exit(1)
}

/** Tells the orchestrator when the measurement window opens and closes (it samples CPU counters then). */
function windowEvent(phase) {
  // t: CLOCK_MONOTONIC in µs, the clock V8 stamps CPU-profile samples with (used to cut profiles to the window).
  process.stdout.write(JSON.stringify({ event: 'window', phase, t: Number(process.hrtime.bigint() / 1000n) }) + '\n')
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

function percentiles(arr, n) {
  const a = arr.subarray(0, n).sort()
  const q = (p) => (n === 0 ? null : a[Math.min(n - 1, Math.floor(p * n))])
  let sum = 0
  for (let i = 0; i < n; i++) sum += a[i]
  return { p50: q(0.5), p90: q(0.9), p99: q(0.99), p999: q(0.999), max: n ? a[n - 1] : null, mean: n ? sum / n : null }
}

async function closeAll(conns) {
  const deadline = performance.now() + 3000
  while (conns.some((c) => c.inflight > 0) && performance.now() < deadline) await sleep(10)
  for (const c of conns) c.socket.destroy()
}

function tlsInfo(c) {
  const cipher = c.socket.getCipher()
  return `${c.socket.getProtocol()} ${cipher?.standardName ?? cipher?.name}`
}

// ---- workloads ---------------------------------------------------------------------------------------------------

async function w1() {
  const { conns, failed, lastErr } = await openMany(spec.conns, spec.conns)
  if (failed > 0) fail(lastErr)
  const tmpl = requestTemplate(spec.reqBody, spec.respSize)
  const lat = new Float64Array(4_000_000)
  let n = 0
  let completed = 0
  let measuring = false
  let stopping = false
  for (const c of conns) {
    c.onResponse = (id, now) => {
      if (measuring) {
        completed++
        if (n < lat.length) lat[n++] = now - c.sentAt[id & (RING - 1)]
      }
      if (!stopping && spec.rate == null) c.sendFrame(tmpl)
    }
  }
  let timer = null
  let overload = 0
  if (spec.rate == null) {
    for (const c of conns) {
      c.socket.cork()
      for (let i = 0; i < spec.depth; i++) c.sendFrame(tmpl)
      c.socket.uncork()
    }
  } else {
    // Open loop: every millisecond-ish tick sends what is due, round-robin over the sockets.
    const start = performance.now()
    let sent = 0
    let rr = 0
    timer = setInterval(() => {
      if (stopping) return
      const due = Math.floor(((performance.now() - start) * spec.rate) / 1000) - sent
      if (due <= 0) return
      for (const c of conns) c.socket.cork()
      for (let i = 0; i < due; i++) {
        const c = conns[rr++ % conns.length]
        if (c.inflight < RING - 8) c.sendFrame(tmpl)
        else overload++
      }
      sent += due
      for (const c of conns) c.socket.uncork()
    }, 1)
  }
  await sleep(spec.warmupMs)
  windowEvent('start')
  measuring = true
  const t0 = performance.now()
  await sleep(spec.measureMs)
  measuring = false
  windowEvent('end')
  const secs = (performance.now() - t0) / 1000
  stopping = true
  if (timer) clearInterval(timer)
  const tls = tlsInfo(conns[0])
  await closeAll(conns)
  return { ok: errorResponses === 0, error: firstError, requests: completed, seconds: secs, rps: completed / secs, latencyMs: percentiles(lat, n), overload, tls }
}

async function w2() {
  const { conns, failed, lastErr } = await openMany(spec.conns, spec.conns)
  if (failed > 0) fail(lastErr)
  const tmpl = requestTemplate(spec.reqBody ?? 64, spec.respSize)
  let bytes = 0
  let responses = 0
  let measuring = false
  let stopping = false
  for (const c of conns) {
    c.onBytes = (len) => {
      if (measuring) bytes += len
    }
    c.onResponse = () => {
      if (measuring) responses++
      if (!stopping) c.sendFrame(tmpl)
    }
    c.sendFrame(tmpl)
  }
  await sleep(spec.warmupMs)
  windowEvent('start')
  measuring = true
  const t0 = performance.now()
  await sleep(spec.measureMs)
  measuring = false
  windowEvent('end')
  const secs = (performance.now() - t0) / 1000
  stopping = true
  for (const c of conns) c.socket.destroy()
  return { ok: errorResponses === 0, error: firstError, bytes, seconds: secs, mbps: bytes / secs / 1e6, responses }
}

async function w3() {
  const lat = new Float64Array(1_000_000)
  let n = 0
  let completed = 0
  let failures = 0
  let lastErr = null
  let measuring = false
  let stopped = false
  async function loop() {
    while (!stopped) {
      const t = performance.now()
      try {
        const c = await openConn()
        const done = performance.now()
        if (measuring) {
          completed++
          if (n < lat.length) lat[n++] = done - t
        }
        c.socket.destroy()
      } catch (e) {
        failures++
        lastErr = e
        await sleep(5)
      }
    }
  }
  const loops = Array.from({ length: spec.concurrency }, loop)
  await sleep(spec.warmupMs)
  windowEvent('start')
  measuring = true
  const t0 = performance.now()
  await sleep(spec.measureMs)
  measuring = false
  windowEvent('end')
  const secs = (performance.now() - t0) / 1000
  stopped = true
  await Promise.all(loops)
  return { ok: failures === 0 && errorResponses === 0, error: lastErr ? String(lastErr.message) : firstError, connections: completed, seconds: secs, cps: completed / secs, failures, setupMs: percentiles(lat, n) }
}

async function w4() {
  const t0 = performance.now()
  const { conns, failed, lastErr } = await openMany(spec.count, spec.concurrency)
  process.stdout.write(
    JSON.stringify({ event: 'ready', established: conns.length, failed, error: lastErr ? String(lastErr.message) : null, ms: performance.now() - t0 }) + '\n',
  )
  const rl = createInterface({ input: process.stdin })
  await new Promise((r) => rl.once('line', r))
  for (const c of conns) c.socket.destroy()
  return { ok: true, closed: conns.length }
}

const run = { w1, w2, w3, w4 }[spec.workload]
if (run === undefined) fail(new Error(`unknown workload ${spec.workload}`))
const result = await run()
process.stdout.write(JSON.stringify(result) + '\n')
process.exit(0)
