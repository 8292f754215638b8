/**
 * Unit tests of src/auth/jregex.ts: the API contract, error codes and constructs, the generated
 * JavaScript for key patterns, the 19 Java/JavaScript differences of spec §6 (facts stated there,
 * all confirmed against the JDK by jregex-oracle.test.ts), and the code-point set helpers.
 */
import t from 'tap'
import fc from 'fast-check'
import { compileJavaPattern, JavaRegexError, type JdkFlavor } from '../../src/auth/jregex.js'
import { CpSet, backwardSource, forwardSource } from '../../src/auth/jregex/charset.js'

function m(pattern: string, input: string, jdk?: JdkFlavor): boolean {
  return compileJavaPattern(pattern, jdk === undefined ? undefined : { jdk }).matches(input)
}

function fails(pattern: string, jdk?: JdkFlavor): JavaRegexError {
  try {
    compileJavaPattern(pattern, jdk === undefined ? undefined : { jdk })
  } catch (e) {
    if (e instanceof JavaRegexError) return e
    throw e
  }
  throw new Error(`${pattern} compiled`)
}

t.test('API contract', async (t) => {
  const c = compileJavaPattern('CN=instance')
  t.equal(c.pattern, 'CN=instance')
  t.equal(c.jsSource, '^(?:CN=instance)$')
  t.equal(c.jsFlags, '')
  t.ok(c.matches('CN=instance'))
  t.notOk(c.matches('CN=instance2'))
  t.notOk(c.matches('xCN=instance'))
  t.ok(new RegExp(c.jsSource, c.jsFlags).test('CN=instance'), 'jsSource/jsFlags form a working RegExp')
  const e = fails('a{')
  t.type(e, Error)
  t.type(e, JavaRegexError)
  t.equal(e.name, 'JavaRegexError')
  t.equal(e.code, 'syntax')
  t.equal(e.construct, 'Illegal repetition')
  t.equal(e.index, 2)
  t.match(e.message, /Illegal repetition near index 2: a\{/)
  t.equal(compileJavaPattern('a').matches('a'), compileJavaPattern('a', { jdk: 25 }).matches('a'), 'jdk 25 is the default')
})

t.test('syntax errors carry Java description and index', async (t) => {
  const cases: [string, string, number][] = [
    ['[', 'Unclosed character class', 0],
    ['(', 'Unclosed group', 1],
    ['*', "Dangling meta character '*'", 0],
    ['a**', "Dangling meta character '*'", 2],
    ['a{', 'Illegal repetition', 2],
    ['{', 'Illegal repetition', 1],
    ['a{,2}', 'Illegal repetition', 2],
    ['a{2,1}', 'Illegal repetition range', 5],
    ['a{99999999999}', 'Illegal repetition range', 11],
    ['a{2', 'Unclosed counted closure', 3],
    ['(?<c_n>x)', "named capturing group is missing trailing '>'", 4],
    ['(?<1a>x)', 'capturing group name does not start with a Latin letter', 3],
    ['(?<a>x)(?<a>y)', 'Named capturing group <a> is already defined', 11],
    ['\\k<a>(?<a>x)', 'named capturing group <a> does not exist', 4],
    ['\\y', 'Illegal/unsupported escape sequence', 1],
    ['[]', 'Unclosed character class', 1],
    ['a)', "Unmatched closing ')'", 0],
    ['CN=[z-a]', 'Illegal character range', 6],
    ['(?z)', 'Unknown inline modifier', 2],
    ['(?$)', 'Unknown group type', 2],
    ['\\p{Alphabetic}', 'Unknown character property name {Alphabetic}', 13],
    ['\\p{gc=lu}', 'Unknown Unicode property {name=<gc>, value=<lu>}', 8],
    ['(?<=(?:ab)*c)', 'Look-behind group does not have an obvious maximum length', 11],
    ['(?<=(?:ab)+)c', 'Look-behind group does not have an obvious maximum length', 10],
    ['\\x{110000}', 'Hexadecimal codepoint is too big', 8],
    ['\\u00', 'Illegal Unicode escape sequence', 4],
  ]
  for (const [p, d, i] of cases) {
    const e = fails(p)
    t.equal(e.code, 'syntax', `${p}: code`)
    t.equal(e.construct, d, `${p}: description`)
    t.equal(e.index, i, `${p}: index`)
  }
  // Java's TreeInfo adds MAX_REPS for a greedy class without clearing maxValid: accepted, and a
  // second one overflows rmax so that Behind never tries a start (JDK 25 answers false).
  t.ok(m('ab(?<=a+b)', 'ab'), 'an unbounded greedy class passes the look-behind length check')
  t.notOk(m('aab(?<=a+b*)', 'aab'), 'two of them overflow the maximum: the look-behind never matches')
  t.equal(compileJavaPattern('aab(?<=a+b*)').jsSource, '^(?:aab(?!))$')
  t.equal(fails('CN=instance\\').construct, 'Unescaped trailing backslash', 'JDK 25 wording')
  t.equal(fails('CN=instance\\', 17).construct, 'Unexpected internal error', 'JDK 17 wording')
  t.equal(fails('[\\p{L}a&&]').construct, 'Bad intersection syntax', 'JDK 25 rejects an intersection without operand')
  t.equal(fails('[\\p{L}a&&]', 17).code, 'unsupported', 'JDK 17 accepts it and throws NullPointerException when matching')
  t.equal(fails('\\p{IsEmoji}', 17).construct, 'Unknown character property name {IsEmoji}', 'no emoji properties before JDK 21')
  t.ok(m('\\p{IsEmoji}', '😀'), 'JDK 25 knows IsEmoji')
})

t.test('unsupported constructs are reported, never approximated', async (t) => {
  const cases: [string, RegExp, number][] = [
    ['a\\X', /^\\X grapheme cluster$/, 1],
    ['\\b{g}', /^\\b\{g\} grapheme cluster boundary$/, 0],
    ['\\N{LATIN SMALL LETTER A}', /^\\N\{name\} character name$/, 0],
    ['(?c)[a]', /^\(\?c\) canonical equivalence$/, 4],
    ['(?i)(a)\\1', /^case-insensitive back reference$/, 7],
    ['(a)+\\1', /may not have matched/, 4],
    ['(?<n>a)?\\k<n>', /may not have matched/, 8],
    ['(?:(?=(a))x|a)\\1', /may not have matched/, 14],
    ['(?>(?:|a)*)a', /can match the empty string inside an atomic group/, 3],
    ['(?<=😀{1,}\\n?)', /^look-behind whose length bounds overflow int$/, 0],
  ]
  for (const [p, construct, index] of cases) {
    const e = fails(p)
    t.equal(e.code, 'unsupported', `${p}: code`)
    t.match(e.construct, construct, `${p}: construct`)
    t.equal(e.index, index, `${p}: index`)
  }
  t.equal(fails('\\X(').code, 'syntax', 'a later syntax error wins, as in Java')
})

t.test('limits of the JavaScript side are reported at compile time', async (t) => {
  const deep = fails(`${'('.repeat(20000)}a${')'.repeat(20000)}`)
  t.equal(deep.code, 'unsupported')
  t.equal(deep.construct, 'pattern too deeply nested to translate')
  const large = fails('a'.repeat(100000))
  t.equal(large.code, 'unsupported', 'V8 refuses the RegExp; found by the warm-up run, not by matches()')
  t.match(large.construct, /^translation not accepted by the JavaScript engine/)
})

t.test('generated JavaScript for key patterns', async (t) => {
  const src = (p: string): string => compileJavaPattern(p).jsSource
  t.equal(src('(?i)cn=x'), '^(?:[Cc][Nn]=[Xx])$', 'ASCII case folding expanded by hand')
  t.equal(src('\\Aa\\z'), '^(?:^a$)$')
  t.equal(src('a$'), '^(?:a(?=(?:\\r\\n|(?<!\\r)\\n|[\\r\\x85\\u2028\\u2029])?$))$', "Java's $ before a final line terminator")
  t.equal(src('(?m)a$'), '^(?:a(?=(?<!\\r)\\n|[\\r\\x85\\u2028\\u2029]|$))$')
  t.equal(src('(?d)a$'), '^(?:a(?=\\n?$))$')
  t.equal(src('[a-c[x-z]]'), '^(?:[a-cx-z])$', 'class union')
  t.equal(src('[a-z&&[^aeiou]]'), '^(?:[b-df-hj-np-tv-z])$', 'class intersection')
  t.equal(src('\\,\\=\\ '), '^(?:,= )$', 'identity escapes')
  t.equal(src('\\Qa.b\\E'), '^(?:a\\.b)$', '\\Q...\\E')
  t.equal(src('\\0101\\x{42}\\u0043\\cI\\e\\a'), '^(?:ABC\\x09\\x1b\\x07)$')
  t.equal(src('[ab]*+b'), '^(?:[ab]*(?![ab])b)$', 'possessive on a class: longest run, then a negative look-ahead')
  t.equal(src('(?>a|ab)c'), '^(?:(?:(?=((?:a|ab)))\\1)c)$', 'atomic group as look-ahead + back reference')
  t.equal(src('(a|ab)(c)\\2'), '^(?:((?:a|ab))(c)(?:\\2))$', 'plain back reference')
  t.equal(src('\\1(a)'), '^(?:(?!)(a))$', 'reference to a group that cannot have matched: always fails')
  t.equal(src('\\R'), '^(?:(?:\\x0d\\x0a|[\\n\\x0b\\f\\r\\x85\\u2028\\u2029]))$')
  t.equal(src('\\R?'), '^(?:(?:(?:\\x0d\\x0a|(?!\\x0d\\x0a)[\\n\\x0b\\f\\r\\x85\\u2028\\u2029])|))$', '\\R under Ques never splits \\r\\n')
  t.equal(src('(?<!\\\\),'), '^(?:(?:(?=([\\s\\S]*))(?<!(?=(?:\\\\)\\1$)[\\s\\S]{1,1}?)),)$', 'look-behind run forwards from each start')
  t.equal(src('[.\\]^-]'), '^(?:[\\-.\\]\\^])$', 'class members escaped where JavaScript needs it')
  t.match(src('(a)?b\\1'), /^\^\(\?:\(\?:\(a\(\?<=\^\(\[\\s\\S\]\*\)\)\(\?=\(\[\\s\\S\]\*\)\)\)\|\)b/, 'participation markers after the optional group')
  t.match(src('.'), /^\^\(\?:\(\?:\[\\uD800-\\uDBFF\]/, 'dot reads surrogate pairs as one code point')
})

t.test('spec §6: the 19 differences', async (t) => {
  // 1 full match
  t.ok(m('a|ab', 'ab'))
  t.ok(m('CN=a|CN=b', 'CN=b'))
  t.notOk(m('CN=a|CN=b', 'xCN=b'))
  t.notOk(m('', 'CN=instance'))
  // 2 $ and \Z
  t.ok(m('a$\n', 'a\n'))
  t.ok(m('a\\Z\n', 'a\n'))
  t.notOk(m('a\\z\n', 'a\n'))
  t.notOk(m('a$\r', 'a\r\n'), '$ never sits between \\r and \\n')
  // 3 dot
  t.notOk(m('.', '\u0085'))
  t.notOk(m('.', '\u2028'))
  t.ok(m('(?s).', '\n'))
  t.ok(m('(?d).', '\r'))
  // 4 inline flags
  t.ok(m('cn=(?i)instance', 'cn=INSTANCE'))
  t.notOk(m('cn=(?i)instance', 'CN=instance'))
  t.ok(m('(?i)^CN=instance$', 'cn=INSTANCE'))
  t.ok(m('(?i:a)a', 'Aa'))
  t.notOk(m('(?i:a)a', 'AA'))
  // 5 case-insensitive scope
  t.notOk(m('(?i)é', 'É'))
  t.ok(m('(?iu)é', 'É'))
  t.notOk(m('(?i)k', '\u212a'))
  t.ok(m('(?iu)k', '\u212a'))
  // 6 possessive and atomic
  t.notOk(m('CN=.*+e', 'CN=instance'))
  t.ok(m('CN=.*e', 'CN=instance'))
  t.notOk(m('(?>a|ab)c', 'abc'))
  // 7 anchors
  t.ok(m('\\ACN', 'CN'))
  t.notOk(m('\\ACN', 'ACN'))
  t.ok(m('\\Ga', 'a'))
  // 8 properties
  t.ok(m('\\p{L}', 'é'))
  t.ok(m('\\pL', 'é'))
  t.ok(m('\\p{IsLatin}', 'é'))
  t.notOk(m('\\p{Alpha}', 'é'), 'POSIX classes are ASCII')
  t.ok(m('\\p{IsAlphabetic}', 'é'))
  t.ok(m('\\p{javaLowerCase}', 'é'))
  t.ok(m('\\p{InGreek}', 'α'))
  t.equal(fails('\\p{Alphabetic}').code, 'syntax')
  // 9 code points
  t.ok(m('.', '😀'))
  t.ok(m('[😀]', '😀'))
  t.notOk(m('..', '😀'))
  // 10 escapes
  t.ok(m('\\,\\=\\ \\-\\#\\"', ',= -#"'))
  t.notOk(m('CN=a\\+b', 'CN=a\\+b'))
  t.ok(m('}]', '}]'))
  // 11 braces
  t.equal(fails('a{,2}').code, 'syntax')
  // 12 escapes without JS equivalent
  t.ok(m('\\Qa.b\\E', 'a.b'))
  t.notOk(m('\\Qa.b\\E', 'aab'))
  t.ok(m('\\h', '\u00a0'))
  t.ok(m('\\v', '\n'))
  t.ok(m('\\R', '\r\n'))
  t.ok(m('\\e\\a', '\u001b\u0007'))
  t.ok(m('\\x{1F600}', '😀'))
  t.ok(m('\\0101', 'A'))
  // 13 predefined classes and \b per JDK
  t.notOk(m('\\s', '\u00a0'))
  t.notOk(m('\\w', 'é'))
  t.ok(m('a\\bé', 'aé', 25), 'JDK 25: boundary between a and é')
  t.notOk(m('a\\bé', 'aé', 17), 'JDK 17: é is a word character')
  t.notOk(m('\\bé', 'é', 25))
  t.ok(m('\\bé', 'é', 17))
  t.notOk(m('a\\b\u0301', 'a\u0301', 25), 'a non-spacing mark after a letter is part of the word')
  // 14 set operations, 15 brackets
  t.ok(m('[a-c[x-z]]', 'y'))
  t.notOk(m('[a-c[x-z]]', 'y]'))
  t.notOk(m('[a-z&&[^aeiou]]', 'e'))
  t.ok(m('[]a]', ']'))
  t.notOk(m('[^]a]', ']'))
  t.equal(fails('[]').code, 'syntax')
  // 16 named groups
  t.ok(m('CN=(?<host>[a-z]+)', 'CN=instance'))
  t.equal(fails('(?<c_n>x)').code, 'syntax')
  t.equal(fails('(?P<a>x)').code, 'syntax')
  // 17 back reference to a group that did not participate
  t.notOk(m('(a)?b\\1', 'b'))
  t.ok(m('(a)?b\\1', 'aba'))
  t.notOk(m('(?:(a)|b)\\1', 'b'))
  // 18 comments mode
  t.ok(m('(?x) a b # comment', 'ab'))
  t.ok(m('(?x)a\\ b', 'a b'))
  // 19 execution cost: no time limit in either engine; nothing to assert without timing.
})

t.test('DN-shaped patterns', async (t) => {
  const dn = 'CN=a\\,b\\+c \\<x\\>\\;y\\\\z\\=w,O=Café,C=US'
  t.ok(m('CN=a\\\\,b\\\\\\+c \\\\<x\\\\>\\\\;y\\\\\\\\z\\\\=w,O=Café,C=US', dn))
  t.ok(m('CN=(?:[^,\\\\]|\\\\.)*,O=Caf\\u00e9,C=US', dn), 'escaped RFC 2253 value')
  t.notOk(m('CN=[^,]*,O=Café,C=US', dn), 'an escaped comma is still a comma')
  t.ok(m('(?i)cn=.*,o=CAFé,c=us', dn))
  t.notOk(m('(?i)cn=.*,o=CAFÉ,c=us', dn), 'É/é only fold with (?iu)')
  t.ok(m('CN=[\\p{L}\\p{Nd}.-]+(?:,[A-Z]+=[^,]+)*', 'CN=Müller-01.example,O=Org'))
  t.notOk(m('CN=.*', 'CN=line\nfeed'), '. stops at a line feed')
})

t.test('code-point sets', async (t) => {
  const a = CpSet.fromPairs([5, 10, 1, 3, 4, 4, 20, 20])
  t.same(a.ranges, [1, 10, 20, 20], 'normalised')
  t.same(a.complement().ranges, [0, 0, 11, 19, 21, 0x10ffff])
  t.same(a.intersect(CpSet.range(3, 25)).ranges, [3, 10, 20, 20])
  t.same(a.union(CpSet.of(11)).ranges, [1, 11, 20, 20])
  t.same(a.minus(CpSet.of(5)).ranges, [1, 4, 6, 10, 20, 20])
  t.ok(a.has(7))
  t.notOk(a.has(15))
  t.ok(CpSet.EMPTY.isEmpty())
  t.equal(forwardSource(CpSet.EMPTY), '[]')
})

t.test('forward / backward sources decode UTF-16 like codePointAt / codePointBefore', async (t) => {
  const unitString = fc.array(fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0xd800, max: 0xdfff }), fc.integer({ min: 0xd83c, max: 0xd83d })), { maxLength: 3 })
  const anySet = fc
    .array(fc.tuple(fc.oneof(fc.integer({ min: 0, max: 0x10ffff }), fc.integer({ min: 0xd800, max: 0xdfff }), fc.integer({ min: 0x1f000, max: 0x1f6ff })), fc.nat({ max: 3000 })), { maxLength: 4 })
    .map((rs) => CpSet.fromPairs(rs.flatMap(([lo, len]) => [lo, Math.min(0x10ffff, lo + len)])))
  fc.assert(
    fc.property(anySet, unitString, (set, units) => {
      const s = String.fromCharCode(...units)
      // codePointAt(s, 0), as Java's CharProperty reads it
      const cp = s.codePointAt(0)
      const len = cp === undefined ? 0 : cp > 0xffff ? 2 : 1
      const fwd = new RegExp(`^(?:${forwardSource(set)})`)
      const m1 = fwd.exec(s)
      const expectF = cp !== undefined && set.has(cp)
      if ((m1 !== null) !== expectF) return false
      if (m1 !== null && m1[0].length !== len) return false
      // codePointBefore(s, s.length)
      const last = s.length === 0 ? undefined : s.charCodeAt(s.length - 1)
      let before: number | undefined = last
      if (last !== undefined && last >= 0xdc00 && last <= 0xdfff && s.length >= 2) {
        const hi = s.charCodeAt(s.length - 2)
        if (hi >= 0xd800 && hi <= 0xdbff) before = 0x10000 + ((hi - 0xd800) << 10) + (last - 0xdc00)
      }
      const bwd = new RegExp(`(?<=${backwardSource(set)})$`)
      return bwd.test(s) === (before !== undefined && set.has(before))
    }),
    { numRuns: 400, seed: 7 },
  )
  t.pass('400 random sets and strings')
})
