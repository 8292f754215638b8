/**
 * Finding and running JDKs for the oracle tests. Elasticsearch 9.x runs on JDK 25, so the oracle
 * prefers it: $JAVA25_HOME, then /usr/lib/jvm/temurin-25*, then any /usr/lib/jvm/*25*; JDK 17 is
 * looked up the same way ($JAVA17_HOME, /usr/lib/jvm/*17*) or is whatever `java` on PATH is.
 * Each program runs once per JDK (`java Foo.java`, the single-file source launcher) with every case
 * batched on stdin.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { javaDir } from './paths.js'

export interface Jdk {
  java: string
  major: number
  label: string
}

function releaseMajor(javaBin: string): { major: number; version: string } | null {
  try {
    const home = dirname(dirname(realpathSync(javaBin)))
    const release = readFileSync(join(home, 'release'), 'utf8')
    const m = /^JAVA_VERSION="([^"]+)"/m.exec(release)
    if (m === null) return null
    const version = m[1]!
    const major = Number(version.startsWith('1.') ? version.split('.')[1] : version.split(/[.+-]/)[0])
    return Number.isFinite(major) ? { major, version } : null
  } catch {
    return null
  }
}

function whichJava(): string | null {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const candidate = join(dir, 'java')
    if (dir !== '' && existsSync(candidate)) return candidate
  }
  return null
}

function jvmDirs(pattern: RegExp): string[] {
  try {
    return readdirSync('/usr/lib/jvm')
      .filter((d) => pattern.test(d))
      .sort()
      .map((d) => join('/usr/lib/jvm', d, 'bin', 'java'))
  } catch {
    return []
  }
}

function candidates(major: number): string[] {
  const env = process.env[`JAVA${major}_HOME`]
  const list = env !== undefined && env !== '' ? [join(env, 'bin', 'java')] : []
  if (major === 25) list.push(...jvmDirs(/^temurin-25/))
  list.push(...jvmDirs(new RegExp(`(^|[^0-9])${major}([^0-9]|$)`)))
  const path = whichJava()
  if (path !== null) list.push(path)
  return list
}

/** The JDK of the given major version, or null when none is installed. */
export function findJdk(major: 17 | 25): Jdk | null {
  for (const java of candidates(major)) {
    if (!existsSync(java)) continue
    const r = releaseMajor(java)
    if (r !== null && r.major === major) return { java, major, label: `JDK ${r.version} (${java})` }
  }
  return null
}

/** JDK 25 first (Elasticsearch's runtime), then JDK 17 when present; falls back to `java` on PATH. */
export function findJdks(): Jdk[] {
  const out: Jdk[] = []
  for (const major of [25, 17] as const) {
    const jdk = findJdk(major)
    if (jdk !== null) out.push(jdk)
  }
  if (out.length === 0) {
    const path = whichJava()
    if (path !== null) out.push({ java: path, major: releaseMajor(path)?.major ?? 0, label: `java on PATH (${path})` })
  }
  return out
}

/** Runs test/auth/java/<program>.java with `input` on stdin; throws with stderr on failure. */
export function runJavaProgram(jdk: Jdk, program: string, input: string): string {
  const r = spawnSync(jdk.java, ['-Xshare:auto', '-XX:TieredStopAtLevel=1', join(javaDir, `${program}.java`)], {
    input,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    timeout: 120_000,
  })
  if (r.error !== undefined) throw r.error
  if (r.status !== 0) throw new Error(`${program} on ${jdk.label} exited ${String(r.status)}: ${r.stderr}`)
  return r.stdout
}

/** The preferred JDK (25 if installed, else whatever findJdks found first), or null. */
export function preferredJdk(): Jdk | null {
  return findJdks()[0] ?? null
}

export interface SigOracleAnswer {
  ok: boolean
  fields: string[]
  error: string
}

/**
 * Runs test/auth/java/SigOracle.java once with all `requests` (each [op, id, ...args]) and returns
 * the answers by id, plus the Java version line.
 */
export function runSigOracle(jdk: Jdk, requests: string[][]): { version: string; answers: Map<string, SigOracleAnswer> } {
  const out = runJavaProgram(jdk, 'SigOracle', requests.map((r) => r.join('\t')).join('\n') + '\n')
  const lines = out.split('\n').filter((l) => l !== '')
  const version = (lines[0] ?? '').replace(/^java\t/, '')
  const answers = new Map<string, SigOracleAnswer>()
  for (const line of lines.slice(1)) {
    const [id, status, ...fields] = line.split('\t')
    answers.set(id!, { ok: status === 'ok', fields: status === 'ok' ? fields : [], error: status === 'ok' ? '' : fields.join('\t') })
  }
  return { version, answers }
}

/** UTF-16 code units as hex (4 digits each): how strings with lone surrogates reach the oracles. */
export function utf16Hex(s: string): string {
  let out = ''
  for (let i = 0; i < s.length; i++) out += s.charCodeAt(i).toString(16).padStart(4, '0')
  return out
}

export function fromUtf16Hex(hex: string): string {
  let out = ''
  for (let i = 0; i + 4 <= hex.length; i += 4) out += String.fromCharCode(parseInt(hex.slice(i, i + 4), 16))
  return out
}
