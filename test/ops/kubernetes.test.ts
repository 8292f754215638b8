/**
 * deploy/kubernetes: every manifest parses, and the numbers and names that must agree do agree — with each other
 * and with the gateway itself (its config schema, its admin routes, the image's writable paths).
 */
import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, posix } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { AddressInfo } from 'node:net'
import { parseAllDocuments, parse as parseYaml } from 'yaml'
import { configSchema, type RawConfig } from '../../src/config/schema.js'
import { AdminServer } from '../../src/admin/server.js'
import { GatewayMetrics } from '../../src/admin/metrics.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const dir = join(root, 'deploy', 'kubernetes')

type Obj = Record<string, unknown>
const obj = (v: unknown, what: string): Obj => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${what} is not an object`)
  return v as Obj
}
const arr = (v: unknown, what: string): Obj[] => {
  if (!Array.isArray(v)) throw new Error(`${what} is not a list`)
  return v.map((x, i) => obj(x, `${what}[${i}]`))
}
const at = (o: Obj, path: string): unknown => path.split('.').reduce<unknown>((cur, k) => (cur as Obj | undefined)?.[k], o)

interface Doc {
  readonly file: string
  readonly kind: string
  readonly name: string
  readonly body: Obj
}

const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort()
const docs: Doc[] = []
for (const file of files) {
  for (const d of parseAllDocuments(readFileSync(join(dir, file), 'utf8'))) {
    if (d.errors.length > 0) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`)
    const body = obj(d.toJS(), file)
    docs.push({ file, kind: String(body.kind), name: String(at(body, 'metadata.name') ?? ''), body })
  }
}
const one = (kind: string, name?: string): Doc => {
  const found = docs.filter((d) => d.kind === kind && (name === undefined || d.name === name))
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`)
  return found[0]!
}

t.test('every manifest parses, names its kind and apiVersion, and is listed in kustomization.yaml', async (t) => {
  t.ok(files.length >= 6, files.join(', '))
  const known: Record<string, string> = {
    Kustomization: 'kustomize.config.k8s.io/v1beta1',
    ConfigMap: 'v1',
    Secret: 'v1',
    Service: 'v1',
    Deployment: 'apps/v1',
    PodDisruptionBudget: 'policy/v1',
  }
  for (const d of docs) {
    t.equal(d.body.apiVersion, known[d.kind], `${d.file}: ${d.kind} apiVersion`)
    if (d.kind !== 'Kustomization') t.match(d.name, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, `${d.file}: ${d.kind} has a DNS-label name`)
  }
  const k = one('Kustomization')
  const resources = (k.body.resources as string[]).slice().sort()
  t.same(resources, files.filter((f) => f !== 'kustomization.yaml'), 'kustomization lists exactly the other manifests')
  for (const kind of ['ConfigMap', 'Secret', 'Deployment', 'PodDisruptionBudget']) t.ok(one(kind), kind)
  t.equal(docs.filter((d) => d.kind === 'Service').length, 2, 'transport and metrics Services')
})

// --- the pieces the remaining tests compare ---------------------------------------------------------------

const deployment = one('Deployment', 'rcgw').body
const podSpec = obj(at(deployment, 'spec.template.spec'), 'pod spec')
const podLabels = obj(at(deployment, 'spec.template.metadata.labels'), 'pod labels')
const container = arr(podSpec.containers, 'containers')[0]!
const ports = arr(container.ports, 'ports')
const portNumber = (p: unknown): number => {
  if (typeof p === 'number') return p
  const named = ports.find((x) => x.name === p)
  if (named === undefined) throw new Error(`no container port named ${String(p)}`)
  return named.containerPort as number
}
const mounts = arr(container.volumeMounts, 'volumeMounts')
const volumes = arr(podSpec.volumes, 'volumes')
const configMap = one('ConfigMap').body
const secret = one('Secret').body
const gatewayYaml = String(obj(configMap.data, 'data')['gateway.yml'])
const parsed = configSchema.safeParse(parseYaml(gatewayYaml))
const cfg: RawConfig | null = parsed.success ? parsed.data : null

const mountOf = (volume: (v: Obj) => boolean): Obj => {
  const v = volumes.find(volume)
  if (v === undefined) throw new Error('volume not found')
  const m = mounts.find((x) => x.name === v.name)
  if (m === undefined) throw new Error(`volume ${String(v.name)} is not mounted`)
  return m
}
const secretMount = mountOf((v) => at(v, 'secret.secretName') === one('Secret').name)
const configMount = mountOf((v) => at(v, 'configMap.name') === one('ConfigMap').name)
const secretKeys = new Set([...Object.keys(obj(secret.stringData ?? {}, 'stringData')), ...Object.keys(obj(secret.data ?? {}, 'data'))])

t.test('the ConfigMap holds a gateway.yml the real schema accepts, with pod-ready settings', async (t) => {
  t.ok(parsed.success, parsed.success ? 'valid' : JSON.stringify(parsed.error.issues, null, 2))
  if (cfg === null) return
  t.equal(cfg.admin.host, '0.0.0.0', 'admin.host must be reachable by the kubelet probes')
  t.ok(cfg.admin.enabled, 'admin listener enabled (probes need it)')
  t.equal(cfg.listen.host, '0.0.0.0')
  t.equal(cfg.tls.auto_generate, false, 'no certificate generation on a read-only root filesystem')
  t.notMatch(gatewayYaml, /\$\{/, 'no ${VAR} references: the pod environment does not define them')
})

t.test('certificate paths in the config are files of the mounted Secret', async (t) => {
  if (cfg === null) return t.fail('config invalid')
  const paths: Array<[string, string]> = [
    ['tls.certificate', cfg.tls.certificate],
    ['tls.key', cfg.tls.key],
    ...cfg.tls.certificate_authorities.map((p): [string, string] => ['tls.certificate_authorities', p]),
  ]
  for (const c of cfg.clusters) {
    for (const p of c.backend_tls.certificate_authorities) paths.push([`clusters[${c.name}].backend_tls.certificate_authorities`, p])
    if (c.backend_tls.certificate !== undefined) paths.push([`clusters[${c.name}].backend_tls.certificate`, c.backend_tls.certificate])
    if (c.backend_tls.key !== undefined) paths.push([`clusters[${c.name}].backend_tls.key`, c.backend_tls.key])
    for (const p of c.signing.certificate_authorities) paths.push([`clusters[${c.name}].signing.certificate_authorities`, p])
    for (const p of c.api_key_lookup?.certificate_authorities ?? []) paths.push([`clusters[${c.name}].api_key_lookup.certificate_authorities`, p])
  }
  t.ok(paths.length >= 4, 'tls certificate and key, backend and signing CAs')
  const mountPath = String(secretMount.mountPath)
  for (const [key, p] of paths) {
    t.ok(posix.isAbsolute(p), `${key}: ${p} is absolute`)
    const rel = posix.relative(mountPath, p)
    t.ok(!rel.startsWith('..') && !posix.isAbsolute(rel), `${key}: ${p} lies under the Secret mount ${mountPath}`)
    t.ok(secretKeys.has(rel), `${key}: the Secret has the key ${rel}`)
  }
  t.equal(secretMount.readOnly, true)
  const secretVolume = volumes.find((v) => v.name === secretMount.name)!
  t.equal(at(secretVolume, 'secret.defaultMode'), 0o440, 'key files readable by the pod group only')
})

t.test('the Secret is a clearly marked placeholder and holds no private key', async (t) => {
  t.equal(obj(at(secret, 'metadata.annotations'), 'annotations')['rcgw/placeholder'], 'true')
  for (const [k, v] of Object.entries(obj(secret.stringData ?? {}, 'stringData'))) {
    t.match(String(v), /^PLACEHOLDER/, `${k} is a placeholder`)
    t.notMatch(String(v), /PRIVATE KEY-----/, `${k} holds no key material`)
  }
  t.match(readFileSync(join(dir, 'secret.yaml'), 'utf8'), /PLACEHOLDER DATA — replace every value before applying/)
})

t.test('ports agree: listen.port = containerPort = Service targetPort; admin.port = probe port = metrics Service', async (t) => {
  if (cfg === null) return t.fail('config invalid')
  const transport = ports.find((p) => p.containerPort === cfg.listen.port)
  t.ok(transport, `a container port ${cfg.listen.port}`)
  t.ok(ports.find((p) => p.containerPort === cfg.admin.port), `a container port ${cfg.admin.port}`)
  const services = docs.filter((d) => d.kind === 'Service').map((d) => d.body)
  const transportSvc = services.find((s) => arr(at(s, 'spec.ports'), 'ports').some((p) => portNumber(p.targetPort) === cfg.listen.port))
  t.ok(transportSvc, 'a Service targets listen.port')
  t.equal(arr(at(transportSvc!, 'spec.ports'), 'ports')[0]!.port, 9443, 'exposed on 9443, the remote cluster port')
  t.not(at(transportSvc!, 'spec.type'), 'ClusterIP', 'reachable from outside the cluster')
  t.notOk(
    arr(at(transportSvc!, 'spec.ports'), 'ports').some((p) => portNumber(p.targetPort) === cfg.admin.port),
    'the admin port is not published through the external Service',
  )
  const metricsSvc = services.find((s) => arr(at(s, 'spec.ports'), 'ports').some((p) => portNumber(p.targetPort) === cfg.admin.port))
  t.ok(metricsSvc, 'a Service targets admin.port')
  t.equal(at(metricsSvc!, 'spec.type'), 'ClusterIP')
  for (const s of services) t.same(at(s, 'spec.selector'), podLabels, `${String(at(s, 'metadata.name'))} selects the pods`)
  for (const p of arr(at(deployment, 'spec.template.spec.containers'), 'containers').flatMap((c) => arr(c.ports, 'ports'))) {
    t.equal(p.protocol, 'TCP')
  }
  const annotations = obj(at(deployment, 'spec.template.metadata.annotations'), 'annotations')
  t.equal(Number(annotations['prometheus.io/port']), cfg.admin.port, 'scrape annotation port')
})

t.test('probes: /healthz and /readyz on admin.port, and the gateway really serves them', async (t) => {
  if (cfg === null) return t.fail('config invalid')
  const probes = { startupProbe: '/healthz', livenessProbe: '/healthz', readinessProbe: '/readyz' } as const
  const admin = new AdminServer(new GatewayMetrics({ collectDefault: false }), { isListening: true, unhealthyClusters: () => [] })
  const addr: AddressInfo = await admin.listen('127.0.0.1', 0)
  t.teardown(() => admin.close())
  for (const [probe, path] of Object.entries(probes)) {
    const p = obj(container[probe], probe)
    t.equal(at(p, 'httpGet.path'), path, `${probe} path`)
    t.equal(portNumber(at(p, 'httpGet.port')), cfg.admin.port, `${probe} port = admin.port`)
    const res = await fetch(`http://127.0.0.1:${addr.port}${path}`)
    t.equal(res.status, 200, `the admin server answers ${path}`)
    await res.body?.cancel()
  }
  const notFound = await fetch(`http://127.0.0.1:${addr.port}/nope`)
  t.equal(notFound.status, 404, 'control: an unknown path is a 404, so the 200s above mean the routes exist')
  await notFound.body?.cancel()
})

t.test('shutdown: preStop sleep + drain_timeout fit in terminationGracePeriodSeconds', async (t) => {
  if (cfg === null) return t.fail('config invalid')
  const sleep = Number(at(container, 'lifecycle.preStop.sleep.seconds'))
  t.ok(sleep >= 3 && sleep <= 15, `preStop sleeps a few seconds (${sleep})`)
  const grace = Number(podSpec.terminationGracePeriodSeconds)
  const drainSeconds = cfg.shutdown.drain_timeout / 1000
  t.ok(grace > sleep + drainSeconds, `terminationGracePeriodSeconds ${grace} > ${sleep} + ${drainSeconds}`)
})

t.test('deployment: replicas, PDB, resources, non-root read-only pod with writable emptyDirs', async (t) => {
  t.equal(at(deployment, 'spec.replicas'), 2)
  t.same(at(deployment, 'spec.selector.matchLabels'), podLabels)
  t.equal(at(deployment, 'spec.strategy.rollingUpdate.maxUnavailable'), 0)
  const pdb = one('PodDisruptionBudget').body
  t.same(at(pdb, 'spec.selector.matchLabels'), podLabels, 'the PDB selects the pods')
  t.ok(Number(at(pdb, 'spec.minAvailable')) >= 1 && Number(at(pdb, 'spec.minAvailable')) < Number(at(deployment, 'spec.replicas')), 'minAvailable leaves room for one disruption')

  t.ok(at(container, 'resources.requests.cpu') && at(container, 'resources.requests.memory'), 'requests set')
  t.ok(at(container, 'resources.limits.memory'), 'memory limit set')
  const heap = /--max-old-space-size=(\d+)/.exec(String(arr(container.env, 'env').find((e) => e.name === 'NODE_OPTIONS')?.value))
  const limitMi = Number(/^(\d+)Mi$/.exec(String(at(container, 'resources.limits.memory')))?.[1])
  t.ok(heap && Number(heap[1]) < limitMi, 'V8 heap limit below the memory limit')

  t.equal(at(podSpec, 'securityContext.runAsNonRoot'), true)
  const uid = at(podSpec, 'securityContext.runAsUser')
  t.ok(typeof uid === 'number' && uid > 0, 'numeric non-root uid (runAsNonRoot cannot verify a user name)')
  t.equal(at(container, 'securityContext.readOnlyRootFilesystem'), true)
  t.equal(at(container, 'securityContext.allowPrivilegeEscalation'), false)
  t.same(at(container, 'securityContext.capabilities.drop'), ['ALL'])
  t.equal(podSpec.automountServiceAccountToken, false)

  for (const m of mounts) t.ok(volumes.some((v) => v.name === m.name), `mount ${String(m.name)} has a volume`)
  for (const v of volumes) t.ok(mounts.some((m) => m.name === v.name), `volume ${String(v.name)} is mounted`)
  const writable = mounts.filter((m) => volumes.find((v) => v.name === m.name)?.emptyDir !== undefined).map((m) => m.mountPath)
  // The image's data dir (Dockerfile ENV RCGW_DATA_DIR) and /tmp stay writable under readOnlyRootFilesystem.
  const dataDir = /RCGW_DATA_DIR=(\S+)/.exec(readFileSync(join(root, 'Dockerfile'), 'utf8'))?.[1]
  t.ok(dataDir, 'the Dockerfile sets RCGW_DATA_DIR')
  t.same(writable.slice().sort(), ['/tmp', dataDir].sort(), 'emptyDirs for /tmp and RCGW_DATA_DIR')
})

t.test('the container runs the ConfigMap gateway.yml', async (t) => {
  const args = (container.args as string[]) ?? []
  const i = args.indexOf('--config')
  t.ok(args[0] === 'start' && i > 0, `args start --config … (${args.join(' ')})`)
  const configPath = args[i + 1]!
  t.equal(posix.dirname(configPath), configMount.mountPath, 'the config file lies in the ConfigMap mount')
  t.ok(obj(configMap.data, 'data')[posix.basename(configPath)] !== undefined, `the ConfigMap has the key ${posix.basename(configPath)}`)
  t.equal(arr(container.env, 'env').find((e) => e.name === 'RCGW_CONFIG')?.value, configPath, 'RCGW_CONFIG agrees')
  t.equal(configMount.readOnly, true)
})
