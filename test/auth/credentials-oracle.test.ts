/**
 * parseCredentialsHeader against the JDK: test/auth/java/SigOracle.java ("cred" requests) runs the
 * Elasticsearch parsing steps (String.regionMatches(true, ...), java.util.Base64, UTF_8 decoding,
 * first colon, 22-char secret) on the same header strings, in one JVM run.
 */
import t from 'tap'
import fc from 'fast-check'
import { encodeCredentialsHeader, parseCredentialsHeader } from '../../src/auth/credentials.js'
import { fromUtf16Hex, preferredJdk, runSigOracle, utf16Hex } from './helpers/java.js'

const jdk = preferredJdk()

const PREFIXES = ['ApiKey ', 'apikey ', 'APIKEY ', 'Ap\u0131Key ', 'Ap\u0130Key ', 'Api\u212aey ', 'ApiKey', 'Bearer ', 'Apikey  ', 'Api\u0199ey ', '\u00c0piKey ', 'ApiKey\u00a0', 'ApiKe\u00ff ', 'APIK\u0395Y ']
const INSERTS = [' ', '-', '_', '=', '==', '\u00e9', '\n', '\ud800', '*', 'A', '+', '/']

// well-formed shape, random id/secret (secret length mostly 22, may contain ':')
const validShapeArb =  fc
  .tuple(fc.string({ unit: 'grapheme', minLength: 0, maxLength: 12 }), fc.oneof({ weight: 3, arbitrary: fc.string({ minLength: 22, maxLength: 22 }) }, { weight: 1, arbitrary: fc.string({ minLength: 20, maxLength: 24 }) }), fc.constantFrom(...PREFIXES), fc.boolean())
  .map(([id, secret, prefix, strip]) => {
    const h = prefix + encodeCredentialsHeader(id, secret).slice('ApiKey '.length)
    return strip ? h.replace(/=+$/, '') : h
  })

const headerArb = fc.oneof(
  validShapeArb,
  // corrupted base64: one insertion at a random position, or a truncation
  fc
    .tuple(fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 10 }), fc.nat(60), fc.constantFrom(...INSERTS), fc.boolean())
    .map(([id, pos, ins, truncate]) => {
      const enc = encodeCredentialsHeader(id, 'ui2lp2axTNmsyakw9tvNnw').slice('ApiKey '.length)
      const p = pos % (enc.length + 1)
      return 'ApiKey ' + (truncate ? enc.slice(0, p) : enc.slice(0, p) + ins + enc.slice(p))
    }),
  // arbitrary bytes (often invalid UTF-8) with a colon
  fc.tuple(fc.uint8Array({ maxLength: 12 }), fc.uint8Array({ maxLength: 26 })).map(([a, b]) => 'ApiKey ' + Buffer.concat([Buffer.from(a), Buffer.from(':'), Buffer.from(b)]).toString('base64')),
  // anything
  fc.string({ maxLength: 40 }).map((s) => 'ApiKey ' + s),
  fc.string({ maxLength: 20 }),
)

const REASON_BY_JAVA_MESSAGE: [RegExp, string][] = [
  [/NullPointerException/, 'missing_prefix'],
  [/api key is empty/, 'empty'],
  [/invalid cross-cluster API key value/, 'bad_secret_length'],
  [/invalid ApiKey value/, 'invalid_value'],
  [/IllegalArgumentException: (Illegal base64|Input byte|Last unit)/, 'bad_base64'],
]

t.test('credentials header parsing matches the JDK', { skip: jdk === null ? 'no java found: JDK oracle skipped' : false }, async (t) => {
  const headers = [
    'ApiKey aWQ6 YWI=',
    'ApiKey aW-6',
    'ApiKey aWé6',
    'ApiKey a\ud800b',
    'ApiKey a=',
    'ApiKey aWI==',
    'ApiKey aQ=x',
    'ApiKey ',
    'ApiKey  ',
    ...fc.sample(headerArb, { numRuns: 600, seed: 4242 }),
    ...fc.sample(validShapeArb, { numRuns: 150, seed: 4243 }),
  ]
  const { version, answers } = runSigOracle(jdk!, headers.map((h, i) => ['cred', `c${i}`, utf16Hex(h)]))
  t.comment(`oracle: ${jdk!.label}, java.runtime.version ${version}`)
  let mismatches = 0
  let accepted = 0
  headers.forEach((h, i) => {
    const java = answers.get(`c${i}`)
    const ours = parseCredentialsHeader(h)
    let same: boolean
    if (java === undefined) same = false
    else if (java.ok) {
      accepted++
      same = ours.ok && utf16Hex(ours.id) === java.fields[0] && String(ours.secretLength) === java.fields[1]
    } else {
      const expected = REASON_BY_JAVA_MESSAGE.find(([re]) => re.test(java.error))?.[1]
      same = !ours.ok && ours.reason === expected && (expected !== 'bad_base64' || java.error.includes(`: ${ours.cause} |`))
    }
    if (!same && ++mismatches <= 10) t.fail(`header ${JSON.stringify(h)}`, { ours: ours.ok ? { id: ours.id, len: ours.secretLength } : ours, java, javaId: java?.ok ? fromUtf16Hex(java.fields[0] ?? '') : undefined })
  })
  t.equal(mismatches, 0, `${headers.length} headers (${accepted} accepted by Java) classified identically`)
  t.ok(accepted > 50, 'the sample contains enough valid headers')
})
