/**
 * verifyChain against the JDK's own decision: every scenario of helpers/chain-scenarios.ts goes
 * through a PKIX X509TrustManager (TrustManagerFactory default algorithm over a KeyStore of the
 * CAs), `checkClientTrusted(chain, leafKeyAlgorithm)` and `leaf.checkValidity()` — what
 * CrossClusterApiKeySignatureManager.Verifier.verify does — in one JVM run
 * (test/auth/java/SigOracle.java "trust"). Accept/reject must agree; scenarios marked
 * `divergesFromJdk` are documented gateway restrictions and must disagree in the stated direction.
 */
import t from 'tap'
import { TrustStore, verifyChain } from '../../src/auth/chain.js'
import { buildScenarios, toX509 } from './helpers/chain-scenarios.js'
import { preferredJdk, runSigOracle } from './helpers/java.js'

const jdk = preferredJdk()

t.test('chain decisions match checkClientTrusted', { skip: jdk === null ? 'no java found: JDK oracle skipped' : false }, async (t) => {
  const scenarios = buildScenarios()
  const requests = scenarios.map((sc, i) => ['trust', `s${i}`, sc.cas.map((c) => c.der.toString('base64')).join(','), sc.chain.map((c) => c.toString('base64')).join(',')])
  const { version, answers } = runSigOracle(jdk!, requests)
  t.comment(`oracle: ${jdk!.label}, java.runtime.version ${version}`)
  const now = new Date()
  scenarios.forEach((sc, i) => {
    const java = answers.get(`s${i}`)
    const ours = verifyChain(toX509(sc.chain), new TrustStore(sc.cas.map((c) => c.pem)), now)
    const javaSays = java?.ok === true ? 'accept' : `reject (${java?.error.split(' | root ')[1] ?? 'no answer'})`
    const oursSays = ours.ok ? 'accept' : `reject (${ours.reason})`
    if (sc.divergesFromJdk !== undefined) {
      t.ok(java?.ok === true && !ours.ok, `${sc.name}: documented divergence, Java ${javaSays}, gateway ${oursSays} — ${sc.divergesFromJdk}`)
    } else {
      t.equal(ours.ok, java?.ok, `${sc.name}: Java ${javaSays}, gateway ${oursSays}`)
    }
  })
})
