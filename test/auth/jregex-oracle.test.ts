/**
 * Differential test of src/auth/jregex.ts against java.util.regex itself.
 *
 * A hand-written corpus (every construct of the translator, the 19 items of spec §6, DN-like
 * subjects with RFC 2253 escapes, non-ASCII, line terminators, surrogate pairs and lone surrogates)
 * plus fast-check generated patterns (a small regex grammar, and raw metacharacter soup for syntax
 * errors) is sent through test/auth/java/RegexOracle.java in ONE JVM run per JDK. Requirements:
 *  - Java rejects  => we throw JavaRegexError 'syntax' with Java's description and index;
 *  - Java accepts  => we compile and matches() agrees on every subject, or we throw 'unsupported'
 *    for a construct on the explicit allow-list below (counted and reported);
 *  - we never report 'syntax' for a pattern Java accepts.
 * Runs on JDK 25 (Elasticsearch 9.x's runtime) and, when `java` on PATH is 17 and a JDK 25 exists
 * too, on JDK 17 with `jdk: 17` (where \b, the Unicode version and a few errors differ).
 */
import t from 'tap'
import fc from 'fast-check'
import { spawnSync } from 'node:child_process'

import { fileURLToPath } from 'node:url'
import { findJdks, type Jdk } from './helpers/java.js'
import { compileJavaPattern, JavaRegexError, type JdkFlavor } from '../../src/auth/jregex.js'

// ------------------------------------------------------------------ JDK discovery and oracle I/O

/** JSON string with every code unit outside printable ASCII escaped (lone surrogates survive). */
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

interface OracleAnswer {
  valid: boolean
  matches?: (boolean | null)[]
  error?: string
  index?: number
  crash?: boolean
}

interface Case {
  readonly pattern: string
  readonly subjects: readonly string[]
}

function runOracle(jdk: Jdk, cases: readonly Case[]): { version: string; answers: OracleAnswer[] } {
  const program = fileURLToPath(new URL('./java/RegexOracle.java', import.meta.url))
  const input = cases.map((c) => `{"pattern":${jsonString(c.pattern)},"subjects":[${c.subjects.map(jsonString).join(',')}]}\n`).join('')
  const r = spawnSync(jdk.java, ['-Xss8m', program], { input, encoding: 'ascii', maxBuffer: 256 * 1024 * 1024 })
  if (r.status !== 0) throw new Error(`oracle failed (${String(r.status)}): ${r.stderr}`)
  const lines = r.stdout.trim().split('\n')
  const head = JSON.parse(lines[0] ?? '{}') as { java_version?: string }
  return { version: String(head.java_version), answers: lines.slice(1).map((l) => JSON.parse(l) as OracleAnswer) }
}

// ------------------------------------------------------------------ corpus

/** Subjects tried with every hand-written pattern. */
const COMMON_SUBJECTS: readonly string[] = [
  '', 'a', 'A', 'ab', 'aa', 'abab', 'b', ' ', '_', '1', '-', ',', '\\', ']',
  'CN=instance', 'cn=INSTANCE', 'CN=local-cluster.example.com,O=Example Corp,C=US',
  'CN=a\\,b\\+c \\<x\\>\\;y\\\\z\\=w', 'O=\\#hash', 'CN=\\ lead and trail\\ ', 'O=Café,CN=Müller', 'CN=node1+UID=u1,O=Org',
  '1.2.840.113549.1.9.1=#160f6f7073406578616d706c652e636f6d,CN=x', 'CN=line\nfeed', 'CN=x\r\n', 'CN=x\n',
  '\n', '\r', '\r\n', 'a\n', 'a\r\n', 'a\r', 'a\u0085', 'a\u2028', '\u2029',
  'é', 'É', 'e\u0301', 'a\u0301', 'é\u0301', '\u0301', 'ß', 'ẞ', 'K', 'k', '\u212a', 'ſ', 's', 'S', 'İ', 'ı', 'i', 'I', 'µ', 'Μ', 'ÿ', 'Ÿ', 'Å', 'å', '\u212b', 'ǅ', 'ǆ',
  '😀', 'a😀', '😀a', '😀😀', '\ud83d', '\ude00', 'a\ude00', '\ud83da', '\ude00\ud83d', '𐐀', '𐐨', '\u00a0', '\u2003', '\u0663', '\u3000', 'ab\u0301',
]

function hand(pattern: string, ...subjects: string[]): Case {
  return { pattern, subjects: [...new Set([...subjects, ...COMMON_SUBJECTS])] }
}

/** Every construct of the translator and the 19 differences of spec §6. */
function handCorpus(): Case[] {
  const patterns: [string, ...string[]][] = [
    // §4 examples and DN patterns
    ['CN=instance'], ['^CN=instance$'], ['(?i)^CN=instance$'], ['^CN=[A-Za-z0-9_]+$'], [''], ['no-match'], ['^CN= instance$'], ['^CN=instance.$'], ['^cn=instance$'],
    ['CN=local-cluster\\.example\\.com,O=Example Corp,C=US'], ['CN=[^,]+,O=Example Corp,C=US'], ['CN=.*\\.example\\.com,O=.*'],
    ['CN=a\\\\,b\\\\\\+c \\\\<x\\\\>\\\\;y\\\\\\\\z\\\\=w'], ['CN=a\\,b\\+c \\<x\\>\\;y\\\\z\\=w'], ['O=\\\\#hash'], ['O=Café,CN=Müller'], ['(?iu)o=CAFÉ,cn=MÜLLER', 'O=Café,CN=Müller'],
    ['CN=node1\\+UID=u1,O=Org'], ['(?:[A-Z]+=[^,]*,)*C=US'], ['CN=([^,\\\\]|\\\\.)*,O=Org', 'CN=a\\,b,O=Org'], ['1\\.2\\.840\\.113549\\.1\\.9\\.1=#[0-9a-f]+,CN=x'],
    ['CN=\\\\ lead and trail\\\\ '], ['CN=line\\nfeed'], ['CN=line.feed'], ['(?s)CN=line.feed'], ['CN=x$'], ['CN=x\\Z'], ['CN=x\\z'], ['CN=x$\\n'], ['CN=x$\\r\\n'], ['CN=x\\R'], ['CN=x\\R?'],
    // 1 full match and alternation
    ['CN=a|CN=b', 'CN=a', 'CN=b', 'xCN=b'], ['a|ab'], ['ab|a'], ['(a|ab)(c|bcd)(d*)', 'abcd'], ['|a'], ['a|'], ['(?:a|)'],
    // 2 $ and \Z
    ['a$'], ['a$\\n'], ['a$\\r\\n'], ['a$\\r'], ['a\\Z\\r\\n'], ['a\\Z'], ['a\\z'], ['a\\z\\n'], ['a$$'], ['$a'], ['a$.'], ['a$\\u0085'], ['a\\Z\\u2028'],
    ['(?m)a$'], ['(?m)a$\\n'], ['(?m)a$\\r$\\n'], ['(?m)a$\\ra$', 'a\ra'], ['(?m)^a', 'a'], ['(?m)a\\n^b', 'a\nb'], ['(?m)a\\r^\\n'], ['(?m)a\\n^'], ['(?m)^'], ['(?m)$'], ['(?m)^$'],
    ['(?d)a$'], ['(?d)a$\\r'], ['(?d)a$\\n'], ['(?dm)a$\\n^b', 'a\nb'], ['(?dm)a\\r^b', 'a\rb'], ['(?d).'], ['(?d)a\\Z\\n'],
    // 3 dot
    ['.'], ['..'], ['a.b', 'a\u0085b', 'a\nb'], ['(?s).'], ['(?s:.)'], ['(?d).'], ['(?sd).'], ['.+'], ['.*'], ['(?s).*'],
    // 4, 5 inline flags and case folding
    ['(?i)a'], ['(?i)é'], ['(?iu)é'], ['(?i)k'], ['(?iu)k'], ['(?iu)s'], ['(?iu)ſ'], ['(?iu)ß'], ['(?iu)ßx', 'ẞx'], ['(?iu)ẞ'], ['(?i)[k]'], ['(?iu)[k]'], ['(?iu)[a-z]'], ['(?iu)[^k]'], ['(?iu)[ß]'],
    ['(?iu)[µ]'], ['(?iu)µ'], ['(?iu)[ÿ]'], ['(?iu)[å]'], ['(?iu)[Å]'], ['(?iu)ǅ'], ['(?iu)[ǅ]'], ['(?iu)[ǅ-ǆ]'], ['(?i)[a-z]'], ['(?i)[A-Z]'], ['(?i)[Z-a]', '_', 'z', 'A'], ['(?i)[^a]'],
    ['(?iu)𐐀'], ['(?iu)[𐐀]'], ['(?iu)İ'], ['(?iu)ı'], ['(?iu)[ıi]'], ['(?iu)[ı-i]'], ['cn=(?i)instance', 'cn=INSTANCE', 'CN=instance'], ['(?i:a)a', 'AA', 'Aa'], ['(?i)a(?-i)a', 'AA', 'Aa'],
    ['a(?i)b|c', 'aB', 'C'], ['(?i)(?-i:a)'], ['((?i)a)a', 'AA', 'Aa'], ['(?i)ab', 'AB', 'aB'], ['(?i)\\p{Lower}'], ['(?i)\\p{Lu}'], ['(?i)\\p{Ll}'], ['(?i)\\p{Lt}'], ['(?i)\\p{Upper}'],
    ['(?i)\\p{javaLowerCase}'], ['(?i)\\p{IsLowercase}'], ['(?iU)\\p{Lower}'], ['(?u)a'], ['(?x)a b c', 'abc'], ['(?x)a\\ b', 'a b'], ['(?x)a#comment\nb', 'ab'], ['(?x)[ a]'], ['(?x)a{1, 2}'],
    ['(?x)a {2}', 'aa'], ['(?x)\\p{ L}'], ['(?x)(?i) a'], ['(?x:a b)c', 'abc'], ['a(?x) b', 'ab'], ['(?x)#', ''], ['(?x)a#\\', 'a'],
    // 6 possessive and atomic
    ['CN=.*+e'], ['CN=.*e'], ['a*+a'], ['a++', 'aaa'], ['a?+a'], ['a{1,2}+a', 'aa', 'aaa'], ['a{2}+'], ['(a|ab)++c', 'abc'], ['(a|ab){2}+', 'abab', 'aab'], ['(?:a|ab)*+b', 'ab', 'abb'],
    ['(?>a|ab)c', 'abc', 'ac'], ['(?>a*)a'], ['(?>(a+))b', 'aab'], ['(?>a+)*b', 'aab'], ['(?>\\R)\\n', '\r\n'], ['\\R?+\\n', '\r\n'], ['x*+'], ['[ab]*+b'], ['.?+'], ['.{0,2}+a', 'aa'],
    // 7 anchors
    ['\\Aa'], ['a\\A'], ['\\Ga'], ['a\\G'], ['\\G\\Ga'], ['^^a'], ['a^'], ['\\Aa\\z'],
    // 8 properties
    ['\\p{L}'], ['\\pL'], ['\\PL'], ['\\p{Lu}'], ['\\p{IsLatin}'], ['\\p{IsLATIN}'], ['\\p{InGreek}', 'α'], ['\\p{InBasic_Latin}'], ['\\p{InBASIC LATIN}'], ['\\p{InBasicLatin}'], ['\\p{IsAlphabetic}'],
    ['\\p{javaLowerCase}'], ['\\p{javaUpperCase}'], ['\\p{javaWhitespace}'], ['\\p{javaMirrored}', '('], ['\\p{javaLetterOrDigit}'], ['\\p{javaIdentifierIgnorable}'], ['\\p{javaISOControl}'], ['\\p{javaSpaceChar}'],
    ['\\p{javaJavaIdentifierStart}'], ['\\p{javaUnicodeIdentifierPart}'], ['\\p{javaDefined}'], ['\\p{javaTitleCase}'], ['\\p{javaAlphabetic}'], ['\\p{javaIdeographic}', '中'],
    ['\\p{Alpha}'], ['\\p{Lower}'], ['\\p{Upper}'], ['\\p{Digit}'], ['\\p{Alnum}'], ['\\p{Punct}'], ['\\p{Space}'], ['\\p{XDigit}'], ['\\p{Graph}'], ['\\p{Print}'], ['\\p{Blank}'], ['\\p{Cntrl}'], ['\\p{ASCII}'],
    ['\\p{L1}'], ['\\p{all}'], ['\\p{LC}'], ['\\p{LD}'], ['\\p{Nd}'], ['\\p{Mn}'], ['\\p{So}'], ['\\p{Cs}'], ['\\p{Cn}'], ['\\p{C}'], ['\\p{IsEmoji}'], ['\\p{IsEmoji_Presentation}'], ['\\p{IsExtended_Pictographic}'],
    ['\\p{IsWhite_Space}'], ['\\p{IsPunctuation}'], ['\\p{IsHex_Digit}'], ['\\p{IsAssigned}'], ['\\p{IsNoncharacterCodePoint}'], ['\\p{IsWord}'], ['\\p{IsJoin_Control}'], ['\\p{IsIdeographic}'], ['\\p{IsAlpha}'],
    ['\\p{IsPrint}'], ['\\p{IsGraph}'], ['\\p{IsBlank}'], ['\\p{IsCntrl}'], ['\\p{IsXDigit}'], ['\\p{IsAlnum}'], ['\\p{IsSpace}'], ['\\p{IsDigit}'], ['\\p{IsLu}'], ['\\p{IsL}'], ['\\p{IsCommon}'], ['\\p{IsUnknown}'], ['\\p{IsZyyy}'],
    ['\\p{sc=Latin}'], ['\\p{script=Grek}', 'α'], ['\\p{blk=Greek}'], ['\\p{block=Greek and Coptic}'], ['\\p{gc=Lu}'], ['\\p{general_category=L}'], ['\\p{GC=Lu}'], ['\\p{Sc=Latn}'], ['\\p{Script=LATIN}'],
    ['(?U)\\p{Alpha}'], ['(?U)\\p{Lower}'], ['(?U)\\p{Punct}'], ['(?U)\\p{Space}'], ['(?U)\\p{Digit}'], ['(?U)\\p{Graph}'], ['(?U)\\p{Print}'], ['(?U)\\p{XDigit}'], ['(?U)\\p{Blank}'], ['(?U)\\p{Cntrl}'], ['(?U)\\p{Alnum}'],
    ['[\\p{L}\\p{Nd}]+'], ['[^\\p{L}]'], ['[\\P{L}]'], ['[\\p{L}&&\\p{IsLatin}]'], ['[\\p{L}&&[^a-z]]'], ['\\P{IsEmoji}'],
    // 9 code points, surrogates
    ['.', '😀'], ['..', '😀'], ['[😀]'], ['[^😀]'], ['\\x{1F600}'], ['\\ud83d\\ude00'], ['\\ud83d'], ['\\ude00'], ['[\\ud83d\\ude00]'], ['[\\ud83d-\\udfff]'], ['\\x{d83d}'], ['\\x{d83d}.'], ['\\x{d83d}\\x{de00}'],
    ['\ud83d'], ['\ud83d.'], ['.\ude00'], ['[^a]\ude00'], ['a\ud83d\ude00?'], ['\ud83d\ude00+'], ['[\ud800-\udbff]'], ['[\udc00-\udfff]'], ['[\ud800-\udfff]'], ['[\\x{10000}-\\x{10FFFF}]'], ['[\\x{0}-\\x{FFFF}]'], ['[^\\x{0}-\\x{FFFF}]'],
    // 10, 11 escapes and braces
    ['\\,'], ['\\='], ['\\ '], ['\\-'], ['\\#'], ['\\"'], ['\\}'], ['\\]'], ['}'], [']'], ['a}'], ['\\{'], ['\\é'], ['\\😀'], ['a{'], ['{'], ['a{,2}'], ['a{2'], ['a{2,'], ['a{2,1}'], ['a{99999999999}'], ['a{1}{2}'], ['{1}a'], ['a{0}'], ['a{0,0}'],
    ['a{1,}'], ['a{2,3}?'], ['a{2147483647}'], ['a{0,2147483647}'], ['a{2147483648}'], ['x{3}+'],
    // 12 escapes without JS equivalent
    ['\\Qa.b\\E', 'a.b', 'aab'], ['\\Qa\\E+', 'aa'], ['\\Qab\\E+', 'abb'], ['\\Q\\E'], ['\\Q'], ['\\Qa'], ['a\\Q\\\\E', 'a\\'], ['\\Q(\\E'], ['\\Q1\\E'], ['\\x4\\Q1\\E'], ['\\0101\\Q1\\E'], ['[\\Q]\\E]'], ['\\Qa\\E\\Qb\\E'], ['\\\\Q'],
    ['\\h'], ['\\H'], ['\\v'], ['\\V'], ['[\\v]'], ['[\\v-\\x0c]'], ['\\R'], ['\\R\\n'], ['\\R{2}'], ['\\R?\\n'], ['(?:\\R)?\\n'], ['\\R+'], ['(\\R)+\\n'], ['(?:\\R|x)+'], ['\\R*\\n'], ['(?:a\\R)*\\n', 'a\r\n\n'],
    ['\\e'], ['\\a'], ['\\t'], ['\\n'], ['\\r'], ['\\f'], ['\\cA'], ['\\c?'], ['\\c'], ['\\x41'], ['\\x4'], ['\\x{41}'], ['\\x{}'], ['\\x{110000}'], ['\\x{41'], ['\\u0041'], ['\\u004'], ['\\0101'], ['\\0'], ['\\08'], ['\\0377'], ['\\0400'], ['\\07'],
    ['\\y'], ['\\C'], ['\\E'], ['\\i'], ['\\g'], ['\\o'], ['\\q'], ['\\T'], ['\\K'], ['\\Y'], ['\\j'], ['\\l'], ['\\m'], ['\\F'], ['\\I'], ['\\J'], ['\\L'], ['\\M'], ['\\O'], ['\\U'],
    ['\\b{g}'], ['\\b{'], ['\\b{x}'], ['\\b{gx'], ['\\X'], ['\\N{LATIN SMALL LETTER A}'], ['\\N{'], ['\\N'],
    // 13 predefined classes and \b
    ['\\d'], ['\\D'], ['\\w'], ['\\W'], ['\\s'], ['\\S'], ['(?U)\\d'], ['(?U)\\w'], ['(?U)\\s'], ['(?U)\\W'], ['(?U)\\S'], ['(?U)\\D'],
    ['\\b'], ['\\B'], ['a\\b'], ['\\ba'], ['a\\b.'], ['.\\ba'], ['a\\B.'], ['\\bé'], ['é\\b'], ['.\\b.'], ['.\\B.'], ['a\\b\\u0301', 'a\u0301'], ['.\\b\\u0301', 'é\u0301'], ['\\b.+\\b'], ['(?U)\\b.\\b'], ['(?U).\\B.'],
    ['\\w+\\b'], ['\\b\\w+\\b,\\b\\w+\\b', 'a,b'], ['.\\b\\ud83d\\ude00'], ['😀\\b.'], ['\\b\\p{L}'], ['.\\b', '\u0663'],
    // 14, 15 classes
    ['[a-c[x-z]]', 'y', 'y]'], ['[a-z&&[^aeiou]]'], ['[a-z&&[def]]'], ['[a&&]'], ['[a-c[x]&&]'], ['[&&a]'], ['[a&&&b]'], ['[a&&b&c]'], ['[a&&[bc]&c]'], ['[ab&&cd]'], ['[\\p{L}a&&]'], ['[[a]&&]'],
    ['[]a]', ']'], ['[^]a]'], ['[]'], ['[^]'], ['[a-]'], ['[-a]'], ['[a-[b]]'], ['[a\\-z]'], ['[a-\\d]'], ['[\\d-z]'], ['[z-a]'], ['[a-a]'], ['[\\w&&\\d]'], ['[^\\W]'], ['[\\s\\S]'], ['[^a-c[x-z]]'], ['[^a[b]]'],
    ['[[^a]&&[^b]]'], ['[^[a]]'], ['[a-z&&b-y&&c-x]'], ['[\\x{41}-\\x{5A}]'], ['[\\u0041-\\u005a]'], ['[\\Q^]\\E]'], ['[a&]'], ['[&]'], ['[&&]'], ['[a&&[]'], ['[\\b]'], ['[\\1]'], ['[\\Z]'], ['[\\R]'], ['[\\X]'], ['[\\k<a>]'],
    ['[\\pL]'], ['[\\p{L}-z]'], ['[a-\\p{L}]'], ['[\\e-\\cZ]'], ['[\\0101]'], ['[a^]'], ['[\\^a]'], ['[ ^a]'], ['(?x)[ ^a]'], ['[a-z&&[^aeiou]&&[^x-z]]'], ['[[a-c]&&[b-d]c]'],
    // 16 groups and names
    ['(?<host>[a-z]+)'], ['(?<host>[a-z]+)\\k<host>', 'abab', 'aa'], ['(?<c_n>x)'], ['(?<1a>x)'], ['(?<a>x)(?<a>y)'], ['(?P<a>x)'], ['\\k<a>(?<a>x)'], ['(?<a>x\\k<a>)'], ['(?<a>x)\\k<b>'], ['(?<a>x)\\ka'], ['(?<a'], ['(?<'],
    ['(?<A1>a)\\k<A1>', 'aa'], ['(?:a)'], ['(?'], ['(?$)'], ['(?@)'], ['(?z)'], ['(?i'], ['(?i-'], ['(?)'], ['(?-)'], ['(?c)a'], ['(?c)[a]'], ['(?c)\\pL'],
    ['('], [')'], ['a)'], ['(a'], ['(a))'], ['((a)'], ['()'], ['(|)'], ['*'], ['+a'], ['?'], ['a**'], ['a*?+'], ['a??'], ['a+?'], ['a*?'], ['a{2}?'], ['(a)*?b'], ['(a)??b'],
    // look-arounds
    ['(?=CN=)CN=instance'], ['(?!a)b'], ['(?!a).'], ['a(?=b)'], ['a(?=b)b'], ['(?<=a)b'], ['a(?<=a)b'], ['a(?<!a)b'], ['b(?<!a)b', 'bb'], ['.(?<=.)x', '😀x'], ['.(?<=\\ud83d\\ude00)x', '😀x'],
    ['.(?<!\\p{So})x', '😀x'], ['.(?<!\\p{So})x😀?', '😀x'], ['.(?<=[^a])x', '😀x'], ['.(?<=\\x{1F600})x', '😀x'], ['.(?<=\\ude00)x', '😀x'], ['.(?<=\\ude00)x😀?', '😀x'], ['.(?<=[\\udc00-\\udfff])x', '😀x'],
    ['.(?<=[\\udc00-\\udfff])x😀?', '😀x'], ['..(?<=\\ud83d.)', '😀a', 'aa'], ['b(?<=ba*)c', 'bc'], ['ba(?<=ba*)c', 'bac'], ['b(?<=a*b)c', 'bc'], ['aa(?<=a+)c', 'aac'], ['(?<=a*)c', 'c'], ['a(?<=a{0,3})b', 'ab'],
    ['aaaa(?<=a{2,3})b', 'aaaab'], ['\\d+(?<=1\\d{0,2})x', '12x', '1234x'], ['\\w+(?<=a\\w?)x', 'abx', 'bax'], ['\r\na(?<=\\Ra)b', '\r\nab'], ['.*(?<=x\\R)', 'x\r\n', 'x\r'], ['(?<=(?:ab)+)c'], ['(?<=a\\1)'],
    ['(a)(?<=\\1)'], ['(?<=a|bc)x'], ['..(?<=a|bc)x', 'bcx', 'zax'], ['.(?<=^.)'], ['.(?<=\\b.)'], ['..(?<=(?=a).)', 'ba'], ['a(?<=(?<=a))'], ['..(?<=a(?<=a.))', 'ab'], ['.*(?<!,)$'], ['.*(?<!\\\\),.*', 'a\\,b', 'a,b'],
    ['(?<=(?>a))b'], ['x(?<=a?+)'], ['.(?<=a*+)'], ['.(?<=[^x]{1,2})x', '😀x', 'ax', 'a😀x'], ['..(?<=.{2})', '😀', 'ab'], ['...(?<=.{2})', '😀a', 'a😀'], ['.*(?<=\\p{So}.)', '😀a', 'a😀'],
    ['.*(?<=\\p{So}.)😀', '😀a😀'], ['(?<!(?i:\\u00e9)??[a-z&&[^b]]*[^a]+?){1,}'], ['(?<!a??b*c+?)'], ['(?<!(?:a|b)c*d+?)'], ['(?<=\\X)'], ['.(?<!a)'], ['(?<!a{2,})b'], ['.*(?<=(?<!a)b)', 'ab', 'bb'], ['(?=(a))a'], ['(?=(a))*a'], ['(?=a)*a'], ['(?=a)+a'], ['(?=a)?a'], ['(?!a)*b'],
    ['(?<=a)?b'], ['a(?<=a)*b'], ['(?=a){2}a'], ['(?=a)*?a'], ['(?=a)*+a'], ['(?=a)??a'], ['(?=a)?+a'], ['\\b*a'], ['\\b+a'], ['^*a'], ['$*'], ['(?>)*'], ['(?:)*'], ['(?:)+a'], ['()*'], ['()+\\1'],
    // back references
    ['CN=(ab)\\1'], ['(a)\\1'], ['(a)?b\\1'], ['(a|b)\\1'], ['(a)|b\\1'], ['(?:(a)|b)\\1'], ['\\1(a)'], ['(a\\1)'], ['(a)\\2'], ['\\2'], ['(a)\\11', 'a1', 'aa1'], ['\\11(a)'], ['(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)\\11', 'abcdefghijkk'],
    ['(?i)(a)\\1', 'aA'], ['(a)(?i)\\1', 'aA'], ['(\\w+),\\1', 'ab,ab', 'ab,ac'], ['(?:(a)\\1)+', 'aaaa'], ['(a)+\\1'], ['(?:(a)|b)+\\1', 'aba'], ['(?=(a))\\1'], ['(?>(a))\\1'], ['(a)(?=\\1)'],
    ['(a)(?!\\1)b'], ['((a)\\2)+', 'aaaa'], ['(a(b)?)\\2'], ['(a)x|(b)\\2', 'bb'], ['(?<n>a)?\\k<n>'], ['(?:(a*))+b\\1', 'aab'], ['(?:(?=(a))x|a)\\1', 'aa'], ['(a)(?:b|\\1)c', 'abc', 'aac'], ['(a)\\1*', 'aaa'],
    ['(a?)\\1{2,}+'], ['(a)\\1++'], ['(a)(\\1)\\2', 'aaa'],
    // quantifier node kinds (Loop / GroupCurly / Branch)
    ['(a|b)*'], ['(a|b)*?b'], ['(ab)*'], ['(ab)*?'], ['(ab){2}'], ['(ab){1,3}b', 'ababb'], ['(a?)*b'], ['(a*)*b'], ['(a|)*b'], ['(|a)*b'], ['(|a)+b'], ['(a|)+?b'], ['(?:a|b)+c'], ['(a)?'], ['(a)??b', 'ab', 'b'],
    ['(?:)?a'], ['(a{0})*'], ['(\\b)*a'], ['((a)|b)*'], ['(?:a|ab){2}c', 'aabc', 'ababc'], ['(?:a|ab){2}+c', 'aabc', 'ababc'], ['(?>a|ab){2}c', 'aabc', 'ababc'], ['(?:(?>a|ab))*c', 'abc'],
    ['(?:x|a?){3}', 'a'], ['(?:a?)*?b'], ['(?:a|b)*+c'], ['(?>(?:a|)*)b'], ['(?>(?:|a)*)a', 'a'], ['(?>(?:|a)+)b', 'ab'], ['a{2,3}a{2}', 'aaaa', 'aaaaa'],
  ]
  return patterns.map(([p, ...subjects]) => hand(p, ...subjects))
}

/** Small regex grammar for fast-check: valid-looking patterns over a tiny alphabet. */
function generatedCorpus(count: number, seed: number): Case[] {
  const atom = fc.constantFrom(
    'a', 'b', 'A', 'é', '😀', ',', '=', '\\\\', '\\,', '\\=', '.', '\\d', '\\w', '\\s', '\\W', '\\S', '\\h', '\\v', '\\R', '[ab]', '[^a]', '[a-c]', '[a-z&&[^b]]', '[a[é]]', '\\p{L}', '\\p{Lu}', '\\P{L}', '\\p{IsLatin}',
    '\\p{Lower}', '\\p{Punct}', '\\x{1F600}', '\\u00e9', '\\Q.\\E', '\\n', '\\r', '\\u0085', '^', '$', '\\b', '\\B', '\\A', '\\z', '\\Z', '\\1', '\\2', '(?i)', '(?-i)', '(?s)', '(?m)', '(?d)', '(?iu)', '(?U)',
  )
  const quant = fc.constantFrom('', '', '', '*', '+', '?', '*?', '+?', '??', '*+', '++', '?+', '{2}', '{0,2}', '{1,}', '{1,2}?', '{0,1}+')
  const tree = fc.letrec<{ re: string }>((tie) => ({
    re: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.tuple(atom, quant).map(([a, q]) => (/^\(\?[a-zA-Z-]+\)$/.test(a) ? a : a + q)),
      fc.tuple(tie('re'), tie('re')).map(([x, y]) => x + y),
      fc.tuple(tie('re'), tie('re')).map(([x, y]) => `${x}|${y}`),
      fc.tuple(fc.constantFrom('(', '(?:', '(?=', '(?!', '(?<=', '(?<!', '(?>', '(?i:', '(?<n>'), tie('re'), quant).map(([o, x, q]) => `${o}${x})${q}`),
    ),
  }))
  const alphabet = fc.constantFrom('a', 'b', 'A', 'B', 'é', 'É', '😀', '\ud83d', '\ude00', '\u0301', ',', '=', '\\', '\n', '\r', '\u0085', ' ', '1', '_')
  const subject = fc.array(alphabet, { maxLength: 6 }).map((a) => a.join(''))
  const gen = fc.tuple(tree.re, fc.array(subject, { minLength: 6, maxLength: 6 }))
  return fc.sample(gen, { numRuns: count, seed }).map(([pattern, subjects]) => ({ pattern, subjects }))
}

/** Groups, back references and look-arounds over {a, b}: exercises backrefs.ts and atomic emulation. */
function backrefCorpus(count: number, seed: number): Case[] {
  const atom = fc.constantFrom('a', 'b', '.', '[ab]', '\\1', '\\2', '\\k<n>', '$', '\\b')
  const quant = fc.constantFrom('', '', '', '?', '*', '+', '??', '*?', '?+', '*+', '++', '{2}', '{0,2}')
  const tree = fc.letrec<{ re: string }>((tie) => ({
    re: fc.oneof(
      { depthSize: 'small' },
      fc.tuple(atom, quant).map(([a, q]) => a + q),
      fc.tuple(tie('re'), tie('re')).map(([x, y]) => x + y),
      fc.tuple(tie('re'), tie('re')).map(([x, y]) => `${x}|${y}`),
      fc.tuple(fc.constantFrom('(', '(', '(?:', '(?=', '(?!', '(?<=', '(?>', '(?<n>'), tie('re'), quant).map(([o, x, q]) => `${o}${x})${q}`),
    ),
  }))
  const subject = fc.array(fc.constantFrom('a', 'b'), { maxLength: 6 }).map((a) => a.join(''))
  return fc
    .sample(fc.tuple(tree.re, fc.array(subject, { minLength: 8, maxLength: 8 })), { numRuns: count, seed })
    .map(([pattern, subjects]) => ({ pattern, subjects: [...new Set(['', ...subjects])] }))
}

/** Bracket classes built from Java's quirky pieces, under case-folding and comments flags. */
function classCorpus(count: number, seed: number): Case[] {
  const piece = fc.constantFrom(
    'a', 'b', 'k', 'K', 'z', 'é', 'É', 'ß', 'µ', 'ſ', '😀', '-', '^', ']', '[', '&', '&&', ' ', 'a-c', 'A-Z', 'x-z', 'é-ÿ', '\\d', '\\w', '\\s', '\\W', '\\h', '\\v',
    '\\p{L}', '\\P{Lu}', '\\pL', '\\x41', '\\x{1F600}', '\\u00e9', '\\0101', '\\Q-]\\E', '\\-', '\\]', '\\[', '\\\\', '\\^', '[a]', '[^b]', '[a-z&&[^k]]', '\\e', '\\cA',
  )
  const flags = fc.constantFrom('', '', '(?i)', '(?iu)', '(?x)', '(?U)')
  const cls = fc.tuple(flags, fc.boolean(), fc.array(piece, { minLength: 1, maxLength: 5 }), fc.constantFrom('', '', '+', '*+', '{2}')).map(
    ([f, neg, ps, q]) => `${f}[${neg ? '^' : ''}${ps.join('')}]${q}`,
  )
  const alphabet = fc.constantFrom('a', 'b', 'k', 'K', '\u212a', 'z', 'é', 'É', 'ß', 'ẞ', 'µ', 'Μ', 'ſ', 's', 'S', '😀', '-', '^', ']', '[', '&', ' ', '1', '_', '\n', '\\', 'A', '\u00a0', '\u001b', '\u0001', '\ud83d')
  return fc
    .sample(fc.tuple(cls, fc.array(alphabet, { minLength: 10, maxLength: 10 })), { numRuns: count, seed })
    .map(([pattern, subjects]) => ({ pattern, subjects: [...new Set([...subjects, 'aa', '😀😀', ''])] }))
}

/** Metacharacter soup: mostly invalid patterns, to compare syntax errors and their indices. */
function syntaxCorpus(count: number, seed: number): Case[] {
  const piece = fc.constantFrom(
    '(', ')', '[', ']', '{', '}', '*', '+', '?', '|', '\\', '^', '$', '.', '-', '&', ',', '0', '1', '2', 'a', 'b', 'k', 'p', 'P', 'Q', 'E', 'x', 'u', 'c', '<', '>', '=', '!', ':', 'i',
    '#', ' ', 'L', 'N', '{g}', '(?x)', '\n', '\\Q', '\\E', '\\x{', '\\0', '\\p{', 'L}', '&&', '(?<', '\\k<', 'n>', '1}', ',2}', '(?<n>', '(?<=', 'Is', 'In',
  )
  return fc.sample(fc.array(piece, { minLength: 1, maxLength: 10 }), { numRuns: count, seed }).map((a) => ({ pattern: a.join(''), subjects: ['', 'a', 'ab', '{', ']'] }))
}

// ------------------------------------------------------------------ comparison

/**
 * Valid Java constructs the translator refuses instead of approximating (see src/auth/jregex/*).
 * A test fails on an 'unsupported' answer whose construct is not listed here.
 */
const UNSUPPORTED_ALLOWED: readonly RegExp[] = [
  /^\\X grapheme cluster$/,
  /^\\b\{g\} grapheme cluster boundary$/,
  /^\\N\{name\} character name$/,
  /^\(\?c\) canonical equivalence$/,
  /^case-insensitive back reference$/,
  /^back reference to a group that may not have matched at that point$/,
  /^quantified group that can match the empty string inside an atomic group or possessive quantifier$/,
  /^look-behind whose length bounds overflow int$/,
  /^JDK 17 class intersection with a missing operand$/,
]

interface Tally {
  pairs: number
  compiled: number
  javaInvalid: number
  unsupported: Map<string, number>
  unsupportedPatterns: string[]
  javaFailures: number
}

function compareOne(fail: (msg: string) => void, c: Case, java: OracleAnswer | undefined, jdk: JdkFlavor, tally: Tally): void {
  const label = `${JSON.stringify(c.pattern)} (jdk ${jdk})`
  if (java === undefined) {
    fail(`no oracle answer for ${label}`)
    return
  }
  let compiled
  try {
    compiled = compileJavaPattern(c.pattern, { jdk })
  } catch (e) {
    if (!(e instanceof JavaRegexError)) {
      fail(`${label}: unexpected ${String(e)}`)
      return
    }
    if (e.code === 'syntax') {
      if (java.valid) fail(`${label}: Java accepts it, we say ${e.message}`)
      else {
        tally.javaInvalid++
        if (e.construct !== java.error || e.index !== java.index) {
          fail(`${label}: error differs: java ${String(java.error)}@${String(java.index)} ours ${e.construct}@${e.index}`)
        }
      }
      return
    }
    if (!java.valid) {
      fail(`${label}: Java rejects it (${String(java.error)}@${String(java.index)}), we say unsupported ${e.construct}`)
      return
    }
    if (!UNSUPPORTED_ALLOWED.some((r) => r.test(e.construct))) fail(`${label}: unsupported construct not on the allow-list: ${e.construct}`)
    tally.unsupported.set(e.construct, (tally.unsupported.get(e.construct) ?? 0) + 1)
    tally.unsupportedPatterns.push(`${JSON.stringify(c.pattern)}: ${e.construct}`)
    return
  }
  if (!java.valid) {
    fail(`${label}: Java rejects it (${String(java.error)}@${String(java.index)}) but we compiled ${compiled.jsSource.slice(0, 200)}`)
    return
  }
  tally.compiled++
  c.subjects.forEach((s, i) => {
    const expected = java.matches?.[i]
    if (expected === null || expected === undefined) {
      tally.javaFailures++
      return
    }
    tally.pairs++
    const got = compiled.matches(s)
    if (got !== expected) fail(`${label} on ${JSON.stringify(s)}: java ${String(expected)}, ours ${String(got)}; js ${compiled.jsSource.slice(0, 300)}`)
  })
}

const jdks = findJdks()
// JREGEX_FUZZ_SCALE / JREGEX_FUZZ_SEED widen the generated corpus for deep local runs; the
// defaults keep this file at a few seconds per JDK.
const scale = Number(process.env.JREGEX_FUZZ_SCALE ?? '1')
const seed = Number(process.env.JREGEX_FUZZ_SEED ?? '20261202')
const corpus: Case[] = [
  ...handCorpus(),
  ...generatedCorpus(Math.round(1500 * scale), seed),
  ...backrefCorpus(Math.round(800 * scale), seed + 1),
  ...classCorpus(Math.round(400 * scale), seed + 3),
  ...syntaxCorpus(Math.round(600 * scale), seed + 2),
]

t.test('java.util.regex differential', { skip: jdks.length === 0 ? 'NO JAVA FOUND: JDK regex oracle skipped' : false }, async (t) => {
  t.ok(corpus.length > 2000, `${corpus.length} patterns`)
  for (const jdk of jdks) {
    const flavor: JdkFlavor = jdk.major === 17 ? 17 : 25
    const { version, answers } = runOracle(jdk, corpus)
    t.comment(`oracle: ${jdk.java} (java.runtime.version ${version}), compared with jdk: ${flavor}`)
    t.equal(answers.length, corpus.length, 'one oracle answer per pattern')
    const tally: Tally = { pairs: 0, compiled: 0, javaInvalid: 0, unsupported: new Map(), unsupportedPatterns: [], javaFailures: 0 }
    const failures: string[] = []
    corpus.forEach((c, i) => compareOne((m) => failures.push(m), c, answers[i], flavor, tally))
    const unsupported = [...tally.unsupported].map(([k, v]) => `${k}: ${v}`).join('; ')
    t.comment(`jdk ${flavor}: ${tally.compiled} patterns compiled, ${tally.pairs} (pattern, subject) pairs agree-checked, ${tally.javaInvalid} Java syntax errors matched, ${tally.javaFailures} Java match exceptions skipped`)
    t.comment(`jdk ${flavor}: unsupported (allowed) ${[...tally.unsupported.values()].reduce((a, b) => a + b, 0)}: ${unsupported || 'none'}`)
    if (process.env.JREGEX_VERBOSE !== undefined) for (const u of tally.unsupportedPatterns) t.comment(`unsupported ${u}`)
    for (const f of failures.slice(0, 60)) t.comment(`DISAGREEMENT ${f}`)
    t.equal(failures.length, 0, `jdk ${flavor}: no disagreement with the JDK`)
  }
})
