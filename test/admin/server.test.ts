/** The admin listener on its own: routes, methods, HEAD, readiness bodies, failure of a collector. */
import t, { type Test } from 'tap'
import { request } from 'node:http'
import client from 'prom-client'
import { AdminServer, type ReadinessSource } from '../../src/admin/server.js'
import { GatewayMetrics } from '../../src/admin/metrics.js'

interface Reply {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

/** Raw request (fetch cannot send arbitrary methods or request targets). */
function call(port: number, method: string, path: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

class FakeReadiness implements ReadinessSource {
  isListening = true
  unhealthy: string[] = []
  unhealthyClusters(): string[] {
    return [...this.unhealthy]
  }
}

async function started(t: Test, metrics = new GatewayMetrics({ collectDefault: false })) {
  const readiness = new FakeReadiness()
  const admin = new AdminServer(metrics, readiness)
  const addr = await admin.listen('127.0.0.1', 0)
  t.teardown(() => admin.close())
  return { admin, readiness, port: addr.port, metrics }
}

t.test('healthz, readyz, metrics and the index', async (t) => {
  const { port, readiness, metrics } = await started(t)
  metrics.forCluster('remote-a')

  const health = await call(port, 'GET', '/healthz')
  t.equal(health.status, 200)
  t.same(JSON.parse(health.body), { status: 'ok' })
  t.match(health.headers['content-type'], /^application\/json/)
  t.equal(health.headers['cache-control'], 'no-store')

  const ready = await call(port, 'GET', '/readyz')
  t.equal(ready.status, 200)
  t.same(JSON.parse(ready.body), { status: 'ready', listening: true, clusters_without_healthy_nodes: [] })

  readiness.unhealthy = ['remote-b', 'remote-c']
  const notReady = await call(port, 'GET', '/readyz')
  t.equal(notReady.status, 503)
  t.same(JSON.parse(notReady.body), { status: 'not_ready', listening: true, clusters_without_healthy_nodes: ['remote-b', 'remote-c'] }, 'names the clusters without a healthy node')

  readiness.unhealthy = []
  readiness.isListening = false
  const stopped = await call(port, 'GET', '/readyz?verbose=1')
  t.equal(stopped.status, 503, 'not ready while the transport listener is down (e.g. draining)')
  t.same(JSON.parse(stopped.body), { status: 'not_ready', listening: false, clusters_without_healthy_nodes: [] })

  const m = await call(port, 'GET', '/metrics')
  t.equal(m.status, 200)
  t.equal(m.headers['content-type'], metrics.registry.contentType)
  t.match(m.body, /^rcgw_client_connections_total\{cluster="remote-a"\} 0$/m)
  t.equal(Number(m.headers['content-length']), Buffer.byteLength(m.body), 'content-length is the byte length')

  const abs = await call(port, 'GET', 'http://admin.example/metrics?x=1')
  t.equal(abs.status, 200, 'absolute-form request target')
  t.match(abs.body, /rcgw_build_info/)

  const index = await call(port, 'GET', '/')
  t.equal(index.status, 200)
  t.match(index.body, /\/metrics/)
})

t.test('HEAD answers like GET without a body', async (t) => {
  const { port } = await started(t)
  for (const path of ['/healthz', '/readyz', '/metrics']) {
    const get = await call(port, 'GET', path)
    const head = await call(port, 'HEAD', path)
    t.equal(head.status, get.status, `${path} status`)
    t.equal(head.body, '', `${path} has no body`)
    t.equal(head.headers['content-type'], get.headers['content-type'])
    if (path !== '/metrics') t.equal(head.headers['content-length'], get.headers['content-length'], `${path} content-length`)
  }
})

t.test('other methods, unknown paths, malformed targets', async (t) => {
  const { port } = await started(t)
  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
    const r = await call(port, method, '/metrics')
    t.equal(r.status, 405, `${method} /metrics`)
    t.equal(r.headers.allow, 'GET, HEAD', 'Allow names the accepted methods')
  }
  for (const path of ['/nope', '/metrics/', '/healthz/extra', '/METRICS', '/__proto__', '/constructor', '/toString']) {
    const r = await call(port, 'GET', path)
    t.equal(r.status, 404, `${path} is not found`)
  }
  t.equal((await call(port, 'DELETE', '/nope')).status, 404, 'unknown path wins over the method')
  t.equal((await call(port, 'GET', 'http://[/metrics')).status, 400, 'an unparseable request target is a bad request')
})

t.test('a failing collector makes the scrape fail loudly', async (t) => {
  const metrics = new GatewayMetrics({ collectDefault: false })
  new client.Gauge({
    name: 'rcgw_test_broken',
    help: 'a collector that throws',
    registers: [metrics.registry],
    collect() {
      throw new Error('collector exploded')
    },
  })
  const { port } = await started(t, metrics)
  const r = await call(port, 'GET', '/metrics')
  t.equal(r.status, 500)
  t.match(r.body, /collector exploded/)
  t.equal((await call(port, 'GET', '/healthz')).status, 200, 'health is unaffected')
})

t.test('close is idempotent and safe before listen', async (t) => {
  const admin = new AdminServer(new GatewayMetrics({ collectDefault: false }), new FakeReadiness())
  await admin.close()
  const addr = await admin.listen('127.0.0.1', 0)
  t.ok(addr.port > 0)
  await admin.close()
  await admin.close()
  await t.rejects(call(addr.port, 'GET', '/healthz'), 'nothing listens after close')
})

t.test('listen reports a port in use', async (t) => {
  const { port } = await started(t)
  const other = new AdminServer(new GatewayMetrics({ collectDefault: false }), new FakeReadiness())
  await t.rejects(other.listen('127.0.0.1', port), { code: 'EADDRINUSE' })
})
