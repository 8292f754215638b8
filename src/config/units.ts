/**
 * Elasticsearch-style units for config values.
 *
 * Durations follow Elasticsearch's TimeValue suffixes (`nanos`, `micros`, `ms`, `s`, `m`, `h`, `d`) so that an
 * operator can paste values from elasticsearch.yml; sizes follow ByteSizeValue (`b`, `kb`, `mb`, `gb`, `tb`,
 * 1024-based, case-insensitive). A bare number is taken as milliseconds / bytes.
 */

const DURATION_UNITS: ReadonlyArray<readonly [string, number]> = [
  ['nanos', 1e-6],
  ['micros', 1e-3],
  ['ms', 1],
  ['s', 1000],
  ['m', 60_000],
  ['h', 3_600_000],
  ['d', 86_400_000],
]

const SIZE_UNITS: ReadonlyArray<readonly [string, number]> = [
  ['b', 1],
  ['kb', 1024],
  ['k', 1024],
  ['mb', 1024 ** 2],
  ['m', 1024 ** 2],
  ['gb', 1024 ** 3],
  ['g', 1024 ** 3],
  ['tb', 1024 ** 4],
  ['t', 1024 ** 4],
]

const NUMBER_WITH_UNIT = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/

/** Parses a duration into milliseconds. Returns null when the text is not a duration. */
export function parseDuration(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : null
  if (typeof value !== 'string') return null
  const m = NUMBER_WITH_UNIT.exec(value)
  if (!m) return null
  const n = Number(m[1])
  const unit = (m[2] ?? '').toLowerCase()
  if (unit === '') return n
  for (const [name, factor] of DURATION_UNITS) if (name === unit) return n * factor
  return null
}

/** Parses a byte size into bytes (integer). Returns null when the text is not a size. */
export function parseByteSize(value: unknown): number | null {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 ? value : null
  if (typeof value !== 'string') return null
  const m = NUMBER_WITH_UNIT.exec(value)
  if (!m) return null
  const n = Number(m[1])
  const unit = (m[2] ?? '').toLowerCase()
  if (unit === '') return Number.isInteger(n) ? n : null
  for (const [name, factor] of SIZE_UNITS) if (name === unit) return Math.floor(n * factor)
  return null
}

/** Formats milliseconds the way an operator would write them (for `rcgw check-config`). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s'
  for (const [name, factor] of [...DURATION_UNITS].reverse()) {
    if (factor >= 1 && ms % factor === 0) return `${ms / factor}${name}`
  }
  return `${ms}ms`
}

export function formatByteSize(bytes: number): string {
  for (const [name, factor] of [['gb', 1024 ** 3], ['mb', 1024 ** 2], ['kb', 1024]] as const) {
    if (bytes >= factor && bytes % factor === 0) return `${bytes / factor}${name}`
  }
  return `${bytes}b`
}
