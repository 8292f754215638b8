/**
 * Imports between src/ folders point down the pipeline (issue #15): a folder may import from folders of a lower
 * rank only. The upward imports that exist today are listed in KNOWN_UPWARD with why they are there; #15 removes
 * them. A new upward import fails this test: give the shared piece a place low in the pipeline instead (as
 * src/tls/ holds the PROXY protocol, admission and SNI routing both listeners use).
 */
import t from 'tap'
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join, relative, dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src')

/** Lower imports nothing of higher. src/log.ts (the top-level shared logger) counts as `log`, just above config. */
const RANK: Record<string, number> = { config: 0, log: 0.5, tls: 1, codec: 2, auth: 3, admin: 4, upstream: 5, http: 6, gateway: 7, cli: 8 }

/** Upward imports that exist, each with its reason; to be removed by issue #15 (then delete the entry). */
const KNOWN_UPWARD: Record<string, string> = {
  'config -> auth': 'config validation compiles certificate_identity / filter subjects with auth/jregex',
  'auth -> admin': 'auth/factory.ts takes GatewayMetrics (a type) to count lookups',
  'auth -> gateway': 'the RequestPolicy interface and allowAll live in gateway/policy.ts',
}

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n)
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : []
  })
}

function folderOf(file: string): string {
  const rel = relative(SRC, file).split('/')
  return rel.length === 1 ? rel[0]!.replace(/\.ts$/, '') : rel[0]!
}

t.test('imports between src/ folders only point down the pipeline', async (t) => {
  const edges = new Map<string, string[]>()
  for (const f of files(SRC)) {
    const from = folderOf(f)
    for (const m of readFileSync(f, 'utf8').matchAll(/from '(\.{1,2}\/[^']+)'/g)) {
      const to = folderOf(resolve(dirname(f), m[1]!.replace(/\.js$/, '.ts')))
      if (to === from) continue
      const key = `${from} -> ${to}`
      edges.set(key, [...(edges.get(key) ?? []), relative(SRC, f)])
    }
  }
  t.ok(edges.size > 10, `${edges.size} folder-to-folder edges found`)
  for (const [key, where] of edges) {
    const [from, to] = key.split(' -> ') as [string, string]
    t.ok(RANK[from] !== undefined && RANK[to] !== undefined, `${key}: both folders have a rank (add a new folder to RANK)`)
    if (RANK[to]! < RANK[from]!) continue
    t.ok(key in KNOWN_UPWARD, `${key} points up the pipeline (${[...new Set(where)].join(', ')})`)
  }
  for (const key of Object.keys(KNOWN_UPWARD)) t.ok(edges.has(key), `KNOWN_UPWARD "${key}" still exists (remove the entry once it is gone)`)
})
