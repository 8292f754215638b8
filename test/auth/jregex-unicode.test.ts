/**
 * Unicode data of the Java regex translator against the JDK itself, in one JVM run per installed
 * JDK (17 and 25) of test/auth/java/RegexOracle.java:
 *  1. the embedded payload (src/auth/jregex/unicode-data.ts) equals the JDK's ("tables" operation);
 *     JREGEX_REGENERATE=1 rewrites the data module from both JDKs instead;
 *  2. for the property / class families the parser knows, the code-point set it computes equals,
 *     over all of U+0000..U+10FFFF, the set of single code points Pattern.matches() accepts
 *     ("set" operation).
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { findJdks, type Jdk } from './helpers/java.js'
import { brotliCompressSync, constants } from 'node:zlib'
import { Parser } from '../../src/auth/jregex/parser.js'
import { payloadText } from '../../src/auth/jregex/unicode.js'
import type { JdkFlavor } from '../../src/auth/jregex.js'


/** JSON string with every code unit outside printable ASCII escaped (the oracle reads ASCII). */
function jsonString(s: string): string {
  let out = '"'
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c === 0x22 || c === 0x5c) out += `\\${s[i] as string}`
    else if (c < 0x20 || c > 0x7e) out += `\\u${c.toString(16).padStart(4, '0')}`
    else out += s[i] as string
  }
  return `${out}"`
}

/** Runs a JVM asynchronously, so that the JDK 25 and JDK 17 runs overlap. */
function runJava(jdk: Jdk, args: string[], input = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(jdk.java, args, { stdio: ['pipe', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stderr.on('data', (b: Buffer) => err.push(b))
    child.on('error', reject)
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString('utf8'))
      else reject(new Error(`${jdk.java} ${args.join(' ')} failed (${String(code)}): ${Buffer.concat(err).toString('utf8')}`))
    })
    child.stdin.end(input)
  })
}

const javaDir = fileURLToPath(new URL('./java/', import.meta.url))
const jdks = findJdks()

function embeddedSections(): Map<number, string> {
  const out = new Map<number, string>()
  for (const section of payloadText().split(/(?=^java \d+$)/m)) {
    const m = /^java (\d+)\n/.exec(section)
    if (m?.[1] !== undefined) out.set(Number(m[1]), section)
  }
  return out
}

/** The data module, as JREGEX_REGENERATE=1 writes it. */
function dataModule(text: string): string {
  const buf = Buffer.from(text, 'utf8')
  const b64 = brotliCompressSync(buf, {
    params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_LGWIN]: 24, [constants.BROTLI_PARAM_SIZE_HINT]: buf.length },
  }).toString('base64')
  const chunks: string[] = []
  for (let i = 0; i < b64.length; i += 100) chunks.push(`  '${b64.slice(i, i + 100)}',`)
  return `/**
 * GENERATED FILE, do not edit. Regenerate with
 *   JREGEX_REGENERATE=1 npx tap test/auth/jregex-unicode.test.ts
 * (needs Temurin 25 and OpenJDK 17; runs the "tables" operation of test/auth/java/RegexOracle.java).
 *
 * Brotli-compressed, base64-encoded text of java.lang.Character data as seen by java.util.regex
 * (JDK 25 = Unicode 16.0, JDK 17 = Unicode 13.0); format documented in RegexOracle.java tables().
 */
export const UNICODE_PAYLOAD: readonly string[] = [
${chunks.join('\n')}
]
`
}

/**
 * Class and property expressions whose whole code-point set is compared with the JDK: at least one
 * per data table (categories, scripts, blocks, each binary property, case mappings) and per
 * resolution / case-folding rule of Pattern.family, single, bitsOrSingle, CIRange(U).
 */
const SET_PATTERNS: readonly string[] = [
  '.', '(?d).', '\\w', '\\s', '\\h', '\\v', '(?U)\\w', '(?U)\\s', '\\p{L}', '\\p{Lu}', '\\p{Lt}', '\\p{Mn}', '\\p{Nd}', '\\p{Cs}', '\\p{Cn}',
  '\\p{Pi}', '\\p{So}', '\\p{C}', '\\p{LC}', '\\p{LD}', '\\PL', '(?i)\\p{Lu}', '(?i)\\p{Lower}', '(?i)\\p{javaTitleCase}', '(?i)\\p{IsUppercase}',
  '\\p{Punct}', '\\p{Graph}', '(?U)\\p{Punct}', '(?U)\\p{Graph}', '(?U)\\p{Print}', '(?U)\\p{XDigit}', '(?iU)\\p{Lower}', '\\p{IsAlphabetic}',
  '\\p{IsIdeographic}', '\\p{IsLowercase}', '\\p{IsTitlecase}', '\\p{IsNoncharacter_Code_Point}', '\\p{IsAssigned}', '\\p{IsWord}', '\\p{IsEmoji}',
  '\\p{IsEmoji_Presentation}', '\\p{IsEmoji_Modifier}', '\\p{IsEmoji_Modifier_Base}', '\\p{IsEmoji_Component}', '\\p{IsExtended_Pictographic}',
  '\\p{javaUpperCase}', '\\p{javaMirrored}', '\\p{javaJavaIdentifierStart}', '\\p{javaJavaIdentifierPart}', '\\p{javaUnicodeIdentifierStart}',
  '\\p{javaUnicodeIdentifierPart}', '\\p{javaIdentifierIgnorable}', '\\p{javaWhitespace}', '\\p{javaSpaceChar}', '\\p{javaISOControl}',
  '\\p{javaDefined}', '\\p{IsLatin}', '\\p{IsCommon}', '\\p{IsUnknown}', '\\p{sc=Cyrl}', '\\p{InGreek}', '\\p{InHigh Surrogates}',
  '\\p{block=LatinExtendedA}', '(?i)[Z-a]', '(?i)[^a]', '(?iu)[k]', '(?iu)s', '(?iu)[a-z]', '(?iu)é', '(?iu)ß', '(?iu)[ß]', '(?iu)[µ]', '(?iu)[ÿ]',
  '(?iu)[Å]', '(?iu)ǅ', '(?iu)[ı]', '(?iu)Σ', '(?iu)[\\u0370-\\u03ff]', '(?iu)[\\x{10400}-\\x{1044f}]', '(?iu)[\\u1e00-\\u1fff]',
  '(?iu)[\\ua640-\\ua7ff]', '[a-z&&[^aeiou]]', '[\\p{L}&&[^\\p{Lu}]]', '[\\x{0}-\\x{10FFFF}&&[^\\ud800-\\udfff]]',
]

/** JDK 17 differs in its Unicode version (13.0); its tables are checked on this subset. */
const SET_PATTERNS_17: readonly string[] = [
  '\\p{L}', '\\p{Mn}', '\\p{Nd}', '\\p{Cn}', '(?U)\\w', '\\p{IsAlphabetic}', '\\p{IsIdeographic}', '\\p{IsLowercase}', '\\p{IsUppercase}',
  '\\p{javaJavaIdentifierPart}', '\\p{javaUnicodeIdentifierStart}', '\\p{javaIdentifierIgnorable}', '\\p{javaWhitespace}', '\\p{javaMirrored}',
  '\\p{IsLatin}', '\\p{IsUnknown}', '\\p{InEmoticons}', '(?iu)[a-z]', '(?iu)[\\x{10400}-\\x{1044f}]', '(?iu)[\\ua640-\\ua7ff]',
]

interface JdkRun {
  readonly jdk: Jdk
  readonly version: string
  readonly tables: string
  /** Oracle answers to the "set" operations, in patternsFor(jdk) order. */
  readonly sets: string[]
}

const patternsFor = (jdk: Jdk): readonly string[] => (jdk.major === 17 ? SET_PATTERNS_17 : SET_PATTERNS)

/** One JVM per JDK, all of them at once: the "tables" dump, then every "set" question. */
async function runAll(): Promise<JdkRun[]> {
  return Promise.all(
    jdks.map(async (jdk) => {
      const input = ['{"op":"tables"}\n', ...patternsFor(jdk).map((p) => `{"op":"set","pattern":${jsonString(p)}}\n`)].join('')
      const lines = (await runJava(jdk, ['--add-opens', 'java.base/java.lang=ALL-UNNAMED', `${javaDir}RegexOracle.java`], input)).trim().split('\n')
      const head = JSON.parse(lines[0] ?? '{}') as { java_version?: string }
      const tables = (JSON.parse(lines[1] ?? '{}') as { tables?: string }).tables ?? ''
      return { jdk, version: String(head.java_version), tables, sets: lines.slice(2) }
    }),
  )
}

const runs: Promise<JdkRun[]> = jdks.length === 0 ? Promise.resolve([]) : runAll()

t.test('embedded Unicode tables equal the JDK data', { skip: jdks.length === 0 ? 'NO JAVA FOUND: Unicode table check skipped' : false }, async (t) => {
  const embedded = embeddedSections()
  const fresh = new Map<number, string>()
  for (const { jdk, version, tables: text } of await runs) {
    if (jdk.major !== 17 && jdk.major !== 25) {
      t.comment(`JDK ${jdk.major} has no embedded tables (only 17 and 25 are reproduced): not compared`)
      continue
    }
    fresh.set(jdk.major, text)
    t.comment(`${jdk.java} (java.runtime.version ${version}): ${text.length} chars of Unicode tables`)
    if (process.env.JREGEX_REGENERATE === undefined) t.equal(text, embedded.get(jdk.major), `payload for JDK ${jdk.major} is current`)
  }
  if (process.env.JREGEX_REGENERATE !== undefined) {
    const j25 = fresh.get(25)
    const j17 = fresh.get(17)
    t.ok(j25 !== undefined && j17 !== undefined, 'regeneration needs both JDK 25 and JDK 17')
    if (j25 !== undefined && j17 !== undefined) {
      writeFileSync(fileURLToPath(new URL('../../src/auth/jregex/unicode-data.ts', import.meta.url)), dataModule(j25 + j17))
      t.comment('src/auth/jregex/unicode-data.ts regenerated')
    }
  }
  t.same([...embedded.keys()].sort(), [17, 25], 'the payload has JDK 17 and JDK 25 sections')
})

t.test('class and property sets equal the JDK over all code points', { skip: jdks.length === 0 ? 'NO JAVA FOUND: property set check skipped' : false }, async (t) => {
  for (const { jdk, version, sets } of await runs) {
    if (jdk.major !== 17 && jdk.major !== 25) continue
    const flavor: JdkFlavor = jdk.major === 17 ? 17 : 25
    t.comment(`oracle: ${jdk.java} (java.runtime.version ${version})`)
    let checked = 0
    const mismatches: string[] = []
    patternsFor(jdk).forEach((pattern, i) => {
      const java = JSON.parse(sets[i] ?? '{}') as { valid: boolean; ranges?: number[]; error?: string }
      let ours: readonly number[] | string
      try {
        const root = new Parser(pattern, flavor).parse().root
        ours = root.t === 'set' ? root.set.ranges : `not a single class: ${root.t}`
      } catch (e) {
        ours = `error ${String(e)}`
      }
      if (!java.valid) {
        if (typeof ours !== 'string') mismatches.push(`${pattern}: Java rejects it (${String(java.error)})`)
        return
      }
      checked++
      if (JSON.stringify(ours) !== JSON.stringify(java.ranges)) {
        mismatches.push(`${pattern}: ours ${typeof ours === 'string' ? ours : JSON.stringify(ours).slice(0, 120)} java ${JSON.stringify(java.ranges).slice(0, 120)}`)
      }
    })
    for (const m of mismatches.slice(0, 20)) t.comment(`MISMATCH jdk ${flavor} ${m}`)
    t.equal(mismatches.length, 0, `jdk ${flavor}: ${checked} class expressions identical over U+0000..U+10FFFF`)
  }
})
