/**
 * `rcgw certs`: the files it writes parse, carry the requested names and keys, chain to their CA, and work where
 * they are meant to be used (a real TLS handshake with hostname verification; a DN that reads back in Elasticsearch's
 * RFC 2253 form and that the printed certificate_identity pattern matches).
 */
import t from 'tap'
import { X509Certificate, createPrivateKey } from 'node:crypto'
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import tls from 'node:tls'
import type { AddressInfo } from 'node:net'
import { certificateSubjectRfc2253 } from '../../src/auth/dn.js'
import { basicConstraints, certificateExtensions, extendedKeyUsage, keyUsage, KEY_USAGE } from '../../src/auth/chain.js'
import { bitIsSet, parseCertificate } from '../../src/auth/der.js'
import { compileJavaPattern } from '../../src/auth/jregex.js'
import { escapeDnValue } from '../../src/cli/certs.js'
import { CertificateError, generateKey, issueCertificate, javaRegexQuote, parseDn } from '../../src/cli/x509.js'
import { tempDir } from '../helpers/tmp.js'
import { rcgw } from './helpers.js'

const mode = (f: string) => statSync(f).mode & 0o777

function exts(cert: X509Certificate) {
  return certificateExtensions(parseCertificate(cert.raw))
}

t.test('certs ca: RSA and EC CAs, key files 0600, CA constraints, validity', async (t) => {
  const dir = tempDir(t)
  const r = await rcgw(['certs', 'ca', '--out', dir, '--cn', 'Ops, Test CA', '--days', '30'])
  t.equal(r.code, 0, r.err)
  const cert = new X509Certificate(readFileSync(join(dir, 'ca.crt')))
  t.equal(certificateSubjectRfc2253(cert), 'CN=Ops\\, Test CA', 'the CN is taken literally (escaped in the DN)')
  t.ok(cert.ca, 'basicConstraints cA')
  t.ok(cert.verify(cert.publicKey), 'self-signed')
  const ku = keyUsage(exts(cert))!
  t.ok(bitIsSet(ku, KEY_USAGE.keyCertSign) && bitIsSet(ku, KEY_USAGE.cRLSign), 'keyCertSign + cRLSign')
  const days = (Date.parse(cert.validTo) - Date.now()) / 86_400_000
  t.ok(days > 29.9 && days < 30.1, `valid for 30 days (${days.toFixed(2)})`)
  t.equal(mode(join(dir, 'ca.key')), 0o600)
  t.equal(mode(join(dir, 'ca.crt')), 0o644)
  const key = createPrivateKey(readFileSync(join(dir, 'ca.key')))
  t.equal(key.asymmetricKeyType, 'rsa')
  t.ok(cert.checkPrivateKey(key), 'the key belongs to the certificate')
  t.match(r.out, /xpack\.security\.remote_cluster_client\.ssl\.certificate_authorities/)
  t.match(r.out, /clusters\[\]\.signing\.certificate_authorities/)
  t.match(r.out, /cluster\.remote\.signing\.certificate_authorities/)
  t.match(r.out, new RegExp(`SHA-256:  ${cert.fingerprint256}`))

  const ec = await rcgw(['certs', 'ca', '--out', dir, '--name', 'ec-ca', '--key-type', 'ec'])
  t.equal(ec.code, 0, ec.err)
  const ecCert = new X509Certificate(readFileSync(join(dir, 'ec-ca.crt')))
  t.equal(ecCert.publicKey.asymmetricKeyType, 'ec')
  t.equal(ecCert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1')
  t.equal(certificateSubjectRfc2253(ecCert), 'CN=rcgw CA', 'default CN')
  t.ok(ecCert.verify(ecCert.publicKey))
})

t.test('certs server: SANs, chain, and a real TLS handshake with hostname verification', async (t) => {
  const dir = tempDir(t)
  t.equal((await rcgw(['certs', 'ca', '--out', dir])).code, 0)
  const r = await rcgw([
    'certs', 'server', '--ca', join(dir, 'ca.crt'), '--ca-key', join(dir, 'ca.key'),
    '--dns', 'gw.example.com,remote-a.example.com', '--dns', 'localhost', '--ip', '127.0.0.1', '--ip', '::1', '--out', join(dir, 'server'),
  ])
  t.equal(r.code, 0, r.err)
  const caPem = readFileSync(join(dir, 'ca.crt'), 'utf8')
  const ca = new X509Certificate(caPem)
  const certPem = readFileSync(join(dir, 'server', 'gateway.crt'), 'utf8')
  const keyPem = readFileSync(join(dir, 'server', 'gateway.key'), 'utf8')
  const cert = new X509Certificate(certPem)
  t.equal(mode(join(dir, 'server', 'gateway.key')), 0o600)
  t.equal(cert.subjectAltName, 'DNS:gw.example.com, DNS:remote-a.example.com, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1')
  t.equal(certificateSubjectRfc2253(cert), 'CN=gw.example.com', 'CN defaults to the first DNS name')
  t.ok(cert.verify(ca.publicKey), 'signed by the CA')
  t.ok(cert.checkIssued(ca), 'issuer and key identifiers line up')
  t.notOk(cert.ca)
  t.same(extendedKeyUsage(exts(cert)), ['1.3.6.1.5.5.7.3.1'], 'serverAuth')
  t.match(r.out, /tls:\n {4}certificate: .*gateway\.crt\n {4}key: .*gateway\.key\n {4}auto_generate: false/)
  t.match(r.out, /cluster\.remote\.<alias>\.proxy_address: "gw\.example\.com:9443"/)

  const server = tls.createServer({ cert: certPem, key: keyPem }, (s) => s.end())
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res))
  t.teardown(() => new Promise<void>((res) => server.close(() => res())))
  const port = (server.address() as AddressInfo).port
  const handshake = (servername: string, checkHost: string) =>
    new Promise<string>((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port, ca: caPem, servername, checkServerIdentity: (_h, c) => tls.checkServerIdentity(checkHost, c) })
      s.once('secureConnect', () => {
        s.destroy()
        resolve('ok')
      })
      s.once('error', (e: NodeJS.ErrnoException) => {
        s.destroy()
        resolve(e.code ?? e.message)
      })
    })
  t.equal(await handshake('gw.example.com', 'gw.example.com'), 'ok', 'DNS SAN verifies')
  t.equal(await handshake('remote-a.example.com', '127.0.0.1'), 'ok', 'IP SAN verifies (Elasticsearch checks the proxy_address host)')
  t.equal(await handshake('gw.example.com', 'other.example.com'), 'ERR_TLS_CERT_ALTNAME_INVALID', 'a name outside the SANs is refused')
})

t.test('certs signing: RSA and EC leaves whose RFC 2253 DN equals the requested DN', async (t) => {
  const dir = tempDir(t)
  t.equal((await rcgw(['certs', 'ca', '--out', dir, '--key-type', 'ec', '--cn', 'Signing CA'])).code, 0)
  const ca = new X509Certificate(readFileSync(join(dir, 'ca.crt')))
  const dn = 'CN=local-cluster.example.com,O=Example Corp,C=US'
  for (const keyType of ['rsa', 'ec'] as const) {
    const out = join(dir, keyType)
    const r = await rcgw(['certs', 'signing', '--ca', join(dir, 'ca.crt'), '--ca-key', join(dir, 'ca.key'), '--subject', dn, '--key-type', keyType, '--out', out])
    t.equal(r.code, 0, r.err)
    const cert = new X509Certificate(readFileSync(join(out, 'signing.crt')))
    const key = createPrivateKey(readFileSync(join(out, 'signing.key')))
    t.equal(certificateSubjectRfc2253(cert), dn, `${keyType}: DN reads back as requested`)
    t.equal(cert.publicKey.asymmetricKeyType, keyType)
    t.equal(key.asymmetricKeyType, keyType)
    t.ok(cert.checkPrivateKey(key))
    t.ok(cert.verify(ca.publicKey), `${keyType}: signed by the EC CA`)
    t.equal(mode(join(out, 'signing.key')), 0o600)
    const e = exts(cert)
    const ku = keyUsage(e)!
    t.ok(bitIsSet(ku, KEY_USAGE.digitalSignature), 'digitalSignature (Java refuses to verify with a critical keyUsage lacking it)')
    t.notOk(bitIsSet(ku, KEY_USAGE.keyEncipherment), 'signing certificates only sign')
    t.same(basicConstraints(e), { ca: false, pathLen: null })
    t.match(r.out, /cluster\.remote\.<alias>\.signing\.certificate: "signing\.crt"/)
    t.match(r.out, /cluster\.remote\.<alias>\.signing\.key: "signing\.key"/)
    t.match(r.out, keyType === 'ec' ? /SHA256withECDSA/ : /SHA256withRSA/)
    // The printed certificate_identity pattern is a Java regex that matches exactly this DN (the gateway's own matcher).
    const m = /certificate_identity: '([^']+)'/.exec(r.out)
    t.ok(m, 'a certificate_identity line')
    const pattern = compileJavaPattern(m![1]!)
    t.ok(pattern.matches(dn), 'the pattern matches the DN')
    t.notOk(pattern.matches(dn.replace('local-cluster.', 'local-clusterX')), '"." is literal')
  }
})

t.test('certs client: clientAuth with SANs; the gateway tls.certificate_authorities hint', async (t) => {
  const dir = tempDir(t)
  t.equal((await rcgw(['certs', 'ca', '--out', dir])).code, 0)
  const r = await rcgw(['certs', 'client', '--ca', join(dir, 'ca.crt'), '--ca-key', join(dir, 'ca.key'), '--subject', 'CN=querying-cluster', '--dns', 'q.example.com', '--out', dir])
  t.equal(r.code, 0, r.err)
  const cert = new X509Certificate(readFileSync(join(dir, 'client.crt')))
  t.same(extendedKeyUsage(exts(cert)), ['1.3.6.1.5.5.7.3.2'])
  t.equal(cert.subjectAltName, 'DNS:q.example.com')
  t.match(r.out, /client_authentication: required/)
  t.match(r.out, /xpack\.security\.remote_cluster_client\.ssl\.certificate: "client\.crt"/)
})

t.test('DN strings round-trip to the RFC 2253 form Elasticsearch compares', async (t) => {
  const ca = issueCertificate({ subject: 'CN=dn test CA', key: generateKey('ec'), days: 1, isCa: true })
  const issuer = { cert: ca.cert, key: generateKey('ec') }
  // A wrong key for the CA certificate is refused before anything is signed.
  t.throws(() => issueCertificate({ subject: 'CN=x', key: generateKey('ec'), issuer, days: 1 }), CertificateError)
  const caKey = generateKey('ec')
  const realCa = issueCertificate({ subject: 'CN=dn test CA', key: caKey, days: 1, isCa: true })
  const same = [
    'CN=local-cluster.example.com,O=Example Corp,C=US',
    'CN=a\\,b\\+c \\<x\\>\\;y\\\\z\\=w,O=Org',
    'CN=node1+UID=u1,O=Org',
    'CN=Müller,O=Café',
    'DC=example,DC=com',
    'O=\\#hash',
    'CN=\\ lead and trail\\ ',
    'CN=x,OU=a,OU=b,L=Berlin,ST=Berlin,STREET=Main 1,C=DE',
  ]
  for (const dn of same) {
    const leaf = issueCertificate({ subject: dn, key: generateKey('ec'), issuer: { cert: realCa.cert, key: caKey }, days: 1 })
    t.equal(certificateSubjectRfc2253(leaf.cert), dn, dn)
  }
  const normalised: Array<[string, string]> = [
    ['cn=lower, o=spaced', 'CN=lower,O=spaced'],
    ['CN="quoted, value"', 'CN=quoted\\, value'],
    ['CN=hex\\2C escaped', 'CN=hex\\, escaped'],
    ['UID=u1+CN=node1', 'CN=node1+UID=u1'], // a DER SET OF is sorted
    ['2.5.4.3=#0c0378797a', 'CN=xyz'],
    ['EMAILADDRESS=ops@example.com', '1.2.840.113549.1.9.1=#160f6f7073406578616d706c652e636f6d'],
  ]
  for (const [input, expected] of normalised) {
    const leaf = issueCertificate({ subject: input, key: generateKey('ec'), issuer: { cert: realCa.cert, key: caKey }, days: 1 })
    t.equal(certificateSubjectRfc2253(leaf.cert), expected, `${input} → ${expected}`)
  }
  for (const bad of ['', 'CN', 'XX=1', 'CN=a\\', 'CN=a"b', 'CN="open', 'C=USA', 'CN=#zz', '2.5.4.3=#0c05', 'CN=a;;']) {
    t.throws(() => parseDn(bad) && encodeCheck(bad), CertificateError, `refused: ${JSON.stringify(bad)}`)
  }
  function encodeCheck(dn: string) {
    return issueCertificate({ subject: dn, key: generateKey('ec'), days: 1 })
  }
  t.equal(escapeDnValue(' a,b#c '), '\\ a\\,b\\#c\\ ')
  t.equal(javaRegexQuote('CN=a.b (x)*+?^$|[]{}\\'), 'CN=a\\.b \\(x\\)\\*\\+\\?\\^\\$\\|\\[\\]\\{\\}\\\\')
})

t.test('usage errors (exit 2) and refusals (exit 1)', async (t) => {
  const dir = tempDir(t)
  t.equal((await rcgw(['certs'])).code, 2, 'no subcommand')
  const help = await rcgw(['certs', 'help'])
  t.equal(help.code, 0)
  t.match(help.out, /usage: rcgw certs/)
  t.equal((await rcgw(['certs', 'ca', '--help'])).code, 0)
  t.equal((await rcgw(['certs', 'bogus'])).code, 2)
  t.equal((await rcgw(['certs', 'ca'])).code, 2, 'missing --out')
  t.equal((await rcgw(['certs', 'ca', '--out', dir, '--dns', 'x'])).code, 2, '--dns does not apply to ca')
  t.equal((await rcgw(['certs', 'ca', '--out', dir, '--key-type', 'dsa'])).code, 2)
  t.equal((await rcgw(['certs', 'ca', '--out', dir, '--days', '0'])).code, 2)
  t.equal((await rcgw(['certs', 'ca', '--out', dir, '--name', '../escape'])).code, 2)
  t.equal((await rcgw(['certs', 'ca', '--out', dir, 'stray'])).code, 2)
  t.equal((await rcgw(['certs', 'ca', '--out'])).code, 2, 'option without value')
  t.equal((await rcgw(['certs', 'ca', '--out', dir, '--force=yes'])).code, 2, 'flag with a value')

  t.equal((await rcgw(['certs', 'ca', '--out', dir, '--key-type', 'ec'])).code, 0)
  const before = readFileSync(join(dir, 'ca.crt'), 'utf8')
  const again = await rcgw(['certs', 'ca', '--out', dir, '--key-type', 'ec'])
  t.equal(again.code, 1, 'existing files are not overwritten')
  t.match(again.err, /already exists \(use --force/)
  t.equal(readFileSync(join(dir, 'ca.crt'), 'utf8'), before)
  writeFileSync(join(dir, 'ca.key'), readFileSync(join(dir, 'ca.key')), { mode: 0o644 })
  t.equal((await rcgw(['certs', 'ca', '--out', dir, '--force', '--key-type', 'ec'])).code, 0, '--force overwrites')
  t.not(readFileSync(join(dir, 'ca.crt'), 'utf8'), before)
  t.equal(mode(join(dir, 'ca.key')), 0o600, 'and the key is 0600 again')

  const ca = ['--ca', join(dir, 'ca.crt'), '--ca-key', join(dir, 'ca.key')]
  t.equal((await rcgw(['certs', 'server', ...ca, '--out', dir])).code, 2, 'server needs --dns or --ip')
  t.equal((await rcgw(['certs', 'server', ...ca, '--ip', '300.1.1.1', '--out', dir])).code, 2, 'bad IP')
  t.equal((await rcgw(['certs', 'signing', ...ca, '--subject', 'NOPE', '--out', dir])).code, 2, 'bad DN')
  t.equal((await rcgw(['certs', 'signing', ...ca, '--out', dir])).code, 2, 'missing --subject')
  const missing = await rcgw(['certs', 'signing', '--ca', join(dir, 'nope.crt'), '--ca-key', join(dir, 'ca.key'), '--subject', 'CN=x', '--out', dir])
  t.equal(missing.code, 1)
  t.match(missing.err, /cannot read the CA certificate/)
  const badKey = await rcgw(['certs', 'signing', '--ca', join(dir, 'ca.crt'), '--ca-key', join(dir, 'ca.crt'), '--subject', 'CN=x', '--out', dir])
  t.equal(badKey.code, 1)
  t.match(badKey.err, /cannot read the CA key/)

  // A leaf is not a CA; another CA's key does not fit.
  t.equal((await rcgw(['certs', 'server', ...ca, '--dns', 'a.example', '--key-type', 'ec', '--out', join(dir, 'leaf')])).code, 0)
  const notCa = await rcgw(['certs', 'signing', '--ca', join(dir, 'leaf', 'gateway.crt'), '--ca-key', join(dir, 'leaf', 'gateway.key'), '--subject', 'CN=x', '--out', dir])
  t.equal(notCa.code, 1)
  t.match(notCa.err, /not a CA certificate/)
  t.equal((await rcgw(['certs', 'ca', '--out', join(dir, 'other'), '--key-type', 'ec'])).code, 0)
  const mismatch = await rcgw(['certs', 'signing', '--ca', join(dir, 'ca.crt'), '--ca-key', join(dir, 'other', 'ca.key'), '--subject', 'CN=x', '--out', dir])
  t.equal(mismatch.code, 1)
  t.match(mismatch.err, /does not belong to the CA certificate/)
})
