/**
 * Summaries of a V8 .cpuprofile (node --cpu-prof): self time per function, inclusive time per function, and self
 * time per area (gateway code, codec, metrics, TLS/stream internals, GC, native).
 */

function shortUrl(url) {
  if (!url) return ''
  const m = /\/(dist[^/]*|node_modules)\/(.*)$/.exec(url)
  if (m) return m[1].startsWith('dist') ? m[2] : `~${m[2].replace(/^(.*?node_modules\/)/, '')}`
  return url.replace(/^file:\/\//, '')
}

function area(cf) {
  const u = cf.url ?? ''
  const f = cf.functionName
  if (f === '(garbage collector)') return 'GC'
  if (f === '(idle)') return 'idle'
  if (f === '(program)') return 'native (program)'
  if (/\/dist[^/]*\/codec\//.test(u)) return 'gateway: codec'
  if (/\/dist[^/]*\/gateway\//.test(u)) return 'gateway: relay/server'
  if (/\/dist[^/]*\/auth\//.test(u)) return 'gateway: auth'
  if (/\/dist[^/]*\/admin\/|prom-client/.test(u)) return 'metrics (prom-client)'
  if (/\/dist[^/]*\/|pino|lru-cache/.test(u)) return 'gateway: other'
  if (/_tls_wrap|internal\/tls|node:tls/.test(u)) return 'node: tls (JS)'
  if (/internal\/streams|node:stream/.test(u)) return 'node: streams'
  if (/node:net|internal\/net|stream_base_commons/.test(u)) return 'node: net'
  if (!u && f && f !== '(root)') return 'native builtins'
  return 'node: other'
}

/** `window` = [startUs, endUs] on the profile's clock (CLOCK_MONOTONIC µs): only samples inside it count. */
export function summarizeProfile(p, window = null) {
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const parent = new Map()
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const self = new Map()
  let ts = p.startTime
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i] ?? 0
    ts += dt
    if (window !== null && (ts < window[0] || ts > window[1])) continue
    self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + dt)
  }
  const key = (n) => `${n.callFrame.functionName || '(anonymous)'} ${shortUrl(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`
  const total = [...self.values()].reduce((a, b) => a + b, 0)
  let idle = 0
  const selfByFn = new Map()
  const byArea = new Map()
  const inclusive = new Map()
  for (const [id, t] of self) {
    const n = byId.get(id)
    if (!n) continue
    if (n.callFrame.functionName === '(idle)') idle += t
    const k = key(n)
    selfByFn.set(k, (selfByFn.get(k) ?? 0) + t)
    const a = area(n.callFrame)
    byArea.set(a, (byArea.get(a) ?? 0) + t)
    // inclusive: credit every distinct function on the stack once
    const seen = new Set()
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const cn = byId.get(cur)
      const ck = key(cn)
      if (seen.has(ck)) continue
      seen.add(ck)
      inclusive.set(ck, (inclusive.get(ck) ?? 0) + t)
    }
  }
  const busy = total - idle
  const top = (m, n) =>
    [...m.entries()]
      .filter(([k]) => !k.startsWith('(idle)') && !k.startsWith('(root)') && k !== 'idle')
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({ name, ms: us / 1000, pctOfBusy: busy > 0 ? us / busy : 0 }))
  return {
    totalMs: total / 1000,
    busyMs: busy / 1000,
    busyFraction: total > 0 ? busy / total : 0,
    areas: top(byArea, 20),
    selfTop: top(selfByFn, 30),
    inclusiveTop: top(inclusive, 40),
  }
}

export function formatProfileSummary(s) {
  const pct = (x) => `${(x * 100).toFixed(1).padStart(5)}%`
  let out = `busy ${s.busyMs.toFixed(0)} ms of ${s.totalMs.toFixed(0)} ms sampled (${(s.busyFraction * 100).toFixed(0)}%); shares below are of busy time\n`
  out += '\nby area (self time):\n'
  for (const a of s.areas) out += `  ${pct(a.pctOfBusy)}  ${a.name}\n`
  out += '\ntop functions by self time:\n'
  for (const f of s.selfTop.slice(0, 25)) out += `  ${pct(f.pctOfBusy)}  ${f.name}\n`
  out += '\ntop functions by inclusive time:\n'
  for (const f of s.inclusiveTop.slice(0, 30)) out += `  ${pct(f.pctOfBusy)}  ${f.name}\n`
  return out
}
