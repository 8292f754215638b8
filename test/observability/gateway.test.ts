/**
 * A running gateway, driven by raw client traffic (no codec or emulator needed): the failure counters, connection
 * and byte counters, backend health, /readyz, the ECS connection log lines, and promtool's verdict on the scrape.
 */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { Writable } from 'node:stream'
import { startGateway } from '../helpers/gateway.js'
import { createLogger } from '../../src/log.js'
import { TLS_FAILURE_REASONS } from '../../src/admin/metrics.js'
import { silentBackend, sendPlainHttp, tlsSession, get, scrape, parseExposition, total, until, which } from './helpers/live.js'

const HTTP = 'GET / HTTP/1.1\r\n\r\n'

/** The only promtool complaints tolerated: prom-client's default gauges named like counters. */
const KNOWN_DEFAULT_GAUGE_COMPLAINTS = /^nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/

t.test('live gateway', async (t) => {
  const be = await silentBackend(t)
  // Our own sink: the lines exactly as the gateway writes them (the shared helper's `logs` are normalised for
  // other tests' convenience).
  const rawLines: string[] = []
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      rawLines.push(...chunk.toString('utf8').split('\n').filter((l) => l.trim() !== ''))
      cb()
    },
  })
  const gw = await startGateway(t, {
    options: { log: createLogger('debug', sink) },
    clusters: [
      { name: 'remote-a', server_names: ['remote-a.example.com'], nodes: [`127.0.0.1:${be.port}`], authentication: false, health_check: { enabled: false } },
      // Nothing listens on port 1: health checks fail, so this cluster has no healthy node.
      { name: 'remote-b', server_names: ['remote-b.example.com'], nodes: ['127.0.0.1:1'], authentication: false, health_check: { enabled: true, interval: '200ms', timeout: '1s' } },
    ],
  })
  const adminPort = gw.adminPort
  if (adminPort === null) throw new Error('admin listener expected')

  const before = parseExposition(await scrape(adminPort))
  t.test('before any traffic, known label sets read zero', async (t) => {
    for (const reason of TLS_FAILURE_REASONS) t.equal(total(before, 'rcgw_tls_handshake_failures_total', { reason }), 0, reason)
    for (const cluster of ['remote-a', 'remote-b']) {
      t.ok(before.samples.some((s) => s.name === 'rcgw_client_connections_total' && s.labels.cluster === cluster), `${cluster} connections series exists`)
      t.ok(before.samples.some((s) => s.name === 'rcgw_bytes_total' && s.labels.cluster === cluster && s.labels.direction === 'client_to_backend'), `${cluster} bytes series exists`)
    }
    t.equal(total(before, 'rcgw_build_info'), 1)
  })

  // Traffic, one connection after the other so each is fully counted before the next.
  await sendPlainHttp(gw.port)
  const unknown = await tlsSession(gw.port, 'nobody.example.com')
  const a = await tlsSession(gw.port, 'remote-a.example.com', HTTP)
  const b = await tlsSession(gw.port, 'remote-b.example.com', HTTP)
  t.ok(unknown.established && a.established && b.established, 'the three TLS clients completed their handshakes')
  await until(async () => total(parseExposition(await scrape(adminPort)), 'rcgw_connection_duration_seconds_count') === 2, 'both routed connections to close')

  const after = parseExposition(await scrape(adminPort))

  t.test('counters follow the traffic', async (t) => {
    const tls = (reason: string) => total(after, 'rcgw_tls_handshake_failures_total', { reason })
    t.equal(tls('not_tls'), 1, 'HTTP on the TLS port')
    t.equal(tls('unknown_sni'), 1, 'no cluster for nobody.example.com and no default')
    for (const r of TLS_FAILURE_REASONS.filter((r) => r !== 'not_tls' && r !== 'unknown_sni')) t.equal(tls(r), 0, `${r} untouched`)
    t.equal(total(after, 'rcgw_tls_handshake_duration_seconds_count'), 3, 'three completed handshakes timed')
    t.equal(total(after, 'rcgw_frame_errors_total', { reason: 'http_request' }), 1, 'HTTP inside TLS is a framing violation')
    t.equal(total(after, 'rcgw_client_connections_total', { cluster: 'remote-a' }), 1)
    t.equal(total(after, 'rcgw_client_connections_total', { cluster: 'remote-b' }), 1)
    t.equal(total(after, 'rcgw_client_connections_active'), 0, 'active connections back to zero')
    t.equal(total(after, 'rcgw_bytes_total', { cluster: 'remote-a', direction: 'client_to_backend' }), HTTP.length, 'client bytes counted')
    t.equal(total(after, 'rcgw_bytes_total', { cluster: 'remote-a', direction: 'backend_to_client' }), 0)
    t.equal(total(after, 'rcgw_backend_connect_duration_seconds_count'), 1, 'one successful backend connect (remote-a)')
    t.equal(be.accepted(), 1, 'the backend saw exactly that connect')
    t.ok(total(after, 'rcgw_backend_connect_failures_total', { cluster: 'remote-b', node: '127.0.0.1:1', reason: 'refused' }) >= 1, 'refused connects to remote-b')
    t.equal(total(after, 'rcgw_backend_up', { cluster: 'remote-a' }), 1)
    t.equal(total(after, 'rcgw_backend_up', { cluster: 'remote-b', node: '127.0.0.1:1' }), 0)
    t.equal(total(after, 'rcgw_connection_duration_seconds_count'), 2)
  })

  t.test('no label value identifies a client', async (t) => {
    const ports = [unknown.localPort, a.localPort, b.localPort].map(String)
    for (const s of after.samples)
      for (const [k, v] of Object.entries(s.labels)) {
        if (ports.some((p) => v === p || v.endsWith(`:${p}`))) t.fail(`${s.name}{${k}="${v}"} carries a client port`)
        if (/nobody\.example\.com/.test(v)) t.fail(`${s.name}{${k}="${v}"} carries a client-chosen SNI`)
      }
    t.pass(`${after.samples.length} samples checked`)
  })

  t.test('readiness names the cluster without a healthy node', async (t) => {
    await until(async () => (await get(adminPort, '/readyz')).status === 503, 'the first failed health check of remote-b')
    const r = await get(adminPort, '/readyz')
    t.equal(r.status, 503)
    t.same(JSON.parse(r.body), { status: 'not_ready', listening: true, clusters_without_healthy_nodes: ['remote-b'] })
    t.equal((await get(adminPort, '/healthz')).status, 200, 'alive nevertheless')
  })

  t.test('connection and failure log lines in ECS shape', async (t) => {
    const logs = rawLines.map((l) => JSON.parse(l) as Record<string, unknown>)
    const action = (name: string) => logs.filter((l) => l['event.action'] === name)
    const opened = action('connection_opened')
    const closed = action('connection_closed')
    t.equal(opened.length, 2, 'one open line per routed connection')
    t.equal(closed.length, 2, 'one close line per routed connection')
    t.match(
      opened.find((l) => l['cluster'] === 'remote-a'),
      { 'log.level': 'info', message: 'connection opened', sni: 'remote-a.example.com', 'client.ip': '127.0.0.1', 'client.port': a.localPort, 'tls.version_protocol': 'tls', 'tls.version': /^1\.[23]$/ },
    )
    const closedA = closed.find((l) => l['cluster'] === 'remote-a')
    t.match(closedA, { 'log.level': 'info', close_reason: 'framing_error:http_request', bytes_in: HTTP.length, bytes_out: 0, 'client.port': a.localPort, duration_s: Number })
    t.match(closed.find((l) => l['cluster'] === 'remote-b'), { close_reason: 'backend_unavailable' })
    const failures = action('tls_failure')
    t.same(failures.map((l) => [l['log.level'], l['reason']]).sort(), [['warn', 'not_tls'], ['warn', 'unknown_sni']], 'refusals are logged at warn')
    for (const l of logs) {
      t.type(l['@timestamp'], 'string')
      t.notOk('event' in l || 'client' in l || 'tls' in l, `no concrete value under an ECS object name (${String(l['message'])})`)
    }
  })

  const promtool = which('promtool')
  if (promtool === null) t.comment('!!!!!!!! promtool is not installed (Debian package "prometheus"): SKIPPING the promtool lint !!!!!!!!')
  t.test('promtool check metrics accepts the scrape', { skip: promtool === null ? 'promtool is not installed' : false }, async (t) => {
    if (promtool === null) return
    const text = await scrape(adminPort)
    const r = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' })
    t.equal(r.error, undefined, 'promtool ran')
    const complaints = `${r.stdout}\n${r.stderr}`.split('\n').map((l) => l.trim()).filter((l) => l !== '')
    const tolerated = complaints.filter((l) => KNOWN_DEFAULT_GAUGE_COMPLAINTS.test(l))
    const rest = complaints.filter((l) => !KNOWN_DEFAULT_GAUGE_COMPLAINTS.test(l))
    if (tolerated.length) t.comment(`tolerated prom-client default-metric complaints: ${tolerated.join('; ')}`)
    t.same(rest, [], 'no other complaint')
    t.ok(r.status === 0 || tolerated.length > 0, `exit status ${r.status} is explained by the tolerated complaints`)
    t.ok(text.includes('rcgw_request_duration_seconds') && text.includes('rcgw_frame_errors_total{reason="http_request"} 1'), 'the linted scrape carried the traffic')
  })
})
