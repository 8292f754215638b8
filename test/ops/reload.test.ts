/**
 * Hot reload: TLS material, backend pools, policies, routing and limits change for new connections (policies for
 * established ones too) while established connections keep working; an invalid config is refused whole. Includes
 * the certificate rotation under load, file watching, and SIGHUP on the real `rcgw start` process.
 */
import t, { type Test } from 'tap'
import { readFileSync, writeFileSync, renameSync, existsSync } from 'node:fs'
import { join, resolve, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { connect as tlsConnect } from 'node:tls'
import { X509Certificate } from 'node:crypto'
import { parse, stringify } from 'yaml'
import { startGateway, normalize, type StartedGateway } from '../helpers/gateway.js'
import { backend, client, until, KEY_ID } from '../gateway/fixtures.js'
import { testPki, writePki } from '../helpers/pki.js'
import { tempDir } from '../helpers/tmp.js'
import { createCa, createServerCertificate, type CertificatePair } from '../../src/tls/devcerts.js'
import { loadConfigText } from '../../src/config/load.js'
import type { GatewayConfig } from '../../src/config/types.js'
import { ConfigWatcher, configFiles, filesFingerprint, immovableChange } from '../../src/gateway/reload.js'
import type { TransportClient } from '../emulator/client.js'

const SEARCH = 'indices:data/read/search'
const SERVER_NAMES = { dnsNames: ['localhost', 'remote-a.example.com', 'remote-b.example.com'], ips: ['127.0.0.1'] }

/** Certificates are slow to make: one rotated certificate from the test CA and one from a different CA, per file. */
let same: CertificatePair | null = null
let foreign: { ca: CertificatePair; server: CertificatePair } | null = null
function sameCaCert(): CertificatePair {
  same ??= createServerCertificate(testPki().ca, { commonName: 'rotated.gateway.test', ...SERVER_NAMES })
  return same
}
function foreignCaCert(): { ca: CertificatePair; server: CertificatePair } {
  foreign ??= (() => {
    const ca = createCa('rcgw other test CA')
    return { ca, server: createServerCertificate(ca, { commonName: 'other-ca.gateway.test', ...SERVER_NAMES }) }
  })()
  return foreign
}

type Doc = Record<string, unknown> & { clusters: Array<Record<string, unknown>> }

function configPath(gw: StartedGateway): string {
  return join(gw.dir, 'gateway.yml')
}

function readDoc(gw: StartedGateway): Doc {
  return parse(readFileSync(configPath(gw), 'utf8')) as Doc
}

/** Writes the gateway's config file (as startGateway laid it out) and returns it loaded. */
function writeDoc(gw: StartedGateway, doc: Doc): GatewayConfig {
  const text = stringify(doc)
  writeFileSync(configPath(gw), text)
  return loadConfigText(text, configPath(gw), { env: {} })
}

function peerFingerprint(c: TransportClient): string | undefined {
  return c.socket.getPeerX509Certificate()?.fingerprint256
}

function fingerprintOf(pem: string): string {
  return new X509Certificate(pem).fingerprint256
}

t.test('reload() swaps the server certificate: new clients see it, an established connection keeps working', async (t) => {
  const be = await backend(t, 'cluster-a')
  const gw = await startGateway(t, { clusters: [{ name: 'a', nodes: [`127.0.0.1:${be.port}`] }] })
  const old = await client(t, gw.port)
  t.equal(peerFingerprint(old), fingerprintOf(testPki().server.certPem), 'before: the original certificate')

  const { ca: otherCa, server: rotated } = foreignCaCert()
  writeFileSync(join(gw.dir, 'certs', 'rotated.crt'), rotated.certPem)
  writeFileSync(join(gw.dir, 'certs', 'rotated.key'), rotated.keyPem)
  const doc = readDoc(gw)
  doc.tls = { certificate: 'certs/rotated.crt', key: 'certs/rotated.key' }
  const result = gw.gateway.reload(writeDoc(gw, doc))
  t.same(result, { ok: true, changes: ['tls'] }, 'applied; only TLS changed')

  const fresh = await client(t, gw.port, { ca: [testPki().ca.certPem, otherCa.certPem] })
  t.equal(peerFingerprint(fresh), fingerprintOf(rotated.certPem), 'a new client gets the new certificate')
  const stale = await client(t, gw.port).then(
    () => 'connected',
    (e: Error) => e.message,
  )
  t.match(stale, /self[- ]signed|unable to (get|verify)|certificate/i, 'a client trusting only the old CA now fails verification')
  t.equal((await old.request(SEARCH, Buffer.from('still here'))).body.toString(), 'still here', 'the established connection is untouched')
  t.notOk(old.socket.destroyed, 'and stays open')
  t.equal(await gw.metricValue('rcgw_config_reloads_total', { outcome: 'success' }), 1)
  t.equal(await gw.metricValue('rcgw_config_last_reload_successful'), 1)
  const line = gw.logs.find((l) => l.event === 'config_reloaded')
  t.equal(line?.msg, 'config reloaded: tls')
  t.equal(line?.trigger, 'api')
})

t.test('an invalid config is refused whole; the old one keeps serving', async (t) => {
  const be = await backend(t, 'cluster-a')
  const gw = await startGateway(t, { clusters: [{ name: 'a', nodes: [`127.0.0.1:${be.port}`] }] })
  const established = await client(t, gw.port)
  const original = readFileSync(configPath(gw), 'utf8')

  // 1. A key that does not belong to the certificate (only TLS can tell: each file parses on its own).
  writeFileSync(join(gw.dir, 'certs', 'other.key'), foreignCaCert().server.keyPem)
  const mismatched = readDoc(gw)
  mismatched.tls = { certificate: 'certs/server.crt', key: 'certs/other.key' }
  // Same file, and a cluster change that must NOT be applied either.
  mismatched.clusters[0]!.nodes = ['127.0.0.1:1']
  const r1 = gw.gateway.reload(writeDoc(gw, mismatched))
  t.same(r1, {
    ok: false,
    key: 'tls.key',
    problem: `does not belong to the certificate in ${join(gw.dir, 'certs', 'server.crt')}`,
    message: `config reload refused: tls.key: does not belong to the certificate in ${join(gw.dir, 'certs', 'server.crt')}`,
  })

  // 2. A file that does not validate, through reloadFromFile.
  writeFileSync(configPath(gw), original.replace('clusters:', 'limits: { max_conections: 5 }\nclusters:'))
  const r2 = gw.gateway.reloadFromFile()
  t.equal(r2.ok ? '' : r2.message, 'config reload refused: limits.max_conections: unknown key')

  // 3. Broken YAML.
  writeFileSync(configPath(gw), 'clusters: [\n')
  const r3 = gw.gateway.reloadFromFile()
  t.match(r3.ok ? '' : r3.message, /^config reload refused: invalid YAML at line/)

  // 4. A setting that cannot change live.
  const moved = parse(original) as Doc
  moved.listen = { host: '127.0.0.1', port: 19443 }
  const r4 = gw.gateway.reload(writeDoc(gw, moved))
  t.equal(r4.ok ? '' : r4.message, 'config reload refused: listen.port: cannot change while the gateway runs; restart it to apply (running on 0, the file says 19443)')
  const adminMoved = parse(original) as Doc
  adminMoved.admin = { host: '127.0.0.2', port: 0 }
  t.equal((gw.gateway.reload(writeDoc(gw, adminMoved)) as { key?: string }).key, 'admin.host')

  t.equal(await gw.metricValue('rcgw_config_reloads_total', { outcome: 'failure' }), 5, 'each refusal counted')
  t.equal(await gw.metricValue('rcgw_config_reloads_total', { outcome: 'success' }), 0)
  t.equal(await gw.metricValue('rcgw_config_last_reload_successful'), 0)
  const refusals = gw.logs.filter((l) => l.event === 'config_reload_refused')
  t.equal(refusals.length, 5, 'one log line per refusal')
  t.equal(refusals[0]?.level, 'error')
  t.equal(refusals[0]?.msg, r1.ok ? '' : r1.message, 'the line says why')
  t.notOk(gw.logs.some((l) => l.event === 'config_reloaded'), 'nothing was applied')

  t.equal(gw.gateway.config.clusters[0]!.nodes[0]!.port, be.port, 'the running config is the old one')
  const fresh = await client(t, gw.port)
  t.equal(peerFingerprint(fresh), fingerprintOf(testPki().server.certPem), 'new clients still get the old certificate')
  t.equal((await fresh.request(SEARCH, Buffer.from('new'))).body.toString(), 'new', 'and still reach the old backend')
  t.equal((await established.request(SEARCH, Buffer.from('old'))).body.toString(), 'old')

  writeFileSync(configPath(gw), original)
  t.same(gw.gateway.reloadFromFile(), { ok: true, changes: [] }, 'the original file reloads cleanly (nothing changed)')
  t.equal(await gw.metricValue('rcgw_config_last_reload_successful'), 1)
})

t.test('a node list change: new connections go to the new backend, established ones keep theirs', async (t) => {
  const one = await backend(t, 'cluster-one')
  const two = await backend(t, 'cluster-two')
  const gw = await startGateway(t, { clusters: [{ name: 'a', nodes: [`127.0.0.1:${one.port}`] }] })
  const before = await client(t, gw.port)
  t.equal(before.clusterName, 'cluster-one')
  const doc = readDoc(gw)
  doc.clusters[0]!.nodes = [`127.0.0.1:${two.port}`]
  t.same(gw.gateway.reload(writeDoc(gw, doc)), { ok: true, changes: ['clusters.a: nodes/backend'] })
  const after = await client(t, gw.port)
  t.equal(after.clusterName, 'cluster-two', 'a new connection reaches the new node')
  t.equal((await before.request(SEARCH, Buffer.from('one'))).body.toString(), 'one', 'the established connection still relays to its node')
  t.equal(one.requests.filter((r) => r.action === SEARCH).length, 1, 'to the old backend')
  t.equal(two.connections, 1)
  t.equal(await gw.metricValue('rcgw_backend_up', { node: `127.0.0.1:${one.port}` }), 0, 'the removed node has no health series any more')
  t.equal(await gw.metricValue('rcgw_backend_up', { node: `127.0.0.1:${two.port}` }), 1)
})

t.test('an unchanged pool is kept; a node in both lists keeps its connection count', async (t) => {
  const one = await backend(t, 'cluster-one')
  const two = await backend(t, 'cluster-one')
  const gw = await startGateway(t, { clusters: [{ name: 'a', nodes: [`127.0.0.1:${one.port}`] }] })
  const poolBefore = gw.gateway.transport.clusters[0]!.pool
  const doc = readDoc(gw)
  doc.clusters[0]!.max_connections = 100
  gw.gateway.reload(writeDoc(gw, doc))
  t.equal(gw.gateway.transport.clusters[0]!.pool, poolBefore, 'a limits-only change keeps the pool')

  const held = await client(t, gw.port)
  t.equal(held.clusterName, 'cluster-one')
  doc.clusters[0]!.nodes = [`127.0.0.1:${one.port}`, `127.0.0.1:${two.port}`]
  gw.gateway.reload(writeDoc(gw, doc))
  const pool = gw.gateway.transport.clusters[0]!.pool
  t.not(pool, poolBefore, 'a node change builds a new pool')
  t.equal(pool.nodes[0]!.active, 1, 'the surviving node carries its established connection over')
  await client(t, gw.port)
  t.equal(two.connections, 1, 'so the next connection goes to the idle new node (least connections)')
  await held.close()
  await until(() => pool.nodes[0]!.active === 0, 5000, 'release into the shared counter')
  t.pass('closing the old connection releases the node in the new pool')
})

t.test('api_keys change: the policy uses the new identity, on established connections too', async (t) => {
  const be = await backend(t, 'cluster-a')
  const gw = await startGateway(t, { clusters: [{ name: 'a', nodes: [`127.0.0.1:${be.port}`] }] })
  const established = await client(t, gw.port)
  t.equal((await established.request(SEARCH, Buffer.from('before'))).body.toString(), 'before', 'no identity: plain RCS 2.0 allowed')
  const doc = readDoc(gw)
  doc.clusters[0]!.api_keys = [{ id: KEY_ID, certificate_identity: 'CN=local-cluster\\.example\\.com' }]
  doc.clusters[0]!.signing = { certificate_authorities: ['certs/ca.crt'] }
  t.same(gw.gateway.reload(writeDoc(gw, doc)), { ok: true, changes: ['clusters.a: auth'] })
  const err = (await established.request(SEARCH, Buffer.from('after')).then(
    () => null,
    (e: unknown) => e,
  )) as { exception?: { message?: string } } | null
  t.match(err?.exception?.message ?? '', /requires certificate identity matching \[CN=local-cluster\\\.example\\\.com\], but no certificate was provided/, 'the next request on the established connection is checked against the new identity')
  const fresh = await client(t, gw.port).then(
    () => null,
    (e: { exception?: { message?: string } }) => e,
  )
  t.match(fresh?.exception?.message ?? '', /requires certificate identity/, 'and so is a new connection')
  t.equal(await gw.metricValue('rcgw_auth_failures_total', { reason: 'signature_required' }), 2)

  // An invalid identity is refused by the loader, naming the key; the current policy stays.
  doc.clusters[0]!.api_keys = [{ id: KEY_ID, certificate_identity: 'CN=(unclosed' }]
  writeFileSync(configPath(gw), stringify(doc))
  const r = gw.gateway.reloadFromFile()
  t.match(r.ok ? '' : r.message, /^config reload refused: clusters\[0\]\.api_keys\[0\]\.certificate_identity: /)
})

t.test('clusters added, removed and re-routed; backend TLS, client authentication and limits change live', async (t) => {
  const a = await backend(t, 'cluster-a')
  const b = await backend(t, 'cluster-b')
  const gw = await startGateway(t, {
    clusters: [{ name: 'a', server_names: ['remote-a.example.com'], nodes: [`127.0.0.1:${a.port}`], max_connections: 1, backend_tls: { certificate_authorities: ['certs/ca.crt'], server_name: 'wrong.internal' } }],
  })
  // Backend TLS: the node's certificate does not match server_name, so connections fail until that is fixed.
  const failed = await client(t, gw.port).then(
    () => 'connected',
    () => 'failed',
  )
  t.equal(failed, 'failed', 'before: backend TLS verification fails')
  const doc = readDoc(gw)
  doc.clusters[0]!.backend_tls = { certificate_authorities: ['certs/ca.crt'], server_name: 'node.internal' }
  doc.clusters.push({ name: 'b', server_names: ['remote-b.example.com'], nodes: [`127.0.0.1:${b.port}`], backend_tls: { certificate_authorities: ['certs/ca.crt'], server_name: 'node.internal' } })
  const r = gw.gateway.reload(writeDoc(gw, doc))
  t.same(r, { ok: true, changes: ['clusters.a: nodes/backend', 'clusters.b: added'] })
  const toA = await client(t, gw.port)
  t.equal(toA.clusterName, 'cluster-a', 'after: backend TLS fixed')
  const toB = await client(t, gw.port, { servername: 'remote-b.example.com' })
  t.equal(toB.clusterName, 'cluster-b', 'the added cluster is routed')
  await t.rejects(client(t, gw.port), 'cluster a is at max_connections 1')
  await until(async () => (await gw.metricValue('rcgw_limit_hits_total', { limit: 'cluster_max_connections' })) === 1, 5000, 'limit hit')

  // Raise a's limit, remove b, require client certificates.
  doc.clusters[0]!.max_connections = 2
  doc.clusters.pop()
  doc.tls = { certificate: 'certs/server.crt', key: 'certs/server.key', client_authentication: 'required', certificate_authorities: ['certs/ca.crt'] }
  const r2 = gw.gateway.reload(writeDoc(gw, doc))
  t.same(r2, { ok: true, changes: ['tls', 'clusters.a: limits', 'clusters.b: removed'] })
  const noCert = tlsConnect({ host: '127.0.0.1', port: gw.port, servername: 'remote-a.example.com', ca: testPki().ca.certPem })
  noCert.on('error', () => {})
  await new Promise((res) => noCert.once('close', res))
  await until(async () => (await gw.metricValue('rcgw_tls_handshake_failures_total', { reason: 'no_cert' })) === 1, 5000, 'no_cert')
  t.pass('client certificates are now required for new connections')
  const { server } = testPki()
  const second = await client(t, gw.port, { cert: server.certPem, key: server.keyPem })
  t.equal(second.clusterName, 'cluster-a', 'the raised per-cluster limit admits a second connection')
  const refusedB = await client(t, gw.port, { servername: 'remote-b.example.com', cert: server.certPem, key: server.keyPem }).then(
    () => 'connected',
    () => 'refused',
  )
  t.equal(refusedB, 'refused', 'the removed cluster takes no new connections')
  t.equal((await toB.request(SEARCH, Buffer.from('b'))).body.toString(), 'b', "the removed cluster's established connection keeps working")
  t.equal((await toA.request(SEARCH, Buffer.from('a'))).body.toString(), 'a', 'and so does the one that predates client authentication')
})

t.test('a policy that cannot be built refuses the reload; nothing of it is applied', async (t) => {
  const be = await backend(t, 'cluster-a')
  const gw = await startGateway(t, {
    clusters: [{ name: 'a', nodes: [`127.0.0.1:${be.port}`] }],
    options: {
      policyFor: (c) => {
        if (c.name === 'broken') throw new Error('no policy for you')
        return { check: () => null }
      },
    },
  })
  const runtimeBefore = gw.gateway.transport.clusters[0]
  const doc = readDoc(gw)
  doc.clusters[0]!.nodes = ['127.0.0.1:1']
  doc.clusters.push({ name: 'broken', server_names: ['remote-b.example.com'], nodes: [`127.0.0.1:${be.port}`] })
  const r = gw.gateway.reload(writeDoc(gw, doc))
  t.equal(r.ok ? '' : r.message, 'config reload refused: clusters[1]: cannot build the request policy: no policy for you')
  t.equal(gw.gateway.transport.clusters.length, 1, 'no cluster added')
  t.equal(gw.gateway.transport.clusters[0], runtimeBefore, 'cluster a untouched (same pool, same nodes)')
  t.equal((await client(t, gw.port)).clusterName, 'cluster-a')
})

t.test('logging.level and limits apply to new connections', async (t) => {
  const be = await backend(t, 'cluster-a')
  const gw = await startGateway(t, { clusters: [{ name: 'a', nodes: [`127.0.0.1:${be.port}`] }] })
  const doc = readDoc(gw)
  doc.logging = { level: 'warn' }
  doc.limits = { max_header_size: '1kb' }
  t.same(gw.gateway.reload(writeDoc(gw, doc)), { ok: true, changes: ['limits', 'logging'] })
  const before = gw.logs.length
  const c = await client(t, gw.port)
  t.notOk(gw.logs.slice(before).some((l) => l.event === 'connection_opened'), 'info lines are off at warn')
  void c.request(SEARCH, Buffer.from('x'), { headers: { big: 'a'.repeat(2000) } }).catch(() => {})
  await c.closed
  t.equal(await gw.metricValue('rcgw_frame_errors_total', { reason: 'header_too_large' }), 1, 'the new max_header_size applies')
})

t.test('certificate rotation under load: 18 pipelining clients, 3 reloads, zero dropped connections', async (t) => {
  const be = await backend(t, 'cluster-a')
  const gw = await startGateway(t, { clusters: [{ name: 'a', nodes: [`127.0.0.1:${be.port}`] }] })
  const certs = [sameCaCert(), testPki().server]
  writeFileSync(join(gw.dir, 'certs', 'rotated.crt'), certs[0]!.certPem)
  writeFileSync(join(gw.dir, 'certs', 'rotated.key'), certs[0]!.keyPem)
  const clients = await Promise.all(Array.from({ length: 18 }, () => client(t, gw.port)))
  let running = true
  const closedEarly: number[] = []
  clients.forEach((c, i) => void c.closed.then(() => running && closedEarly.push(i)))
  let completed = 0
  const failures: string[] = []
  // Each client keeps 4 requests in flight until told to stop.
  const loops = clients.flatMap((c, i) =>
    Array.from({ length: 4 }, async (_, j) => {
      for (let n = 0; running; n++) {
        const body = `${i}/${j}/${n}`
        try {
          const r = await c.request(SEARCH, Buffer.from(body))
          if (r.body.toString() !== body) failures.push(`mismatch ${body}`)
          completed++
        } catch (e) {
          failures.push(`${body}: ${(e as Error).message}`)
          return
        }
      }
    }),
  )
  const fingerprints = certs.map((c) => fingerprintOf(c.certPem))
  for (let k = 0; k < 3; k++) {
    const target = completed + 300
    await until(() => completed >= target || failures.length > 0, 30_000, 'traffic between reloads')
    const doc = readDoc(gw)
    doc.tls = k % 2 === 0 ? { certificate: 'certs/rotated.crt', key: 'certs/rotated.key' } : { certificate: 'certs/server.crt', key: 'certs/server.key' }
    const r = gw.gateway.reload(writeDoc(gw, doc))
    t.ok(r.ok, `reload ${k + 1} applied`)
    const probe = await client(t, gw.port)
    t.equal(peerFingerprint(probe), fingerprints[k % 2], `after reload ${k + 1}, a new client sees the ${k % 2 === 0 ? 'rotated' : 'original'} certificate`)
    await probe.close()
  }
  const last = completed + 300
  await until(() => completed >= last || failures.length > 0, 30_000, 'traffic after the last reload')
  running = false
  await Promise.all(loops)
  t.same(failures, [], 'every request completed with its own body')
  t.same(closedEarly, [], 'no client saw its connection close')
  t.ok(completed >= 1200, `requests completed across the reloads (${completed})`)
  t.equal(await gw.metricValue('rcgw_config_reloads_total', { outcome: 'success' }), 3)
  t.equal(await gw.metricValue('rcgw_requests_total', { outcome: 'dropped' }), 0, 'nothing dropped')
  t.equal(gw.logs.filter((l) => l.event === 'connection_closed').length, 3, 'only the three probes closed')
})

t.test('file watching: a rotated certificate and an atomically replaced config file are picked up', async (t) => {
  const one = await backend(t, 'cluster-one')
  const two = await backend(t, 'cluster-two')
  const gw = await startGateway(t, {
    clusters: [{ name: 'a', nodes: [`127.0.0.1:${one.port}`] }],
    extra: { reload: { watch: true, debounce: '50ms' } },
  })
  t.same(configFiles(gw.gateway.config).sort(), [configPath(gw), join(gw.dir, 'certs', 'ca.crt'), join(gw.dir, 'certs', 'server.crt'), join(gw.dir, 'certs', 'server.key')].sort())
  gw.gateway.watchConfig()
  const established = await client(t, gw.port)

  // In place, certificate then key (as cert-manager-like tools do): one reload after the quiet period, not a
  // refused one for the moment where the certificate and the key do not match.
  const rotated = sameCaCert()
  writeFileSync(join(gw.dir, 'certs', 'server.crt'), rotated.certPem)
  writeFileSync(join(gw.dir, 'certs', 'server.key'), rotated.keyPem)
  await until(async () => (await gw.metricValue('rcgw_config_reloads_total', { outcome: 'success' })) === 1, 10_000, 'reload after the certificate change')
  t.equal(await gw.metricValue('rcgw_config_reloads_total', { outcome: 'failure' }), 0, 'no half-written state was tried')
  t.equal(gw.logs.find((l) => l.event === 'config_reloaded')?.trigger, 'file_change')
  const fresh = await client(t, gw.port)
  t.equal(peerFingerprint(fresh), fingerprintOf(rotated.certPem), 'new clients get the rotated certificate')

  // Atomic replace of the config file (write elsewhere, rename over it).
  const doc = readDoc(gw)
  doc.clusters[0]!.nodes = [`127.0.0.1:${two.port}`]
  writeFileSync(join(gw.dir, 'gateway.yml.tmp'), stringify(doc))
  renameSync(join(gw.dir, 'gateway.yml.tmp'), configPath(gw))
  await until(async () => (await gw.metricValue('rcgw_config_reloads_total', { outcome: 'success' })) === 2, 10_000, 'reload after the rename')
  t.equal((await client(t, gw.port)).clusterName, 'cluster-two', 'the new node list is in effect')

  // An invalid edit is refused and counted; fixing it reloads again (the watch survived the rename).
  writeFileSync(configPath(gw), 'clusters: [\n')
  await until(async () => (await gw.metricValue('rcgw_config_reloads_total', { outcome: 'failure' })) === 1, 10_000, 'refusal')
  writeFileSync(configPath(gw), stringify(doc).replace('level: debug', 'level: info'))
  await until(async () => (await gw.metricValue('rcgw_config_reloads_total', { outcome: 'success' })) === 3, 10_000, 'reload after the fix')
  t.equal((await established.request(SEARCH, Buffer.from('through it all'))).body.toString(), 'through it all', 'the first connection survived every reload')

  await gw.gateway.stop(0)
  t.equal((gw.gateway.reloadFromFile() as { problem?: string }).problem, 'the gateway is stopping', 'no reloads once stopping')
})

t.test('ConfigWatcher: debounced, content-based, closable', async (t) => {
  const dir = tempDir(t)
  const file = join(dir, 'a.txt')
  writeFileSync(file, 'one')
  const fp = filesFingerprint([file])
  t.equal(filesFingerprint([file]), fp, 'stable')
  writeFileSync(file, 'one')
  t.equal(filesFingerprint([file]), fp, 'a rewrite with the same content is no change')
  t.not(filesFingerprint([file, join(dir, 'missing')]), fp, 'a missing file is part of the fingerprint')
  let calls = 0
  const w = new ConfigWatcher({ files: () => [file], debounceMs: 20, onChange: () => calls++ })
  t.teardown(() => w.close())
  writeFileSync(file, 'two')
  await until(() => calls === 1, 10_000, 'change noticed')
  writeFileSync(join(dir, 'unrelated.txt'), 'x')
  writeFileSync(file, 'three')
  await until(() => calls === 2, 10_000, 'second change noticed')
  w.close()
  w.refresh()
  t.equal(calls, 2, 'closing twice and refreshing a closed watcher are harmless')
})

t.test('immovableChange names the first setting that needs a restart', async (t) => {
  const dir = tempDir(t)
  writePki(dir)
  const load = (extra: string) => loadConfigText(`${extra}\ntls: { certificate: server.crt, key: server.key }\nclusters: [{ name: a, nodes: ["127.0.0.1:1"] }]\n`, join(dir, 'g.yml'), { env: {} })
  const base = load('')
  t.equal(immovableChange(base, load('')), null)
  t.equal(immovableChange(base, load('listen: { host: 127.0.0.1 }'))?.key, 'listen.host')
  t.equal(immovableChange(base, load('admin: { enabled: false }'))?.key, 'admin.enabled')
  t.equal(immovableChange(base, load('admin: { port: 9465 }'))?.key, 'admin.port')
  t.equal(immovableChange(load('admin: { enabled: false }'), load('admin: { enabled: false, port: 1 }')), null, 'a disabled admin listener has no address to keep')
  t.equal(immovableChange(base, load('listen: { proxy_protocol: true, proxy_protocol_trusted: [10.0.0.0/8] }')), null, 'PROXY protocol settings reload')
})

// ---- the real process -------------------------------------------------------------------------------------------

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const cli = join(root, 'dist', 'cli', 'main.js')

t.test('rcgw start: SIGHUP reloads; a bad file is refused and the gateway keeps serving', { skip: existsSync(cli) ? false : 'dist/ not built (npm run build)' }, async (t: Test) => {
  const one = await backend(t, 'cluster-one')
  const two = await backend(t, 'cluster-two')
  const dir = tempDir(t)
  writePki(dir)
  const file = join(dir, 'gateway.yml')
  const doc = {
    listen: { host: '127.0.0.1', port: 0 },
    admin: { enabled: false },
    tls: { certificate: 'server.crt', key: 'server.key' },
    reload: { watch: false },
    clusters: [{ name: 'a', nodes: [`127.0.0.1:${one.port}`], backend_tls: { certificate_authorities: ['ca.crt'], server_name: 'node.internal' }, health_check: { enabled: false } }],
  }
  writeFileSync(file, stringify(doc))
  const child = spawn(process.execPath, [cli, 'start', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL')
  })
  const lines: Array<Record<string, unknown>> = []
  createInterface({ input: child.stdout! }).on('line', (l) => {
    try {
      lines.push(normalize(JSON.parse(l) as Record<string, unknown>))
    } catch {
      /* not JSON */
    }
  })
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)))
  await until(() => lines.some((l) => l.event === 'started'), 60_000, 'started')
  const port = Number(String(lines.find((l) => l.event === 'started')!.listen).split(':').pop())
  t.equal((await client(t, port)).clusterName, 'cluster-one')

  doc.clusters[0]!.nodes = [`127.0.0.1:${two.port}`]
  writeFileSync(file, stringify(doc))
  child.kill('SIGHUP')
  await until(() => lines.some((l) => l.event === 'config_reloaded'), 10_000, 'reload log line')
  const reloaded = lines.find((l) => l.event === 'config_reloaded')!
  t.equal(reloaded.trigger, 'signal')
  t.equal(reloaded.msg, 'config reloaded: clusters.a: nodes/backend')
  t.equal((await client(t, port)).clusterName, 'cluster-two', 'the reloaded node list is in effect')

  writeFileSync(file, stringify({ ...doc, listen: { host: '127.0.0.1', port: 1 } }))
  child.kill('SIGHUP')
  await until(() => lines.some((l) => l.event === 'config_reload_refused'), 10_000, 'refusal log line')
  t.match(lines.find((l) => l.event === 'config_reload_refused')!.msg, /^config reload refused: listen\.port: cannot change while the gateway runs/)
  t.equal((await client(t, port)).clusterName, 'cluster-two', 'still serving with the last good config')

  child.kill('SIGTERM')
  t.equal(await exited, 0, 'SIGTERM still stops it cleanly')
})
