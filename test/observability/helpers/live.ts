/**
 * Shared pieces of the observability integration tests: a backend that accepts TLS and stays silent, raw client
 * traffic that exercises the failure counters, an admin scrape, and a tiny reader of the text format.
 * (Not a test file; tap lists it as "no tests found".)
 */
import { connect as netConnect, type Socket } from 'node:net'
import { connect as tlsConnect, createServer as createTlsServer, type TLSSocket } from 'node:tls'
import { spawnSync } from 'node:child_process'
import type { AddressInfo } from 'node:net'
import type { Test } from 'tap'
import { testPki } from '../../helpers/pki.js'

/** TLS server with the test PKI's certificate (SAN node.internal): accepts, never answers, counts connections. */
export async function silentBackend(t: Test): Promise<{ port: number; accepted: () => number }> {
  const { server } = testPki()
  const sockets = new Set<TLSSocket>()
  let accepted = 0
  const srv = createTlsServer({ key: server.keyPem, cert: server.certPem }, (s) => {
    accepted++
    sockets.add(s)
    s.on('error', () => {})
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve) => srv.listen({ host: '127.0.0.1', port: 0 }, resolve))
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        srv.close(() => resolve())
      }),
  )
  return { port: (srv.address() as AddressInfo).port, accepted: () => accepted }
}

function closed(s: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (s.destroyed) return resolve()
    s.on('error', () => {})
    s.once('close', () => resolve())
  })
}

/** Plain bytes (an HTTP request) to the TLS port: a `not_tls` handshake failure. */
export async function sendPlainHttp(port: number): Promise<void> {
  const s = netConnect({ host: '127.0.0.1', port })
  s.on('error', () => {})
  s.once('connect', () => s.write('GET / HTTP/1.1\r\nHost: gateway\r\n\r\n'))
  await closed(s)
}

/** A TLS connection with `servername`; once established, writes `payload` (if any) and waits for the gateway to close. */
export async function tlsSession(port: number, servername: string, payload?: string): Promise<{ established: boolean; localPort: number }> {
  const s = tlsConnect({ host: '127.0.0.1', port, servername, ca: testPki().ca.certPem, checkServerIdentity: () => undefined })
  let established = false
  let localPort = 0
  s.on('error', () => {})
  s.once('secureConnect', () => {
    established = true
    localPort = s.localPort ?? 0
    if (payload !== undefined) s.write(payload)
  })
  await closed(s)
  return { established, localPort }
}

export async function get(port: number, path: string): Promise<{ status: number; body: string; type: string | null }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`)
  return { status: res.status, body: await res.text(), type: res.headers.get('content-type') }
}

export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

export interface Exposition {
  /** metric family → type, from the `# TYPE` lines. */
  readonly types: ReadonlyMap<string, string>
  readonly samples: readonly Sample[]
}

export function parseExposition(text: string): Exposition {
  const types = new Map<string, string>()
  const samples: Sample[] = []
  for (const line of text.split('\n')) {
    const typ = /^# TYPE (\S+) (\S+)$/.exec(line)
    if (typ) types.set(typ[1]!, typ[2]!)
    if (line === '' || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (!m) throw new Error(`unparseable exposition line: ${line}`)
    const labels: Record<string, string> = {}
    for (const lm of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[lm[1]!] = lm[2]!
    samples.push({ name: m[1]!, labels, value: Number(m[3]) })
  }
  return { types, samples }
}

/** Sum of the samples of `name` whose labels include `labels`. */
export function total(e: Exposition, name: string, labels: Record<string, string> = {}): number {
  let sum = 0
  for (const s of e.samples) if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) sum += s.value
  return sum
}

export async function scrape(adminPort: number): Promise<string> {
  const r = await get(adminPort, '/metrics')
  if (r.status !== 200) throw new Error(`/metrics answered ${r.status}`)
  return r.body
}

/** Polls until cond() holds; the bound is a safety net against hangs, never the thing under test. */
export async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const end = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

/** Path of an executable on PATH (or /usr/bin), or null. */
export function which(cmd: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${cmd} || { test -x /usr/bin/${cmd} && echo /usr/bin/${cmd}; }`], { encoding: 'utf8' })
  const p = r.stdout.trim().split('\n')[0]
  return r.status === 0 && p ? p : null
}
