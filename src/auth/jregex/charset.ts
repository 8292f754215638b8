/**
 * Immutable sets of code points (U+0000..U+10FFFF, lone surrogates included) and their rendering as
 * JavaScript RegExp source that reproduces Java's way of reading one code point.
 *
 * Java matches a character class at index i with Character.codePointAt(seq, i) (Pattern.CharProperty):
 * a high surrogate followed by a low surrogate is one supplementary code point, any other surrogate
 * is matched as itself. The generated RegExp runs WITHOUT the `u` flag (UTF-16 code units, like Java's
 * char indices), so every set is expanded into code-unit sequences that decode exactly that way; see
 * forwardSource. backwardSource does the same for Character.codePointBefore (Pattern.Bound).
 */
export const MAX_CODE_POINT = 0x10ffff

export class CpSet {
  /** Sorted, disjoint, non-adjacent inclusive ranges, flattened: [start0, end0, start1, end1, ...]. */
  readonly ranges: readonly number[]

  private constructor(ranges: readonly number[]) {
    this.ranges = ranges
  }

  static readonly EMPTY = new CpSet([])
  static readonly ALL = new CpSet([0, MAX_CODE_POINT])

  static of(...cps: number[]): CpSet {
    return CpSet.fromPairs(cps.flatMap((c) => [c, c]))
  }

  static range(lo: number, hi: number): CpSet {
    return lo > hi ? CpSet.EMPTY : new CpSet([lo, hi])
  }

  /** Builds a set from unsorted, possibly overlapping [start, end] pairs (flattened). */
  static fromPairs(pairs: readonly number[]): CpSet {
    const items: [number, number][] = []
    for (let i = 0; i + 1 < pairs.length; i += 2) {
      const a = pairs[i] as number
      const b = pairs[i + 1] as number
      if (a <= b) items.push([a, b])
    }
    items.sort((x, y) => x[0] - y[0])
    const out: number[] = []
    for (const [a, b] of items) {
      const last = out.length - 1
      if (last > 0 && a <= (out[last] as number) + 1) {
        if (b > (out[last] as number)) out[last] = b
      } else {
        out.push(a, b)
      }
    }
    return new CpSet(out)
  }

  /** Set of the code points cp with pred(cp), scanning only the given candidate ranges. */
  static filter(candidates: CpSet, pred: (cp: number) => boolean): CpSet {
    const out: number[] = []
    candidates.forEachRange((lo, hi) => {
      for (let cp = lo; cp <= hi; cp++) if (pred(cp)) out.push(cp, cp)
    })
    return CpSet.fromPairs(out)
  }

  isEmpty(): boolean {
    return this.ranges.length === 0
  }

  has(cp: number): boolean {
    let lo = 0
    let hi = this.ranges.length / 2 - 1
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      if (cp < (this.ranges[2 * mid] as number)) hi = mid - 1
      else if (cp > (this.ranges[2 * mid + 1] as number)) lo = mid + 1
      else return true
    }
    return false
  }

  forEachRange(f: (lo: number, hi: number) => void): void {
    for (let i = 0; i < this.ranges.length; i += 2) f(this.ranges[i] as number, this.ranges[i + 1] as number)
  }

  union(other: CpSet): CpSet {
    if (other.isEmpty()) return this
    if (this.isEmpty()) return other
    return CpSet.fromPairs([...this.ranges, ...other.ranges])
  }

  complement(): CpSet {
    const out: number[] = []
    let next = 0
    this.forEachRange((lo, hi) => {
      if (lo > next) out.push(next, lo - 1)
      next = hi + 1
    })
    if (next <= MAX_CODE_POINT) out.push(next, MAX_CODE_POINT)
    return new CpSet(out)
  }

  intersect(other: CpSet): CpSet {
    const out: number[] = []
    const a = this.ranges
    const b = other.ranges
    let i = 0
    let j = 0
    while (i < a.length && j < b.length) {
      const lo = Math.max(a[i] as number, b[j] as number)
      const hi = Math.min(a[i + 1] as number, b[j + 1] as number)
      if (lo <= hi) out.push(lo, hi)
      if ((a[i + 1] as number) < (b[j + 1] as number)) i += 2
      else j += 2
    }
    return new CpSet(out)
  }

  minus(other: CpSet): CpSet {
    return this.intersect(other.complement())
  }

  equals(other: CpSet): boolean {
    return this.ranges.length === other.ranges.length && this.ranges.every((v, i) => v === other.ranges[i])
  }
}

const HIGH = CpSet.range(0xd800, 0xdbff)
const LOW = CpSet.range(0xdc00, 0xdfff)
const SUPPLEMENTARY = CpSet.range(0x10000, MAX_CODE_POINT)
const BMP_NON_HIGH = CpSet.range(0, 0xd7ff).union(CpSet.range(0xdc00, 0xffff))
const BMP_NON_SURROGATE = CpSet.range(0, 0xd7ff).union(CpSet.range(0xe000, 0xffff))
const HIGH_CLASS = '[\\uD800-\\uDBFF]'
const LOW_CLASS = '[\\uDC00-\\uDFFF]'

/**
 * RegExp source (no `u` flag) matching one code point of `set` read forwards the way
 * Character.codePointAt does: a surrogate pair as a whole, an unpaired high surrogate only when no
 * low surrogate follows, a low surrogate alone (codePointAt never pairs it with what precedes it).
 * The alternatives are mutually exclusive, so the result never backtracks into half a pair.
 */
export function forwardSource(set: CpSet): string {
  const parts: string[] = []
  const supp = set.intersect(SUPPLEMENTARY)
  const highs = set.intersect(HIGH)
  if (supp.equals(SUPPLEMENTARY) && highs.equals(HIGH)) {
    parts.push(`${HIGH_CLASS}(?:${LOW_CLASS}|(?!${LOW_CLASS}))`)
  } else {
    parts.push(...pairAlternatives(supp))
    if (!highs.isEmpty()) parts.push(`${classSource(highs)}(?!${LOW_CLASS})`)
  }
  const single = set.intersect(BMP_NON_HIGH)
  if (!single.isEmpty()) parts.push(classSource(single))
  return alternation(parts)
}

/**
 * RegExp source matching one code point of `set` that ENDS at the current position, read the way
 * Character.codePointBefore does (used inside look-behinds): a pair, an unpaired low surrogate only
 * when no high surrogate precedes it, a high surrogate alone.
 */
export function backwardSource(set: CpSet): string {
  const parts: string[] = [...pairAlternatives(set.intersect(SUPPLEMENTARY))]
  const highs = set.intersect(HIGH)
  if (!highs.isEmpty()) parts.push(classSource(highs))
  const lows = set.intersect(LOW)
  if (!lows.isEmpty()) parts.push(`(?<!${HIGH_CLASS})${classSource(lows)}`)
  const bmp = set.intersect(BMP_NON_SURROGATE)
  if (!bmp.isEmpty()) parts.push(classSource(bmp))
  return alternation(parts)
}

function alternation(parts: string[]): string {
  if (parts.length === 0) return '[]'
  if (parts.length === 1) return parts[0] as string
  return `(?:${parts.join('|')})`
}

/** Surrogate-pair alternatives for supplementary code points, grouped by identical low ranges. */
function pairAlternatives(supp: CpSet): string[] {
  const byHigh = new Map<number, number[]>()
  const add = (hi: number, lo1: number, lo2: number): void => {
    const list = byHigh.get(hi) ?? []
    list.push(lo1, lo2)
    byHigh.set(hi, list)
  }
  supp.forEachRange((a, b) => {
    const ha = 0xd800 + ((a - 0x10000) >> 10)
    const la = 0xdc00 + ((a - 0x10000) & 0x3ff)
    const hb = 0xd800 + ((b - 0x10000) >> 10)
    const lb = 0xdc00 + ((b - 0x10000) & 0x3ff)
    if (ha === hb) {
      add(ha, la, lb)
      return
    }
    add(ha, la, 0xdfff)
    for (let h = ha + 1; h < hb; h++) add(h, 0xdc00, 0xdfff)
    add(hb, 0xdc00, lb)
  })
  const highs = [...byHigh.keys()].sort((x, y) => x - y)
  const out: string[] = []
  let i = 0
  while (i < highs.length) {
    const first = highs[i] as number
    const lows = CpSet.fromPairs(byHigh.get(first) ?? [])
    let j = i + 1
    while (j < highs.length && highs[j] === first + (j - i) && CpSet.fromPairs(byHigh.get(highs[j] as number) ?? []).equals(lows)) j++
    const last = first + (j - i) - 1
    out.push(`${classSource(CpSet.range(first, last))}${classSource(lows)}`)
    i = j
  }
  return out
}

/** A bracket class (or a single escaped unit) for a set of BMP code units. */
export function classSource(set: CpSet): string {
  const r = set.ranges
  if (r.length === 2 && r[0] === r[1]) return literalUnit(r[0] as number)
  let body = ''
  set.forEachRange((lo, hi) => {
    body += classUnit(lo)
    if (hi > lo) body += (hi > lo + 1 ? '-' : '') + classUnit(hi)
  })
  return `[${body}]`
}

const SAFE_LITERAL = /^[A-Za-z0-9 !"#%&',\-:;<=>@_`~]$/

/** One UTF-16 code unit as a literal outside a class, escaped when it is special or not printable. */
export function literalUnit(unit: number): string {
  const ch = String.fromCharCode(unit)
  if (SAFE_LITERAL.test(ch)) return ch
  if (/^[$()*+./?[\\\]^{|}]$/.test(ch)) return `\\${ch}`
  return hexEscape(unit)
}

function classUnit(unit: number): string {
  const ch = String.fromCharCode(unit)
  if (/^[A-Za-z0-9 !"#%&',:;<=>@_`~$()*+./?{|}]$/.test(ch)) return ch
  if (/^[-\\\]^[]$/.test(ch)) return `\\${ch}`
  return hexEscape(unit)
}

function hexEscape(unit: number): string {
  return unit < 0x100 ? `\\x${unit.toString(16).padStart(2, '0')}` : `\\u${unit.toString(16).padStart(4, '0')}`
}

/** The literal RegExp source for a string of code units (used for \r\n and similar). */
export function literalString(s: string): string {
  let out = ''
  for (let i = 0; i < s.length; i++) out += literalUnit(s.charCodeAt(i))
  return out
}
