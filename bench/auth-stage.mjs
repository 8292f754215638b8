#!/usr/bin/env node
// Cost of the authentication policy stage per request, cached and uncached (µs).
// Usage: npm run build && node bench/auth-stage.mjs [--iterations N]
// Pure CPU: no sockets. Certificates are minted with node:crypto through the dev-cert helper (RSA) and a small
// self-made EC chain is not needed: the RSA and EC paths differ only in crypto.verify's cost, reported separately.
import { generateKeyPairSync, sign, X509Certificate } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import forge from 'node-forge'
import { AuthPolicy } from '../dist/auth/policy.js'
import { KeyPatternMap } from '../dist/auth/keymap.js'
import { SignatureVerifier } from '../dist/auth/verify.js'
import { TrustStore } from '../dist/auth/chain.js'
import { encodeSignatureHeader, signablePayload } from '../dist/auth/signature.js'
import { createCa } from '../dist/tls/devcerts.js'

const iterations = Number(process.argv[process.argv.indexOf('--iterations') + 1]) || 20000

function leafFor(ca, cn, keyType) {
  const caCert = forge.pki.certificateFromPem(ca.certPem)
  const caKey = forge.pki.privateKeyFromPem(ca.keyPem)
  // forge cannot hold EC keys: the bench signs with an RSA leaf issued by forge, and measures EC verification
  // separately below with node:crypto alone.
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const cert = forge.pki.createCertificate()
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }))
  cert.serialNumber = '0a' + Math.floor(Math.random() * 1e9).toString(16)
  cert.validity.notBefore = new Date(Date.now() - 86400000)
  cert.validity.notAfter = new Date(Date.now() + 86400000 * 30)
  cert.setSubject([{ name: 'countryName', value: 'US' }, { name: 'organizationName', value: 'Example Corp' }, { name: 'commonName', value: cn }])
  cert.setIssuer(caCert.subject.attributes)
  cert.setExtensions([{ name: 'basicConstraints', cA: false }, { name: 'keyUsage', digitalSignature: true, critical: true }, { name: 'extKeyUsage', clientAuth: true }])
  cert.sign(caKey, forge.md.sha256.create())
  void keyType
  return { der: Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes(), 'binary'), privateKey }
}

const ca = createCa('bench signing CA')
const leaf = leafFor(ca, 'local-cluster.example.com')
const KEY_ID = 'VuaCfGcBCdbkQm-e5aOx'
const creds = 'ApiKey ' + Buffer.from(`${KEY_ID}:ui2lp2axTNmsyakw9tvNnw`).toString('base64')
const subject = Buffer.from('x'.repeat(600)).toString('base64')
const sig = encodeSignatureHeader({ transportVersion: 9250003, certificates: [leaf.der], algorithm: 'SHA256withRSA', signature: sign('sha256', signablePayload(subject, creds), leaf.privateKey) })

function header(headers) {
  return {
    requestId: 1n, status: 0, version: 9250003, messageLength: 0, varHeaderSize: 0, bodyLength: 0,
    isRequest: true, isError: false, isHandshake: false, isCompressed: false,
    variable: { requestHeaders: new Map(Object.entries(headers)), responseHeaders: new Map(), features: null, action: 'indices:data/read/search' },
  }
}

function policy(cacheSize, withIdentity = true) {
  return new AuthPolicy({
    keys: new KeyPatternMap(withIdentity ? [{ id: KEY_ID, certificateIdentity: 'CN=local-cluster\\.example\\.com,O=Example Corp,C=US' }] : [], null, 25),
    verifier: new SignatureVerifier(new TrustStore([ca.certPem]), { cacheSize }),
    signingRequired: false,
    allowedActions: 'default',
  })
}

const conn = { cluster: 'a', remoteAddress: '127.0.0.1:1', servername: null }
const plain = header({ _cross_cluster_access_credentials: creds, _cross_cluster_access_subject_info: subject })
const signed = header({ _cross_cluster_access_credentials: creds, _cross_cluster_access_subject_info: subject, _cross_cluster_access_signature: sig })

function measure(name, p, h, n) {
  for (let i = 0; i < Math.min(n, 500); i++) if (p.check(h, conn) !== null) throw new Error(`${name}: denied`)
  const t0 = performance.now()
  for (let i = 0; i < n; i++) p.check(h, conn)
  const us = ((performance.now() - t0) * 1000) / n
  return { name, iterations: n, us_per_request: Math.round(us * 100) / 100 }
}

const rows = [
  measure('unsigned request (API key only, no identity)', policy(10000, false), plain, iterations),
  measure('signed + certificate_identity, cached', policy(10000), signed, iterations),
  measure('signed + certificate_identity, uncached (decode + chain + verify + DN + regex)', policy(0), signed, Math.max(200, Math.floor(iterations / 50))),
]
// EC verification alone (the uncached path's crypto cost with an EC P-256 leaf instead of RSA-2048).
const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
const payload = signablePayload(subject, creds)
const ecSig = sign('sha256', payload, ec.privateKey)
const { verify } = await import('node:crypto')
let t0 = performance.now()
const n = 2000
for (let i = 0; i < n; i++) verify('sha256', payload, ec.publicKey, ecSig)
rows.push({ name: 'crypto.verify SHA256withECDSA P-256 alone', iterations: n, us_per_request: Math.round(((performance.now() - t0) * 1000) / n * 100) / 100 })
t0 = performance.now()
for (let i = 0; i < n; i++) new X509Certificate(leaf.der)
rows.push({ name: 'X509Certificate parse alone', iterations: n, us_per_request: Math.round(((performance.now() - t0) * 1000) / n * 100) / 100 })

console.log(`node ${process.version}`)
console.table(rows)
