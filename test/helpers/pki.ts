/**
 * Test PKI shared by integration tests: one CA and one server certificate per process, written to a folder.
 * Key generation is the slow part, so the material is created once and reused.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createCa, createServerCertificate, type CertificatePair } from '../../src/tls/devcerts.js'

let cached: { ca: CertificatePair; server: CertificatePair } | null = null

export function testPki(): { ca: CertificatePair; server: CertificatePair } {
  cached ??= (() => {
    const ca = createCa('rcgw test CA')
    const server = createServerCertificate(ca, {
      commonName: 'gateway.test',
      dnsNames: ['localhost', 'gateway.test', 'remote-a.example.com', 'remote-b.example.com', 'node.internal'],
      ips: ['127.0.0.1'],
    })
    return { ca, server }
  })()
  return cached
}

/** Writes ca.crt, server.crt, server.key into dir and returns their paths. */
export function writePki(dir: string): { ca: string; cert: string; key: string } {
  const { ca, server } = testPki()
  const paths = { ca: join(dir, 'ca.crt'), cert: join(dir, 'server.crt'), key: join(dir, 'server.key') }
  writeFileSync(paths.ca, ca.certPem)
  writeFileSync(paths.cert, server.certPem)
  writeFileSync(paths.key, server.keyPem)
  return paths
}
