/**
 * `rcgw certs`: creates the PEM files a gateway deployment needs, and tells the operator where each one goes.
 *
 *   rcgw certs ca      --out DIR [--cn NAME] [--days N] [--key-type rsa|ec] [--name ca]
 *   rcgw certs server  --ca CA.crt --ca-key CA.key (--dns a,b | --ip 1.2.3.4)… --out DIR [--cn NAME] [--name gateway]
 *   rcgw certs signing --ca CA.crt --ca-key CA.key --subject DN [--key-type rsa|ec] --out DIR [--name signing]
 *   rcgw certs client  --ca CA.crt --ca-key CA.key --subject DN [--key-type rsa|ec] --out DIR [--name client]
 *   common: [--days N] [--force]
 *
 * Private keys are PKCS#8 PEM, mode 0600. Existing files are never overwritten without --force.
 * Settings named in the output: cross-cluster-auth.md §10 (TLS and signing settings of the querying and the
 * fulfilling cluster) and src/config/schema.ts (the gateway's keys).
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { join, resolve } from 'node:path'
import { certificateSubjectRfc2253 } from '../auth/dn.js'
import { UsageError, list, optional, parseOptions, positiveInteger, required, type CliIo, type ParsedOptions } from './args.js'
import {
  CertificateError,
  describeKey,
  generateKey,
  issueCertificate,
  javaRegexQuote,
  parseDn,
  privateKeyPem,
  type Issuer,
  type KeyType,
} from './x509.js'

export const CERTS_USAGE = `usage: rcgw certs <ca|server|signing|client> [options]

  rcgw certs ca      --out DIR [--cn NAME] [--days 3650] [--key-type rsa|ec] [--name ca]
      a certificate authority (DIR/ca.crt, DIR/ca.key)
  rcgw certs server  --ca CA.crt --ca-key CA.key --dns NAME[,NAME] --ip ADDR[,ADDR] --out DIR [--cn NAME] [--name gateway]
      the gateway's TLS server certificate, with the proxy_address hosts as subject alternative names
  rcgw certs signing --ca CA.crt --ca-key CA.key --subject DN [--key-type rsa|ec] --out DIR [--name signing]
      a cross-cluster API key signing certificate for the local (querying) cluster, e.g.
      --subject "CN=local-cluster.example.com,O=Example Corp,C=US"
  rcgw certs client  --ca CA.crt --ca-key CA.key --subject DN [--key-type rsa|ec] --out DIR [--name client]
      a TLS client certificate (gateway tls.client_authentication)

  common options: --days N (default 365, CA 3650), --key-type rsa|ec (default rsa), --force (overwrite files)
`

type Kind = 'ca' | 'server' | 'signing' | 'client'

const SPEC = {
  values: ['out', 'cn', 'days', 'key-type', 'name', 'ca', 'ca-key', 'dns', 'ip', 'subject'],
  flags: ['force', 'help'],
}

const ALLOWED: Record<Kind, readonly string[]> = {
  ca: ['out', 'cn', 'days', 'key-type', 'name'],
  server: ['out', 'cn', 'days', 'key-type', 'name', 'ca', 'ca-key', 'dns', 'ip'],
  signing: ['out', 'days', 'key-type', 'name', 'ca', 'ca-key', 'subject'],
  client: ['out', 'days', 'key-type', 'name', 'ca', 'ca-key', 'subject', 'dns', 'ip'],
}

/** Runtime failure (exit 1), as opposed to a usage error (exit 2). */
class CertsFailure extends Error {}

export function certsCommand(argv: readonly string[], io: CliIo): number {
  const [sub, ...rest] = argv
  if (sub === undefined) {
    io.err(CERTS_USAGE)
    return 2
  }
  if (sub === 'help' || sub === '--help' || sub === '-h') {
    io.out(CERTS_USAGE)
    return 0
  }
  if (!(sub in ALLOWED)) {
    io.err(`rcgw certs: unknown subcommand "${sub}"\n${CERTS_USAGE}`)
    return 2
  }
  const kind = sub as Kind
  try {
    const opts = parseOptions(rest, SPEC)
    if (opts.flags.has('help')) {
      io.out(CERTS_USAGE)
      return 0
    }
    if (opts.positionals.length > 0) throw new UsageError(`unexpected argument "${opts.positionals[0]}"`)
    for (const name of opts.values.keys()) {
      if (!ALLOWED[kind].includes(name)) throw new UsageError(`--${name} does not apply to "certs ${kind}"`)
    }
    switch (kind) {
      case 'ca':
        return createCaFiles(opts, io)
      case 'server':
        return createServerFiles(opts, io)
      case 'signing':
      case 'client':
        return createSubjectFiles(kind, opts, io)
    }
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`rcgw certs ${kind}: ${e.message}\n${CERTS_USAGE}`)
      return 2
    }
    if (e instanceof CertificateError && (e.reason === 'bad_dn' || e.reason === 'bad_ip')) {
      // A malformed --subject / --ip is a usage error, like an unknown option.
      io.err(`rcgw certs ${kind}: ${e.message}\n`)
      return 2
    }
    if (e instanceof CertsFailure || e instanceof CertificateError) {
      io.err(`rcgw certs ${kind}: ${e.message}\n`)
      return 1
    }
    throw e
  }
}

// --- options ----------------------------------------------------------------------------------------------

function keyType(opts: ParsedOptions): KeyType {
  const v = optional(opts, 'key-type') ?? 'rsa'
  if (v !== 'rsa' && v !== 'ec') throw new UsageError(`--key-type must be rsa or ec, got "${v}"`)
  return v
}

function ips(opts: ParsedOptions): string[] {
  const out = list(opts, 'ip')
  for (const ip of out) if (isIP(ip) === 0) throw new UsageError(`--ip: not an IP address: "${ip}"`)
  return out
}

function fileBase(opts: ParsedOptions, fallback: string): string {
  const name = optional(opts, 'name') ?? fallback
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw new UsageError(`--name must be a plain file name, got "${name}"`)
  return name
}

interface Targets {
  readonly cert: string
  readonly key: string
}

/** Output paths; refuses to overwrite (checked before any key is generated, so a refusal costs nothing). */
function targets(opts: ParsedOptions, base: string): Targets {
  const dir = resolve(required(opts, 'out'))
  const t = { cert: join(dir, `${base}.crt`), key: join(dir, `${base}.key`) }
  if (!opts.flags.has('force')) {
    for (const f of [t.cert, t.key]) if (existsSync(f)) throw new CertsFailure(`${f} already exists (use --force to overwrite it)`)
  }
  return t
}

function write(t: Targets, certPem: string, key: KeyObject): void {
  mkdirSync(resolve(t.cert, '..'), { recursive: true, mode: 0o755 })
  writeFileSync(t.cert, certPem, { mode: 0o644 })
  // writeFileSync's mode applies only when it creates the file; chmod also covers --force over an existing file.
  writeFileSync(t.key, privateKeyPem(key), { mode: 0o600 })
  chmodSync(t.key, 0o600)
}

function loadIssuer(opts: ParsedOptions): { issuer: Issuer; caPath: string } {
  const caPath = resolve(required(opts, 'ca'))
  const keyPath = resolve(required(opts, 'ca-key'))
  let cert: X509Certificate
  let key: KeyObject
  try {
    cert = new X509Certificate(readFileSync(caPath))
  } catch (e) {
    throw new CertsFailure(`cannot read the CA certificate ${caPath}: ${(e as Error).message}`)
  }
  try {
    key = createPrivateKey(readFileSync(keyPath))
  } catch (e) {
    throw new CertsFailure(`cannot read the CA key ${keyPath}: ${(e as Error).message}`)
  }
  return { issuer: { cert, key }, caPath }
}

// --- output helpers ---------------------------------------------------------------------------------------

function subjectOf(cert: X509Certificate): string {
  return certificateSubjectRfc2253(cert)
}

function validUntil(cert: X509Certificate): string {
  return new Date(cert.validTo).toISOString().slice(0, 10)
}

/** YAML single-quoted scalar: no escapes are processed inside, quotes are doubled. */
function yamlQuote(s: string): string {
  return `'${s.replace(/'/g, "''")}'`
}

function lines(...ls: Array<string | false>): string {
  return ls.filter((l): l is string => l !== false).join('\n') + '\n'
}

// --- subcommands ------------------------------------------------------------------------------------------

function createCaFiles(opts: ParsedOptions, io: CliIo): number {
  const t = targets(opts, fileBase(opts, 'ca'))
  const cn = optional(opts, 'cn') ?? 'rcgw CA'
  const key = generateKey(keyType(opts))
  // The CN is taken literally (escaped), so that any name works without DN syntax.
  const { cert, certPem } = issueCertificate({ subject: `CN=${escapeDnValue(cn)}`, key, days: positiveInteger(opts, 'days', 3650), isCa: true })
  write(t, certPem, key)
  io.out(
    lines(
      `created a CA certificate (${describeKey(key)}, valid until ${validUntil(cert)}):`,
      `  ${t.cert}   certificate (public: distribute it)`,
      `  ${t.key}   private key (mode 0600: keep it offline; it is only needed to issue certificates)`,
      `  subject:  ${subjectOf(cert)}`,
      `  SHA-256:  ${cert.fingerprint256}`,
      '',
      'Use one CA per purpose. As the CA of the gateway TLS certificate (next: rcgw certs server):',
      '  local (querying) cluster, elasticsearch.yml (copy the file into its config directory):',
      `    xpack.security.remote_cluster_client.ssl.certificate_authorities: [ "${basename(t.cert)}" ]`,
      'As the CA of cross-cluster signing certificates (next: rcgw certs signing):',
      '  gateway config:',
      `    clusters[].signing.certificate_authorities: [ ${t.cert} ]`,
      '  remote (fulfilling) cluster, if it verifies signatures itself too:',
      `    cluster.remote.signing.certificate_authorities: [ "${basename(t.cert)}" ]`,
      'As the CA of TLS client certificates (next: rcgw certs client):',
      '  gateway config:',
      `    tls.certificate_authorities: [ ${t.cert} ]   with tls.client_authentication: required`,
    ),
  )
  return 0
}

function createServerFiles(opts: ParsedOptions, io: CliIo): number {
  const dns = list(opts, 'dns')
  const addresses = ips(opts)
  if (dns.length === 0 && addresses.length === 0) {
    // Elasticsearch verifies the proxy_address host against the SANs (cross-cluster-auth.md §10), so a server
    // certificate without SANs can never pass verification_mode: full.
    throw new UsageError('give the host names (--dns) and/or addresses (--ip) that cluster.remote.<alias>.proxy_address will use')
  }
  const { issuer, caPath } = loadIssuer(opts)
  const t = targets(opts, fileBase(opts, 'gateway'))
  const cn = optional(opts, 'cn') ?? dns[0] ?? addresses[0]!
  const key = generateKey(keyType(opts))
  const { cert, certPem } = issueCertificate({
    subject: `CN=${escapeDnValue(cn)}`,
    key,
    issuer,
    days: positiveInteger(opts, 'days', 365),
    dnsNames: dns,
    ips: addresses,
    extKeyUsage: ['serverAuth'],
    usage: 'tls',
  })
  write(t, certPem, key)
  const host = dns[0] ?? addresses[0]!
  io.out(
    lines(
      `created the gateway TLS certificate (${describeKey(key)}, valid until ${validUntil(cert)}), issued by ${subjectOf(issuer.cert)}:`,
      `  ${t.cert}   certificate`,
      `  ${t.key}   private key (mode 0600)`,
      `  subject:  ${subjectOf(cert)}`,
      `  SANs:     ${cert.subjectAltName ?? '-'}`,
      '',
      'gateway config (gateway.yml):',
      '  tls:',
      `    certificate: ${t.cert}`,
      `    key: ${t.key}`,
      '    auto_generate: false',
      'local (querying) cluster, elasticsearch.yml (copy the CA certificate into its config directory):',
      `  xpack.security.remote_cluster_client.ssl.certificate_authorities: [ "${basename(caPath)}" ]`,
      '  cluster.remote.<alias>.mode: proxy',
      `  cluster.remote.<alias>.proxy_address: "${host.includes(':') ? `[${host}]` : host}:9443"`,
      '    (hostname verification checks the proxy_address host: it must be one of the SANs above)',
      '  cluster.remote.<alias>.server_name: "<one of the server_names of the target cluster in the gateway config>"',
      'check it with:',
      `  rcgw probe --address ${host.includes(':') ? `[${host}]` : host}:9443 --server-name <server_name> --ca ${caPath} --credentials <encoded cross-cluster API key>`,
    ),
  )
  return 0
}

function createSubjectFiles(kind: 'signing' | 'client', opts: ParsedOptions, io: CliIo): number {
  const subject = required(opts, 'subject')
  parseDn(subject) // reject a malformed DN before anything is generated
  const addresses = ips(opts)
  const type = keyType(opts)
  const { issuer, caPath } = loadIssuer(opts)
  const t = targets(opts, fileBase(opts, kind))
  const key = generateKey(type)
  const { cert, certPem } = issueCertificate({
    subject,
    key,
    issuer,
    days: positiveInteger(opts, 'days', 365),
    dnsNames: list(opts, 'dns'),
    ips: addresses,
    // clientAuth: Elasticsearch validates signing chains with the trust manager's checkClientTrusted
    // (CrossClusterApiKeySignatureManager.Verifier, cross-cluster-auth.md §3.1).
    extKeyUsage: ['clientAuth'],
    usage: kind === 'signing' ? 'sign' : 'tls',
  })
  write(t, certPem, key)
  const dn = subjectOf(cert)
  const out: Array<string | false> = [
    `created a ${kind} certificate (${describeKey(key)}${kind === 'signing' ? `, signs with ${type === 'ec' ? 'SHA256withECDSA' : 'SHA256withRSA'}` : ''}, valid until ${validUntil(cert)}), issued by ${subjectOf(issuer.cert)}:`,
    `  ${t.cert}   certificate`,
    `  ${t.key}   private key (mode 0600)`,
    `  subject (RFC 2253, as Elasticsearch prints it): ${dn}`,
    dn !== subject &&
      `  note: the requested subject "${subject}" reads back as "${dn}" (Elasticsearch compares the form above)`,
    '',
  ]
  if (kind === 'signing') {
    const pattern = javaRegexQuote(dn)
    out.push(
      'local (querying) cluster, elasticsearch.yml (copy both files into its config directory):',
      `  cluster.remote.<alias>.signing.certificate: "${basename(t.cert)}"`,
      `  cluster.remote.<alias>.signing.key: "${basename(t.key)}"`,
      '  (the signature header is sent on connections whose transport version is at least 9191000)',
      'gateway config, under the target cluster:',
      '  signing:',
      `    certificate_authorities: [ ${caPath} ]`,
      '  api_keys:',
      '    - id: <id of the cross-cluster API key>',
      `      certificate_identity: ${yamlQuote(pattern)}`,
      'remote (fulfilling) cluster:',
      `  elasticsearch.yml: cluster.remote.signing.certificate_authorities: [ "${basename(caPath)}" ]`,
      `  the API key (POST /_security/cross_cluster/api_key): "certificate_identity": ${JSON.stringify(pattern)}`,
      '  (certificate_identity is a Java regular expression that must match the whole DN; the pattern above matches exactly this DN)',
      'check it with:',
      `  rcgw probe --address <gateway host>:9443 --server-name <server_name> --ca <gateway TLS CA> --credentials <encoded API key> --signing-cert ${t.cert} --signing-key ${t.key}`,
    )
  } else {
    out.push(
      'gateway config:',
      '  tls:',
      '    client_authentication: required        # or optional',
      `    certificate_authorities: [ ${caPath} ]`,
      'local (querying) cluster, elasticsearch.yml (copy both files into its config directory):',
      `  xpack.security.remote_cluster_client.ssl.certificate: "${basename(t.cert)}"`,
      `  xpack.security.remote_cluster_client.ssl.key: "${basename(t.key)}"`,
    )
  }
  io.out(lines(...out))
  return 0
}

function basename(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1)
}

/** RFC 4514 §2.4 escaping of a single attribute value (for --cn, which is taken literally). */
export function escapeDnValue(v: string): string {
  return v
    .replace(/[\\,+"<>;=#]/g, (c) => '\\' + c)
    .replace(/^ | $/g, (c) => '\\' + c)
}
