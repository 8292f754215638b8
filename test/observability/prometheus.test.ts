/**
 * A real Prometheus server (Debian's `prometheus`) scrapes a running gateway every second; its HTTP API must then
 * return our series. Proof that a real scraper parses /metrics, not only our own reader.
 */
import t from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer, type AddressInfo } from 'node:net'
import { writeFileSync, readFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startGateway } from '../helpers/gateway.js'
import { until, which, tlsSession } from './helpers/live.js'

interface VectorResult {
  metric: Record<string, string>
  value: [number, string]
}
interface QueryResponse {
  status: string
  data?: { resultType: string; result: VectorResult[] }
}
interface TargetsResponse {
  data: { activeTargets: Array<{ health: string; lastError: string; labels: Record<string, string>; scrapeUrl: string }> }
}

/** A port that was free a moment ago (Prometheus takes a listen address, not a listening socket). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen({ host: '127.0.0.1', port: 0 }, () => {
      const { port } = s.address() as AddressInfo
      s.close(() => resolve(port))
    })
  })
}

async function api<T>(port: number, path: string): Promise<T | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`)
    if (!res.ok) return null
    return (await res.json()) as T
  } catch {
    return null // not up yet
  }
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    const kill = setTimeout(() => child.kill('SIGKILL'), 5000)
    child.once('exit', () => {
      clearTimeout(kill)
      resolve()
    })
    child.kill('SIGTERM')
  })
}

const bin = which('prometheus')
if (bin === null) t.comment('!!!!!!!! the prometheus server is not installed (Debian package "prometheus"): SKIPPING the scrape test !!!!!!!!')

t.test('Prometheus scrapes the gateway', { skip: bin === null ? 'prometheus is not installed' : false }, async (t) => {
  if (bin === null) return
  const gw = await startGateway(t, {
    clusters: [
      { name: 'remote-a', server_names: ['remote-a.example.com'], nodes: ['127.0.0.1:1'], authentication: false },
      { name: 'remote-b', server_names: ['remote-b.example.com'], nodes: ['127.0.0.1:1'], authentication: false },
    ],
  })
  // One routed connection, so a counter is non-zero by the time Prometheus looks.
  await tlsSession(gw.port, 'remote-a.example.com')

  const dir = mkdtempSync(join(tmpdir(), 'rcgw-prom-'))
  mkdirSync(join(dir, 'data'))
  const config = join(dir, 'prometheus.yml')
  writeFileSync(
    config,
    [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 1s',
      'scrape_configs:',
      '  - job_name: rcgw',
      '    static_configs:',
      `      - targets: ['127.0.0.1:${gw.adminPort}']`,
      '',
    ].join('\n'),
  )
  const port = await freePort()
  const output: string[] = []
  const child = spawn(
    bin,
    [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  child.stdout?.on('data', (c: Buffer) => output.push(c.toString()))
  child.stderr?.on('data', (c: Buffer) => output.push(c.toString()))
  // Stop Prometheus before removing its storage folder.
  t.teardown(async () => {
    await stop(child)
    rmSync(dir, { recursive: true, force: true })
  })
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`prometheus exited (${code}): ${output.join('').slice(-2000)}`))))
  exited.catch(() => {})

  const query = '/api/v1/query?query=' + encodeURIComponent('rcgw_client_connections_total')
  let result: VectorResult[] = []
  await Promise.race([
    exited,
    until(
      async () => {
        const r = await api<QueryResponse>(port, query)
        result = r?.data?.result ?? []
        return result.length >= 2
      },
      'Prometheus to scrape the gateway',
      30_000,
    ),
  ])
  const byCluster = Object.fromEntries(result.map((r) => [r.metric['cluster'], Number(r.value[1])]))
  t.same(byCluster, { 'remote-a': 1, 'remote-b': 0 }, 'Prometheus has the per-cluster connection counters')
  t.ok(result.every((r) => r.metric['job'] === 'rcgw' && r.metric['instance'] === `127.0.0.1:${gw.adminPort}`), 'labelled with the scrape job and instance')

  const targets = await api<TargetsResponse>(port, '/api/v1/targets')
  const target = targets?.data.activeTargets.find((a) => a.labels['job'] === 'rcgw')
  t.equal(target?.health, 'up', 'the target is up')
  t.equal(target?.lastError, '', 'the last scrape had no error')

  // A histogram quantile over our buckets evaluates (the series exist and are well formed).
  const q = await api<QueryResponse>(port, '/api/v1/query?query=' + encodeURIComponent('histogram_quantile(0.99, sum by (le) (rcgw_tls_handshake_duration_seconds_bucket))'))
  t.equal(q?.status, 'success')
  t.ok(Number(q?.data?.result[0]?.value[1]) > 0, 'p99 TLS handshake time is a positive number of seconds')

  // Every dashboard expression is accepted by Prometheus' own query engine (with Grafana's variables filled in).
  const dashboard = JSON.parse(readFileSync(new URL('../../grafana/rcgw-dashboard.json', import.meta.url), 'utf8')) as { panels: Array<{ targets?: Array<{ expr: string }> }> }
  const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((tg) => tg.expr))
  t.ok(exprs.length > 0)
  for (const expr of exprs) {
    const promql = expr.replace(/\$__rate_interval/g, '1m').replace(/\$cluster/g, '.*')
    const r = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(promql)}`)
    const body = (await r.json()) as { status: string; error?: string }
    t.equal(body.status, 'success', `evaluates: ${expr}${body.error ? ` (${body.error})` : ''}`)
  }
})
