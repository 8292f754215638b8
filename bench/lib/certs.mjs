/**
 * Bench PKI: one CA for every TLS server (backend, HAProxy, gateway), a separate signing CA + leaf for the
 * `_cross_cluster_access_signature` of the remote-cluster handshake, and the access headers a 9.3 local cluster
 * would send. Built with the gateway's own dev-certificate helpers (RSA 2048, as dist/tls/devcerts.js makes them).
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes, sign, X509Certificate } from 'node:crypto'
import { pathToFileURL } from 'node:url'

export const BACKEND_NAME = 'backend.bench'
export const CLUSTER_SNI = 'remote-a.bench'
export const TRANSPORT_VERSION = 9250003 // 9.3.0: signs requests (≥ 9191000, add_cross_cluster_api_key_signature)

export async function makeBenchPki(distDir, dir) {
  const { createCa, createServerCertificate } = await import(pathToFileURL(join(distDir, 'tls/devcerts.js')).href)
  const { encodeSignatureHeader, signablePayload } = await import(pathToFileURL(join(distDir, 'auth/signature.js')).href)
  const ca = createCa('rcgw bench CA')
  const proxy = createServerCertificate(ca, { commonName: 'rcgw-bench-proxy', dnsNames: ['localhost', CLUSTER_SNI], ips: ['127.0.0.1'] })
  const backend = createServerCertificate(ca, { commonName: BACKEND_NAME, dnsNames: [BACKEND_NAME], ips: ['127.0.0.1'] })
  const signingCa = createCa('rcgw bench signing CA')
  const signer = createServerCertificate(signingCa, { commonName: 'local-cluster.bench', dnsNames: ['local-cluster.bench'], ips: [] })

  const files = {
    ca: join(dir, 'ca.crt'),
    proxyCert: join(dir, 'proxy.crt'),
    proxyKey: join(dir, 'proxy.key'),
    proxyPem: join(dir, 'proxy.pem'), // HAProxy: certificate + key in one file
    backendCert: join(dir, 'backend.crt'),
    backendKey: join(dir, 'backend.key'),
    signingCa: join(dir, 'signing-ca.crt'),
  }
  writeFileSync(files.ca, ca.certPem)
  writeFileSync(files.proxyCert, proxy.certPem)
  writeFileSync(files.proxyKey, proxy.keyPem, { mode: 0o600 })
  writeFileSync(files.proxyPem, proxy.certPem + proxy.keyPem, { mode: 0o600 })
  writeFileSync(files.backendCert, backend.certPem)
  writeFileSync(files.backendKey, backend.keyPem, { mode: 0o600 })
  writeFileSync(files.signingCa, signingCa.certPem)

  // Access headers. Credentials: `ApiKey base64(id:secret)` with a 20-char id and a 22-char secret, as
  // Elasticsearch generates them. Subject info: opaque base64 (the gateway never decodes it) of a realistic size
  // (~400 bytes: Authentication + role descriptors).
  const id = randomBytes(15).toString('base64url').slice(0, 20)
  const secret = randomBytes(17).toString('base64url').slice(0, 22)
  const credentials = `ApiKey ${Buffer.from(`${id}:${secret}`).toString('base64')}`
  const subjectInfo = randomBytes(400).toString('base64')
  const signatureValue = sign('sha256', signablePayload(subjectInfo, credentials), signer.keyPem)
  const signature = encodeSignatureHeader({
    transportVersion: TRANSPORT_VERSION,
    certificates: [new X509Certificate(signer.certPem).raw],
    algorithm: 'SHA256withRSA',
    signature: signatureValue,
  })
  const headers = { credentials, subjectInfo, signature }
  writeFileSync(join(dir, 'access-headers.json'), JSON.stringify(headers))
  return { files, headers, caPem: ca.certPem }
}
