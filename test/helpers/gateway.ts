/**
 * Starts a real Gateway in-process on ephemeral 127.0.0.1 ports from a YAML config written to a temp folder, with
 * log lines captured for assertions. Tests go through real sockets, the real config loader and real TLS.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import type { AddressInfo } from 'node:net'
import type { Test } from 'tap'
import { stringify } from 'yaml'
import { loadConfigText } from '../../src/config/load.js'
import { Gateway, type GatewayOptions } from '../../src/gateway/gateway.js'
import { createLogger } from '../../src/log.js'
import { tempDir } from './tmp.js'
import { writePki, testPki } from './pki.js'

export interface LogLine {
  level: string
  msg: string
  [k: string]: unknown
}

export interface StartedGateway {
  readonly gateway: Gateway
  readonly port: number
  readonly adminPort: number | null
  readonly dir: string
  /** PEM of the CA that issued the gateway's (and the emulator backends') certificate. */
  readonly caPem: string
  readonly logs: LogLine[]
  metricValue(name: string, labels?: Record<string, string>): Promise<number>
}

/**
 * Flattens an ECS-shaped line (`message`, `log.level`, `event.action`, `labels.*`) into the simple shape the tests
 * assert on (`msg`, `level`, `event`, top-level fields), keeping every original field too.
 */
export function normalize(o: Record<string, unknown>): LogLine {
  const out: Record<string, unknown> = { ...o }
  const labels = o.labels as Record<string, unknown> | undefined
  if (labels && typeof labels === 'object') for (const [k, v] of Object.entries(labels)) if (!(k in out)) out[k] = v
  const ev = o.event as { action?: unknown } | string | undefined
  if (ev && typeof ev === 'object' && 'action' in ev) out.event = ev.action
  if (o['event.action'] !== undefined) out.event = o['event.action']
  out.msg = o.message ?? o.msg
  const lg = o.log as { level?: unknown } | undefined
  out.level = (lg && typeof lg === 'object' ? lg.level : undefined) ?? o['log.level'] ?? o.level
  return out as LogLine
}

export type ClusterSpec = Record<string, unknown> & { name: string; nodes: string[] }

export async function startGateway(
  t: Test,
  spec: { clusters: ClusterSpec[]; extra?: Record<string, unknown>; options?: Partial<GatewayOptions> },
): Promise<StartedGateway> {
  const dir = tempDir(t, 'rcgw-gw-')
  mkdirSync(join(dir, 'certs'))
  writePki(join(dir, 'certs'))
  const doc = {
    listen: { host: '127.0.0.1', port: 0 },
    tls: { certificate: 'certs/server.crt', key: 'certs/server.key' },
    admin: { host: '127.0.0.1', port: 0 },
    health_check: { enabled: false },
    shutdown: { drain_timeout: '5s' },
    logging: { level: 'debug' },
    ...spec.extra,
    clusters: spec.clusters.map((c) => ({ backend_tls: { certificate_authorities: ['certs/ca.crt'], verification_mode: 'full', server_name: 'node.internal' }, ...c })),
  }
  const file = join(dir, 'gateway.yml')
  writeFileSync(file, stringify(doc))
  const config = loadConfigText(stringify(doc), file, { env: {} })
  const logs: LogLine[] = []
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) logs.push(normalize(JSON.parse(line) as Record<string, unknown>))
      cb()
    },
  })
  const log = createLogger('debug', sink)
  const gateway = new Gateway(config, { log, ...spec.options })
  const addrs = await gateway.start()
  t.teardown(() => gateway.stop(0))
  return {
    gateway,
    port: (addrs.transport as AddressInfo).port,
    adminPort: addrs.admin?.port ?? null,
    dir,
    caPem: testPki().ca.certPem,
    logs,
    async metricValue(name, labels = {}) {
      const m = await gateway.metrics.registry.getSingleMetric(name)?.get()
      if (!m) return NaN
      let sum = 0
      for (const v of m.values) {
        const l = v.labels as Record<string, string | number>
        if (Object.entries(labels).every(([k, val]) => String(l[k]) === val)) sum += v.value
      }
      return sum
    },
  }
}
