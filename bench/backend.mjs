#!/usr/bin/env node
/**
 * Bench backend: a lean TLS server speaking the Elasticsearch transport protocol like a remote-cluster-port node,
 * only as far as the bench needs it (transport-protocol.md §1, §4, §5):
 *  - TCP handshake (status 0x08): answered with TransportVersion 9250003 / "9.3.0" in the request's handshake version;
 *  - `cluster:internal/remote_cluster/handshake`: answered with a small HandshakeResponse-shaped body;
 *  - any other request: the response body size is the int32 at body bytes 1..4 (after the `00` parent task id),
 *    so one backend serves W1 (16 KiB) and W2 (64 MiB) alike; bodies are views of one random buffer, streamed with
 *    back-pressure and written in request order per connection;
 *  - pings are echoed.
 * No authentication and no per-request allocation beyond a 25-byte response header.
 *
 * usage: node bench/backend.mjs --cert F --key F [--port 0] [--dist DIR]
 * Prints one JSON line {"event":"ready","port":N}; exits when stdin closes (the orchestrator went away).
 */
import { readFileSync } from 'node:fs'
import { createServer } from 'node:tls'
import { join, resolve, dirname } from 'node:path'
import { pathToFileURL, fileURLToPath } from 'node:url'
import { randomFillSync } from 'node:crypto'
import { Scanner, STATUS_HANDSHAKE, STATUS_RESPONSE, HEADER_SIZE } from './lib/wire.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const args = parseArgs(process.argv.slice(2))
const distDir = resolve(args.dist ?? join(here, '..', 'dist'))
const codec = await import(pathToFileURL(join(distDir, 'codec/index.js')).href)
const TRANSPORT_VERSION = 9250003

const RCS_TAIL = codec.encodeString(codec.REMOTE_CLUSTER_HANDSHAKE_ACTION)
const RCS_BODY = (() => {
  const w = new codec.StreamWriter(128)
  w.writeVInt(9030099) // release Version id
  w.writeString('bench0000000000000000000000000000000000') // build hash
  w.writeString('bench-backend-0') // node name (DiscoveryNode, abbreviated)
  w.writeString('bench-cluster') // cluster name
  return Buffer.from(w.toBuffer())
})()
const PING = Buffer.from([0x45, 0x53, 0xff, 0xff, 0xff, 0xff])
/** Own back-pressure bound (the socket's 16 KiB high-water mark would stall pipelined 16 KiB responses). */
const WRITE_LIMIT = 1024 * 1024
const BODY = randomFillSync(Buffer.allocUnsafe(256 * 1024))
const bodyViews = new Map()
function bodyView(n) {
  let v = bodyViews.get(n)
  if (v === undefined) bodyViews.set(n, (v = BODY.subarray(0, n)))
  return v
}

/** Response header: 23 fixed bytes + empty thread context `00 00`; the request id is copied from the request. */
function responseHeader(src, s, version, bodyLength) {
  const h = Buffer.allocUnsafe(HEADER_SIZE + 2)
  h[0] = 0x45
  h[1] = 0x53
  h.writeInt32BE(17 + 2 + bodyLength, 2)
  src.copy(h, 6, s + 6, s + 14)
  h[14] = STATUS_RESPONSE
  h.writeInt32BE(version, 15)
  h.writeInt32BE(2, 19)
  h[23] = 0
  h[24] = 0
  return h
}

class Conn {
  constructor(socket) {
    this.socket = socket
    this.queue = [] // [header, bodySize] pairs waiting
    this.qHead = 0
    this.streamLeft = 0 // body bytes of the response being streamed
    this.waiting = false
    this.kind = 0 // 0 request, 1 tcp handshake, 2 rcs handshake
    this.hsResponse = null
    this.reqHdr = Buffer.allocUnsafe(HEADER_SIZE)
    this.version = 0
    this.scanner = new Scanner({
      wantVar: true,
      prefix: true,
      onHeader: (src, s, hdrLen) => this.onHeader(src, s, hdrLen),
      onFrameEnd: (prefix, got) => this.onFrameEnd(prefix, got),
      onPing: () => socket.write(PING),
      onError: (e) => {
        process.stderr.write(`backend: ${e.message}\n`)
        socket.destroy()
      },
    })
    this.onDrain = () => {
      this.waiting = false
      this.pump()
    }
    socket.on('data', (c) => {
      socket.cork()
      this.scanner.push(c)
      socket.uncork()
    })
    socket.on('error', () => socket.destroy())
  }

  onHeader(src, s, hdrLen) {
    const status = src[s + 14]
    this.version = src.readInt32BE(s + 15)
    if ((status & STATUS_RESPONSE) !== 0) {
      this.socket.destroy() // server channels do not accept responses
      return
    }
    src.copy(this.reqHdr, 0, s, s + HEADER_SIZE)
    if ((status & STATUS_HANDSHAKE) !== 0) {
      this.kind = 1
      this.hsResponse = codec.encodeTcpHandshakeResponse({
        requestId: src.readBigInt64BE(s + 6),
        handshakeVersion: this.version,
        transportVersion: TRANSPORT_VERSION,
        releaseVersion: '9.3.0',
      })
      return
    }
    const end = s + hdrLen
    this.kind = hdrLen >= HEADER_SIZE + RCS_TAIL.length && src.compare(RCS_TAIL, 0, RCS_TAIL.length, end - RCS_TAIL.length, end) === 0 ? 2 : 0
  }

  onFrameEnd(prefix, got) {
    if (this.kind === 1) return this.enqueueRaw(this.hsResponse)
    if (this.kind === 2) return this.enqueue(responseHeader(this.reqHdr, 0, this.version, RCS_BODY.length), -1)
    const size = got >= 5 ? prefix : 0
    this.enqueue(responseHeader(this.reqHdr, 0, this.version, size), size)
  }

  enqueueRaw(frame) {
    this.queue.push(frame, 0)
    this.pump()
  }

  enqueue(header, size) {
    this.queue.push(header, size)
    this.pump()
  }

  pump() {
    if (this.waiting) return
    const sock = this.socket
    for (;;) {
      while (this.streamLeft > 0) {
        const n = this.streamLeft < BODY.length ? this.streamLeft : BODY.length
        this.streamLeft -= n
        sock.write(n === BODY.length ? BODY : bodyView(n))
        if (sock.writableLength > WRITE_LIMIT) return this.wait()
      }
      if (this.qHead >= this.queue.length) {
        this.queue.length = 0
        this.qHead = 0
        return
      }
      const header = this.queue[this.qHead++]
      const size = this.queue[this.qHead++]
      sock.write(header)
      if (size === -1) sock.write(RCS_BODY)
      else this.streamLeft = size
      if (sock.writableLength > WRITE_LIMIT) return this.wait()
    }
  }

  wait() {
    if (this.socket.destroyed) return
    this.waiting = true
    this.socket.once('drain', this.onDrain)
  }
}

const server = createServer({ cert: readFileSync(args.cert), key: readFileSync(args.key) }, (socket) => {
  socket.setNoDelay(true)
  new Conn(socket)
})
server.on('tlsClientError', () => {})
server.listen({ host: '127.0.0.1', port: Number(args.port ?? 0), backlog: 4096 }, () => {
  process.stdout.write(JSON.stringify({ event: 'ready', port: server.address().port, pid: process.pid }) + '\n')
})
process.stdin.on('end', () => process.exit(0))
process.stdin.on('close', () => process.exit(0))
process.stdin.resume()
process.on('SIGTERM', () => process.exit(0))

function parseArgs(argv) {
  const out = {}
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a.startsWith('--')) out[a.slice(2)] = argv[++i]
  }
  return out
}
