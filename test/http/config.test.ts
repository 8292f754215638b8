/**
 * `rest:` and `clusters[].rest` in the config file: defaults, typed values, and errors that name the key.
 */
import t from 'tap'
import { join } from 'node:path'
import { loadConfigText } from '../../src/config/load.js'
import { configFiles, immovableChange } from '../../src/gateway/reload.js'
import { summarize } from '../../src/cli/main.js'
import { configDir, expectConfigError } from '../helpers/config.js'

const setup = configDir

const base = `
tls: { certificate: certs/server.crt, key: certs/server.key }
rest: { enabled: true }
clusters:
  - name: remote-a
    server_names: [remote-a.example.com]
    default: true
    nodes: ["10.0.0.5:9443"]
    rest:
      nodes: ["10.0.0.5:9200", "[::1]:9201"]
      tls: { certificate_authorities: [certs/ca.crt], verification_mode: certificate, server_name: es.internal }
  - name: remote-b
    nodes: ["10.0.0.6:9443"]
`


t.test('defaults: the REST listener is off', async (t) => {
  const dir = setup(t)
  const cfg = loadConfigText('tls: { certificate: certs/server.crt, key: certs/server.key }\nclusters: [{ name: a, nodes: ["h:1"] }]\n', join(dir, 'gateway.yml'))
  t.same(cfg.rest, { enabled: false, host: '0.0.0.0', port: 9243, headersTimeoutMs: 30_000, requestTimeoutMs: 300_000, keepAliveTimeoutMs: 60_000, proxyProtocol: { enabled: false, trusted: [] } })
  t.equal(cfg.clusters[0]!.rest, null)
  t.match(summarize(cfg), /rest: disabled/)
})

t.test('rest.proxy_protocol: trusted peers required when on, validated like listen.proxy_protocol_trusted', async (t) => {
  const dir = setup(t)
  expectConfigError(t, dir, base.replace('rest: { enabled: true }', 'rest: { enabled: true, proxy_protocol: true }'), 'rest.proxy_protocol_trusted', /required when proxy_protocol is true/)
  expectConfigError(t, dir, base.replace('rest: { enabled: true }', 'rest: { enabled: true, proxy_protocol: true, proxy_protocol_trusted: ["10.0.0.0/33"] }'), 'rest.proxy_protocol_trusted[0]', /./)
  expectConfigError(t, dir, base.replace('rest: { enabled: true }', 'rest: { enabled: true, proxy_protocol: yes please }'), 'rest.proxy_protocol', /boolean/)
  const cfg = loadConfigText(base.replace('rest: { enabled: true }', 'rest: { enabled: true, proxy_protocol: true, proxy_protocol_trusted: ["10.1.0.0/16", "::1"] }'), join(dir, 'gateway.yml'))
  t.equal(cfg.rest!.proxyProtocol.enabled, true)
  t.same(cfg.rest!.proxyProtocol.trusted.map((r) => r.text), ['10.1.0.0/16', '::1'])
  t.match(summarize(cfg), /keep_alive_timeout 1m, PROXY protocol from 10\.1\.0\.0\/16, ::1\)/, 'check-config shows it')
  t.equal(cfg.proxyProtocol?.enabled, false, 'the transport listener keeps its own setting')
})

t.test('typed values, resolved paths, environment', async (t) => {
  const dir = setup(t)
  const text = base.replace('rest: { enabled: true }', 'rest: { enabled: "${REST_ON:-true}", port: 9300, headers_timeout: 10s, request_timeout: 0, keep_alive_timeout: 2m }')
  // `enabled` must be a boolean: substitution yields a string, which the schema refuses by name.
  expectConfigError(t, dir, text, 'rest.enabled', /boolean/)
  const cfg = loadConfigText(text.replace('"${REST_ON:-true}"', 'true'), join(dir, 'gateway.yml'))
  t.same(cfg.rest, { enabled: true, host: '0.0.0.0', port: 9300, headersTimeoutMs: 10_000, requestTimeoutMs: 0, keepAliveTimeoutMs: 120_000, proxyProtocol: { enabled: false, trusted: [] } })
  const r = cfg.clusters[0]!.rest!
  t.same(r.nodes.map((n) => n.id), ['10.0.0.5:9200', '[::1]:9201'])
  t.equal(r.tls.verificationMode, 'certificate')
  t.equal(r.tls.serverName, 'es.internal')
  t.equal(r.tls.ca[0]!.path, join(dir, 'certs/ca.crt'), 'paths are relative to the config file')
  t.equal(r.connectTimeoutMs, 10_000)
  t.equal(cfg.clusters[1]!.rest, null, 'a cluster without rest is not reachable over REST')
  t.ok(configFiles(cfg).includes(join(dir, 'certs/ca.crt')), 'REST CAs are watched for reload')
  const s = summarize(cfg)
  t.match(s, /rest: 0\.0\.0\.0:9300 \(HTTPS, headers_timeout 10s, request_timeout none/)
  t.match(s, /rest: 10\.0\.0\.5:9200, \[::1\]:9201 \(TLS, verification_mode certificate\)/)
  t.match(s, /rest: none \(not reachable over REST\)/)
  const plain = loadConfigText(base.replace('tls: { certificate_authorities: [certs/ca.crt], verification_mode: certificate, server_name: es.internal }', 'tls: { enabled: false }\n      connect_timeout: 2s'), join(dir, 'gateway.yml'))
  t.equal(plain.clusters[0]!.rest!.tls.enabled, false)
  t.equal(plain.clusters[0]!.rest!.connectTimeoutMs, 2000)
  t.match(summarize(plain), /plain HTTP/)
})

t.test('invalid REST settings name the key', async (t) => {
  const dir = setup(t)
  expectConfigError(t, dir, base.replace('rest: { enabled: true }', 'rest: { enabled: true, prot: 1 }'), 'rest.prot', /unknown key/)
  expectConfigError(t, dir, base.replace('"[::1]:9201"', '"es-node"'), 'clusters[0].rest.nodes[1]', /invalid address "es-node"/)
  expectConfigError(t, dir, base.replace('nodes: ["10.0.0.5:9200", "[::1]:9201"]', 'nodes: []'), 'clusters[0].rest.nodes', /at least one REST node/)
  expectConfigError(t, dir, base.replace('verification_mode: certificate', 'verification_mode: strict'), 'clusters[0].rest.tls.verification_mode', /full|certificate|none/)
  expectConfigError(t, dir, base.replace('[certs/ca.crt]', '[certs/missing.crt]'), 'clusters[0].rest.tls.certificate_authorities[0]', /file not found/)
  expectConfigError(t, dir, base.replace('server_name: es.internal }', 'server_name: es.internal, key: certs/server.key }'), 'clusters[0].rest.tls', /given together/)
  expectConfigError(t, dir, base.replace('rest: { enabled: true }', 'rest: { enabled: true, port: 9443 }').replace('tls: {', 'listen: { host: 0.0.0.0, port: 9443 }\ntls: {'), 'rest.port', /must differ from listen.port/)
  expectConfigError(t, dir, base.replace('rest: { enabled: true }', 'rest: { enabled: true, host: 127.0.0.1, port: 9464 }'), 'rest.port', /must differ from admin.port/)
  expectConfigError(t, dir, base.replace('rest: { enabled: true }', 'rest: { enabled: true, headers_timeout: 10m }'), 'rest.headers_timeout', /not be longer than rest.request_timeout/)
  expectConfigError(t, dir, base.replace('rest: { enabled: true }', 'rest: { enabled: true, request_timeout: soon }'), 'rest.request_timeout', /invalid duration/)
  expectConfigError(t, dir, base.replace('    rest:\n      nodes', '    rst:\n      nodes'), 'clusters[0].rst', /unknown key/)
  const noRestNodes = 'tls: { certificate: certs/server.crt, key: certs/server.key }\nrest: { enabled: true }\nclusters: [{ name: a, nodes: ["h:1"] }]\n'
  expectConfigError(t, dir, noRestNodes, 'rest.enabled', /no cluster has REST nodes/)
  // Disabled: clusters[].rest may still be present, and nothing is checked against the listener.
  t.equal(loadConfigText(base.replace('rest: { enabled: true }', 'rest: { enabled: false, port: 9443 }'), join(dir, 'gateway.yml')).rest?.enabled, false)
})

t.test('reload: the rest section needs a restart', async (t) => {
  const dir = setup(t)
  const cfg = loadConfigText(base, join(dir, 'gateway.yml'))
  t.equal(immovableChange(cfg, cfg), null)
  t.equal(immovableChange(cfg, { ...cfg, rest: { ...cfg.rest!, host: '127.0.0.1' } })?.key, 'rest.host')
  t.equal(immovableChange(cfg, { ...cfg, rest: { ...cfg.rest!, enabled: false } })?.key, 'rest.enabled')
  t.equal(immovableChange(cfg, { ...cfg, rest: { ...cfg.rest!, requestTimeoutMs: 1 } })?.key, 'rest.request_timeout')
  t.equal(immovableChange(cfg, { ...cfg, rest: undefined })?.key, 'rest.enabled')
  t.equal(immovableChange(cfg, { ...cfg, clusters: [cfg.clusters[1]!] }), null, 'cluster changes are not a restart matter')
  t.equal(immovableChange(cfg, { ...cfg, rest: { ...cfg.rest!, proxyProtocol: { enabled: true, trusted: [] } } }), null, 'rest.proxy_protocol reloads (as listen.proxy_protocol does)')
})
