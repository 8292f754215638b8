import t from 'tap'
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto'
import tls from 'node:tls'
import type { AddressInfo } from 'node:net'
import { makeCa, makeLeaf, makeServerCert } from './certs.js'

const ca = makeCa('Certs Test CA')

t.test('CA and server certificate', async (t) => {
  const caX = new X509Certificate(ca.cert)
  t.equal(caX.ca, true)
  t.equal(caX.subject, 'CN=Certs Test CA')
  t.equal(caX.issuer, 'CN=Certs Test CA')
  t.ok(caX.verify(caX.publicKey), 'self-signed')
  t.equal(ca.keyType, 'rsa')
  t.match(ca.key, /^-----BEGIN PRIVATE KEY-----/)

  const srv = makeServerCert(ca, { cn: 'gw.local', dnsNames: ['gw.local', '*.gw.local'], ips: ['127.0.0.1', '::1', '2001:db8::7'] })
  const x = new X509Certificate(srv.cert)
  t.equal(x.ca, false)
  t.equal(x.subject, 'CN=gw.local')
  t.equal(x.issuer, 'CN=Certs Test CA')
  t.ok(x.verify(caX.publicKey), 'signed by the CA')
  t.ok(x.checkIssued(caX))
  t.equal(x.subjectAltName, 'DNS:gw.local, DNS:*.gw.local, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, IP Address:2001:DB8:0:0:0:0:0:7')
  t.equal(x.checkHost('a.gw.local'), '*.gw.local')
  t.equal(x.checkIP('127.0.0.1'), '127.0.0.1')
  t.same(x.keyUsage, ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'], 'extended key usage: serverAuth + clientAuth')
  t.equal(x.serialNumber.toLowerCase(), srv.serial)
  t.ok(x.checkPrivateKey(createPrivateKey(srv.key)))
})

t.test('leaf certificates: EC keys, arbitrary subjects, validity, CA flag', async (t) => {
  const notBefore = new Date('2020-01-01T00:00:00Z')
  const notAfter = new Date('2060-06-01T00:00:00Z') // GeneralizedTime range
  const ec = makeLeaf(ca, {
    subject: [
      ['C', 'DE'],
      ['O', 'Acme, Inc.'],
      ['OU', 'Ünit'],
      ['CN', 'node-1'],
      ['DC', 'example'],
      ['2.5.4.5', 'SN42'],
      ['L', { value: 'Bmp City', encoding: 'bmp' }],
      ['ST', { value: 'Printable', encoding: 'printable' }],
      ['street', { value: 'T61 St', encoding: 't61' }],
      ['E', { value: 'a@b.c', encoding: 'ia5' }],
      ['UID', 'u1'],
    ],
    keyType: 'ec',
    notBefore,
    notAfter,
  })
  t.equal(ec.keyType, 'ec')
  const x = new X509Certificate(ec.cert)
  t.equal(x.publicKey.asymmetricKeyType, 'ec')
  t.ok(x.verify(new X509Certificate(ca.cert).publicKey))
  t.equal(new Date(x.validFrom).toISOString(), notBefore.toISOString())
  t.equal(new Date(x.validTo).toISOString(), notAfter.toISOString())
  // Node prints the subject with RFC 2253 escaping, one attribute per line.
  t.equal(x.subject, 'C=DE\nO=Acme\\, Inc.\nOU=Ünit\nCN=node-1\nDC=example\nserialNumber=SN42\nL=Bmp City\nST=Printable\nstreet=T61 St\nemailAddress=a@b.c\nUID=u1')
  t.ok(x.checkPrivateKey(createPrivateKey(ec.key)))

  // An EC intermediate CA issuing an RSA leaf: ECDSA signatures on the way down.
  const inter = makeLeaf(ca, { subject: [['CN', 'EC Intermediate']], keyType: 'ec', isCa: true, pathLen: 0 })
  const ix = new X509Certificate(inter.cert)
  t.equal(ix.ca, true)
  const leaf = makeLeaf(inter, { subject: [['CN', 'under-ec']], keyType: 'rsa', extKeyUsage: ['clientAuth'] })
  const lx = new X509Certificate(leaf.cert)
  t.ok(lx.verify(ix.publicKey))
  t.ok(lx.checkIssued(ix))
  t.equal(lx.issuer, 'CN=EC Intermediate')
  t.same(lx.keyUsage, ['1.3.6.1.5.5.7.3.2'])

  t.throws(() => makeLeaf(ca, { subject: [['NOPE', 'x']], keyType: 'rsa' }), /unknown attribute short name/)
  t.throws(() => makeServerCert(ca, { cn: 'x', ips: ['not-an-ip'] }), /not an IP address/)
})

t.test('keys: fresh by default, reused per keyId', async (t) => {
  const pub = (pem: string) => createPublicKey(createPrivateKey(pem)).export({ type: 'spki', format: 'der' }).toString('hex')
  const a = makeLeaf(ca, { subject: [['CN', 'a']], keyType: 'ec' })
  const b = makeLeaf(ca, { subject: [['CN', 'b']], keyType: 'ec' })
  t.not(pub(a.key), pub(b.key))
  const c = makeLeaf(ca, { subject: [['CN', 'c']], keyType: 'ec', keyId: 'shared' })
  const d = makeLeaf(ca, { subject: [['CN', 'd']], keyType: 'ec', keyId: 'shared' })
  t.equal(pub(c.key), pub(d.key))
  // Same CN, different key: a certificate from one does not verify under the other.
  const other = makeCa('Certs Test CA')
  t.notOk(new X509Certificate(makeServerCert(other, { cn: 'x', keyType: 'ec' }).cert).verify(new X509Certificate(ca.cert).publicKey))
})

t.test('an EC server certificate works in a real TLS handshake', async (t) => {
  const ecCa = makeCa('EC Root', { keyType: 'ec' })
  const srv = makeServerCert(ecCa, { cn: 'localhost', ips: ['127.0.0.1'], keyType: 'ec' })
  const server = tls.createServer({ key: srv.key, cert: srv.cert }, (s) => s.end('hi'))
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => server.close(() => r())))
  const port = (server.address() as AddressInfo).port
  const text = await new Promise<string>((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca: ecCa.cert }, () => {
      let out = ''
      s.on('data', (d: Buffer) => (out += d.toString()))
      s.on('end', () => resolve(out))
    })
    s.on('error', reject)
  })
  t.equal(text, 'hi')
})
