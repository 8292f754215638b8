import t from 'tap'
import { writeFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfigText, loadConfigFile } from '../../src/config/load.js'
import { parseDuration, parseByteSize, formatDuration, formatByteSize } from '../../src/config/units.js'
import { tempDir } from '../helpers/tmp.js'
import { writePki } from '../helpers/pki.js'
import { configDir, expectConfigError } from '../helpers/config.js'

const setup = configDir

const base = `
tls: { certificate: certs/server.crt, key: certs/server.key }
clusters:
  - name: remote-a
    server_names: [Remote-A.example.com.]
    default: true
    nodes: ["10.0.0.5:9443", "[::1]:9444"]
    backend_tls: { certificate_authorities: [certs/ca.crt], verification_mode: full, server_name: node.internal }
`


t.test('units', async (t) => {
  t.equal(parseDuration('30s'), 30_000)
  t.equal(parseDuration('500ms'), 500)
  t.equal(parseDuration('5m'), 300_000)
  t.equal(parseDuration('1h'), 3_600_000)
  t.equal(parseDuration('2d'), 172_800_000)
  t.equal(parseDuration(250), 250)
  t.equal(parseDuration('1.5s'), 1500)
  t.equal(parseDuration('10 parsecs'), null)
  t.equal(parseDuration(-1), null)
  t.equal(parseDuration({}), null)
  t.equal(parseByteSize('64kb'), 65536)
  t.equal(parseByteSize('16MB'), 16 * 1024 * 1024)
  t.equal(parseByteSize('1g'), 1024 ** 3)
  t.equal(parseByteSize(100), 100)
  t.equal(parseByteSize('1.5'), null)
  t.equal(parseByteSize('12 bananas'), null)
  t.equal(formatDuration(30_000), '30s')
  t.equal(formatDuration(90_000), '90s')
  t.equal(formatDuration(3_600_000), '1h')
  t.equal(formatDuration(0), '0s')
  t.equal(formatByteSize(65536), '64kb')
  t.equal(formatByteSize(1000), '1000b')
})

t.test('valid config: defaults, resolved paths, typed values', async (t) => {
  const dir = setup(t)
  const cfg = loadConfigText(base, join(dir, 'gateway.yml'))
  t.same(cfg.listen, { host: '0.0.0.0', port: 9443 })
  t.same(cfg.admin, { enabled: true, host: '127.0.0.1', port: 9464 })
  t.equal(cfg.limits.maxHeaderSize, 65536)
  t.equal(cfg.limits.maxConnections, 10000)
  t.equal(cfg.limits.handshakeTimeoutMs, 30_000)
  t.equal(cfg.tls.clientAuthentication, 'none')
  t.equal(cfg.tls.certificatePath, join(dir, 'certs/server.crt'))
  t.equal(cfg.tls.cert.certificates.length, 1)
  const c = cfg.clusters[0]!
  t.equal(c.name, 'remote-a')
  t.same(c.serverNames, ['remote-a.example.com'], 'SNI names are lower-cased, trailing dot removed')
  t.equal(c.isDefault, true)
  t.same(c.nodes.map((n) => n.id), ['10.0.0.5:9443', '[::1]:9444'])
  t.equal(c.nodes[1]!.host, '::1')
  t.equal(c.backendTls.verificationMode, 'full')
  t.equal(c.backendTls.serverName, 'node.internal')
  t.equal(c.backendTls.ca.length, 1)
  t.equal(c.healthCheck.intervalMs, 10_000)
})

t.test('environment substitution', async (t) => {
  const dir = setup(t)
  const text = base.replace('tls:', 'listen: { host: "${HOST}", port: 9500 }\nlogging: { level: "${LEVEL:-warn}" }\ntls:')
  const cfg = loadConfigText(text, join(dir, 'gateway.yml'), { env: { HOST: '127.0.0.2' } })
  t.equal(cfg.listen.host, '127.0.0.2')
  t.equal(cfg.logging.level, 'warn', 'default used when unset')
  expectConfigError(t, dir, text, 'listen.host', /environment variable HOST is not set/)
})

t.test('invalid configs name the key', async (t) => {
  const dir = setup(t)
  expectConfigError(t, dir, base + 'limits: { max_conections: 5 }\n', 'limits.max_conections', /unknown key/)
  expectConfigError(t, dir, base.replace('"10.0.0.5:9443"', '"10.0.0.5"'), 'clusters[0].nodes[0]', /invalid address "10.0.0.5"/)
  expectConfigError(t, dir, base + 'limits: { handshake_timeout: soon }\n', 'limits.handshake_timeout', /invalid duration/)
  expectConfigError(t, dir, base + 'limits: { max_header_size: 12 bananas }\n', 'limits.max_header_size', /invalid size/)
  expectConfigError(t, dir, base + 'limits: { max_header_size: 100 }\n', 'limits.max_header_size', /at least 1024/)
  expectConfigError(t, dir, base.replace('verification_mode: full', 'verification_mode: strict'), 'clusters[0].backend_tls.verification_mode', /full|certificate|none/)
  expectConfigError(t, dir, base.replace('certs/server.crt', 'certs/missing.crt'), 'tls.certificate', /file not found/)
  expectConfigError(t, dir, base.replace('certs/server.key', 'certs/server.crt'), 'tls.key', /cannot parse private key/)
  expectConfigError(t, dir, base.replace('[certs/ca.crt]', '[certs/server.key]'), 'clusters[0].backend_tls.certificate_authorities[0]', /no PEM certificate/)
  expectConfigError(t, dir, 'tls: { certificate: a, key: b }\nclusters: []\n', 'clusters', /at least one cluster/)
  expectConfigError(t, dir, 'clusters: []\n', 'tls', /required/)
  expectConfigError(t, dir, base + base.slice(base.indexOf('  - name')), 'clusters[1].name', /duplicate cluster name/)
  expectConfigError(t, dir, base + '  - name: b\n    server_names: [remote-a.example.com]\n    nodes: ["h:1"]\n', 'clusters[1].server_names[0]', /already routed/)
  expectConfigError(t, dir, base + '  - name: b\n    default: true\n    nodes: ["h:1"]\n', 'clusters', /at most one cluster/)
  expectConfigError(t, dir, base.replace('name: remote-a', 'name: "bad name"'), 'clusters[0].name', /letters, digits/)
  expectConfigError(t, dir, base.replace('[Remote-A.example.com.]', '["not a host"]'), 'clusters[0].server_names[0]', /SNI host name/)
  expectConfigError(t, dir, base + 'tls: {}\n', '', /invalid YAML.*line/)
  expectConfigError(t, dir, '- just\n- a list\n', '', /YAML mapping/)
  expectConfigError(t, dir, base.replace('tls: {', 'tls: { client_authentication: required,'), 'tls.certificate_authorities', /required when client_authentication is required/)
  expectConfigError(t, dir, base.replace('server_name: node.internal', 'server_name: node.internal, certificate: certs/server.crt'), 'clusters[0].backend_tls', /given together/)
})

t.test('loadConfigFile reports unreadable files', async (t) => {
  const dir = setup(t)
  t.throws(() => loadConfigFile(join(dir, 'nope.yml')), /cannot read config file/)
  writeFileSync(join(dir, 'gateway.yml'), base)
  t.equal(loadConfigFile(join(dir, 'gateway.yml')).clusters.length, 1)
})

t.test('the embedded default config is valid', async (t) => {
  const dir = tempDir(t)
  const { DEFAULT_CONFIG } = await import('../../src/cli/main.js')
  const { readFileSync } = await import('node:fs')
  // Validate the embedded default against a temp copy of its certificate paths.
  mkdirSync(join(dir, 'config'))
  mkdirSync(join(dir, 'data/certs'), { recursive: true })
  writePki(join(dir, 'data/certs'))
  const text = readFileSync(DEFAULT_CONFIG, 'utf8').replace('${RCGW_DATA_DIR:-../data}/certs/gateway.crt', '../data/certs/server.crt').replace('${RCGW_DATA_DIR:-../data}/certs/gateway.key', '../data/certs/server.key')
  const cfg = loadConfigText(text, join(dir, 'config/gateway.yml'), { env: {} })
  t.equal(cfg.listen.port, 9443)
  t.equal(cfg.tls.autoGenerate, true)
  t.equal(cfg.clusters[0]!.isDefault, true)
})

t.test('api_key_lookup.max_unknown_lookups_per_second (issue #11 finding 10)', async (t) => {
  const dir = setup(t)
  const lookup = (extra: string) => base + `    api_key_lookup: { url: "https://10.0.0.5:9200", api_key: "a2V5OnNlY3JldA==", max_lookups_per_second: 7${extra} }\n`
  const withDefault = loadConfigText(lookup(''), join(dir, 'gateway.yml'), { env: {} })
  t.equal(withDefault.clusters[0]!.auth.lookup?.maxLookupsPerSecond, 7)
  t.equal(withDefault.clusters[0]!.auth.lookup?.maxUnknownLookupsPerSecond, undefined, 'absent: the key map uses max_lookups_per_second')
  const explicit = loadConfigText(lookup(', max_unknown_lookups_per_second: 2.5'), join(dir, 'gateway.yml'), { env: {} })
  t.equal(explicit.clusters[0]!.auth.lookup?.maxUnknownLookupsPerSecond, 2.5)
  expectConfigError(t, dir, lookup(', max_unknown_lookups_per_second: 0'), 'clusters[0].api_key_lookup.max_unknown_lookups_per_second', /greater than 0|positive|too small/i)
  expectConfigError(t, dir, lookup(', max_unknown_lookups_per_second: lots'), 'clusters[0].api_key_lookup.max_unknown_lookups_per_second', /number/i)
})

t.test('issue #13 keys: filters, per-key allowed_actions, max_connection_age', async (t) => {
  const dir = setup(t)
  const ok = loadConfigText(
    base +
      '    max_connection_age: 1h\n' +
      '    api_keys: [{ id: k1, allowed_actions: [indices:data/read/search] }]\n' +
      '    filters:\n      - { action: deny, source: 10.1.0.0/16 }\n      - { source: [10.0.0.0/8], api_key_id: k1, allowed_actions: [default] }\n' +
      '',
    join(dir, 'gateway.yml'),
    { env: {} },
  )
  const c = ok.clusters[0]!
  t.equal(c.maxConnectionAgeMs, 3_600_000)
  t.same(c.auth.apiKeys[0]?.allowedActions, ['indices:data/read/search'])
  t.equal(c.auth.filters?.length, 2)
  t.same(c.auth.filters?.[0]?.source?.map((s) => s.text), ['10.1.0.0/16'], 'a single source is a list of one')
  t.same(c.auth.filters?.[1]?.apiKeyIds, ['k1'])
  t.equal(loadConfigText(base, join(dir, 'gateway.yml'), { env: {} }).clusters[0]!.maxConnectionAgeMs, 0, 'max_connection_age off by default')

  expectConfigError(t, dir, base + '    filters: [{ action: allow }]\n', 'clusters[0].filters[0]', /at least one of source, subject, api_key_id/)
  expectConfigError(t, dir, base + '    filters: [{ source: 10.0.0.0/33 }]\n', 'clusters[0].filters[0].source[0]', /invalid address or CIDR/)
  expectConfigError(t, dir, base + '    filters: [{ action: deny, source: 10.0.0.0/8, allowed_actions: [x] }]\n', 'clusters[0].filters[0].allowed_actions', /only allow rules/)
  expectConfigError(t, dir, base + '    filters: [{ subject: "CN=(?<n>a)\\\\k<m>" }]\n', 'clusters[0].filters[0].subject', /not a valid Java regex|cannot be evaluated/)
  expectConfigError(t, dir, base + '    filters: [{ subject: "CN=a" }]\n', 'clusters[0].signing.certificate_authorities', /filter rule has a subject/)
  expectConfigError(t, dir, base + '    authentication: false\n    filters: [{ api_key_id: k1 }]\n', 'clusters[0].filters[0]', /need authentication: true/)
  expectConfigError(t, dir, base + '    filters: []\n', 'clusters[0].filters', /at least one rule/)
  expectConfigError(t, dir, base + '    max_connection_age: 10ms\n', 'clusters[0].max_connection_age', /at least 1s/)
  expectConfigError(t, dir, base + '    api_keys: [{ id: k1, allowed_actions: [] }]\n', 'clusters[0].api_keys[0].allowed_actions', /./)
})
