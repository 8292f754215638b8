/**
 * The REST listener end to end: real TLS sockets on 127.0.0.1, the real config loader, http-proxy-3 and HTTPS
 * backends that answer like Elasticsearch HTTP nodes.
 */
import t from 'tap'
import { request as httpsRequest, Agent as HttpsAgent } from 'node:https'
import { connect as tlsConnect } from 'node:tls'
import { createHash, randomBytes } from 'node:crypto'
import { testPki } from '../helpers/pki.js'
import { until } from '../gateway/fixtures.js'
import { esBackend, startRestGateway, restCluster, restRequest, deadPort, silentPort, sha256 } from './helpers.js'

const A = 'remote-a.example.com'
const B = 'remote-b.example.com'

t.test('routing: by SNI, by Host without SNI, default cluster, 421 otherwise', async (t) => {
  const a = await esBackend(t, 'cluster-a', 'a-1')
  const b = await esBackend(t, 'cluster-b', 'b-1')
  const gw = await startRestGateway(t, [
    restCluster({ name: 'a', server_names: [A], nodes: ['127.0.0.1:1'] }, [a.address]),
    restCluster({ name: 'b', server_names: [B], nodes: ['127.0.0.1:1'] }, [b.address]),
    { name: 'c', server_names: ['transport-only.example.com'], nodes: ['127.0.0.1:1'] },
  ])
  const bySni = await restRequest(gw.restPort, { servername: 'Remote-B.Example.com' })
  t.equal(bySni.status, 200)
  t.equal(bySni.json().cluster_name, 'cluster-b', 'SNI picks the cluster (case-insensitive)')
  t.equal(bySni.headers['x-elastic-product'], 'Elasticsearch', 'response headers pass through')

  const byHost = await restRequest(gw.restPort, { headers: { host: `${A}:9243` } })
  t.equal(byHost.json().cluster_name, 'cluster-a', 'without SNI the Host header decides')

  const sniWins = await restRequest(gw.restPort, { servername: A, headers: { host: '10.1.2.3:9243' } })
  t.equal(sniWins.json().cluster_name, 'cluster-a', 'SNI wins over a Host that names no cluster')

  const mismatch = await restRequest(gw.restPort, { servername: A, headers: { host: B } })
  t.equal(mismatch.status, 421, 'SNI of one cluster + Host of another is misdirected')

  const none = await restRequest(gw.restPort, { headers: { host: 'unknown.example.com' } })
  t.equal(none.status, 421)
  t.match(none.headers['content-type'], /^application\/json/)
  const body = none.json<{ error: { root_cause: Array<{ type: string; reason: string }>; type: string; reason: string }; status: number }>()
  t.equal(body.status, 421)
  t.equal(body.error.type, 'misdirected_request_exception')
  t.equal(body.error.root_cause[0]!.type, 'misdirected_request_exception')
  t.match(body.error.reason, /no cluster is configured for host \[unknown\.example\.com\]/)

  const transportOnly = await restRequest(gw.restPort, { servername: 'transport-only.example.com' })
  t.equal(transportOnly.status, 421)
  t.match(transportOnly.json<{ error: { reason: string } }>().error.reason, /cluster \[c\] is not reachable over REST/)

  t.equal(await gw.metricValue('rcgw_rest_requests_total', { cluster: '_unrouted', code: '4xx' }), 3, '421s counted as unrouted')
  t.equal(await gw.metricValue('rcgw_rest_rejected_total', { reason: 'misdirected' }), 3)
  const rejected = gw.logs.filter((l) => l.event === 'rest_request_rejected')
  t.equal(rejected.length, 3, 'one log line per rejected request')
  t.equal(rejected[0]!.level, 'warn')
})

t.test('default cluster takes requests with unknown names', async (t) => {
  const a = await esBackend(t, 'cluster-a', 'a-1')
  const b = await esBackend(t, 'cluster-b', 'b-1')
  const gw = await startRestGateway(t, [
    restCluster({ name: 'a', server_names: [A], nodes: ['127.0.0.1:1'] }, [a.address]),
    restCluster({ name: 'b', server_names: [B], default: true, nodes: ['127.0.0.1:1'] }, [b.address]),
  ])
  t.equal((await restRequest(gw.restPort, { servername: 'localhost' })).json().cluster_name, 'cluster-b', 'unknown SNI → default')
  t.equal((await restRequest(gw.restPort, { headers: { host: '127.0.0.1' } })).json().cluster_name, 'cluster-b', 'IP Host → default')
  t.equal((await restRequest(gw.restPort, { headers: { host: A } })).json().cluster_name, 'cluster-a')
})

t.test('headers: X-Forwarded-*, Authorization forwarded but never logged, hop-by-hop removed', async (t) => {
  const a = await esBackend(t, 'cluster-a', 'a-1')
  const dead = await deadPort()
  const gw = await startRestGateway(t, [restCluster({ name: 'a', default: true, nodes: ['127.0.0.1:1'] }, [a.address, `127.0.0.1:${dead}`])])
  const secret = 'ApiKey ' + Buffer.from('VuaCfGcBCdbkQm-e5aOx:ui2lp2axTNmsyakw9tvNnw').toString('base64')
  const r = await restRequest(gw.restPort, {
    path: '/_echo?pretty',
    headers: {
      authorization: secret,
      'x-forwarded-for': '203.0.113.9',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': 'evil.example.com',
      'x-forwarded-port': '1',
      connection: 'keep-alive, x-drop-me',
      'x-drop-me': 'yes',
      'proxy-authorization': 'Basic c2VjcmV0',
      'x-opaque-id': 'trace-1',
      host: `${A}:9243`,
    },
  })
  t.equal(r.status, 200)
  const seen = r.json<{ headers: Record<string, string>; url: string }>()
  t.equal(seen.url, '/_echo?pretty', 'path and query unchanged')
  t.equal(seen.headers.authorization, secret, 'Authorization reaches Elasticsearch untouched')
  t.equal(seen.headers['x-opaque-id'], 'trace-1')
  t.equal(seen.headers['x-forwarded-for'], '203.0.113.9,127.0.0.1', 'the client address is appended')
  t.equal(seen.headers['x-forwarded-proto'], 'https', "the client's X-Forwarded-Proto is replaced")
  t.equal(seen.headers['x-forwarded-host'], `${A}:9243`)
  t.equal(seen.headers['x-forwarded-port'], String(gw.restPort), 'X-Forwarded-Port is the listener port')
  t.equal(seen.headers.host, `${A}:9243`, 'Host is kept')
  t.notOk('x-drop-me' in seen.headers, 'headers named by Connection are hop-by-hop')
  t.notOk('proxy-authorization' in seen.headers)

  // A POST (with a body, never retried) to the dead node: an upstream error log line that must not carry the key.
  for (let i = 0; i < 2; i++) await restRequest(gw.restPort, { method: 'POST', path: '/_echo', headers: { authorization: secret, 'content-type': 'application/json' }, body: '{}' })
  t.ok(gw.logs.some((l) => l.event === 'rest_upstream_error'), 'an upstream error was logged')
  const all = JSON.stringify(gw.logs)
  t.notOk(all.includes('ui2lp2axTNmsyakw9tvNnw'), 'the API key secret is in no log line')
  t.notOk(all.includes(secret.slice(7)), 'the encoded credentials are in no log line')
  t.notOk(all.includes('c2VjcmV0'), 'Proxy-Authorization is in no log line')
})

t.test('an 8 MiB body streams both ways without being buffered', async (t) => {
  const a = await esBackend(t, 'cluster-a', 'a-1')
  const gw = await startRestGateway(t, [restCluster({ name: 'a', default: true, nodes: ['127.0.0.1:1'] }, [a.address])])
  const chunk = 64 * 1024
  const total = 8 * 1024 * 1024
  const sent = createHash('sha256')
  const received = createHash('sha256')
  let receivedBytes = 0
  await new Promise<void>((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port: gw.restPort, method: 'POST', path: '/_pipe', ca: testPki().ca.certPem, checkServerIdentity: () => undefined, agent: false, headers: { 'content-type': 'application/octet-stream' } },
      (res) => {
        t.equal(res.statusCode, 200)
        res.on('data', (d: Buffer) => {
          received.update(d)
          receivedBytes += d.length
          // Only once the echo of the first half has come back is the second half sent: a proxy that held the
          // request body (or the response) until it was complete would never get here and the test would time out.
          if (receivedBytes >= total / 2 && !secondHalf) {
            secondHalf = true
            write(total / 2, () => req.end())
          }
        })
        res.on('end', resolve)
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    let secondHalf = false
    let offset = 0
    const write = (bytes: number, done: () => void) => {
      const end = offset + bytes
      const step = () => {
        while (offset < end) {
          const b = randomBytes(chunk)
          sent.update(b)
          offset += chunk
          if (!req.write(b)) return void req.once('drain', step)
        }
        done()
      }
      step()
    }
    write(total / 2, () => {})
  })
  t.equal(receivedBytes, total)
  t.equal(received.digest('hex'), sent.digest('hex'), 'sha256 of what came back equals what was sent')
})

t.test('chunked responses, keep-alive reuse of upstream connections, chunked DELETE bodies', async (t) => {
  const a = await esBackend(t, 'cluster-a', 'a-1')
  const gw = await startRestGateway(t, [restCluster({ name: 'a', default: true, nodes: ['127.0.0.1:1'] }, [a.address])])
  const chunks = await restRequest(gw.restPort, { path: '/_chunks?n=50' })
  t.equal(chunks.status, 200)
  t.equal(chunks.headers['transfer-encoding'], 'chunked')
  const lines = chunks.body.toString().trim().split('\n')
  t.equal(lines.length, 50)
  t.same(JSON.parse(lines[49]!), { chunk: 49 })

  // Ten requests from ten separate client connections: one upstream connection serves them all.
  for (let i = 0; i < 10; i++) t.equal((await restRequest(gw.restPort)).status, 200)
  t.equal(a.connections, 1, 'the upstream connection is kept alive and reused')

  // A chunked DELETE body (clear scroll) arrives intact, and nothing of it is read as a second request.
  const before = a.requests.length
  const body = JSON.stringify({ scroll_id: ['DXF1ZXJ5QW5kRmV0Y2gBAAAAAAAAAD4WYm9laVYtZndUQlNsdDcwakFMNjU1QQ=='] })
  const del = await new Promise<{ status: number; json: Record<string, unknown> }>((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port: gw.restPort,
        method: 'DELETE',
        path: '/_echo',
        ca: testPki().ca.certPem,
        checkServerIdentity: () => undefined,
        agent: false,
        headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      },
      (res) => {
        let s = ''
        res.on('data', (d: Buffer) => (s += d.toString()))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(s) as Record<string, unknown> }))
      },
    )
    req.on('error', reject)
    req.write(body.slice(0, 10))
    req.end(body.slice(10))
  })
  t.equal(del.status, 200)
  t.equal(del.json.body_sha256, sha256(body), 'the DELETE body reached the node whole')
  t.equal((await restRequest(gw.restPort)).status, 200)
  t.equal(a.requests.length, before + 2, 'exactly the two requests sent reached the node')
})

t.test('refused node: 502 for a request with a body, the node is skipped, a bodyless request is retried', async (t) => {
  const live = await esBackend(t, 'cluster-a', 'a-live')
  const dead = await deadPort()
  const deadId = `127.0.0.1:${dead}`
  const gw = await startRestGateway(t, [restCluster({ name: 'a', default: true, nodes: ['127.0.0.1:1'] }, [deadId, live.address])])
  // Round robin starts at the dead node.
  const r = await restRequest(gw.restPort, { method: 'POST', path: '/logs/_doc', headers: { 'content-type': 'application/json' }, body: '{"a":1}' })
  t.equal(r.status, 502)
  t.match(r.headers['content-type'], /^application\/json/)
  const e = r.json<{ error: { type: string; reason: string; root_cause: unknown[] }; status: number }>()
  t.equal(e.status, 502)
  t.equal(e.error.type, 'bad_gateway_exception')
  t.match(e.error.reason, /cannot connect to a node of cluster \[a\]/)
  t.notOk(JSON.stringify(e).includes(String(dead)), 'the node address is not disclosed to the client')
  for (let i = 0; i < 4; i++) t.equal((await restRequest(gw.restPort)).json().name, 'a-live', `request ${i + 2} goes to the other node`)
  t.equal(await gw.metricValue('rcgw_rest_upstream_errors_total', { cluster: 'a', node: deadId, reason: 'refused' }), 1)
  const log = gw.logs.find((l) => l.event === 'rest_upstream_error')!
  t.equal(log.node, deadId)
  t.equal(log.reason, 'refused')
  t.equal(log.level, 'warn')

  // A fresh gateway (the dead node not yet known): a GET to it is retried once on the next node.
  const gw2 = await startRestGateway(t, [restCluster({ name: 'a', default: true, nodes: ['127.0.0.1:1'] }, [deadId, live.address])])
  const g = await restRequest(gw2.restPort)
  t.equal(g.status, 200, 'the bodyless request succeeded on the second node')
  t.equal(g.json().name, 'a-live')
  t.equal(await gw2.metricValue('rcgw_rest_upstream_errors_total', { node: deadId, reason: 'refused' }), 1)
  t.equal(gw2.logs.find((l) => l.event === 'rest_upstream_error')?.retrying, true)
  t.equal(await gw2.metricValue('rcgw_rest_requests_total', { cluster: 'a', code: '2xx' }), 1)
})

t.test('TLS verification failure → 502; connect timeout → 504; a response cut mid-body ends the client connection', async (t) => {
  const a = await esBackend(t, 'cluster-a', 'a-1')
  const silent = await silentPort(t)
  const gw = await startRestGateway(t, [
    restCluster({ name: 'wrongname', server_names: [A], nodes: ['127.0.0.1:1'] }, [a.address], { server_name: 'not-the-node.example.com' }),
    restCluster({ name: 'slow', server_names: [B], nodes: ['127.0.0.1:1'] }, [`127.0.0.1:${silent}`], {}, { connect_timeout: '200ms' }),
    restCluster({ name: 'ok', server_names: ['localhost'], nodes: ['127.0.0.1:1'] }, [a.address]),
  ])
  const tlsFail = await restRequest(gw.restPort, { servername: A })
  t.equal(tlsFail.status, 502)
  t.match(tlsFail.json<{ error: { reason: string } }>().error.reason, /TLS connection to a node of cluster \[wrongname\] failed/)
  t.equal(await gw.metricValue('rcgw_rest_upstream_errors_total', { cluster: 'wrongname', reason: 'tls' }), 1)
  t.match(String(gw.logs.find((l) => l.event === 'rest_upstream_error' && l.cluster === 'wrongname')?.['error.message'] ?? ''), /ERR_TLS_CERT_ALTNAME_INVALID/)

  const timeout = await restRequest(gw.restPort, { servername: B })
  t.equal(timeout.status, 504)
  t.equal(timeout.json<{ error: { type: string } }>().error.type, 'gateway_timeout_exception')
  t.equal(await gw.metricValue('rcgw_rest_upstream_errors_total', { cluster: 'slow', reason: 'timeout' }), 1)

  const cut = await restRequest(gw.restPort, { servername: 'localhost', path: '/_cut' }).then(
    () => 'completed',
    (e: NodeJS.ErrnoException) => e.code ?? e.message,
  )
  t.not(cut, 'completed', 'the client sees the response fail, not a short body passed off as complete')
  await until(async () => (await gw.metricValue('rcgw_rest_upstream_errors_total', { cluster: 'ok', reason: 'reset' })) === 1, 10_000, 'reset counted')
  await until(async () => (await gw.metricValue('rcgw_rest_requests_total', { cluster: 'ok', code: '5xx' })) === 1, 10_000, 'cut request counted as 5xx')
})

t.test('metrics after requests', async (t) => {
  const a = await esBackend(t, 'cluster-a', 'a-1')
  const gw = await startRestGateway(t, [restCluster({ name: 'a', default: true, nodes: ['127.0.0.1:1'] }, [a.address])])
  const agent = new HttpsAgent({ keepAlive: true, maxSockets: 1 })
  t.teardown(() => agent.destroy())
  for (let i = 0; i < 3; i++) await restRequest(gw.restPort, { agent })
  await restRequest(gw.restPort, { agent, path: '/missing' })
  t.equal(await gw.metricValue('rcgw_rest_requests_total', { cluster: 'a', code: '2xx' }), 3)
  t.equal(await gw.metricValue('rcgw_rest_requests_total', { cluster: 'a', code: '4xx' }), 1)
  t.equal(await gw.metricValue('rcgw_rest_requests_total', { cluster: 'a', code: '5xx' }), 0, 'zero series exist')
  const h = await gw.gateway.metrics.registry.getSingleMetric('rcgw_rest_request_duration_seconds')!.get()
  const count = h.values.find((v) => (v as { metricName?: string }).metricName === 'rcgw_rest_request_duration_seconds_count' && v.labels.cluster === 'a')
  t.equal(count?.value, 4, 'every request observed in the duration histogram')
  t.equal(await gw.metricValue('rcgw_rest_connections'), 1, 'one open keep-alive client connection')
  const text = await gw.gateway.metrics.registry.metrics()
  t.match(text, /rcgw_rest_upstream_errors_total/)
  t.match(text, /rcgw_rest_rejected_total\{reason="tls"\} 0/)
  agent.destroy()
  await until(async () => (await gw.metricValue('rcgw_rest_connections')) === 0, 10_000, 'the gauge follows closed connections')
  t.pass('connection gauge back to 0')
})

t.test('malformed requests, oversized headers and TLS failures are refused and counted', async (t) => {
  const a = await esBackend(t, 'cluster-a', 'a-1')
  const gw = await startRestGateway(t, [restCluster({ name: 'a', default: true, nodes: ['127.0.0.1:1'] }, [a.address])])
  const raw = (text: string) =>
    new Promise<string>((resolve, reject) => {
      const s = tlsConnect({ host: '127.0.0.1', port: gw.restPort, ca: testPki().ca.certPem, checkServerIdentity: () => undefined }, () => s.end(text))
      let out = ''
      s.on('data', (d: Buffer) => (out += d.toString()))
      s.on('close', () => resolve(out))
      s.on('error', reject)
    })
  const bad = await raw('GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n')
  t.match(bad, /^HTTP\/1\.1 400 Bad Request/, 'CL + TE (a smuggling attempt) is refused')
  t.match(bad, /"type":"bad_request_exception"/)
  const big = await raw(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)
  t.match(big, /^HTTP\/1\.1 431 /)
  t.equal(await gw.metricValue('rcgw_rest_rejected_total', { reason: 'bad_request' }), 1)
  t.equal(await gw.metricValue('rcgw_rest_rejected_total', { reason: 'headers_too_large' }), 1)
  t.equal(a.requests.length, 0, 'nothing reached the node')

  await new Promise<void>((resolve) => {
    const s = tlsConnect({ host: '127.0.0.1', port: gw.restPort, ca: createCaPem() })
    s.on('error', () => resolve())
    s.on('secureConnect', () => resolve())
  })
  await until(async () => (await gw.metricValue('rcgw_rest_rejected_total', { reason: 'tls' })) === 1, 10_000, 'TLS failure counted')
  t.pass('a client that rejects the certificate is counted')
})

/** A CA the gateway's certificate does not chain to: the client aborts the handshake. */
function createCaPem(): string {
  // Any valid certificate that is not the gateway's CA will do: the gateway's own leaf is not a CA.
  return testPki().server.certPem
}

t.test('graceful stop: in-flight requests finish, new connections are refused', async (t) => {
  const a = await esBackend(t, 'cluster-a', 'a-1')
  const gw = await startRestGateway(t, [restCluster({ name: 'a', default: true, nodes: ['127.0.0.1:1'] }, [a.address])])
  const inflight = restRequest(gw.restPort, { path: '/_hold' })
  await until(() => a.held === 1, 10_000, 'the request to reach the node')
  const stopped = gw.gateway.stop(30_000)
  await until(() => !gw.gateway.rest!.isListening, 10_000, 'the listener to stop')
  const refused = await restRequest(gw.restPort).then(
    () => 'answered',
    (e: NodeJS.ErrnoException) => e.code,
  )
  t.equal(refused, 'ECONNREFUSED', 'no new connections while draining')
  a.release()
  const r = await inflight
  t.equal(r.status, 200, 'the in-flight request completed')
  t.equal(r.headers.connection, 'close', 'and its connection is closed after it')
  await stopped
  t.equal(gw.gateway.rest!.connectionCount, 0)
})

t.test('graceful stop: what is left after drain_timeout is cut', async (t) => {
  const a = await esBackend(t, 'cluster-a', 'a-1')
  const gw = await startRestGateway(t, [restCluster({ name: 'a', default: true, nodes: ['127.0.0.1:1'] }, [a.address])])
  const inflight = restRequest(gw.restPort, { path: '/_hold' }).then(
    () => 'answered',
    () => 'cut',
  )
  await until(() => a.held === 1, 10_000, 'the request to reach the node')
  await gw.gateway.stop(50)
  t.equal(await inflight, 'cut')
  await until(async () => (await gw.metricValue('rcgw_rest_requests_total', { cluster: 'a', code: 'aborted' })) === 1, 10_000, 'the cut request counted')
  t.pass('counted as aborted')
})

t.test('hot reload: cluster REST nodes change, the listener settings need a restart', async (t) => {
  const a1 = await esBackend(t, 'cluster-a', 'a-1')
  const a2 = await esBackend(t, 'cluster-a', 'a-2')
  const gw = await startRestGateway(t, [restCluster({ name: 'a', default: true, nodes: ['127.0.0.1:1'] }, [a1.address])])
  t.equal((await restRequest(gw.restPort)).json().name, 'a-1')
  const cfg = gw.gateway.config
  const c0 = cfg.clusters[0]!
  const moved = { ...cfg, clusters: [{ ...c0, rest: { ...c0.rest!, nodes: [{ host: '127.0.0.1', port: a2.port, id: a2.address }] } }] }
  const ok = gw.gateway.reload(moved)
  t.ok(ok.ok)
  if (ok.ok) t.ok(ok.changes.includes('clusters.a: rest'), 'the change is reported')
  t.equal((await restRequest(gw.restPort)).json().name, 'a-2', 'new requests go to the new node')
  const refused = gw.gateway.reload({ ...moved, rest: { ...moved.rest!, port: 1 } })
  t.notOk(refused.ok)
  if (!refused.ok) t.equal(refused.key, 'rest.port')
  const removed = gw.gateway.reload({ ...moved, clusters: [{ ...c0, rest: null }] })
  t.ok(removed.ok)
  if (removed.ok) t.ok(removed.changes.includes('clusters.a: rest removed'))
  t.equal((await restRequest(gw.restPort)).status, 421, 'a cluster without rest nodes is no longer reachable')
})

t.test('rest.tls.enabled: false speaks plain HTTP to the nodes', async (t) => {
  const { createServer } = await import('node:http')
  const server = createServer((req, res) => {
    req.resume()
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ cluster_name: 'plain', proto: req.headers['x-forwarded-proto'] }))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  t.teardown(() => new Promise<void>((r) => server.close(() => r())))
  const port = (server.address() as { port: number }).port
  const gw = await startRestGateway(t, [restCluster({ name: 'p', default: true, nodes: ['127.0.0.1:1'] }, [`127.0.0.1:${port}`], { enabled: false })])
  const r = await restRequest(gw.restPort)
  t.equal(r.status, 200)
  t.same(r.json(), { cluster_name: 'plain', proto: 'https' }, 'the client side is still HTTPS')
  const dead = await deadPort()
  const gw2 = await startRestGateway(t, [restCluster({ name: 'p', default: true, nodes: ['127.0.0.1:1'] }, [`127.0.0.1:${dead}`], { enabled: false })])
  t.equal((await restRequest(gw2.restPort)).status, 502)
  t.equal(await gw2.metricValue('rcgw_rest_upstream_errors_total', { reason: 'refused' }), 1)
})

t.test('limits.max_connections bounds the REST listener: the excess connection is closed at accept and counted', async (t) => {
  const a = await esBackend(t, 'cluster-a', 'a-1')
  const gw = await startRestGateway(t, [restCluster({ name: 'a', default: true, nodes: ['127.0.0.1:1'] }, [a.address])], { extra: { limits: { max_connections: 2 } } })
  const open = () =>
    new Promise<{ secured: boolean; socket: import('node:tls').TLSSocket }>((resolve) => {
      const s = tlsConnect({ host: '127.0.0.1', port: gw.restPort, ca: testPki().ca.certPem, checkServerIdentity: () => undefined })
      s.once('secureConnect', () => resolve({ secured: true, socket: s }))
      s.once('error', () => resolve({ secured: false, socket: s }))
      s.once('close', () => resolve({ secured: false, socket: s }))
    })
  const first = await open()
  const second = await open()
  t.ok(first.secured && second.secured, 'two connections are accepted')
  const third = await open()
  t.notOk(third.secured, 'the third is closed before its TLS handshake')
  await until(async () => (await gw.metricValue('rcgw_rest_rejected_total', { reason: 'max_connections' })) === 1, 10_000, 'the refusal counted')
  t.equal(await gw.metricValue('rcgw_limit_hits_total', { limit: 'max_connections' }), 1, 'as a limit hit')
  t.ok(gw.logs.some((l) => l.event === 'rest_request_rejected' && l.reason === 'max_connections'), 'and logged')
  first.socket.destroy()
  await until(() => gw.gateway.rest!.connectionCount < 2, 10_000, 'a slot to free up')
  const r = await restRequest(gw.restPort, {})
  t.equal(r.status, 200, 'a new connection is served once one closed')
  second.socket.destroy()
})
