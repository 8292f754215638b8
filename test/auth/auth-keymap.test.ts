/**
 * Issue #11 finding 10: a flood of never-seen API key ids must neither spend the budget that known keys need to be
 * re-verified when their ttl expires, nor evict their cache entries. (Real-socket counterpart:
 * test/gateway/auth-keymap.test.ts.)
 */
import t from 'tap'
import { KeyPatternMap, TokenBucket, type FetchApiKey } from '../../src/auth/keymap.js'
import type { ApiKeyLookupConfig } from '../../src/config/types.js'

const KNOWN = 'known-key'

function map(opts: { now: () => number; fetch: FetchApiKey; unknownRate?: number; maxEntries?: number }): KeyPatternMap {
  const cfg: ApiKeyLookupConfig & { fetch: FetchApiKey } = {
    url: 'https://es:9200',
    apiKey: 'x',
    ttlMs: 60_000,
    negativeTtlMs: 10_000,
    // no stale rescue: an expired known key must really be looked up again
    maxStaleMs: 0,
    timeoutMs: 1000,
    maxLookupsPerSecond: 5,
    ...(opts.unknownRate !== undefined ? { maxUnknownLookupsPerSecond: opts.unknownRate } : {}),
    maxEntries: opts.maxEntries ?? 10,
    ca: [],
    verificationMode: 'full',
    fetch: opts.fetch,
  }
  return new KeyPatternMap([], cfg, 25, undefined, opts.now)
}

function backend() {
  const calls: string[] = []
  const fetch: FetchApiKey = async (id) => {
    calls.push(id)
    return id === KNOWN ? { found: true, certificateIdentity: 'CN=x', type: 'cross_cluster' } : { found: false }
  }
  return { calls, fetch }
}

const flood = (m: KeyPatternMap, n: number, tag: string) => Promise.all(Array.from({ length: n }, (_, i) => m.get(`random-${tag}-${i}`)))

t.test('a flood of unknown ids does not stop an expired known key from being looked up again', async (t) => {
  let now = 1_000_000
  const b = backend()
  const m = map({ now: () => now, fetch: b.fetch })
  t.match(await m.get(KNOWN), { kind: 'known', stale: false })
  now += 61_000 // the known key's ttl has expired
  const results = await flood(m, 200, 'a')
  const unknownLookups = b.calls.filter((id) => id !== KNOWN).length
  t.equal(unknownLookups, 5, 'unknown ids spend only their own budget (default: max_lookups_per_second)')
  t.equal(results.filter((r) => r.kind === 'not_found').length, 5)
  t.equal(results.filter((r) => r.kind === 'failed').length, 195, 'the rest fail closed without reaching the backend')
  const before = b.calls.length
  t.match(await m.get(KNOWN), { kind: 'known', stale: false }, 'the known key is re-verified during the flood')
  t.equal(b.calls.length - before, 1, 'with a real lookup')
  t.equal(b.calls.at(-1), KNOWN)
})

t.test('a flood of unknown ids does not evict known entries', async (t) => {
  let now = 1_000_000
  const b = backend()
  const m = map({ now: () => now, fetch: b.fetch, unknownRate: 1000, maxEntries: 10 })
  t.match(await m.get(KNOWN), { kind: 'known' })
  for (let round = 0; round < 5; round++) {
    now += 1000
    await flood(m, 50, `b${round}`) // 250 negative entries against max_entries 10
  }
  const before = b.calls.length
  const hit = m.get(KNOWN)
  t.notOk(hit instanceof Promise, 'still cached: answered synchronously')
  t.match(hit, { kind: 'known', stale: false })
  t.equal(b.calls.length, before, 'no lookup needed')
  // negative entries evict each other only: the oldest random id is gone, the newest is still remembered
  const newest = m.get('random-b4-49')
  t.match(newest, { kind: 'not_found' }, 'the newest negative entry is cached')
  t.ok(m.get('random-b0-0') instanceof Promise, 'the oldest negative entry was evicted (a new lookup)')
})

t.test('the separate budget is configurable, and a key that disappears moves to the negative side', async (t) => {
  let now = 1_000_000
  let gone = false
  const calls: string[] = []
  const fetch: FetchApiKey = async (id) => {
    calls.push(id)
    return id === KNOWN && !gone ? { found: true, certificateIdentity: null, type: 'cross_cluster' } : { found: false }
  }
  const m = map({ now: () => now, fetch, unknownRate: 2 })
  await flood(m, 10, 'c')
  t.equal(calls.length, 2, 'max_unknown_lookups_per_second = 2')
  t.match(await m.get(KNOWN), { kind: 'failed', error: /max_unknown_lookups_per_second/ }, 'a never-seen genuine key waits like any unknown id')
  now += 1000
  t.match(await m.get(KNOWN), { kind: 'known' }, 'after a refill it is found')
  now += 61_000
  gone = true
  t.match(await m.get(KNOWN), { kind: 'not_found' }, 'deleted in the backend: not found')
  t.match(m.get(KNOWN), { kind: 'not_found' }, 'remembered on the negative side')
})

t.test('TokenBucket', async (t) => {
  const b = new TokenBucket(2, 0)
  t.ok(b.take(0))
  t.ok(b.take(0))
  t.notOk(b.take(0), 'empty')
  t.notOk(b.take(400), 'refills continuously: 0.8 tokens')
  t.ok(b.take(600))
  t.notOk(b.take(-5000), 'a clock stepping back adds nothing')
  t.ok(b.take(100_000))
  t.ok(b.take(100_000))
  t.notOk(b.take(100_000), 'never more than rate tokens')
})
