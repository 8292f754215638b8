/**
 * Fault-test helpers (issue #11 "Campaign"): the real gateway in a CHILD PROCESS (`node <GC flags>
 * dist/cli/main.js start --config FILE`, as `npm start` runs it), so its RSS (/proc/<pid>/status VmRSS) and open
 * file descriptors (/proc/<pid>/fd) can be measured on their own; its counters are read from the admin /metrics.
 * Also a TCP "fault link" to put between the gateway and an emulator backend (kill a connection after N bytes,
 * stop reading), and small measurement utilities. Not a test file (no .test.ts); soak/run.mjs has its own plain-JS
 * equivalents so it runs without a TypeScript loader.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { createServer, connect as netConnect, type Server, type Socket, type AddressInfo } from 'node:net'
import { join, resolve, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'
import { request as httpRequest } from 'node:http'
import type { Test } from 'tap'
import { stringify } from 'yaml'
import type { TLSSocket } from 'node:tls'
import { FrameDecoder, type FrameProtocolError } from '../../src/codec/index.js'
import { tempDir } from '../helpers/tmp.js'
import { writePki } from '../helpers/pki.js'
import { normalize, type LogLine } from '../helpers/gateway.js'
import { GC_FLAGS } from '../../src/cli/node-flags.js'
import { encodeFrame, encodeFrameHeader } from '../../src/codec/frame.js'
import { Status } from '../../src/codec/constants.js'
import type { TransportClient } from '../emulator/client.js'
import { CREDENTIALS, SUBJECT_INFO } from '../gateway/fixtures.js'

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
/** The built gateway (`npm run build`); RCGW_FAULT_MAIN points elsewhere, e.g. a private build of a working tree. */
export const MAIN = process.env.RCGW_FAULT_MAIN ?? join(REPO, 'dist', 'cli', 'main.js')
/** This runtime's GC flags (src/cli/node-flags.ts), so the gateway under test runs as launched (no relaunch). */
export { GC_FLAGS }
export const MiB = 1024 * 1024

export type Doc = Record<string, unknown> & { clusters: Array<Record<string, unknown>> }

/** A config document as test/helpers/gateway.ts lays it out (ephemeral ports, test PKI, health checks off). */
export function baseDoc(clusters: Array<Record<string, unknown>>, extra: Record<string, unknown> = {}): Doc {
  return {
    listen: { host: '127.0.0.1', port: 0 },
    tls: { certificate: 'certs/server.crt', key: 'certs/server.key' },
    admin: { host: '127.0.0.1', port: 0 },
    health_check: { enabled: false },
    shutdown: { drain_timeout: '5s' },
    logging: { level: 'info' },
    reload: { watch: false },
    ...extra,
    clusters: clusters.map((c) => ({ backend_tls: { certificate_authorities: ['certs/ca.crt'], verification_mode: 'full', server_name: 'node.internal' }, ...c })),
  }
}

export interface ChildGateway {
  readonly pid: number
  readonly port: number
  readonly adminPort: number
  readonly restPort: number | null
  readonly dir: string
  readonly configFile: string
  /** Parsed log lines (bounded: the first `keepLogs`, then only counted). */
  readonly logs: LogLine[]
  readonly stderr: () => string
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  readonly alive: () => boolean
  writeConfig(doc: Doc): void
  /** Every sample of /metrics, summed over series whose labels match. */
  metric(name: string, labels?: Record<string, string>): Promise<number>
  metrics(): Promise<Metrics>
  rssKiB(): number
  fdCount(): number
  signal(sig: NodeJS.Signals): void
  /** SIGTERM and wait for the exit (safety net `ms`). */
  stop(ms?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}
export class Metrics {
  constructor(readonly samples: Sample[]) {}
  sum(name: string, labels: Record<string, string> = {}): number {
    let s = 0
    for (const m of this.samples) if (m.name === name && Object.entries(labels).every(([k, v]) => m.labels[k] === v)) s += m.value
    return s
  }
  /** label value → sum, for one label of one metric. */
  by(name: string, label: string): Record<string, number> {
    const out: Record<string, number> = {}
    for (const m of this.samples) if (m.name === name) out[m.labels[label] ?? ''] = (out[m.labels[label] ?? ''] ?? 0) + m.value
    return out
  }
}

/** Prometheus text format → samples (enough for the gateway's own output: no escaped quotes in label values). */
export function parseMetrics(text: string): Metrics {
  const out: Sample[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line)
    if (!m) continue
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!
    out.push({ name: m[1]!, labels, value: Number(m[3]) })
  }
  return new Metrics(out)
}

export function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolvePromise, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method: 'GET', agent: false, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)))
    req.on('error', reject)
    req.end()
  })
}

export function rssKiBOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) : NaN
}

export function fdCountOf(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length
}

/**
 * Writes the test PKI and `doc` into a temp folder and starts `dist/cli/main.js start` on it. Resolves once the
 * `started` log line names the ports. The child is SIGKILLed at teardown if still alive.
 */
export async function spawnGateway(t: Test, docIn: Doc, opts: { keepLogs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<ChildGateway> {
  let doc = docIn
  const dir = tempDir(t, 'rcgw-fault-')
  mkdirSync(join(dir, 'certs'))
  writePki(join(dir, 'certs'))
  const configFile = join(dir, 'gateway.yml')
  // Quiet levels do not log the `started` line that names the ephemeral ports: then the ports are chosen here.
  const level = (doc.logging as { level?: string } | undefined)?.level ?? 'info'
  const quiet = !['info', 'debug', 'trace'].includes(level)
  if (quiet) {
    doc = structuredClone(doc)
    const listen = doc.listen as { port: number }
    if (listen.port === 0) listen.port = await freePort()
    const admin = doc.admin as { port: number }
    if (admin.port === 0) admin.port = await freePort()
    const rest = doc.rest as { enabled?: boolean; port?: number } | undefined
    if (rest?.enabled && (rest.port ?? 0) === 0) rest.port = await freePort()
  }
  writeFileSync(configFile, stringify(doc))
  const child: ChildProcess = spawn(process.execPath, [...GC_FLAGS, MAIN, 'start', '--config', configFile], {
    cwd: dir,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const keep = opts.keepLogs ?? 5000
  const logs: LogLine[] = []
  let err = ''
  child.stderr!.on('data', (c: Buffer) => {
    if (err.length < 64 * 1024) err += c.toString('utf8')
  })
  let exitedFlag = false
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    child.once('exit', (code, signal) => {
      exitedFlag = true
      res({ code, signal })
    }),
  )
  t.teardown(async () => {
    if (!exitedFlag) {
      child.kill('SIGKILL')
      await exited
    }
  })
  const started = new Promise<LogLine>((res, rej) => {
    const rl = createInterface({ input: child.stdout! })
    rl.on('line', (line) => {
      let l: LogLine
      try {
        l = normalize(JSON.parse(line) as Record<string, unknown>)
      } catch {
        return
      }
      if (logs.length < keep) logs.push(l)
      if (l.event === 'started') res(l)
    })
    void exited.then(({ code, signal }) => rej(new Error(`gateway exited before starting (code ${code}, signal ${signal}): ${err}`)))
  })
  const safety = setTimeout(() => child.kill('SIGKILL'), 30_000)
  const portOf = (v: unknown): number => Number(String(v).split(':').pop())
  let line: LogLine
  if (quiet) {
    const admin = (doc.admin as { port: number }).port
    const rest = doc.rest as { enabled?: boolean; port?: number } | undefined
    void started.catch(() => {})
    const up = async (): Promise<boolean> => {
      if (exitedFlag) throw new Error(`gateway exited before starting: ${err}`)
      return httpGet(admin, '/healthz').then(
        (r) => r.status === 200,
        () => false,
      )
    }
    const end = Date.now() + 30_000
    while (!(await up())) {
      if (Date.now() > end) throw new Error('gateway did not start within 30 s')
      await sleep(50)
    }
    line = { level: 'info', msg: 'started', listen: `127.0.0.1:${(doc.listen as { port: number }).port}`, admin: `127.0.0.1:${admin}`, rest: rest?.enabled ? `127.0.0.1:${rest.port}` : null }
  } else line = await started
  clearTimeout(safety)
  const pid = child.pid!
  const adminPort = portOf(line.admin)
  const gw: ChildGateway = {
    pid,
    port: portOf(line.listen),
    adminPort,
    restPort: line.rest ? portOf(line.rest) : null,
    dir,
    configFile,
    logs,
    stderr: () => err,
    exited,
    alive: () => !exitedFlag,
    writeConfig: (d) => writeFileSync(configFile, stringify(d)),
    async metrics() {
      return parseMetrics((await httpGet(adminPort, '/metrics')).body)
    },
    async metric(name, labels = {}) {
      return (await gw.metrics()).sum(name, labels)
    },
    rssKiB: () => rssKiBOf(pid),
    fdCount: () => fdCountOf(pid),
    signal: (sig) => void child.kill(sig),
    async stop(ms = 30_000) {
      if (!exitedFlag) child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), ms)
      return exited.finally(() => clearTimeout(timer))
    },
  }
  return gw
}

/**
 * A TCP relay between the gateway and a backend, under the test's control: `killAfter(n)` destroys every current
 * connection once n more bytes went backend→gateway; `pauseUpstream()` stops reading from the gateway side
 * (a backend slower than the client).
 */
export interface FaultLink {
  readonly port: number
  readonly connections: number
  readonly open: number
  /** Bytes relayed backend→gateway on all connections so far. */
  readonly downBytes: number
  killAfter(bytes: number): void
  pauseUpstream(): void
  resumeUpstream(): void
  close(): Promise<void>
}

export async function faultLink(t: Test, targetPort: number): Promise<FaultLink> {
  const pairs = new Set<{ a: Socket; b: Socket }>()
  let connections = 0
  let downBytes = 0
  let killAt: number | null = null
  let paused = false
  const server: Server = createServer((a) => {
    connections++
    const b = netConnect({ host: '127.0.0.1', port: targetPort })
    const pair = { a, b }
    pairs.add(pair)
    if (paused) a.pause()
    const end = () => {
      a.destroy()
      b.destroy()
      pairs.delete(pair)
    }
    a.on('error', end).on('close', end)
    b.on('error', end).on('close', end)
    a.on('data', (c: Buffer) => {
      if (!b.write(c)) {
        a.pause()
        b.once('drain', () => paused || a.resume())
      }
    })
    b.on('data', (c: Buffer) => {
      downBytes += c.length
      if (killAt !== null && downBytes >= killAt) {
        killAt = null
        for (const p of [...pairs]) {
          p.a.destroy()
          p.b.destroy()
        }
        return
      }
      if (!a.write(c)) {
        b.pause()
        a.once('drain', () => b.resume())
      }
    })
  })
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res))
  const close = async () => {
    for (const p of pairs) {
      p.a.destroy()
      p.b.destroy()
    }
    await new Promise<void>((res) => server.close(() => res()))
  }
  t.teardown(close)
  return {
    port: (server.address() as AddressInfo).port,
    get connections() {
      return connections
    },
    get open() {
      return pairs.size
    },
    get downBytes() {
      return downBytes
    },
    killAfter(n) {
      killAt = downBytes + n
    },
    pauseUpstream() {
      paused = true
      for (const p of pairs) p.a.pause()
    },
    resumeUpstream() {
      paused = false
      for (const p of pairs) p.a.resume()
    },
    close,
  }
}

/** An ephemeral port that was free a moment ago (only for quiet-log gateways, which cannot report theirs). */
export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer()
    srv.once('error', rej)
    srv.listen(0, '127.0.0.1', () => {
      const p = (srv.address() as AddressInfo).port
      srv.close(() => res(p))
    })
  })
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/**
 * Max RSS (KiB) of `pid` over `samples` samples `everyMs` apart. Used to measure a plateau AFTER the
 * condition that defines it was reached; the assertions on it are bounds far from the normal values.
 */
export async function maxRss(pid: number, samples = 10, everyMs = 100): Promise<number> {
  let max = 0
  for (let i = 0; i < samples; i++) {
    max = Math.max(max, rssKiBOf(pid))
    await sleep(everyMs)
  }
  return max
}

/** Waits until `read()` stops changing for `quietMs` (a stall), or `ms` passes; returns the last value. */
export async function stalled(read: () => Promise<number> | number, quietMs = 1000, ms = 20_000): Promise<number> {
  const end = Date.now() + ms
  let last = await read()
  let since = Date.now()
  while (Date.now() < end) {
    await sleep(100)
    const v = await read()
    if (v !== last) {
      last = v
      since = Date.now()
    } else if (Date.now() - since >= quietMs) return v
  }
  return last
}

/**
 * Takes over a client socket's incoming bytes (the emulator client's own decoder is detached, so nothing is
 * buffered per frame) and counts what arrives: responses, error responses, the ids of ordinary responses.
 */
export interface FrameTally {
  readonly responses: number
  readonly errors: number
  readonly bytes: number
  readonly okIds: Set<bigint>
  readonly protocolError: FrameProtocolError | null
}

export function tallyFrames(socket: TLSSocket): FrameTally {
  socket.removeAllListeners('data')
  const tally = { responses: 0, errors: 0, bytes: 0, okIds: new Set<bigint>(), protocolError: null as FrameProtocolError | null }
  const decoder = new FrameDecoder(
    {
      ping() {},
      header(h) {
        tally.responses++
        if (h.isError) tally.errors++
        else tally.okIds.add(h.requestId)
      },
      body() {},
      frameEnd() {},
      error(e) {
        tally.protocolError = e
      },
    },
    { maxHeaderSize: 16 * MiB, parseVariableHeader: false },
  )
  socket.on('data', (c: Buffer) => {
    tally.bytes += c.length
    decoder.push(c)
  })
  return tally
}

// ---- frames for the stream faults (backend.test.ts, backpressure.test.ts) ----------------------------------------

/** 64 KiB of body bytes, shared by every chunk a stream fault writes (nothing is copied per chunk). */
export const CHUNK = Buffer.alloc(64 * 1024, 0x61)

/** A response frame of `size` body bytes as 64 KiB chunks that all share one buffer (the emulator holds no copy). */
export function bigResponse(requestId: bigint, version: number, size: number): Buffer[] {
  const head = encodeFrameHeader({ requestId, status: Status.RESPONSE, version }, size).toBuffer()
  const out = [head]
  for (let left = size; left > 0; left -= CHUNK.length) out.push(left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left))
  return out
}

/** Counts bytes arriving on the client socket (alongside the client's own decoder). */
export function countBytes(c: TransportClient): { readonly n: number } {
  const box = { n: 0 }
  c.socket.on('data', (b: Buffer) => void (box.n += b.length))
  return box
}

/** The header of a search request of `size` body bytes (the body follows as raw chunks). */
export function requestHeader(c: TransportClient, requestId: bigint, size: number): Buffer {
  return encodeFrameHeader({ requestId, status: 0, version: c.negotiatedVersion!, requestHeaders: { _cross_cluster_access_credentials: CREDENTIALS, _cross_cluster_access_subject_info: SUBJECT_INFO }, action: 'indices:data/read/search' }, size).toBuffer()
}

/** A request frame sent outside the client's request/response matching (its response is "unsolicited": not buffered). */
export function rawRequest(c: TransportClient, requestId: bigint, body: Buffer): Buffer {
  return encodeFrame({ requestId, status: 0, version: c.negotiatedVersion!, requestHeaders: { _cross_cluster_access_credentials: CREDENTIALS, _cross_cluster_access_subject_info: SUBJECT_INFO }, action: 'indices:data/read/search', body })
}
