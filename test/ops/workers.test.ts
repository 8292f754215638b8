/**
 * `workers: 2`: the built CLI as a node:cluster primary with two transport workers. Connections go through the
 * shared listener, /readyz and /metrics come from the primary (metrics aggregated over the workers), a killed
 * worker is restarted, SIGTERM drains and exits 0. `npm test` builds before running tap, so dist/ is current.
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { writeFileSync, existsSync, readFileSync } from 'node:fs'
import { join, resolve, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'
import { stringify } from 'yaml'
import { tempDir } from '../helpers/tmp.js'
import { normalize, type LogLine } from '../helpers/gateway.js'
import { writePki } from '../helpers/pki.js'
import { backend, client, until } from '../gateway/fixtures.js'
import { GC_FLAGS } from '../../src/cli/node-flags.js'
import { esBackend, restRequest } from '../http/helpers.js'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const cli = join(root, 'dist', 'cli', 'main.js')

function pidOf(l: LogLine): number | undefined {
  const p = l.process as { pid?: unknown } | undefined
  const v = p && typeof p === 'object' ? p.pid : l['process.pid']
  return typeof v === 'number' ? v : undefined
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

function metricValue(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) if (line.startsWith(series + ' ')) return Number(line.slice(series.length + 1))
  return undefined
}

t.test('workers: 2 serves through both workers, aggregates metrics, restarts a dead worker, drains on SIGTERM', async (t) => {
  t.ok(existsSync(cli), `${cli} exists (npm run build first)`)
  const be = await backend(t, 'cluster-a')
  const http = await esBackend(t, 'cluster-a', 'http-node-1')
  const dir = tempDir(t)
  writePki(dir)
  const cfg = join(dir, 'gateway.yml')
  writeFileSync(
    cfg,
    stringify({
      workers: 2,
      listen: { host: '127.0.0.1', port: 0 },
      rest: { enabled: true, host: '127.0.0.1', port: 0 },
      admin: { host: '127.0.0.1', port: 0 },
      tls: { certificate: 'server.crt', key: 'server.key' },
      shutdown: { drain_timeout: '5s' },
      reload: { watch: false },
      clusters: [
        {
          name: 'a',
          server_names: ['remote-a.example.com'],
          default: true,
          nodes: [`127.0.0.1:${be.port}`],
          backend_tls: { certificate_authorities: ['ca.crt'], verification_mode: 'certificate' },
          rest: { nodes: [`127.0.0.1:${http.port}`], tls: { certificate_authorities: ['ca.crt'], verification_mode: 'certificate' } },
        },
      ],
    }),
  )

  const child = spawn(process.execPath, [cli, 'start', '--config', cfg], { stdio: ['ignore', 'pipe', 'pipe'] })
  const lines: LogLine[] = []
  const pids = new Set<number>()
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    // Workers exit when the primary's IPC channel closes; make sure anyway.
    for (const pid of pids) if (pid !== child.pid && alive(pid)) process.kill(pid, 'SIGKILL')
  })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)))
  createInterface({ input: child.stdout }).on('line', (line) => {
    try {
      const l = normalize(JSON.parse(line) as Record<string, unknown>)
      lines.push(l)
      const pid = pidOf(l)
      if (pid !== undefined) pids.add(pid)
    } catch {
      /* not JSON */
    }
  })

  // The primary logs "started" (with `workers`) once every worker listens.
  await until(() => lines.some((l) => l.event === 'started' && l.workers === 2) || child.exitCode !== null, 60_000, `primary "started" line; stderr: ${stderr}`)
  t.equal(child.exitCode, null, `running; stderr: ${stderr}`)
  const primaryStarted = lines.find((l) => l.event === 'started' && l.workers === 2)!
  t.equal(pidOf(primaryStarted), child.pid, 'the primary logs the start')
  const adminPort = Number(String(primaryStarted.admin).split(':').pop())
  const workerStarts = lines.filter((l) => l.event === 'started' && l.workers === undefined)
  t.equal(workerStarts.length, 2, 'two workers started')
  t.equal(new Set(workerStarts.map(pidOf)).size, 2, 'in two processes')
  t.ok(workerStarts.every((w) => w.admin === null), 'workers run no admin listener')
  const listens = new Set(workerStarts.map((w) => String(w.listen)))
  t.equal(listens.size, 1, `listen.port 0 is one shared port across the workers (${[...listens].join(', ')})`)
  const port = Number(String(workerStarts[0]!.listen).split(':').pop())
  t.ok(port > 0, 'a real port')
  const workerPids = new Set(workerStarts.map(pidOf))
  // The primary was started without the V8 GC flags (node-flags.ts); the workers, which carry the traffic, get them.
  for (const pid of workerPids) t.ok(GC_FLAGS.every((f) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(f)), `worker ${pid} runs with ${GC_FLAGS.join(' ')}`)
  t.notOk(lines.some((l) => l.event === 'node_flags_missing'), 'so nobody warns about them')

  const admin = (path: string) => fetch(`http://127.0.0.1:${adminPort}${path}`)
  t.equal((await admin('/healthz')).status, 200, '/healthz from the primary')
  await until(async () => (await admin('/readyz')).status === 200, 30_000, '/readyz 200')
  const ready = (await (await admin('/readyz')).json()) as Record<string, unknown>
  t.same(ready, { status: 'ready', listening: true, clusters_without_healthy_nodes: [] })

  const N = 8
  for (let i = 0; i < N; i++) {
    const c = await client(t, port)
    t.equal(c.clusterName, 'cluster-a', `connection ${i + 1} reached the backend`)
    c.close()
    await c.closed
  }
  await until(() => lines.filter((l) => l.event === 'connection_opened').length === N, 10_000, 'connection_opened lines')
  // The REST listener runs in every worker too, on one shared port.
  const rests = new Set(workerStarts.map((w) => String(w.rest)))
  t.equal(rests.size, 1, `rest port 0 is one shared port across the workers (${[...rests].join(', ')})`)
  const restPort = Number([...rests][0]!.split(':').pop())
  for (let i = 0; i < 4; i++) {
    const r = await restRequest(restPort, { servername: 'remote-a.example.com' })
    t.equal(r.status, 200, `REST request ${i + 1} answered`)
    t.equal(r.json().cluster_name, 'cluster-a', 'by the cluster HTTP node')
  }
  t.equal(http.requests.length, 4, 'the HTTP node saw the four requests')
  const servedBy = new Set(lines.filter((l) => l.event === 'connection_opened').map(pidOf))
  t.ok([...servedBy].every((p) => workerPids.has(p)), 'connections are served by the workers')
  t.comment(`${N} connections served by ${servedBy.size} worker(s)`)

  const metrics = await (await admin('/metrics')).text()
  t.equal(metricValue(metrics, 'rcgw_client_connections_total{cluster="a"}'), N, 'connection counter summed over the workers')
  t.equal(metricValue(metrics, `rcgw_backend_up{cluster="a",node="127.0.0.1:${be.port}"}`), 1, 'backend_up is min over the workers, not a sum')
  t.match(metrics, /rcgw_build_info\{[^}]*\} 1\n/, 'build_info stays 1')
  t.match(metrics, /rcgw_request_duration_seconds_bucket\{le="\+Inf",cluster="a",action="internal:tcp\/handshake"\} \d+/, 'cell histograms aggregate')

  // A worker that dies is restarted and readiness comes back.
  const victim = workerStarts[0]!
  const victimPid = pidOf(victim)!
  process.kill(victimPid, 'SIGKILL')
  await until(() => lines.some((l) => /exited unexpectedly; restarting/.test(String(l.msg))), 10_000, 'restart log line')
  await until(() => lines.filter((l) => l.event === 'started' && l.workers === undefined).length === 3, 30_000, 'replacement worker started')
  await until(async () => (await admin('/readyz')).status === 200, 30_000, '/readyz 200 after the restart')
  const c = await client(t, port)
  t.equal(c.clusterName, 'cluster-a', 'still serving after the restart')
  c.close()
  await c.closed

  // SIGHUP is passed on: every live worker reloads.
  child.kill('SIGHUP')
  await until(() => lines.filter((l) => l.event === 'config_reloaded').length === 2, 10_000, 'both workers reloaded')
  t.equal(new Set(lines.filter((l) => l.event === 'config_reloaded').map(pidOf)).size, 2, 'SIGHUP reached both workers')

  child.kill('SIGTERM')
  t.equal(await exited, 0, `exit code 0 after SIGTERM; stderr: ${stderr}`)
  const allWorkers = lines.filter((l) => l.event === 'started' && l.workers === undefined).map(pidOf)
  await until(() => allWorkers.every((p) => p === undefined || !alive(p)), 10_000, 'workers gone')
  t.ok(lines.filter((l) => l.event === 'stopped').length >= 3, 'the workers and the primary logged their stop')
})
