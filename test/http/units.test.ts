/**
 * Pure parts of the REST listener: routing, header hygiene, error bodies and classification, node choice.
 */
import t from 'tap'
import type { ClusterConfig, ClusterRestConfig } from '../../src/config/types.js'
import { RestRouter, hostOf } from '../../src/http/router.js'
import { stripHopByHop, stripRequestOnly } from '../../src/http/proxy.js'
import { esErrorBody, rawErrorResponse, classifyUpstreamError, markConnectPhase, ConnectTimeoutError, upstreamErrorReason } from '../../src/http/errors.js'
import { ClusterUpstream } from '../../src/http/upstream.js'
import { GatewayMetrics } from '../../src/admin/metrics.js'

function cluster(name: string, serverNames: string[], isDefault = false): ClusterConfig {
  return { name, serverNames, isDefault } as unknown as ClusterConfig
}

const restCfg: ClusterRestConfig = {
  nodes: ['n1', 'n2', 'n3'].map((h) => ({ host: h, port: 9200, id: `${h}:9200` })),
  tls: { enabled: true, verificationMode: 'full', serverName: undefined, ca: [], cert: undefined, key: undefined },
  connectTimeoutMs: 1000,
}

t.test('hostOf', async (t) => {
  t.equal(hostOf('Remote-A.Example.com.:9243'), 'remote-a.example.com')
  t.equal(hostOf('[::1]:9243'), '::1')
  t.equal(hostOf('[::1'), null)
  t.equal(hostOf('  '), null)
  t.equal(hostOf(undefined), null)
  t.equal(hostOf(':9243'), null)
})

t.test('router', async (t) => {
  const a = cluster('a', ['a.example.com'])
  const b = cluster('b', ['b.example.com'], true)
  const c = cluster('c', ['c.example.com'])
  const r = new RestRouter([a, b, c], [{ cfg: a }, { cfg: b }])
  const hit = (sni: string | null, host?: string) => {
    const x = r.route(sni, host)
    return x.ok ? `${x.target.cfg.name}/${x.by}` : `421: ${x.reason}`
  }
  t.equal(hit('A.example.com.'), 'a/sni')
  t.equal(hit(null, 'a.example.com:443'), 'a/host')
  t.equal(hit('', 'a.example.com'), 'a/host', 'an empty server name is no SNI')
  t.equal(hit('unknown.example.com', 'a.example.com'), 'b/default', 'an unknown SNI goes to the default, as on the transport listener')
  t.equal(hit(null), 'b/default')
  t.match(hit('a.example.com', 'b.example.com'), /^421: the Host header \[b\.example\.com\] belongs to another cluster/)
  t.equal(hit('a.example.com', 'a.example.com'), 'a/sni')
  t.match(hit('c.example.com'), /^421: cluster \[c\] is not reachable over REST/)
  const noDefault = new RestRouter([a, c], [{ cfg: a }])
  t.match(noDefault.route('x.example.com', undefined), { ok: false, reason: /TLS server name \[x\.example\.com\]/ })
  t.match(noDefault.route(null, undefined), { ok: false, reason: /no TLS server name, no Host header/ })
  const single = cluster('only', [])
  t.match(new RestRouter([single], [{ cfg: single }]).route(null, 'whatever'), { ok: true, by: 'default' }, 'a single cluster without names takes everything')
})

t.test('hop-by-hop headers', async (t) => {
  const h: Record<string, unknown> = {
    connection: 'keep-alive, Content-Length, host, transfer-encoding, x-a, , Authorization',
    'keep-alive': 'timeout=5',
    'proxy-connection': 'x',
    te: 'trailers',
    upgrade: 'websocket',
    trailer: 'x',
    'x-a': '1',
    'content-length': '5',
    'transfer-encoding': 'chunked',
    host: 'h',
    authorization: 'Basic x',
    expect: '100-continue',
    'proxy-authorization': 'Basic y',
  }
  stripHopByHop(h)
  stripRequestOnly(h as never)
  t.same(Object.keys(h).sort(), ['content-length', 'host', 'transfer-encoding'], 'framing headers and Host survive whatever Connection names')
})

t.test('error bodies and classification', async (t) => {
  t.same(JSON.parse(esErrorBody(502, 'bad_gateway_exception', 'r')), {
    error: { root_cause: [{ type: 'bad_gateway_exception', reason: 'r' }], type: 'bad_gateway_exception', reason: 'r' },
    status: 502,
  })
  const raw = rawErrorResponse(400, 'Bad Request', 'bad_request_exception', 'x')
  const body = raw.slice(raw.indexOf('\r\n\r\n') + 4)
  t.match(raw, new RegExp(`content-length: ${Buffer.byteLength(body)}\\r\\n`))
  const e = (code: string, phase?: 'tcp' | 'tls') => {
    const err = Object.assign(new Error(code), { code })
    if (phase) markConnectPhase(err, phase)
    return classifyUpstreamError(err)
  }
  t.same(e('ECONNREFUSED', 'tcp'), { reason: 'refused', status: 502, beforeConnect: true })
  t.same(e('EHOSTUNREACH', 'tcp'), { reason: 'unreachable', status: 502, beforeConnect: true })
  t.same(e('ENOTFOUND', 'tcp'), { reason: 'dns', status: 502, beforeConnect: true })
  t.same(e('EWHATEVER', 'tcp'), { reason: 'other', status: 502, beforeConnect: true })
  t.same(e('ECONNRESET', 'tls'), { reason: 'tls', status: 502, beforeConnect: false })
  t.same(e('ECONNRESET'), { reason: 'reset', status: 502, beforeConnect: false })
  t.same(e('EPIPE'), { reason: 'reset', status: 502, beforeConnect: false })
  t.same(e('ETIMEDOUT', 'tcp'), { reason: 'timeout', status: 504, beforeConnect: false })
  t.same(e('EPROTO'), { reason: 'other', status: 502, beforeConnect: false })
  t.same(classifyUpstreamError(new ConnectTimeoutError('n:1', 5)), { reason: 'timeout', status: 504, beforeConnect: false })
  for (const reason of ['timeout', 'tls', 'reset', 'refused'] as const)
    t.match(upstreamErrorReason('a', { reason, status: 502, beforeConnect: false }), /cluster \[a\]/)
})

t.test('node choice: round robin, down nodes skipped, panic mode', async (t) => {
  const u = new ClusterUpstream(cluster('a', []), restCfg, 60_000)
  t.teardown(() => u.destroy())
  t.same([u.pick().id, u.pick().id, u.pick().id, u.pick().id], ['n1:9200', 'n2:9200', 'n3:9200', 'n1:9200'])
  u.markDown(restCfg.nodes[1]!)
  t.same([u.pick().id, u.pick().id, u.pick().id], ['n3:9200', 'n1:9200', 'n3:9200'], 'a down node is skipped')
  t.equal(u.pick(restCfg.nodes[0]).id, 'n3:9200', 'exclude')
  u.markDown(restCfg.nodes[0]!)
  u.markDown(restCfg.nodes[2]!)
  const seen = new Set([u.pick().id, u.pick().id, u.pick().id])
  t.equal(seen.size, 3, 'all down: plain round robin')
  t.not(u.pick(restCfg.nodes[0]).id, 'n1:9200', 'all down: still not the excluded one')
  const one = new ClusterUpstream(cluster('b', []), { ...restCfg, nodes: [restCfg.nodes[0]!] }, 60_000)
  t.teardown(() => one.destroy())
  t.equal(one.pick(restCfg.nodes[0]).id, 'n1:9200', 'a single node is chosen even when excluded')
  t.equal(u.protocol, 'https:')
  u.retire()
})

t.test('REST metrics: zero series and status classes', async (t) => {
  const m = new GatewayMetrics({ collectDefault: false })
  const c = m.forRestCluster('a')
  t.equal(m.forRestCluster('a'), c, 'created once')
  c.request(204)
  c.request(101)
  c.request(999)
  c.request('aborted')
  const v = await m.restRequests.get()
  const by = Object.fromEntries(v.values.map((x) => [x.labels.code, x.value]))
  t.same(by, { '1xx': 1, '2xx': 1, '3xx': 0, '4xx': 0, '5xx': 1, aborted: 1 })
})
