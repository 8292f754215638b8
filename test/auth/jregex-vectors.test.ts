/**
 * The JDK regex vectors (test/fixtures/vectors/jdk-regex.json, produced by Temurin 25):
 * valid <=> no 'syntax' error, same matches() result, same error description and index.
 */
import t from 'tap'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { compileJavaPattern, JavaRegexError } from '../../src/auth/jregex.js'

interface Vector {
  id: string
  case: string
  pattern: string
  subject: string
  valid: boolean
  matches?: boolean | null
  error?: string
  error_index?: number
}

/** test/fixtures/vectors, inside the repository (origin: its README.md). */
function vectorsPath(name: string): string {
  return fileURLToPath(new URL(`../fixtures/vectors/${name}`, import.meta.url))
}

/**
 * Vectors whose pattern may legitimately be 'unsupported' (valid Java we refuse to approximate).
 * Empty on purpose: every JDK vector must translate.
 */
const UNSUPPORTED_ALLOWED = new Set<string>([])

const file = JSON.parse(readFileSync(vectorsPath('jdk-regex.json'), 'utf8')) as { java_version: string; vectors: Vector[] }

t.comment(`vectors from ${file.java_version}: ${file.vectors.length}`)
t.ok(file.vectors.length >= 60, 'the vector file is complete')

for (const v of file.vectors) {
  t.test(`${v.id} ${v.case}`, async (t) => {
    let compiled
    try {
      compiled = compileJavaPattern(v.pattern)
    } catch (e) {
      t.type(e, JavaRegexError)
      const err = e as JavaRegexError
      if (err.code === 'unsupported') {
        t.ok(UNSUPPORTED_ALLOWED.has(v.id), `unsupported construct ${err.construct} is on the allow-list`)
        return
      }
      t.equal(v.valid, false, `Java accepts ${JSON.stringify(v.pattern)} but we reported: ${err.message}`)
      t.equal(err.construct, v.error, 'Java error description')
      t.equal(err.index, v.error_index, 'Java error index')
      return
    }
    t.equal(v.valid, true, `Java rejects ${JSON.stringify(v.pattern)} (${String(v.error)})`)
    t.equal(compiled.matches(v.subject), v.matches, `matches(${JSON.stringify(v.subject)})`)
  })
}
