/**
 * The authentication policy as a pure decision function over decoded request headers (no sockets).
 */
import t, { type Test } from 'tap'
import fc from 'fast-check'
import type { DecodedHeader } from '../../src/codec/decoder.js'
import { AuthPolicy, resolveAllowedActions, ALLOWED_REQUEST_HEADERS } from '../../src/auth/policy.js'
import { KeyPatternMap, type FetchApiKey } from '../../src/auth/keymap.js'
import { SignatureVerifier } from '../../src/auth/verify.js'
import { TrustStore } from '../../src/auth/chain.js'
import { encodeSignatureHeader, signablePayload } from '../../src/auth/signature.js'
import type { Denial, PolicyDecision } from '../../src/gateway/policy.js'
import { issueCa, issueLeaf, DAY, keyPair, type Issued } from './helpers/certs.js'
import { sign } from 'node:crypto'

const KEY_ID = 'VuaCfGcBCdbkQm-e5aOx'
const CREDS = 'ApiKey ' + Buffer.from(`${KEY_ID}:ui2lp2axTNmsyakw9tvNnw`).toString('base64')
const SUBJECT = Buffer.from('subject info blob').toString('base64')
const SEARCH = 'indices:data/read/search'
const conn = { cluster: 'a', remoteAddress: '127.0.0.1:1', servername: null }

const ca = issueCa([['CN', 'signing CA']])
const otherCa = issueCa([['CN', 'other CA']], { key: keyPair('rsa', 1) })
const leaf = issueLeaf([['C', 'US'], ['O', 'Example Corp'], ['CN', 'local-cluster.example.com']], ca, { key: keyPair('ec') })
const DN = 'CN=local-cluster.example.com,O=Example Corp,C=US'

function signWith(l: Issued, subject = SUBJECT, creds = CREDS, chain: Issued[] = [l]): string {
  const alg = l.key.privateKey.asymmetricKeyType === 'ec' ? 'SHA256withECDSA' : 'SHA256withRSA'
  const sig = sign('sha256', signablePayload(subject, creds), l.key.privateKey)
  return encodeSignatureHeader({ transportVersion: 9250003, certificates: chain.map((c) => c.der), algorithm: alg, signature: sig })
}

function header(headers: Record<string, string>, action = SEARCH): DecodedHeader {
  return {
    requestId: 1n, status: 0, version: 9250003, messageLength: 100, varHeaderSize: 50, bodyLength: 10,
    isRequest: true, isError: false, isHandshake: false, isCompressed: false,
    variable: { requestHeaders: new Map(Object.entries(headers)), responseHeaders: new Map(), features: null, action },
  }
}

function policy(opts: { keys?: Array<{ id: string; certificateIdentity: string | null }>; trust?: Issued[] | null; required?: boolean; actions?: 'default' | string[]; fetch?: FetchApiKey; now?: () => number; cacheSize?: number } = {}) {
  const trust = opts.trust === null ? null : new TrustStore((opts.trust ?? [ca]).map((c) => c.pem))
  const lookup = opts.fetch
    ? { url: 'https://es:9200', apiKey: 'x', ttlMs: 60_000, negativeTtlMs: 10_000, maxStaleMs: 120_000, timeoutMs: 1000, maxLookupsPerSecond: 5, maxEntries: 100, ca: [], verificationMode: 'full' as const, fetch: opts.fetch }
    : null
  return new AuthPolicy({
    keys: new KeyPatternMap(opts.keys ?? [], lookup, 25, undefined, opts.now),
    verifier: new SignatureVerifier(trust, opts.cacheSize !== undefined ? { cacheSize: opts.cacheSize } : {}),
    signingRequired: opts.required ?? false,
    allowedActions: opts.actions ?? 'default',
    ...(opts.now ? { now: opts.now } : {}),
  })
}

const base = { _cross_cluster_access_credentials: CREDS, _cross_cluster_access_subject_info: SUBJECT }

function denial(t: Test, d: PolicyDecision | Promise<PolicyDecision>, reason: string, close: boolean, message: RegExp): Denial {
  t.notOk(d instanceof Promise, 'decided synchronously')
  const den = d as Denial
  t.ok(den, `denied (${reason})`)
  t.equal(den?.reason, reason)
  t.equal(den?.close, close, close ? 'closes the connection' : 'keeps the connection')
  const ex = den.exception
  const text = JSON.stringify(ex)
  t.match(text, message)
  if (close || reason === 'bad_signature' || reason === 'untrusted_chain' || reason === 'expired_certificate' || reason === 'unsupported_algorithm' || reason === 'no_signing_trust') {
    t.equal(ex.type, 'security')
    t.equal((ex as { status: string }).status, 'UNAUTHORIZED')
  }
  return den
}

t.test('plain RCS 2.0: valid credentials, no identity, no signature → allowed', async (t) => {
  t.equal(policy().check(header(base), conn), null)
  t.equal(policy().check(header({ ...base, 'X-Opaque-Id': 'abc', traceparent: 'x', _xpack_audit_request_id: 'r' }), conn), null, 'allowed extra headers')
})

t.test('credentials: missing, unparseable', async (t) => {
  denial(t, policy().check(header({ _cross_cluster_access_subject_info: SUBJECT }), conn), 'missing_credentials', true, /require transport header \[_cross_cluster_access_credentials\]/)
  const d = denial(t, policy().check(header({ ...base, _cross_cluster_access_credentials: 'ApiKey ' + Buffer.from(`${KEY_ID}:short`).toString('base64') }), conn), 'invalid_credentials', true, /value must be a valid API key credential/)
  t.match(JSON.stringify(d.exception), /invalid cross-cluster API key value/, 'cause names the parse error')
  denial(t, policy().check(header({ ...base, _cross_cluster_access_credentials: 'Basic abc' }), conn), 'invalid_credentials', true, /valid API key credential/)
  denial(t, policy().check(header({ ...base, _cross_cluster_access_credentials: 'ApiKey aWQ6 YWI=' }), conn), 'invalid_credentials', true, /valid API key credential/)
})

t.test('transport filter: action allow-list, header allow-list, subject info', async (t) => {
  denial(t, policy().check(header(base, 'indices:admin/create'), conn), 'action_not_allowed', false, /action \[indices:admin\/create\] is not allowed as a cross cluster operation on the dedicated remote cluster server port/)
  t.equal(policy().check(header(base, 'internal:transport/proxy/indices:data/read/search[phase/query]'), conn), null, 'proxied shard action allowed')
  denial(t, policy().check(header(base, 'internal:transport/proxy/indices:data/read/search'), conn), 'action_not_allowed', false, /not allowed/)
  denial(t, policy().check(header({ ...base, Authorization: 'Basic x' }), conn), 'header_not_allowed', false, /Transport request header \[Authorization\] is not allowed/)
  denial(t, policy().check(header({ _cross_cluster_access_credentials: CREDS }), conn), 'missing_subject_info', false, /require transport header \[_cross_cluster_access_subject_info\]/)
  const custom = policy({ actions: ['default', 'cluster:custom/thing'] })
  t.equal(custom.check(header(base, 'cluster:custom/thing'), conn), null, 'list extends the default')
  t.equal(custom.check(header(base, SEARCH), conn), null)
  const only = policy({ actions: ['cluster:custom/thing'] })
  denial(t, only.check(header(base, SEARCH), conn), 'action_not_allowed', false, /not allowed/)
  t.ok(resolveAllowedActions('default').has('cluster:internal/remote_cluster/handshake'))
  t.ok(ALLOWED_REQUEST_HEADERS.has('_cross_cluster_access_signature'))
})

t.test('signature present, key without identity: must verify anyway (authenticate-stage 401s keep the connection, finding 12)', async (t) => {
  t.equal(policy().check(header({ ...base, _cross_cluster_access_signature: signWith(leaf) }), conn), null, 'valid signature accepted')
  denial(t, policy().check(header({ ...base, _cross_cluster_access_signature: signWith(leaf, 'tampered') }), conn), 'bad_signature', false, /Invalid cross cluster api key signature from \[\(CN=local-cluster.example.com, O=Example Corp, C=US;X\.509;SHA1:[0-9a-f]{40}\)\]/)
  denial(t, policy({ trust: [otherCa] }).check(header({ ...base, _cross_cluster_access_signature: signWith(leaf) }), conn), 'untrusted_chain', false, /Failed to verify cross cluster api key signature certificate from/)
  denial(t, policy({ trust: null }).check(header({ ...base, _cross_cluster_access_signature: signWith(leaf) }), conn), 'no_signing_trust', false, /has not trust configuration/)
  const expired = issueLeaf([['CN', 'old']], ca, { notBefore: new Date(Date.now() - 10 * DAY), notAfter: new Date(Date.now() - DAY) })
  denial(t, policy().check(header({ ...base, _cross_cluster_access_signature: signWith(expired) }), conn), 'expired_certificate', false, /Failed to verify/)
  denial(t, policy().check(header({ ...base, _cross_cluster_access_signature: 'not base64 !' }), conn), 'malformed_signature', true, /failed to extract credentials from headers/)
  const empty = encodeSignatureHeader({ transportVersion: 9250003, certificates: [], algorithm: 'SHA256withRSA', signature: Buffer.alloc(0) })
  denial(t, policy().check(header({ ...base, _cross_cluster_access_signature: empty }), conn), 'no_certificates', true, /Provided signature does not contain any certificates/)
  const rsaLeaf = issueLeaf([['CN', 'rsa']], ca)
  const sig = sign('sha256', signablePayload(SUBJECT, CREDS), rsaLeaf.key.privateKey)
  const pss = encodeSignatureHeader({ transportVersion: 9250003, certificates: [rsaLeaf.der], algorithm: 'SHA512withRSA', signature: sig })
  denial(t, policy().check(header({ ...base, _cross_cluster_access_signature: pss }), conn), 'unsupported_algorithm', false, /Failed to verify/)
})

t.test('certificate_identity on the key', async (t) => {
  const keys = [{ id: KEY_ID, certificateIdentity: 'CN=local-cluster\\.example\\.com,O=Example Corp,C=US' }]
  t.equal(policy({ keys }).check(header({ ...base, _cross_cluster_access_signature: signWith(leaf) }), conn), null, 'matching DN accepted')
  denial(t, policy({ keys }).check(header(base), conn), 'signature_required', true, /API key \(type:\[cross_cluster\], id:\[VuaCfGcBCdbkQm-e5aOx\]\) requires certificate identity matching \[.*\], but no certificate was provided/)
  const other = issueLeaf([['CN', 'someone-else']], ca)
  const d = denial(t, policy({ keys }).check(header({ ...base, _cross_cluster_access_signature: signWith(other) }), conn), 'identity_mismatch', true, /DN from provided certificate \[CN=someone-else\] does not match API Key certificate identity pattern/)
  t.equal(d.audit?.leaf_dn, 'CN=someone-else', 'audit carries the leaf DN')
  t.equal(d.audit?.api_key_id, KEY_ID, 'audit carries the key id')
  t.notOk(JSON.stringify(d).includes('ui2lp2axTNmsyakw9tvNnw'), 'never the secret')
  const partial = [{ id: KEY_ID, certificateIdentity: 'CN=local-cluster' }]
  denial(t, policy({ keys: partial }).check(header({ ...base, _cross_cluster_access_signature: signWith(leaf) }), conn), 'identity_mismatch', true, /does not match/)
  const ci = [{ id: KEY_ID, certificateIdentity: '(?i)cn=LOCAL-cluster\\.example\\.com,.*' }]
  t.equal(policy({ keys: ci }).check(header({ ...base, _cross_cluster_access_signature: signWith(leaf) }), conn), null, 'inline flag')
  t.equal(policy({ keys }).check(header({ ...base, _cross_cluster_access_signature: signWith(leaf) }), conn), null)
  t.equal(DN, 'CN=local-cluster.example.com,O=Example Corp,C=US')
  // A key with an identity still needs a trusted chain: identity first (header stage), then the signature.
  denial(t, policy({ keys, trust: [otherCa] }).check(header({ ...base, _cross_cluster_access_signature: signWith(leaf) }), conn), 'untrusted_chain', true, /Failed to verify/)
})

t.test('an untrusted certificate never reaches the regex engine', async (t) => {
  // Pattern that would be slow on a hostile DN; the stranger's certificate comes from an untrusted CA.
  const keys = [{ id: KEY_ID, certificateIdentity: '(a|aa)+b' }]
  const hostile = issueLeaf([['CN', 'a'.repeat(40)]], otherCa)
  const d = denial(t, policy({ keys }).check(header({ ...base, _cross_cluster_access_signature: signWith(hostile) }), conn), 'untrusted_chain', true, /Failed to verify/)
  t.equal(d.audit?.leaf_dn, 'CN=' + 'a'.repeat(40), 'the DN is audited, not evaluated')
})

t.test('signing.required', async (t) => {
  denial(t, policy({ required: true }).check(header(base), conn), 'signature_required', true, /Expected signature for cross cluster API key, but no signature was provided/)
  t.equal(policy({ required: true }).check(header({ ...base, _cross_cluster_access_signature: signWith(leaf) }), conn), null)
})

t.test('api_key_lookup: async, cached, negative, stale, fail-closed, rate-limited, single-flight', async (t) => {
  let now = Date.now()
  let calls = 0
  let mode: 'ok' | 'down' | 'missing' | 'rest' | 'unsupported' = 'ok'
  const fetch: FetchApiKey = async () => {
    calls++
    if (mode === 'down') throw new Error('connect ECONNREFUSED')
    if (mode === 'missing') return { found: false }
    if (mode === 'rest') return { found: true, certificateIdentity: null, type: 'rest' }
    if (mode === 'unsupported') return { found: true, certificateIdentity: 'CN=(?>atomic)\\X', type: 'cross_cluster' }
    return { found: true, certificateIdentity: 'CN=local-cluster\\.example\\.com,.*', type: 'cross_cluster' }
  }
  const p = policy({ fetch, now: () => now })
  const signed = header({ ...base, _cross_cluster_access_signature: signWith(leaf) })
  const first = p.check(signed, conn)
  const second = p.check(signed, conn)
  t.ok(first instanceof Promise, 'first decision waits for the lookup')
  t.equal(await first, null)
  t.equal(await second, null)
  t.equal(calls, 1, 'single flight')
  t.equal(p.check(signed, conn), null, 'cached: synchronous')
  denial(t, p.check(header(base), conn), 'signature_required', true, /requires certificate identity/)
  t.equal(calls, 1)
  now += 61_000
  mode = 'down'
  t.equal(await p.check(signed, conn), null, 'backend down: stale entry within max_stale is used')
  now += 200_000
  const failed = await p.check(signed, conn)
  t.equal((failed as Denial).reason, 'key_lookup_failed', 'beyond max_stale: fail closed')
  t.equal((failed as Denial).close, true)

  const q = policy({ fetch, now: () => now })
  mode = 'missing'
  const nf = await q.check(header(base), conn)
  t.equal((nf as Denial).reason, 'unknown_api_key')
  t.match((nf as Denial).exception.message, /unable to find apikey with id \[VuaCfGcBCdbkQm-e5aOx\]/)
  const callsBefore = calls
  t.equal((q.check(header(base), conn) as Denial).reason, 'unknown_api_key', 'negative answer cached')
  t.equal(calls, callsBefore)

  const r = policy({ fetch, now: () => now })
  mode = 'rest'
  t.equal(((await r.check(header(base), conn)) as Denial).reason, 'wrong_key_type')

  const u = policy({ fetch, now: () => now })
  mode = 'unsupported'
  const ud = (await u.check(signed, conn)) as Denial
  t.equal(ud.reason, 'unsupported_pattern')
  t.match(ud.exception.message, /cannot evaluate exactly as Java does/)

  // Rate limit: 5 lookups per second; random ids beyond that fail closed without reaching the backend.
  mode = 'ok'
  const rl = policy({ fetch, now: () => now })
  const before = calls
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) => {
      const creds = 'ApiKey ' + Buffer.from(`random-${i}:ui2lp2axTNmsyakw9tvNnw`).toString('base64')
      return rl.check(header({ _cross_cluster_access_credentials: creds, _cross_cluster_access_subject_info: SUBJECT }), conn)
    }),
  )
  t.equal(calls - before, 5, 'only max_lookups_per_second lookups reach the backend')
  t.equal(results.filter((x) => x !== null && (x as Denial).reason === 'key_lookup_failed').length, 15)
})

t.test('property: cached and uncached verification decide identically', async (t) => {
  const keys = [{ id: KEY_ID, certificateIdentity: 'CN=local-cluster.*' }]
  // One long-lived policy (caches, and the last-header memos, warm across runs) against a fresh one per run.
  const cached = policy({ keys })
  const good = signWith(leaf)
  const other = signWith(issueLeaf([['CN', 'x']], ca))
  const variants = [good, other, signWith(leaf, 'other-subject')]
  fc.assert(
    fc.property(
      fc.constantFrom(...variants),
      fc.constantFrom(SUBJECT, 'other-subject', SUBJECT + 'x'),
      fc.constantFrom(CREDS, CREDS.replace('ApiKey', 'apikey'), 'ApiKey ' + Buffer.from(`${KEY_ID}:short`).toString('base64')),
      fc.option(fc.integer({ min: 0, max: 40 })),
      (sig, subject, creds, flip) => {
        let s = sig
        if (flip !== null) {
          const buf = Buffer.from(sig, 'base64')
          const i = flip % buf.length
          buf[buf.length - 1 - i] = buf[buf.length - 1 - i]! ^ 0x01
          s = buf.toString('base64')
        }
        const h = header({ _cross_cluster_access_credentials: creds, _cross_cluster_access_subject_info: subject, _cross_cluster_access_signature: s })
        const a = cached.check(h, conn) as Denial | null
        const b = policy({ keys, cacheSize: 0 }).check(h, conn) as Denial | null
        return (a?.reason ?? 'allow') === (b?.reason ?? 'allow') && (a?.exception.message ?? '') === (b?.exception.message ?? '')
      },
    ),
    { numRuns: 300 },
  )
  t.pass('300 runs agree')
})
