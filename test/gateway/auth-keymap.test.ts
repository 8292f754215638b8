/**
 * Issue #11 finding 10 through real sockets: while clients flood the gateway with never-seen API key ids, a known
 * key whose cache entry expired is still looked up again and allowed (injected clock; fake security API).
 */
import t from 'tap'
import { startGateway } from '../helpers/gateway.js'
import { backend, client, KEY_ID, SUBJECT_INFO } from './fixtures.js'
import { createClusterPolicy } from '../../src/auth/factory.js'
import { GatewayMetrics } from '../../src/admin/metrics.js'
import type { FetchApiKey } from '../../src/auth/keymap.js'

const SEARCH = 'indices:data/read/search'
const cred = (id: string) => 'ApiKey ' + Buffer.from(`${id}:ui2lp2axTNmsyakw9tvNnw`).toString('base64')

t.test('a flood of unknown key ids neither starves nor evicts a known key', async (t) => {
  const be = await backend(t, 'cluster-a')
  const lookups: string[] = []
  const fetchApiKey: FetchApiKey = async (id) => {
    lookups.push(id)
    return id === KEY_ID ? { found: true, certificateIdentity: null, type: 'cross_cluster' } : { found: false }
  }
  let now = Date.now()
  const metrics = new GatewayMetrics()
  const gw = await startGateway(t, {
    clusters: [
      {
        name: 'a',
        nodes: [`127.0.0.1:${be.port}`],
        // max_stale 0: an expired entry is never rescued, it must be looked up again; tiny cache and budget
        api_key_lookup: { url: 'https://127.0.0.1:1', api_key: 'bG9va3VwOnNlY3JldA==', ttl: '1m', negative_ttl: '1m', max_stale: 0, max_lookups_per_second: 2, max_unknown_lookups_per_second: 2, max_entries: 3 },
      },
    ],
    options: { metrics, policyFor: (cfg) => createClusterPolicy(cfg, { metrics, fetchApiKey, now: () => now }) },
  })
  const known = await client(t, gw.port, { credentials: cred(KEY_ID) })
  t.equal(known.clusterName, 'cluster-a', 'known key allowed (first lookup)')
  t.equal(lookups.filter((id) => id === KEY_ID).length, 1)

  now += 61_000 // the known key's entry has expired; the clock stands still during the flood (no refill)
  const denials: string[] = []
  for (let i = 0; i < 12; i++) {
    const c = await client(t, gw.port, { handshake: 'tcp' })
    const err = (await c
      .request(SEARCH, Buffer.from('x'), { headers: { _cross_cluster_access_credentials: cred(`random-${i}`), _cross_cluster_access_subject_info: SUBJECT_INFO }, accessHeaders: false })
      .then(() => null, (e: unknown) => e)) as { exception?: { message?: string | null } } | null
    denials.push(err?.exception?.message ?? 'allowed?!')
    await c.closed
  }
  t.equal(denials.filter((m) => /unable to find apikey with id \[random-/.test(m)).length, 2, 'two unknown ids looked up (their budget)')
  t.equal(denials.filter((m) => m === 'failed to authenticate cross cluster credentials').length, 10, 'the rest fail closed')
  t.equal(lookups.filter((id) => id !== KEY_ID).length, 2, 'only the unknown budget reached the security API')

  const before = lookups.length
  const ok = await known.request(SEARCH, Buffer.from('still known'))
  t.equal(ok.body.toString(), 'still known', 'the known key is re-verified and allowed during the flood')
  t.equal(lookups.length - before, 1, 'with a fresh lookup')
  t.equal(lookups.at(-1), KEY_ID)
})
