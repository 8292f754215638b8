/**
 * Parser for java.util.regex syntax, producing the tree of ast.ts.
 *
 * It follows the recursive descent of OpenJDK's java.util.regex.Pattern (expr, sequence, atom,
 * escape, clazz, range, family, group0, closure, ...) closely, including its cursor discipline
 * (peek/read/next/skip/unread over a code-point array terminated by two zeros, with COMMENTS-mode
 * whitespace skipping inside those primitives), because which patterns Java accepts, and the
 * index a PatternSyntaxException reports, are defined by exactly that code. Character classes are
 * evaluated into code-point sets as they are parsed, with the case-insensitivity rules of the
 * individual Java predicates (single, SingleI/SingleU, BitClass, CIRange/CIRangeU, newSlice).
 */
import { CpSet } from './charset.js'
import { MAX_REPS, type Node, type ParsedPattern, type QuantKind, type QuantType } from './ast.js'
import {
  ASCII,
  DOT,
  HORIZ_WS,
  Predicates,
  UNIXDOT,
  VERT_WS,
  asciiLower,
  asciiUpper,
  hexValue,
  isAsciiAlnum,
  isAsciiAlpha,
  isAsciiDigit,
  isAsciiHex,
  isAsciiSpace,
  resolveFamily,
} from './properties.js'
import { study } from './study.js'
import { unicodeTables, type JdkFlavor, type UnicodeTables } from './unicode.js'

/** java.util.regex.Pattern flag constants. */
export const UNIX_LINES = 0x01
export const CASE_INSENSITIVE = 0x02
export const COMMENTS = 0x04
export const MULTILINE = 0x08
export const DOTALL = 0x20
export const UNICODE_CASE = 0x40
export const CANON_EQ = 0x80
export const UNICODE_CHARACTER_CLASS = 0x100

/** Thrown for PatternSyntaxException-equivalents: Java's description and getIndex(). */
export class SyntaxFailure extends Error {
  constructor(readonly description: string, readonly index: number) {
    super(description)
  }
}

/** The first construct Java accepts but we cannot translate; reported after a successful parse. */
export interface Unsupported {
  readonly construct: string
  readonly index: number
}

const MAX_CODE_POINT = 0x10ffff
const ch = (s: string): number => s.charCodeAt(0)

function isSupplementary(c: number): boolean {
  return c >= 0x10000 || (c >= 0xd800 && c <= 0xdfff)
}

/** Pattern.RemoveQEQuoting: rewrites \Q...\E into escaped literals before parsing. */
function removeQEQuoting(temp: number[], pLen: number): { temp: number[]; length: number } {
  let i = 0
  while (i < pLen - 1) {
    if (temp[i] !== ch('\\')) i += 1
    else if (temp[i + 1] !== ch('Q')) i += 2
    else break
  }
  if (i >= pLen - 1) return { temp, length: pLen }
  let j = i
  i += 2
  const out = temp.slice(0, j)
  const at = (k: number): number => temp[k] ?? 0
  let inQuote = true
  let beginQuote = true
  while (i < pLen) {
    const c = at(i++)
    if (c >= 0x80 || isAsciiAlpha(c)) {
      out[j++] = c
    } else if (isAsciiDigit(c)) {
      if (beginQuote) {
        // Java prefixes \x3 so that a preceding \x, \u or octal escape cannot absorb the digit.
        out[j++] = ch('\\')
        out[j++] = ch('x')
        out[j++] = ch('3')
      }
      out[j++] = c
    } else if (c !== ch('\\')) {
      if (inQuote) out[j++] = ch('\\')
      out[j++] = c
    } else if (inQuote) {
      if (at(i) === ch('E')) {
        i++
        inQuote = false
      } else {
        out[j++] = ch('\\')
        out[j++] = ch('\\')
      }
    } else if (at(i) === ch('Q')) {
      i++
      inQuote = true
      beginQuote = true
      continue
    } else {
      out[j++] = c
      if (i !== pLen) out[j++] = at(i++)
    }
    beginQuote = false
  }
  return { temp: out.slice(0, j), length: j }
}

type EscapeResult = number // >= 0: a code point; -1: a node/predicate was produced (see fields)

export class Parser {
  private temp: number[]
  private patternLength: number
  private cursor = 0
  private flags0: number
  private capturingGroupCount = 1
  private readonly namedGroups = new Map<string, number>()
  private readonly jdk: JdkFlavor
  private tablesCache: UnicodeTables | undefined
  private predicatesCache: Predicates | undefined
  /** "Double return" slots of Pattern: the node built by escape() and the predicate of a class escape. */
  private root: Node | undefined
  private predicate: CpSet | undefined
  unsupported: Unsupported | undefined

  constructor(pattern: string, jdk: JdkFlavor, flags = 0) {
    this.jdk = jdk
    this.flags0 = flags
    const cps = [...pattern].map((c) => c.codePointAt(0) as number)
    const q = removeQEQuoting(cps, cps.length)
    this.temp = [...q.temp, 0, 0] // "Use double zero to terminate pattern"
    this.patternLength = q.length
  }

  parse(): ParsedPattern {
    if (this.patternLength === 0) return { root: { t: 'seq', pos: 0, items: [] }, groupCount: 0 }
    const root = this.expr()
    if (this.patternLength !== this.cursor) {
      if (this.peek() === ch(')')) throw this.error("Unmatched closing ')'")
      if (this.cursor === this.patternLength + 1 && this.at(this.patternLength - 1) === ch('\\')) {
        // JDK 19+ names this case; JDK 17 falls through to the generic message (Pattern.compile()).
        throw this.error(this.jdk === 17 ? 'Unexpected internal error' : 'Unescaped trailing backslash')
      }
      throw this.error('Unexpected internal error')
    }
    return { root, groupCount: this.capturingGroupCount - 1 }
  }

  // ---------------------------------------------------------------- tables

  private get tables(): UnicodeTables {
    this.tablesCache ??= unicodeTables(this.jdk)
    return this.tablesCache
  }

  private get preds(): Predicates {
    this.predicatesCache ??= new Predicates(this.tables)
    return this.predicatesCache
  }

  private markUnsupported(construct: string, index: number): void {
    this.unsupported ??= { construct, index }
  }

  // ---------------------------------------------------------------- cursor primitives (Pattern.peek & co.)

  /** temp[] access; Java would throw ArrayIndexOutOfBoundsException past the two terminating zeros. */
  private at(i: number): number {
    const v = this.temp[i]
    if (v === undefined) throw new SyntaxFailure('java.lang.ArrayIndexOutOfBoundsException', -1)
    return v
  }

  private setAt(i: number, c: number): void {
    this.temp[i] = c
  }

  private has(f: number): boolean {
    return (this.flags0 & f) !== 0
  }

  private error(description: string): SyntaxFailure {
    return new SyntaxFailure(description, this.cursor - 1)
  }

  private peek(): number {
    let c = this.at(this.cursor)
    if (this.has(COMMENTS)) c = this.peekPastWhitespace(c)
    return c
  }

  private read(): number {
    let c = this.at(this.cursor++)
    if (this.has(COMMENTS)) c = this.parsePastWhitespace(c)
    return c
  }

  private next(): number {
    let c = this.at(++this.cursor)
    if (this.has(COMMENTS)) c = this.peekPastWhitespace(c)
    return c
  }

  private nextEscaped(): number {
    return this.at(++this.cursor)
  }

  private skip(): number {
    const i = this.cursor
    const c = this.at(i + 1)
    this.cursor = i + 2
    return c
  }

  private unread(): void {
    this.cursor--
  }

  private peekPastWhitespace(c: number): number {
    while (isAsciiSpace(c) || c === ch('#')) {
      while (isAsciiSpace(c)) c = this.at(++this.cursor)
      if (c === ch('#')) c = this.peekPastLine()
    }
    return c
  }

  private parsePastWhitespace(c: number): number {
    while (isAsciiSpace(c) || c === ch('#')) {
      while (isAsciiSpace(c)) c = this.at(this.cursor++)
      if (c === ch('#')) c = this.parsePastLine()
    }
    return c
  }

  private parsePastLine(): number {
    let c = this.at(this.cursor++)
    while (c !== 0 && !this.isLineSeparator(c)) c = this.at(this.cursor++)
    if (c === 0 && this.cursor > this.patternLength) {
      this.cursor = this.patternLength
      c = this.at(this.cursor++)
    }
    return c
  }

  private peekPastLine(): number {
    let c = this.at(++this.cursor)
    while (c !== 0 && !this.isLineSeparator(c)) c = this.at(++this.cursor)
    if (c === 0 && this.cursor > this.patternLength) {
      this.cursor = this.patternLength
      c = this.at(this.cursor)
    }
    return c
  }

  private isLineSeparator(c: number): boolean {
    if (this.has(UNIX_LINES)) return c === 0x0a
    return c === 0x0a || c === 0x0d || (c | 1) === 0x2029 || c === 0x85
  }

  private accept(c: number, description: string): void {
    let test = this.at(this.cursor++)
    if (this.has(COMMENTS)) test = this.parsePastWhitespace(test)
    if (c !== test) throw this.error(description)
  }

  // ---------------------------------------------------------------- expr / sequence / atom

  private expr(): Node {
    const pos = this.cursor
    const alts: Node[] = []
    for (;;) {
      alts.push(this.sequence())
      if (this.peek() !== ch('|')) break
      this.next()
    }
    return alts.length === 1 ? (alts[0] as Node) : { t: 'alt', pos, alts }
  }

  private sequence(): Node {
    const pos = this.cursor
    const items: Node[] = []
    for (;;) {
      const c = this.peek()
      const at = this.cursor
      let node: Node
      if (c === ch('(')) {
        const g = this.group0()
        if (g !== null) items.push(g)
        continue
      } else if (c === ch('[')) {
        node = this.classNode(this.clazz(true), at)
      } else if (c === ch('\\')) {
        const e = this.nextEscaped()
        if (e === ch('p') || e === ch('P')) {
          node = this.propertyAtom(e === ch('P'), at)
        } else {
          this.unread()
          node = this.atom()
        }
      } else if (c === ch('^')) {
        this.next()
        node = this.has(MULTILINE) ? { t: 'caret', pos: at, unixLines: this.has(UNIX_LINES) } : { t: 'begin', pos: at }
      } else if (c === ch('$')) {
        this.next()
        node = { t: 'dollar', pos: at, multiline: this.has(MULTILINE), unixLines: this.has(UNIX_LINES) }
      } else if (c === ch('.')) {
        this.next()
        node = { t: 'set', pos: at, set: this.has(DOTALL) ? CpSet.ALL : this.has(UNIX_LINES) ? UNIXDOT : DOT }
      } else if (c === ch('|') || c === ch(')')) {
        break
      } else if (c === ch('?') || c === ch('*') || c === ch('+')) {
        this.next()
        throw this.error(`Dangling meta character '${String.fromCharCode(c)}'`)
      } else if (c === 0 && this.cursor >= this.patternLength) {
        break
      } else {
        node = this.atom()
      }
      items.push(this.closure(node))
    }
    return items.length === 1 ? (items[0] as Node) : { t: 'seq', pos, items }
  }

  /** \p / \P outside a class; under CANON_EQ Java wraps it in NFCCharProperty (not translated). */
  private propertyAtom(complement: boolean, at: number): Node {
    const c = this.next()
    let oneLetter = true
    if (c !== ch('{')) this.unread()
    else oneLetter = false
    return this.classNode(this.family(oneLetter, complement), at)
  }

  private classNode(set: CpSet, at: number): Node {
    if (this.has(CANON_EQ)) {
      this.markUnsupported('(?c) canonical equivalence', at)
      return { t: 'unsupported', pos: at, construct: '(?c) canonical equivalence', study: 'grapheme' }
    }
    return { t: 'set', pos: at, set }
  }

  /** Pattern.atom(): a run of literal characters (a Slice) or a single escape node. */
  private atom(): Node {
    let first = 0
    let prev = -1
    const start = this.cursor
    const buffer: number[] = []
    const positions: number[] = []
    let c = this.peek()
    for (;;) {
      if (c === ch('*') || c === ch('+') || c === ch('?') || c === ch('{')) {
        if (first > 1) {
          this.cursor = prev // the quantifier applies to the last character only
          first--
          buffer.pop()
          positions.pop()
        }
        break
      } else if (c === ch('$') || c === ch('.') || c === ch('^') || c === ch('(') || c === ch('[') || c === ch('|') || c === ch(')')) {
        break
      } else if (c === ch('\\')) {
        c = this.nextEscaped()
        if (c === ch('p') || c === ch('P')) {
          if (first > 0) {
            this.unread()
            break
          }
          return this.propertyAtom(c === ch('P'), start)
        }
        this.unread()
        prev = this.cursor
        const e = this.escape(false, first === 0, false)
        if (e >= 0) {
          buffer[first] = e
          positions[first] = prev
          first++
          c = this.peek()
          continue
        } else if (first === 0) {
          return this.root as Node
        }
        this.cursor = prev // unwind the meta escape; it is parsed again on its own
        break
      } else if (c === 0 && this.cursor >= this.patternLength) {
        break
      } else {
        prev = this.cursor
        buffer[first] = c
        positions[first] = prev
        first++
        c = this.next()
        continue
      }
    }
    buffer.length = first
    if (first === 1) return { t: 'set', pos: positions[0] as number, set: this.single(buffer[0] as number) }
    const items: Node[] = buffer.map((cp, i) => ({ t: 'set', pos: positions[i] as number, set: this.sliceChar(cp) }))
    return items.length === 1 ? (items[0] as Node) : { t: 'seq', pos: start, items }
  }

  // ---------------------------------------------------------------- escapes

  /** Pattern.ref(): greedy multi-digit back reference, limited by the groups opened so far. */
  private ref(refNum: number, at: number): Node {
    for (;;) {
      const c = this.peek()
      if (!isAsciiDigit(c)) break
      const n = refNum * 10 + (c - 0x30)
      if (this.capturingGroupCount - 1 < n) break
      refNum = n
      this.read()
    }
    return { t: 'backref', pos: at, group: refNum, ci: this.has(CASE_INSENSITIVE), unicodeCase: this.has(UNICODE_CASE) }
  }

  /** Pattern.escape(): a code point, or -1 with this.root (create) / this.predicate (classes) set. */
  private escape(inclass: boolean, create: boolean, isrange: boolean): EscapeResult {
    const at = this.cursor
    const c = this.skip()
    const s = String.fromCharCode(c)
    const U = this.has(UNICODE_CHARACTER_CLASS)
    const classEscape = (set: CpSet): EscapeResult => {
      if (create) {
        this.predicate = set
        if (!inclass) this.root = { t: 'set', pos: at, set }
      }
      return -1
    }
    const nodeEscape = (make: () => Node): EscapeResult => {
      if (create) this.root = make()
      return -1
    }
    if (c >= 0x80 || !(isAsciiAlnum(c))) return c
    switch (s) {
      case '0':
        return this.octal()
      case '1': case '2': case '3': case '4': case '5': case '6': case '7': case '8': case '9':
        if (inclass) break
        return nodeEscape(() => this.ref(c - 0x30, at))
      case 'A':
        if (inclass) break
        return nodeEscape(() => ({ t: 'begin', pos: at }))
      case 'B':
        if (inclass) break
        return nodeEscape(() => ({ t: 'bound', pos: at, negate: true, unicodeWord: U }))
      case 'D':
        return classEscape((U ? this.preds.digit() : ASCII.DIGIT).complement())
      case 'G':
        if (inclass) break
        return nodeEscape(() => ({ t: 'lastMatch', pos: at }))
      case 'H':
        return classEscape(HORIZ_WS.complement())
      case 'N':
        return this.namedChar(at)
      case 'R':
        if (inclass) break
        return nodeEscape(() => ({ t: 'lineEnding', pos: at }))
      case 'S':
        return classEscape((U ? this.preds.whiteSpace() : ASCII.SPACE).complement())
      case 'V':
        return classEscape(VERT_WS.complement())
      case 'W':
        return classEscape((U ? this.preds.word() : ASCII.WORD).complement())
      case 'X':
        if (inclass) break
        return nodeEscape(() => {
          this.markUnsupported('\\X grapheme cluster', at)
          return { t: 'unsupported', pos: at, construct: '\\X grapheme cluster', study: 'grapheme' }
        })
      case 'Z':
        if (inclass) break
        return nodeEscape(() => ({ t: 'dollar', pos: at, multiline: false, unixLines: this.has(UNIX_LINES) }))
      case 'a':
        return 0x07
      case 'b':
        if (inclass) break
        if (create) {
          if (this.peek() === ch('{')) {
            if (this.skip() === ch('g')) {
              if (this.read() === ch('}')) {
                this.markUnsupported('\\b{g} grapheme cluster boundary', at)
                this.root = { t: 'unsupported', pos: at, construct: '\\b{g} grapheme cluster boundary', study: 'zero' }
                return -1
              }
              break // missing trailing }
            }
            this.unread()
            this.unread()
          }
          this.root = { t: 'bound', pos: at, negate: false, unicodeWord: U }
        }
        return -1
      case 'c':
        return this.control()
      case 'd':
        return classEscape(U ? this.preds.digit() : ASCII.DIGIT)
      case 'e':
        return 0x1b
      case 'f':
        return 0x0c
      case 'h':
        return classEscape(HORIZ_WS)
      case 'k': {
        if (inclass) break
        if (this.read() !== ch('<')) throw this.error("\\k is not followed by '<' for named capturing group")
        const name = this.groupname(this.read())
        const number = this.namedGroups.get(name)
        if (number === undefined) throw this.error(`named capturing group <${name}> does not exist`)
        return nodeEscape(() => ({ t: 'backref', pos: at, group: number, ci: this.has(CASE_INSENSITIVE), unicodeCase: this.has(UNICODE_CASE) }))
      }
      case 'n':
        return 0x0a
      case 'r':
        return 0x0d
      case 's':
        return classEscape(U ? this.preds.whiteSpace() : ASCII.SPACE)
      case 't':
        return 0x09
      case 'u':
        return this.unicodeEscape()
      case 'v':
        // JDK 8+: \v is vertical whitespace, but a range end point still reads it as U+000B.
        if (isrange) return 0x0b
        return classEscape(VERT_WS)
      case 'w':
        return classEscape(U ? this.preds.word() : ASCII.WORD)
      case 'x':
        return this.hexEscape()
      case 'z':
        if (inclass) break
        return nodeEscape(() => ({ t: 'end', pos: at }))
      default:
        break // C E F I J K L M O P Q T U Y g i j l m o p q y and the class-only breaks above
    }
    throw this.error('Illegal/unsupported escape sequence')
  }

  /** Pattern.c(). */
  private control(): number {
    if (this.cursor < this.patternLength) return this.read() ^ 64
    throw this.error('Illegal control escape sequence')
  }

  /** Pattern.o(): \0n, \0nn, \0mnn (m <= 3). */
  private octal(): number {
    const isOct = (x: number): boolean => x >= 0x30 && x <= 0x37
    const n = this.read()
    if (isOct(n)) {
      const m = this.read()
      if (isOct(m)) {
        const o = this.read()
        if (isOct(o) && n <= 0x33) return (n - 0x30) * 64 + (m - 0x30) * 8 + (o - 0x30)
        this.unread()
        return (n - 0x30) * 8 + (m - 0x30)
      }
      this.unread()
      return n - 0x30
    }
    throw this.error('Illegal octal escape sequence')
  }

  /** Pattern.x(): \xhh and \x{h...h}. */
  private hexEscape(): number {
    let n = this.read()
    if (isAsciiHex(n)) {
      const m = this.read()
      if (isAsciiHex(m)) return hexValue(n) * 16 + hexValue(m)
    } else if (n === ch('{') && isAsciiHex(this.peek())) {
      let v = 0
      while (isAsciiHex((n = this.read()))) {
        v = v * 16 + hexValue(n)
        if (v > MAX_CODE_POINT) throw this.error('Hexadecimal codepoint is too big')
      }
      if (n !== ch('}')) throw this.error('Unclosed hexadecimal escape sequence')
      return v
    }
    throw this.error('Illegal hexadecimal escape sequence')
  }

  private uxxxx(): number {
    let n = 0
    for (let i = 0; i < 4; i++) {
      const c = this.read()
      if (!isAsciiHex(c)) throw this.error('Illegal Unicode escape sequence')
      n = n * 16 + hexValue(c)
    }
    return n
  }

  /** Pattern.u(): \uhhhh, pairing an escaped high surrogate with a following escaped low one. */
  private unicodeEscape(): number {
    const n = this.uxxxx()
    if (n >= 0xd800 && n <= 0xdbff) {
      const cur = this.cursor
      if (this.read() === ch('\\') && this.read() === ch('u')) {
        const n2 = this.uxxxx()
        if (n2 >= 0xdc00 && n2 <= 0xdfff) return 0x10000 + ((n - 0xd800) << 10) + (n2 - 0xdc00)
      }
      this.cursor = cur
    }
    return n
  }

  /**
   * Pattern.N(): \N{name}. Character.codePointOf needs the Unicode name list, which we do not
   * carry: a well-formed \N{...} is reported as unsupported (Java may still reject an unknown name).
   */
  private namedChar(at: number): number {
    if (this.read() === ch('{')) {
      while (this.read() !== ch('}')) {
        if (this.cursor >= this.patternLength) throw this.error('Unclosed character name escape sequence')
      }
      this.markUnsupported('\\N{name} character name', at)
      return 0xfffd
    }
    throw this.error('Illegal character name escape sequence')
  }

  // ---------------------------------------------------------------- classes

  /** Pattern.clazz(): a bracket class with Java's union / intersection precedence rules. */
  private clazz(consume: boolean): CpSet {
    let prev: CpSet | null = null
    let curr: CpSet | null = null
    const bits = new Set<number>()
    let isNeg = false
    let hasBits = false
    const bitSet = (): CpSet => CpSet.of(...bits)
    let c = this.next()
    if (c === ch('^') && this.at(this.cursor - 1) === ch('[')) {
      c = this.next()
      isNeg = true
    }
    for (;;) {
      if (c === ch('[')) {
        curr = this.clazz(true)
        prev = prev === null ? curr : prev.union(curr)
        c = this.peek()
        continue
      }
      if (c === ch('&')) {
        c = this.next()
        if (c === ch('&')) {
          c = this.next()
          let right: CpSet | null = null
          while (c !== ch(']') && c !== ch('&')) {
            if (c === ch('[')) {
              const n = this.clazz(true)
              right = right === null ? n : right.union(n)
            } else {
              this.unread()
              const n = this.clazz(false)
              right = right === null ? n : right.union(n)
            }
            c = this.peek()
          }
          if (hasBits) {
            // BitClass members bind tighter than &&. (Java keeps a live reference to the BitClass;
            // evaluating it eagerly is equivalent because every later use unions it again.)
            if (prev === null) prev = curr = bitSet()
            else prev = prev.union(bitSet())
            hasBits = false
          }
          if (right !== null) curr = right
          if (prev === null) {
            if (right === null) throw this.error('Bad class syntax')
            prev = right
          } else {
            if (curr === null) {
              if (this.jdk === 17) {
                // JDK 17 builds prev.and(null) and throws NullPointerException when matching.
                this.markUnsupported('JDK 17 class intersection with a missing operand', this.cursor - 1)
                prev = CpSet.EMPTY
              } else {
                throw this.error('Bad intersection syntax')
              }
            } else {
              prev = prev.intersect(curr)
            }
          }
          continue
        }
        this.unread() // a literal &
      } else if (c === 0 && this.cursor >= this.patternLength) {
        throw this.error('Unclosed character class')
      } else if (c === ch(']')) {
        if (prev !== null || hasBits) {
          if (consume) this.next()
          if (prev === null) prev = bitSet()
          else if (hasBits) prev = prev.union(bitSet())
          return isNeg ? prev.complement() : prev
        }
      }
      curr = this.range(bits)
      if (curr === null) hasBits = true
      else prev = prev === null ? curr : prev.union(curr)
      c = this.peek()
    }
  }

  /** Pattern.range(): one class member; null when it went into the BitClass. */
  private range(bits: Set<number>): CpSet | null {
    let c = this.peek()
    if (c === ch('\\')) {
      c = this.nextEscaped()
      if (c === ch('p') || c === ch('P')) {
        const complement = c === ch('P')
        let oneLetter = true
        c = this.next()
        if (c !== ch('{')) this.unread()
        else oneLetter = false
        return this.family(oneLetter, complement)
      }
      const isrange = this.at(this.cursor + 1) === ch('-')
      this.unread()
      c = this.escape(true, true, isrange)
      if (c === -1) return this.predicate as CpSet
    } else {
      this.next()
    }
    if (c >= 0) {
      if (this.peek() === ch('-')) {
        const endRange = this.at(this.cursor + 1)
        if (endRange === ch('[')) return this.bitsOrSingle(bits, c)
        if (endRange !== ch(']')) {
          this.next()
          let m = this.peek()
          if (m === ch('\\')) m = this.escape(true, false, true)
          else this.next()
          if (m < c) throw this.error('Illegal character range')
          if (this.has(CASE_INSENSITIVE)) return this.has(UNICODE_CASE) ? this.ciRangeU(c, m) : this.ciRange(c, m)
          return CpSet.range(c, m)
        }
      }
      return this.bitsOrSingle(bits, c)
    }
    throw this.error(`Unexpected character '${String.fromCharCode(c & 0xffff)}'`)
  }

  /** Pattern.bitsOrSingle(): Latin-1 members go to the BitClass unless Unicode case folding needs single(). */
  private bitsOrSingle(bits: Set<number>, c: number): CpSet | null {
    const special = [0xff, 0xb5, 0x49, 0x69, 0x53, 0x73, 0x4b, 0x6b, 0xc5, 0xe5]
    if (c < 256 && !(this.has(CASE_INSENSITIVE) && this.has(UNICODE_CASE) && special.includes(c))) {
      // BitClass.add
      if (this.has(CASE_INSENSITIVE)) {
        if (c < 0x80) {
          bits.add(asciiUpper(c))
          bits.add(asciiLower(c))
        } else if (this.has(UNICODE_CASE)) {
          bits.add(this.tables.toLowerCase(c))
          bits.add(this.tables.toUpperCase(c))
        }
      }
      bits.add(c)
      return null
    }
    return this.single(c)
  }

  /** Pattern.single(): Single / SingleS, SingleI (ASCII case folding) or SingleU (Unicode). */
  private single(c: number): CpSet {
    if (this.has(CASE_INSENSITIVE)) {
      if (this.has(UNICODE_CASE)) {
        const upper = this.tables.toUpperCase(c)
        const lower = this.tables.toLowerCase(upper)
        if (upper !== lower) return this.singleU(lower)
      } else if (c < 0x80) {
        const lower = asciiLower(c)
        const upper = asciiUpper(c)
        if (lower !== upper) return CpSet.of(lower, upper)
      }
    }
    return CpSet.of(c)
  }

  /** Pattern.SingleU(lower): ch == lower || toLowerCase(toUpperCase(ch)) == lower. */
  private singleU(lower: number): CpSet {
    const t = this.tables
    return CpSet.of(lower).union(CpSet.filter(t.caseMapped, (x) => t.toLowerCase(t.toUpperCase(x)) === lower))
  }

  /** One character of a Slice (Pattern.newSlice: Slice, SliceI/SliceIS, SliceU/SliceUS). */
  private sliceChar(c: number): CpSet {
    if (!this.has(CASE_INSENSITIVE)) return CpSet.of(c)
    if (this.has(UNICODE_CASE)) {
      const t = this.tables
      return this.singleU(t.toLowerCase(t.toUpperCase(c)))
    }
    const lower = asciiLower(c)
    // SliceI: buf == c || buf == ASCII.toLower(c), with buf = ASCII.toLower(pattern char)
    return CpSet.of(lower).union(lower >= 0x61 && lower <= 0x7a ? CpSet.of(lower - 0x20) : CpSet.EMPTY)
  }

  /** Pattern.CIRange (ASCII case folding). */
  private ciRange(lo: number, hi: number): CpSet {
    const inRange = (x: number): boolean => lo <= x && x <= hi
    return CpSet.range(lo, hi).union(CpSet.filter(CpSet.range(0, 0x7f), (x) => inRange(asciiUpper(x)) || inRange(asciiLower(x))))
  }

  /** Pattern.CIRangeU (Unicode case folding). */
  private ciRangeU(lo: number, hi: number): CpSet {
    const t = this.tables
    const inRange = (x: number): boolean => lo <= x && x <= hi
    return CpSet.range(lo, hi).union(
      CpSet.filter(t.caseMapped, (x) => {
        const up = t.toUpperCase(x)
        return inRange(up) || inRange(t.toLowerCase(up))
      }),
    )
  }

  /** Pattern.family(): \pL, \p{Name}, \p{name=value}; complemented for \P. */
  private family(singleLetter: boolean, complement: boolean): CpSet {
    this.next()
    let name: string
    if (singleLetter) {
      name = String.fromCodePoint(this.at(this.cursor))
      this.read()
    } else {
      const i = this.cursor
      this.setAt(this.patternLength, ch('}')) // mark('}')
      try {
        while (this.read() !== ch('}')) {
          /* scan */
        }
      } finally {
        this.setAt(this.patternLength, 0) // mark('\000')
      }
      const j = this.cursor
      if (j > this.patternLength) throw this.error('Unclosed character family')
      if (i + 1 >= j) throw this.error('Empty character family')
      name = String.fromCodePoint(...this.temp.slice(i, j - 1))
    }
    const res = resolveFamily(this.preds, name, this.has(CASE_INSENSITIVE), this.has(UNICODE_CHARACTER_CLASS))
    if (!res.ok) throw this.error(res.message)
    return complement ? res.set.complement() : res.set
  }

  // ---------------------------------------------------------------- groups

  /** Pattern.groupname(). */
  private groupname(c: number): string {
    if (!isAsciiAlpha(c)) throw this.error('capturing group name does not start with a Latin letter')
    let name = ''
    do {
      name += String.fromCharCode(c)
    } while (isAsciiAlnum((c = this.read())))
    if (c !== ch('>')) throw this.error("named capturing group is missing trailing '>'")
    return name
  }

  /** Pattern.group0(): groups, look-arounds, inline flags, and the quantifier that follows. */
  private group0(): Node | null {
    const pos = this.cursor
    const save = this.flags0
    let head: Node
    let capture = 0
    let c = this.next()
    if (c === ch('?')) {
      c = this.skip()
      if (c === ch(':')) {
        head = { t: 'group', pos, end: -1, capture: 0, body: this.expr() }
      } else if (c === ch('=') || c === ch('!')) {
        head = this.look(pos, false, c === ch('!'), this.expr(), 0, 0, false)
      } else if (c === ch('>')) {
        head = { t: 'atomic', pos, body: this.expr() }
      } else if (c === ch('<')) {
        c = this.read()
        if (c !== ch('=') && c !== ch('!')) {
          const name = this.groupname(c)
          if (this.namedGroups.has(name)) throw this.error(`Named capturing group <${name}> is already defined`)
          capture = this.capturingGroupCount++
          this.namedGroups.set(name, capture)
          head = { t: 'group', pos, end: -1, capture, body: this.expr() }
        } else {
          const start = this.cursor
          const body = this.expr()
          const info = study(body)
          if (!info.maxValid) throw this.error('Look-behind group does not have an obvious maximum length')
          const supplementary = this.temp.slice(start, this.patternLength).some(isSupplementary)
          head = this.look(pos, true, c === ch('!'), body, info.minLength, info.maxLength, supplementary)
        }
      } else if (c === ch('$') || c === ch('@')) {
        throw this.error('Unknown group type')
      } else {
        this.unread()
        this.addFlag()
        c = this.read()
        if (c === ch(')')) return null // inline modifier only: flags stay changed until the enclosing group ends
        if (c !== ch(':')) throw this.error('Unknown inline modifier')
        head = { t: 'group', pos, end: -1, capture: 0, body: this.expr() }
      }
    } else {
      capture = this.capturingGroupCount++
      head = { t: 'group', pos, end: -1, capture, body: this.expr() }
    }
    this.accept(ch(')'), 'Unclosed group')
    if (head.t === 'group') head = { ...head, end: this.cursor }
    this.flags0 = save
    return this.groupClosure(head)
  }

  private look(pos: number, behind: boolean, negate: boolean, body: Node, rmin: number, rmax: number, supplementary: boolean): Node {
    return { t: 'look', pos, behind, negate, body, rmin, rmax, supplementary }
  }

  /** The quantifier part of group0: Branch, GroupCurly, Loop, or a Ques/Curly over an assertion. */
  private groupClosure(head: Node): Node {
    const q = this.parseQuantifier()
    if (q === null) return head
    const { min, max, type, ques, open } = q
    const isGroup = head.t === 'group'
    if (!isGroup) {
      // Look-arounds and atomic groups are "zero length assertions" to group0: the quantifier
      // becomes a Ques / Curly node over them.
      return { t: 'quant', pos: head.pos, kind: ques ? 'ques' : 'curly', type, min, max, open, atom: head }
    }
    let kind: QuantKind
    if (ques) kind = type === 'possessive' ? 'ques' : 'branch'
    else if (type === 'possessive') kind = 'curly'
    else kind = study(head).deterministic ? 'groupCurly' : 'loop'
    return { t: 'quant', pos: head.pos, kind, type, min, max, open, atom: head }
  }

  /** Pattern.addFlag() / subFlag(). */
  private addFlag(): void {
    let c = this.peek()
    for (;;) {
      const f = this.flagBits(c)
      if (f !== 0) {
        this.flags0 |= f
      } else if (c === ch('-')) {
        this.next()
        this.subFlag()
        return
      } else {
        return
      }
      c = this.next()
    }
  }

  private subFlag(): void {
    let c = this.peek()
    for (;;) {
      const f = this.flagBits(c)
      if (f === 0) return
      this.flags0 &= ~f
      c = this.next()
    }
  }

  private flagBits(c: number): number {
    switch (String.fromCharCode(c)) {
      case 'i': return CASE_INSENSITIVE
      case 'm': return MULTILINE
      case 's': return DOTALL
      case 'd': return UNIX_LINES
      case 'u': return UNICODE_CASE
      case 'c': return CANON_EQ
      case 'x': return COMMENTS
      case 'U': return UNICODE_CHARACTER_CLASS | UNICODE_CASE
      default: return 0
    }
  }

  // ---------------------------------------------------------------- quantifiers

  /** Pattern.qtype(). */
  private qtype(): QuantType {
    const c = this.next()
    if (c === ch('?')) {
      this.next()
      return 'lazy'
    }
    if (c === ch('+')) {
      this.next()
      return 'possessive'
    }
    return 'greedy'
  }

  /** Pattern.closure()'s syntax: null when no quantifier follows. `ques` marks a Ques node. */
  private parseQuantifier(): { min: number; max: number; type: QuantType; ques: boolean; open: boolean } | null {
    let c = this.peek()
    if (c === ch('?')) return { min: 0, max: 1, type: this.qtype(), ques: true, open: false }
    if (c === ch('*')) return { min: 0, max: MAX_REPS, type: this.qtype(), ques: false, open: true }
    if (c === ch('+')) return { min: 1, max: MAX_REPS, type: this.qtype(), ques: false, open: true }
    if (c !== ch('{')) return null
    c = this.skip()
    if (!isAsciiDigit(c)) throw this.error('Illegal repetition')
    let cmin = 0
    let cmax: number
    const overflow = (): SyntaxFailure => this.error('Illegal repetition range')
    do {
      cmin = cmin * 10 + (c - 0x30)
      if (cmin > MAX_REPS) throw overflow()
    } while (isAsciiDigit((c = this.read())))
    if (c === ch(',')) {
      c = this.read()
      if (c === ch('}')) {
        this.unread()
        return { min: cmin, max: MAX_REPS, type: this.qtype(), ques: false, open: true }
      }
      cmax = 0
      while (isAsciiDigit(c)) {
        cmax = cmax * 10 + (c - 0x30)
        if (cmax > MAX_REPS) throw overflow()
        c = this.read()
      }
    } else {
      cmax = cmin
    }
    if (c !== ch('}')) throw this.error('Unclosed counted closure')
    if (cmax < cmin) throw this.error('Illegal repetition range')
    this.unread()
    return { min: cmin, max: cmax, type: this.qtype(), ques: cmin === 0 && cmax === 1, open: false }
  }

  /** Pattern.closure() for non-group atoms: Ques, Curly or CharPropertyGreedy. */
  private closure(prev: Node): Node {
    const q = this.parseQuantifier()
    if (q === null) return prev
    return { t: 'quant', pos: prev.pos, kind: q.ques ? 'ques' : 'curly', type: q.type, min: q.min, max: q.max, open: q.open, atom: prev }
  }
}
