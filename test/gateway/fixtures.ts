/** Shared pieces for gateway integration tests: emulator backends with the test PKI, and client options. */
import type { Test } from 'tap'
import { startBackend, type Backend, type BackendOptions } from '../emulator/backend.js'
import { connectClient, type ClientOptions, type TransportClient } from '../emulator/client.js'
import { testPki } from '../helpers/pki.js'

/** A syntactically valid cross-cluster credential: id "VuaCfGcBCdbkQm-e5aOx", 22-character secret. */
export const KEY_ID = 'VuaCfGcBCdbkQm-e5aOx'
export const CREDENTIALS = 'ApiKey ' + Buffer.from(`${KEY_ID}:ui2lp2axTNmsyakw9tvNnw`).toString('base64')
/** Opaque to the gateway (it never decodes subject info); any base64 will do. */
export const SUBJECT_INFO = Buffer.from('subject-info-for-tests').toString('base64')

export async function backend(t: Test, clusterName: string, extra: Partial<BackendOptions> = {}): Promise<Backend> {
  const { server } = testPki()
  const b = await startBackend({ tls: { key: server.keyPem, cert: server.certPem }, clusterName, ...extra })
  t.teardown(() => b.close())
  return b
}

export async function client(t: Test, port: number, extra: Partial<ClientOptions> = {}): Promise<TransportClient> {
  const c = await connectClient({
    host: '127.0.0.1',
    port,
    ca: testPki().ca.certPem,
    servername: 'remote-a.example.com',
    credentials: CREDENTIALS,
    subjectInfo: SUBJECT_INFO,
    ...extra,
  })
  t.teardown(() => c.close())
  return c
}

/** Resolves when cond() is true, polling on the event loop; fails the test after `ms` (a safety net, not a timing assertion). */
export async function until(cond: () => boolean | Promise<boolean>, ms = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}
