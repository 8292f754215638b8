/**
 * Differential test of src/auth/dn.ts against the JDK: every subject is rendered by
 * javax.security.auth.x500.X500Principal (getName(RFC2253), toString(), getName(CANONICAL)) in ONE
 * JVM run per JDK (test/auth/java/DnOracle.java), on JDK 25 (Elasticsearch 9.x's runtime) and,
 * when installed, JDK 17, and compared with subjectToRfc2253 / subjectToJavaString /
 * subjectToCanonical using the matching `jdk` option. A name the JDK refuses must make us throw.
 */
import t from 'tap'
import { X509Certificate } from 'node:crypto'
import { certificateSubjectDer, subjectToCanonical, subjectToJavaString, subjectToRfc2253, type JdkVersion } from '../../src/auth/dn.js'
import { generatedCases, handPickedCases, type DnCase } from './helpers/dn-cases.js'
import { findJdks, runJavaProgram } from './helpers/java.js'
import { issue } from './helpers/certs.js'
import { OIDS, name, stringValue } from './helpers/asn1.js'

interface OracleLine {
  id: string
  rfc2253?: string
  to_string?: string
  canonical?: string
  error?: string
}

const jdks = findJdks()

interface Ours {
  rfc2253?: string
  to_string?: string
  canonical?: string
  error?: string
}

function ours(der: Buffer, jdk: JdkVersion): Ours {
  try {
    return { rfc2253: subjectToRfc2253(der, { jdk }), to_string: subjectToJavaString(der, { jdk }), canonical: subjectToCanonical(der, { jdk }) }
  } catch (err) {
    return { error: String(err) }
  }
}

// Certificates carrying unusual subjects go through CertificateFactory on the Java side (line kind "C").
function certificateCases(): { id: string; cert: X509Certificate }[] {
  const subjects: Buffer[] = [
    name([[{ oid: OIDS.C!, value: stringValue('printable', 'US') }], [{ oid: OIDS.CN!, value: stringValue('bmp', 'Bmp ünïcode') }]]),
    name([[{ oid: OIDS.CN!, value: stringValue('t61', 'Tëletex, #1') }, { oid: OIDS.UID!, value: stringValue('utf8', 'u+1') }]]),
    name([[{ oid: OIDS.EMAIL!, value: stringValue('ia5', 'ops@example.com') }], [{ oid: OIDS.CN!, value: stringValue('utf8', ' lead\n') }]]),
    name([[{ oid: OIDS.DC!, value: stringValue('ia5', 'com') }], [{ oid: OIDS.DC!, value: stringValue('ia5', 'example') }], [{ oid: OIDS.CN!, value: stringValue('universal', '😀 wide') }]]),
  ]
  return subjects.map((subject, i) => ({ id: `cert${i}`, cert: issue({ subject }).cert }))
}

t.test('X500Principal differential', { skip: jdks.length === 0 ? 'no java found: JDK oracle skipped' : false }, async (t) => {
  const cases: DnCase[] = [...handPickedCases(), ...generatedCases(400, 20261202)]
  const certs = certificateCases()
  const input = [
    ...cases.map((c) => `${c.id} D ${c.der.toString('base64')}`),
    ...certs.map((c) => `${c.id} C ${c.cert.raw.toString('base64')}`),
  ].join('\n') + '\n'
  t.ok(cases.length > 1000, `${cases.length} subjects and ${certs.length} certificates`)

  for (const jdk of jdks) {
    const lines = runJavaProgram(jdk, 'DnOracle', input)
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as OracleLine & { java_version?: string })
    t.comment(`oracle: ${jdk.label}, java.runtime.version ${String(lines[0]?.java_version)}`)
    const version: JdkVersion = jdk.major === 17 ? 17 : 25
    const byId = new Map(lines.slice(1).map((l) => [l.id, l]))
    const all = [...cases.map((c) => ({ id: c.id, der: c.der })), ...certs.map((c) => ({ id: c.id, der: c.cert }))]
    let mismatches = 0
    let refused = 0
    for (const c of all) {
      const java = byId.get(c.id)
      const mine = Buffer.isBuffer(c.der) ? ours(c.der, version) : ours(certificateSubjectDer(c.der), version)
      if (java === undefined) {
        t.fail(`no oracle answer for ${c.id}`)
        continue
      }
      if (java.error !== undefined) refused++
      const same =
        java.error !== undefined
          ? mine.error !== undefined
          : mine.rfc2253 === java.rfc2253 && mine.to_string === java.to_string && mine.canonical === java.canonical
      if (!same) {
        mismatches++
        if (mismatches <= 20) {
          t.fail(`JDK ${jdk.major} ${c.id}`, { found: mine, wanted: java, der: Buffer.isBuffer(c.der) ? c.der.toString('hex') : 'certificate' })
        }
      }
    }
    t.equal(mismatches, 0, `JDK ${jdk.major}: rfc2253, toString and canonical identical for ${all.length} names (${refused} refused by both)`)
  }
})
