/** Small statistics helpers for repetitions. */

export function median(xs) {
  const a = xs.filter((x) => Number.isFinite(x)).sort((p, q) => p - q)
  if (a.length === 0) return null
  const m = a.length >> 1
  return a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2
}

/** median, min, max and the relative spread (max − min) / median. */
export function summary(xs) {
  const a = xs.filter((x) => Number.isFinite(x))
  if (a.length === 0) return { n: 0, median: null, min: null, max: null, spread: null, values: xs }
  const med = median(a)
  const min = Math.min(...a)
  const max = Math.max(...a)
  return { n: a.length, median: med, min, max, spread: med ? (max - min) / Math.abs(med) : null, values: a }
}

export function ratio(a, b) {
  return a === null || b === null || b === 0 ? null : a / b
}
