/**
 * REST listener parity with the transport listener (issue #13): PROXY protocol (`rest.proxy_protocol*`), the
 * per-client-address connection cap (`limits.max_connections_per_client_ip`, the PROXY source when there is one) and
 * the per-cluster connection cap (`clusters[].max_connections`: 503 and close). Real sockets on 127.0.0.1.
 */
import t from 'tap'
import { connect as netConnect, type Socket } from 'node:net'
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
import { testPki } from '../helpers/pki.js'
import { until } from '../gateway/fixtures.js'
import { esBackend, startRestGateway, restCluster, restRequest } from './helpers.js'

const CA = testPki().ca.certPem

/** TCP, then (optionally) a PROXY v1 line, then TLS; resolves with the TLS socket, or null when the gateway closed it first. */
function open(port: number, proxyLine: string | null): Promise<TLSSocket | null> {
  return new Promise((resolve) => {
    const raw: Socket = netConnect({ host: '127.0.0.1', port }, () => {
      if (proxyLine !== null) raw.write(proxyLine)
      const s = tlsConnect({ socket: raw, ca: CA, servername: '', checkServerIdentity: () => undefined })
      s.once('secureConnect', () => resolve(s))
      s.once('error', () => resolve(null))
      s.once('close', () => resolve(null))
    })
    raw.on('error', () => resolve(null))
  })
}

/** One HTTP/1.1 request on an open TLS socket; resolves with the raw response text (until the server closes or 2 s of quiet). */
function ask(s: TLSSocket, host: string): Promise<string> {
  return new Promise((resolve) => {
    let text = ''
    const done = () => {
      s.off('data', onData)
      s.off('close', done)
      resolve(text)
    }
    const onData = (d: Buffer) => {
      text += d.toString('latin1')
      // A complete JSON body ends the answer we wait for.
      if (/\r\n\r\n[\s\S]*\}$/.test(text)) done()
    }
    s.on('data', onData)
    s.once('close', done)
    s.write(`GET / HTTP/1.1\r\nhost: ${host}\r\n\r\n`)
  })
}

const proxyV1 = (src: string, srcPort: number) => `PROXY TCP4 ${src} 127.0.0.1 ${srcPort} 9243\r\n`

t.test('rest.proxy_protocol: the PROXY source is the client; missing, malformed and untrusted are refused and counted', async (t) => {
  const a = await esBackend(t, 'cluster-a', 'a-1')
  const gw = await startRestGateway(t, [restCluster({ name: 'a', server_names: ['a.example.com'], nodes: ['127.0.0.1:1'] }, [a.address])], {
    rest: { proxy_protocol: true, proxy_protocol_trusted: ['127.0.0.0/8'] },
  })
  for (const r of ['proxy_untrusted', 'proxy_malformed', 'proxy_missing', 'client_ip_max_connections', 'cluster_max_connections'])
    t.equal(await gw.metricValue('rcgw_rest_rejected_total', { reason: r }), 0, `${r} zero-initialised`)

  const s = await open(gw.restPort, proxyV1('203.0.113.7', 5555))
  t.ok(s, 'TLS after a PROXY header')
  const answer = await ask(s!, 'nobody.example.com')
  t.match(answer, /^HTTP\/1\.1 421 /, 'a request through it is handled (421: no cluster for that Host)')
  s!.destroy()
  const line = gw.logs.find((l) => l.event === 'rest_request_rejected' && l.reason === 'misdirected')
  t.same([line?.['client.ip'], line?.['client.port']], ['203.0.113.7', 5555], 'logged with the client the PROXY header named, not the load balancer')

  const routed = await open(gw.restPort, proxyV1('203.0.113.8', 6000))
  t.match(await ask(routed!, 'a.example.com'), /^HTTP\/1\.1 200 /, 'and routed requests reach the cluster')
  routed!.destroy()
  const seen = a.requests.at(-1)?.headers['x-forwarded-for']
  t.equal(seen, '203.0.113.8', 'X-Forwarded-For names the PROXY source, not the load balancer')
  const withXff = await open(gw.restPort, proxyV1('203.0.113.9', 6001))
  withXff!.write('GET / HTTP/1.1\r\nhost: a.example.com\r\nx-forwarded-for: 192.0.2.1\r\n\r\n')
  await until(() => a.requests.length === 2, 10_000, 'the second routed request')
  t.equal(a.requests.at(-1)?.headers['x-forwarded-for'], '192.0.2.1,203.0.113.9', 'appended to what the client sent')
  withXff!.destroy()

  t.equal(await open(gw.restPort, null), null, 'a TLS ClientHello without a PROXY header is refused')
  await until(async () => (await gw.metricValue('rcgw_rest_rejected_total', { reason: 'proxy_missing' })) === 1, 10_000, 'proxy_missing counted')
  t.equal(await open(gw.restPort, 'PROXY TCP4 999.1.1.1 127.0.0.1 1 2\r\n'), null, 'a malformed PROXY header is refused')
  await until(async () => (await gw.metricValue('rcgw_rest_rejected_total', { reason: 'proxy_malformed' })) === 1, 10_000, 'proxy_malformed counted')

  const untrusted = await startRestGateway(t, [restCluster({ name: 'a', default: true, nodes: ['127.0.0.1:1'] }, [a.address])], {
    rest: { proxy_protocol: true, proxy_protocol_trusted: ['10.9.9.9'] },
  })
  t.equal(await open(untrusted.restPort, proxyV1('203.0.113.7', 5555)), null, 'a peer outside rest.proxy_protocol_trusted is refused')
  await until(async () => (await untrusted.metricValue('rcgw_rest_rejected_total', { reason: 'proxy_untrusted' })) === 1, 10_000, 'proxy_untrusted counted')
  t.ok(untrusted.logs.some((l) => l.event === 'rest_request_rejected' && l.reason === 'proxy_untrusted' && /rest\.proxy_protocol_trusted/.test(String(l.msg))), 'the log names the key')
})

t.test('limits.max_connections_per_client_ip on the REST listener: by socket address, or by PROXY source', async (t) => {
  const a = await esBackend(t, 'cluster-a', 'a-1')
  const gw = await startRestGateway(t, [restCluster({ name: 'a', default: true, nodes: ['127.0.0.1:1'] }, [a.address])], { extra: { limits: { max_connections_per_client_ip: 2 } } })
  const first = await open(gw.restPort, null)
  const second = await open(gw.restPort, null)
  t.ok(first !== null && second !== null, 'two connections from 127.0.0.1 are accepted')
  t.equal(await open(gw.restPort, null), null, 'the third is closed before TLS')
  await until(async () => (await gw.metricValue('rcgw_rest_rejected_total', { reason: 'client_ip_max_connections' })) === 1, 10_000, 'the refusal counted')
  t.equal(await gw.metricValue('rcgw_limit_hits_total', { limit: 'max_connections_per_client_ip' }), 1, 'as a limit hit')
  first!.destroy()
  await until(() => gw.gateway.rest!.connectionCount < 2, 10_000, 'a slot to free up')
  t.equal((await restRequest(gw.restPort, {})).status, 200, 'served again once one closed')
  second!.destroy()

  const pp = await startRestGateway(t, [restCluster({ name: 'a', default: true, nodes: ['127.0.0.1:1'] }, [a.address])], {
    rest: { proxy_protocol: true, proxy_protocol_trusted: ['127.0.0.1'] },
    extra: { limits: { max_connections_per_client_ip: 1 } },
  })
  const x = await open(pp.restPort, proxyV1('198.51.100.1', 1000))
  const y = await open(pp.restPort, proxyV1('198.51.100.2', 1000))
  t.ok(x !== null && y !== null, 'two clients behind one load balancer each get their own count')
  t.equal(await open(pp.restPort, proxyV1('198.51.100.1', 1001)), null, 'a second connection of the same client is refused')
  await until(async () => (await pp.metricValue('rcgw_rest_rejected_total', { reason: 'client_ip_max_connections' })) === 1, 10_000, 'counted')
  t.ok(pp.logs.some((l) => l.event === 'rest_request_rejected' && l['client.ip'] === '198.51.100.1' && l['client.port'] === 1001 && l.proxied_by !== null), 'logged with the PROXY source')
  x!.destroy()
  y!.destroy()
})

t.test('clusters[].max_connections on the REST listener: the excess connection gets 503 and is closed', async (t) => {
  const a = await esBackend(t, 'cluster-a', 'a-1')
  const b = await esBackend(t, 'cluster-b', 'b-1')
  const gw = await startRestGateway(t, [
    restCluster({ name: 'a', server_names: ['a.example.com'], nodes: ['127.0.0.1:1'], max_connections: 1 }, [a.address]),
    restCluster({ name: 'b', server_names: ['b.example.com'], nodes: ['127.0.0.1:1'] }, [b.address]),
  ])
  // One keep-alive connection held open by hand (an https.Agent may close or replace its socket at will).
  const first = await open(gw.restPort, null)
  t.teardown(() => first?.destroy())
  t.match(await ask(first!, 'a.example.com'), /^HTTP\/1\.1 200 /, 'the first connection to cluster a is served')
  t.match(await ask(first!, 'a.example.com'), /^HTTP\/1\.1 200 /, 'and keeps being served (one slot per connection, not per request)')
  const two = await restRequest(gw.restPort, { servername: 'a.example.com' })
  t.equal(two.status, 503, 'a second connection to cluster a is refused')
  t.equal(two.headers.connection, 'close', 'and closed')
  t.match(two.json(), { error: { type: 'too_many_connections_exception', reason: /cluster \[a\] has reached clusters\[\]\.max_connections/ }, status: 503 })
  t.equal((await restRequest(gw.restPort, { servername: 'b.example.com' })).status, 200, 'another cluster is unaffected')
  t.equal(await gw.metricValue('rcgw_rest_rejected_total', { reason: 'cluster_max_connections' }), 1)
  t.equal(await gw.metricValue('rcgw_limit_hits_total', { limit: 'cluster_max_connections' }), 1)
  t.equal(await gw.metricValue('rcgw_rest_requests_total', { cluster: 'a', code: '5xx' }), 1, 'the 503 is counted as cluster a answering 5xx')
  first!.destroy()
  await until(async () => (await restRequest(gw.restPort, { servername: 'a.example.com' })).status === 200, 10_000, 'the slot to free up once the first connection closed')
  t.pass('served again once the first connection closed')
})

t.test('rest.proxy_protocol reloads: turned on, new connections must send a PROXY header; turned off again, they must not', async (t) => {
  const a = await esBackend(t, 'cluster-a', 'a-1')
  const gw = await startRestGateway(t, [restCluster({ name: 'a', default: true, nodes: ['127.0.0.1:1'] }, [a.address])])
  t.equal((await restRequest(gw.restPort)).status, 200, 'plain TLS before')
  const cfg = gw.gateway.config
  const on = { ...cfg, rest: { ...cfg.rest!, proxyProtocol: { enabled: true, trusted: [{ family: 'ipv4' as const, address: '127.0.0.1', prefix: 32, text: '127.0.0.1' }] } } }
  const r = gw.gateway.reload(on)
  t.ok(r.ok, 'reloaded')
  if (r.ok) t.ok(r.changes.includes('rest.proxy_protocol'), 'the change is reported')
  t.equal(await open(gw.restPort, null), null, 'a connection without a PROXY header is now refused')
  const s = await open(gw.restPort, proxyV1('203.0.113.20', 7000))
  t.match(await ask(s!, 'a.example.com'), /^HTTP\/1\.1 200 /, 'one with a header is served')
  s!.destroy()
  const off = gw.gateway.reload(cfg)
  t.ok(off.ok)
  t.equal((await restRequest(gw.restPort)).status, 200, 'plain TLS again after turning it off')
})
