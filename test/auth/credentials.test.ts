import t from 'tap'
import fc from 'fast-check'
import { inspect } from 'node:util'
import {
  CROSS_CLUSTER_API_KEY_SECRET_LENGTH,
  INVALID_CREDENTIALS_MESSAGE,
  ParsedCredentials,
  encodeCredentialsHeader,
  extractApiKeyCredential,
  parseCredentialsHeader,
  parseEncodedApiKey,
  redactCredentialsHeader,
  redactedCredentials,
  type CredentialsParseResult,
} from '../../src/auth/credentials.js'

const SECRET = 'ui2lp2axTNmsyakw9tvNnw' // 22 chars, the shape of generated secrets
const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64')

function expectFailure(t: Pick<typeof import('tap').default, 'fail' | 'equal'>, r: CredentialsParseResult, reason: string, cause?: string): void {
  if (r.ok) {
    t.fail(`expected ${reason}, parsed id ${r.id}`)
    return
  }
  t.equal(r.reason, reason)
  t.equal(r.message, INVALID_CREDENTIALS_MESSAGE)
  if (cause !== undefined) t.equal(r.cause, cause)
}

t.test('valid header', async (t) => {
  const header = encodeCredentialsHeader('VuaCfGcBCdbkQm-e5aOx', SECRET)
  t.equal(header, 'ApiKey VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==', 'same header as jdk-signatures.json sig-rsa-1')
  const r = parseCredentialsHeader(header)
  t.ok(r.ok)
  if (!r.ok) return
  t.equal(r.id, 'VuaCfGcBCdbkQm-e5aOx')
  t.equal(r.secret, SECRET)
  t.equal(r.secretLength, CROSS_CLUSTER_API_KEY_SECRET_LENGTH)
})

t.test('spec §1.1 examples', async (t) => {
  expectFailure(t, parseCredentialsHeader('ApiKey aWQ6 YWI='), 'bad_base64', 'Illegal base64 character 20')
  expectFailure(t, parseCredentialsHeader(`ApiKey ${b64(`id:${SECRET}`).replace(/=+$/, '')}-`), 'bad_base64', 'Illegal base64 character 2d')
  expectFailure(t, parseCredentialsHeader('ApiKey a_b='), 'bad_base64', 'Illegal base64 character 5f')
  // "aWQ6YWI" (no padding) decodes to "id:ab": base64 is fine, the secret is too short
  expectFailure(t, parseCredentialsHeader('ApiKey aWQ6YWI'), 'bad_secret_length', 'invalid cross-cluster API key value')
  const unpadded = b64(`id:${SECRET}`).replace(/=+$/, '')
  t.ok(parseCredentialsHeader(`ApiKey ${unpadded}`).ok, 'unpadded credential accepted')
})

t.test('prefix: case-insensitive, at least one character after it', async (t) => {
  const enc = b64(`id:${SECRET}`)
  for (const prefix of ['ApiKey ', 'apikey ', 'APIKEY ', 'aPiKeY ', 'Ap\u0131Key ', 'Ap\u0130Key ', 'Api\u212Aey ']) {
    const r = parseCredentialsHeader(prefix + enc)
    t.ok(r.ok, `prefix ${JSON.stringify(prefix)}`)
  }
  for (const header of ['ApiKey', 'ApiKey ', 'ApiKey' + enc, enc, 'Bearer ' + enc, 'ApiKey\t' + enc, ' ApiKey ' + enc, 'ApiKeyy ' + enc, 'Ap\u00edKey ' + enc, '']) {
    expectFailure(t, parseCredentialsHeader(header), 'missing_prefix')
  }
  t.equal(extractApiKeyCredential('APIKEY x'), 'x')
  t.equal(extractApiKeyCredential('ApiKey '), null)
  expectFailure(t, parseCredentialsHeader('ApiKey  '), 'bad_base64', 'Input byte[] should at least have 2 bytes for base64 bytes')
  expectFailure(t, parseCredentialsHeader('ApiKey   '), 'bad_base64', 'Illegal base64 character 20')
  expectFailure(t, parseCredentialsHeader('ApiKey abc'), 'invalid_value', 'invalid ApiKey value')
})

t.test('id and secret', async (t) => {
  const p = (plain: string): CredentialsParseResult => parseCredentialsHeader(`ApiKey ${b64(plain)}`)
  const colonInSecret = p(`id:${SECRET.slice(0, 10)}:${SECRET.slice(11)}`)
  t.ok(colonInSecret.ok, 'split at the first colon; the secret may contain colons')
  if (colonInSecret.ok) t.equal(colonInSecret.id, 'id')
  expectFailure(t, p(`:${SECRET}`), 'invalid_value', 'invalid ApiKey value')
  expectFailure(t, p(`no-colon-${SECRET}`), 'invalid_value')
  expectFailure(t, p(''), 'missing_prefix') // "ApiKey " with nothing after it
  expectFailure(t, p(`id:${SECRET.slice(1)}`), 'bad_secret_length', 'invalid cross-cluster API key value')
  expectFailure(t, p(`id:${SECRET}x`), 'bad_secret_length')
  t.ok(p(`id:${SECRET}`).ok, '22 characters')
  const unicode = p(`ïd✓😀:${'é'.repeat(22)}`)
  t.ok(unicode.ok, 'secret length counts UTF-16 units')
  const astral = p(`id:${'😀'.repeat(11)}`)
  t.ok(astral.ok && astral.secretLength === 22, 'a surrogate pair counts twice, like Java char[]')
  const invalidUtf8 = parseCredentialsHeader(`ApiKey ${Buffer.concat([Buffer.from('i\xff', 'latin1'), Buffer.from(`:${SECRET}`)]).toString('base64')}`)
  t.ok(invalidUtf8.ok && invalidUtf8.id === 'i\ufffd', 'invalid UTF-8 becomes U+FFFD, not an error')
  expectFailure(t, parseEncodedApiKey(''), 'empty', 'api key is empty')
  const rest = parseEncodedApiKey(b64('id:short'), 'rest')
  t.ok(rest.ok, 'REST keys have no secret-length rule')
})

t.test('the secret never leaks through serialisation', async (t) => {
  const r = parseCredentialsHeader(encodeCredentialsHeader('key-id', SECRET))
  t.ok(r instanceof ParsedCredentials)
  if (!r.ok) return
  t.notMatch(JSON.stringify(r), SECRET)
  t.notMatch(JSON.stringify({ nested: [r] }), SECRET)
  t.notMatch(inspect(r), SECRET)
  t.notMatch(inspect({ r }, { depth: 5, showHidden: true }), SECRET)
  t.notMatch(String(r), SECRET)
  t.notMatch(`${r}`, SECRET)
  t.notMatch(JSON.stringify({ ...r }), SECRET)
  t.notOk(Object.keys(r).includes('secret'))
  t.same(JSON.parse(JSON.stringify(r)), { ok: true, id: 'key-id', secretLength: 22, secret: '<redacted>' })
  t.equal(redactedCredentials('key-id'), 'ApiKey [id=key-id, secret=<redacted>]')
  t.equal(redactCredentialsHeader(encodeCredentialsHeader('key-id', SECRET)), 'ApiKey [id=key-id, secret=<redacted>]')
  t.equal(redactCredentialsHeader('ApiKey !!!'), 'ApiKey [unparseable: bad_base64, 10 chars redacted]')
  t.equal(r.secret, SECRET, 'explicit access still works')
})

t.test('fast-check: encode → parse round trip', async (t) => {
  const secretArb = fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'), minLength: 22, maxLength: 22 })
  const idArb = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }).filter((s) => !s.includes(':'))
  fc.assert(
    fc.property(idArb, secretArb, fc.boolean(), (id, secret, stripPadding) => {
      let header = encodeCredentialsHeader(id, secret)
      if (stripPadding) header = header.replace(/=+$/, '')
      const r = parseCredentialsHeader(header)
      return r.ok && r.id === id && r.secret === secret && r.secretLength === 22
    }),
    { numRuns: 500 },
  )
  fc.assert(
    fc.property(fc.string({ maxLength: 60 }), (s) => {
      const r = parseCredentialsHeader(s)
      return r.ok || (typeof r.reason === 'string' && r.message === INVALID_CREDENTIALS_MESSAGE)
    }),
    { numRuns: 500 },
  )
  t.pass('round trips')
})
