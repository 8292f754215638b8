/**
 * Development certificates for the embedded default configuration.
 *
 * Like Elasticsearch on its first start (which creates an HTTP CA and prints its fingerprint), the gateway creates
 * a development CA and a server certificate when `tls.auto_generate: true` and the configured files don't exist,
 * so that a newcomer's `npm start` works on a fresh machine. Production deployments point `tls.certificate` and
 * `tls.key` at real files and leave `auto_generate` off.
 *
 * node-forge builds the certificates (it is fine for RSA); keys come from node:crypto, which is much faster than
 * forge's pure-JS key generation.
 */
import { generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto'
import { mkdirSync, writeFileSync, existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { hostname } from 'node:os'
import forge from 'node-forge'

export interface DevCertificateResult {
  readonly caCertPath: string
  readonly caKeyPath: string
  readonly certPath: string
  readonly keyPath: string
  /** SHA-256 fingerprint of the CA certificate, colon-separated upper-case hex (as `openssl x509 -fingerprint`). */
  readonly caFingerprint: string
}

export interface CertificatePair {
  readonly certPem: string
  readonly keyPem: string
}

function rsaKeyPair(bits = 2048): { privateKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey; keyPem: string } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: bits })
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  const fk = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey
  return { privateKey: fk, publicKey: forge.pki.setRsaPublicKey(fk.n, fk.e), keyPem }
}

function serial(): string {
  // Positive, 16 random bytes: a leading 0x01..0x7f byte keeps the DER INTEGER positive.
  const b = randomBytes(16)
  b[0] = (b[0]! & 0x7f) | 0x01
  return b.toString('hex')
}

export function createCa(commonName: string, days = 3 * 365): CertificatePair {
  const keys = rsaKeyPair()
  const cert = forge.pki.createCertificate()
  cert.publicKey = keys.publicKey
  cert.serialNumber = serial()
  cert.validity.notBefore = new Date(Date.now() - 60_000)
  cert.validity.notAfter = new Date(Date.now() + days * 86_400_000)
  const attrs = [{ name: 'commonName', value: commonName }]
  cert.setSubject(attrs)
  cert.setIssuer(attrs)
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ])
  cert.sign(keys.privateKey, forge.md.sha256.create())
  return { certPem: forge.pki.certificateToPem(cert), keyPem: keys.keyPem }
}

export function createServerCertificate(
  ca: CertificatePair,
  opts: { commonName: string; dnsNames: readonly string[]; ips: readonly string[]; days?: number },
): CertificatePair {
  const keys = rsaKeyPair()
  const caCert = forge.pki.certificateFromPem(ca.certPem)
  const caKey = forge.pki.privateKeyFromPem(ca.keyPem)
  const cert = forge.pki.createCertificate()
  cert.publicKey = keys.publicKey
  cert.serialNumber = serial()
  cert.validity.notBefore = new Date(Date.now() - 60_000)
  cert.validity.notAfter = new Date(Date.now() + (opts.days ?? 365) * 86_400_000)
  cert.setSubject([{ name: 'commonName', value: opts.commonName }])
  cert.setIssuer(caCert.subject.attributes)
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    {
      name: 'subjectAltName',
      altNames: [...opts.dnsNames.map((value) => ({ type: 2, value })), ...opts.ips.map((ip) => ({ type: 7, ip }))],
    },
    { name: 'subjectKeyIdentifier' },
  ])
  cert.sign(caKey, forge.md.sha256.create())
  return { certPem: forge.pki.certificateToPem(cert), keyPem: keys.keyPem }
}

/**
 * Creates `ca.crt`/`ca.key` beside the configured server certificate and the server certificate/key themselves,
 * unless the server certificate and key already exist. Returns null when nothing was created.
 */
export function ensureDevCertificates(certPath: string, keyPath: string, serverNames: readonly string[]): DevCertificateResult | null {
  if (existsSync(certPath) && existsSync(keyPath)) return null
  const dir = dirname(certPath)
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  mkdirSync(dirname(keyPath), { recursive: true, mode: 0o700 })
  const caCertPath = join(dir, 'ca.crt')
  const caKeyPath = join(dir, 'ca.key')
  const ca = createCa('rcgw development CA')
  const server = createServerCertificate(ca, {
    commonName: 'rcgw',
    dnsNames: [...new Set(['localhost', hostname(), ...serverNames].filter((n) => /^[A-Za-z0-9.-]+$/.test(n)))],
    ips: ['127.0.0.1', '::1'],
  })
  writeFileSync(caCertPath, ca.certPem, { mode: 0o644 })
  writeFileSync(caKeyPath, ca.keyPem, { mode: 0o600 })
  writeFileSync(certPath, server.certPem, { mode: 0o644 })
  writeFileSync(keyPath, server.keyPem, { mode: 0o600 })
  return { caCertPath, caKeyPath, certPath, keyPath, caFingerprint: new X509Certificate(ca.certPem).fingerprint256 }
}
