/**
 * The Dockerfile, without a Docker engine: lint it (dockerfilelint, a devDependency), then check the invariants the
 * deployment relies on — multi-stage build, a supported Node.js LTS base, non-root user, the gateway's ports exposed,
 * a HEALTHCHECK that really works against the gateway's admin server, the config at /etc/rcgw/gateway.yml, and
 * COPY sources that exist and survive .dockerignore.
 */
import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { createServer } from 'node:http'
import { dirname, join, posix } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { AddressInfo } from 'node:net'
import { parse as parseYaml } from 'yaml'
import { configSchema } from '../../src/config/schema.js'
import { AdminServer } from '../../src/admin/server.js'
import { GatewayMetrics } from '../../src/admin/metrics.js'
import { gcFlagsFor } from '../../src/cli/node-flags.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const dockerfileText = readFileSync(join(root, 'Dockerfile'), 'utf8')

// --- a small Dockerfile reader ------------------------------------------------------------------------------

interface Instruction {
  readonly cmd: string
  readonly args: string
  readonly line: number
}

/** Instructions with continuation lines joined; comments and parser directives dropped. */
function instructions(text: string): Instruction[] {
  const out: Instruction[] = []
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const start = i
    let l = lines[i]!
    if (/^\s*(#|$)/.test(l)) continue
    while (/\\\s*$/.test(l) && i + 1 < lines.length) {
      l = l.replace(/\\\s*$/, ' ') + lines[++i]!.trim()
    }
    const m = /^\s*(\w+)\s+([\s\S]*)$/.exec(l)
    if (m) out.push({ cmd: m[1]!.toUpperCase(), args: m[2]!.trim(), line: start + 1 })
  }
  return out
}

interface Stage {
  readonly image: string
  readonly name: string | null
  readonly body: Instruction[]
}

function stages(ins: Instruction[]): { args: Map<string, string>; stages: Stage[] } {
  const args = new Map<string, string>()
  const out: Stage[] = []
  for (const i of ins) {
    if (i.cmd === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(i.args)
      out.push({ image: m?.[1] ?? i.args, name: m?.[2] ?? null, body: [] })
    } else if (out.length === 0 && i.cmd === 'ARG') {
      const [k, v] = i.args.split('=')
      if (k !== undefined && v !== undefined) args.set(k, v)
    } else out[out.length - 1]?.body.push(i)
  }
  return { args, stages: out }
}

const expand = (s: string, args: Map<string, string>) => s.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string | undefined, b: string | undefined) => args.get((a ?? b)!) ?? '')

/** COPY/ADD flags and operands; exec-form JSON arrays are accepted too. */
function copyOperands(args: string): { flags: Map<string, string>; sources: string[]; dest: string } {
  const flags = new Map<string, string>()
  let rest = args
  for (let m = /^--(\w[\w-]*)(?:=(\S+))?\s+/.exec(rest); m; m = /^--(\w[\w-]*)(?:=(\S+))?\s+/.exec(rest)) {
    flags.set(m[1]!, m[2] ?? '')
    rest = rest.slice(m[0].length)
  }
  const parts = rest.startsWith('[') ? (JSON.parse(rest) as string[]) : rest.split(/\s+/)
  return { flags, sources: parts.slice(0, -1), dest: parts[parts.length - 1]! }
}

// --- .dockerignore (moby/patternmatcher semantics: last match wins, `!` re-includes, a match on a parent excludes) --

interface IgnoreRule {
  readonly negate: boolean
  readonly re: RegExp
}

function ignoreRules(text: string): IgnoreRule[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!')
      const pattern = posix.normalize((negate ? l.slice(1) : l).trim().replace(/^\/+/, '')).replace(/\/+$/, '')
      let re = ''
      for (let i = 0; i < pattern.length; i++) {
        const c = pattern[i]!
        if (c === '*' && pattern[i + 1] === '*') {
          const slash = pattern[i + 2] === '/'
          re += slash ? '(?:.*/)?' : '.*'
          i += slash ? 2 : 1
        } else if (c === '*') re += '[^/]*'
        else if (c === '?') re += '[^/]'
        else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&')
      }
      return { negate, re: new RegExp(`^${re}$`) }
    })
}

function excluded(rules: readonly IgnoreRule[], path: string): boolean {
  const parts = path.split('/')
  const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'))
  let out = false
  for (const r of rules) if (candidates.some((c) => r.re.test(c))) out = !r.negate
  return out
}

function walk(dir: string, rel = ''): string[] {
  return readdirSync(join(dir, rel), { withFileTypes: true }).flatMap((e) => {
    const p = rel === '' ? e.name : `${rel}/${e.name}`
    return e.isDirectory() ? walk(dir, p) : [p]
  })
}

// --- shared facts -------------------------------------------------------------------------------------------

const all = instructions(dockerfileText)
const { args: globalArgs, stages: allStages } = stages(all)
const final = allStages[allStages.length - 1]!
const finalOf = (cmd: string) => final.body.filter((i) => i.cmd === cmd)

/** The embedded default config with `${VAR:-default}` taken at its default, validated by the real schema. */
const defaultConfig = (() => {
  const text = readFileSync(join(root, 'config', 'gateway.yml'), 'utf8').replace(/\$\{\w+(?::-([^}]*))?\}/g, (_, d: string | undefined) => d ?? '')
  const r = configSchema.safeParse(parseYaml(text))
  if (!r.success) throw new Error(`config/gateway.yml does not validate: ${JSON.stringify(r.error.issues)}`)
  return r.data
})()

// --- tests --------------------------------------------------------------------------------------------------

t.test('dockerfilelint reports no issues', async (t) => {
  const require = createRequire(import.meta.url)
  let installed = true
  try {
    require.resolve('dockerfilelint/package.json', { paths: [root] })
  } catch {
    installed = false
  }
  if (!installed) {
    t.fail('dockerfilelint is not installed: add the devDependency "dockerfilelint": "1.8.0" (npm install --save-dev dockerfilelint@1.8.0)')
    return
  }
  // dockerfilelint 1.8.0 (lib/checks.js is_valid_healthcheck) collects HEALTHCHECK options with /--\w+/, which cuts
  // `--start-period` (valid since Docker 17.05) down to `--start` and reports "Invalid Argument Format". Lint a copy
  // without that one option (line numbers unchanged); the HEALTHCHECK test below checks the options itself.
  const input = dockerfileText.replace(/^(HEALTHCHECK\b.*?) --start-period=\S+/m, '$1')
  const r = spawnSync('npx', ['--no-install', 'dockerfilelint', '-j'], { cwd: root, input, encoding: 'utf8', timeout: 60_000 })
  let report: { totalIssues: number; files: Array<{ issues: Array<{ line: string; title: string; content: string }> }> }
  try {
    report = JSON.parse(r.stdout) as typeof report
  } catch {
    t.fail(`dockerfilelint did not produce JSON (exit ${r.status}): ${r.stdout}${r.stderr}`)
    return
  }
  const issues = report.files.flatMap((f) => f.issues.map((i) => `line ${i.line}: ${i.title}: ${i.content}`))
  t.same(issues, [], 'no lint issues')
  t.equal(report.totalIssues, 0)
})

t.test('multi-stage: build with dev dependencies, run with production ones and the built dist only', async (t) => {
  t.ok(allStages.length >= 2, `${allStages.length} stages`)
  const build = allStages.find((s) => s.name !== null && final.body.some((i) => i.cmd === 'COPY' && copyOperands(i.args).flags.get('from') === s.name))
  t.ok(build, 'the final stage copies from a named build stage')
  t.ok(build!.body.some((i) => i.cmd === 'RUN' && /npm run build|tsc\b/.test(i.args)), 'the build stage compiles')
  t.ok(build!.body.some((i) => i.cmd === 'RUN' && /npm ci\b/.test(i.args)), 'reproducible install (npm ci) in the build stage')
  t.ok(final.body.some((i) => i.cmd === 'RUN' && /npm ci\b.*--omit=dev/.test(i.args)), 'the runtime installs production dependencies only')
  t.ok(finalOf('COPY').some((i) => /^--from=\S+\s+\S*dist\s/.test(i.args)), 'the runtime gets dist/ from the build stage')
  t.notOk(finalOf('COPY').some((i) => /(^|\s)\.?\/?src(\s|$)/.test(copyOperands(i.args).sources.join(' '))), 'no TypeScript sources in the runtime image')
  // npm ci needs the lockfile next to package.json before it runs, in every stage that installs.
  for (const s of allStages) {
    const ci = s.body.findIndex((i) => i.cmd === 'RUN' && /npm ci\b/.test(i.args))
    if (ci === -1) continue
    const lock = s.body.findIndex((i) => i.cmd === 'COPY' && copyOperands(i.args).sources.includes('package-lock.json'))
    t.ok(lock !== -1 && lock < ci, `stage ${s.name ?? '(final)'} copies package-lock.json before npm ci`)
  }
  const env = finalOf('ENV').map((i) => i.args).join(' ')
  t.match(env, /NODE_ENV=production/)
})

t.test('base image: one supported Node.js LTS line for every stage', async (t) => {
  // nodejs/Release schedule: end of life of the LTS lines (even majors).
  const eol: Record<number, string> = { 20: '2026-04-30', 22: '2027-04-30', 24: '2028-04-30', 26: '2029-04-30' }
  const majors = allStages.map((s) => {
    const image = expand(s.image, globalArgs)
    const m = /^(?:docker\.io\/)?(?:library\/)?node:(\d+)(?:[.\-]|$)/.exec(image)
    t.ok(m, `${s.image} → ${image} is an official node image with an explicit major`)
    return Number(m?.[1])
  })
  t.equal(new Set(majors).size, 1, 'build and runtime use the same Node.js major')
  const major = majors[0]!
  t.equal(major % 2, 0, `Node.js ${major} is an LTS line (even major)`)
  const engines = /(\d+)/.exec(String((JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { engines?: { node?: string } }).engines?.node))
  t.ok(major >= Number(engines?.[1] ?? 0), `Node.js ${major} satisfies package.json engines`)
  const end = eol[major]
  if (end === undefined) t.comment(`Node.js ${major}: end of life not in the table; add it`)
  else t.ok(Date.now() < Date.parse(end), `Node.js ${major} is supported until ${end} (a base image past end of life gets no security fixes)`)
})

t.test('runs as a non-root user', async (t) => {
  const users = finalOf('USER')
  t.ok(users.length > 0, 'the final stage sets USER')
  const user = users[users.length - 1]!.args.split(':')[0]!
  t.notOk(['root', '0'].includes(user), `USER ${user} is not root`)
  const entry = final.body.findIndex((i) => i.cmd === 'ENTRYPOINT' || i.cmd === 'CMD')
  const lastUser = final.body.lastIndexOf(users[users.length - 1]!)
  t.ok(lastUser < entry, 'USER comes before the entrypoint')
  if (!/^\d+$/.test(user)) t.comment(`USER ${user} is a name: Kubernetes runAsNonRoot needs a numeric runAsUser (deploy/kubernetes sets 1000)`)
})

t.test('EXPOSE matches the default config: listen.port and admin.port', async (t) => {
  const exposed = finalOf('EXPOSE').flatMap((i) => i.args.split(/\s+/)).map((p) => Number(p.replace(/\/tcp$/, '')))
  t.ok(exposed.includes(defaultConfig.listen.port), `EXPOSE ${defaultConfig.listen.port} (listen.port)`)
  t.ok(exposed.includes(defaultConfig.admin.port), `EXPOSE ${defaultConfig.admin.port} (admin.port)`)
  t.equal(defaultConfig.listen.port, 9443, 'the remote cluster port')
})

t.test('the config lives at /etc/rcgw/gateway.yml and the entrypoint uses it', async (t) => {
  const copy = finalOf('COPY').map((i) => copyOperands(i.args)).find((c) => c.dest === '/etc/rcgw/gateway.yml')
  t.ok(copy, 'COPY … /etc/rcgw/gateway.yml')
  t.same(copy?.sources, ['config/gateway.yml'], 'the embedded default config')
  const exec = [...finalOf('ENTRYPOINT'), ...finalOf('CMD')].map((i) => {
    t.ok(i.args.startsWith('['), `${i.cmd} uses the exec form, so node is PID 1 and gets SIGTERM for the drain`)
    return JSON.parse(i.args) as string[]
  })
  const argv = exec.flat()
  const env = finalOf('ENV').map((i) => i.args).join(' ')
  const viaArg = argv[argv.indexOf('--config') + 1] === '/etc/rcgw/gateway.yml'
  t.ok(viaArg || /RCGW_CONFIG=\/etc\/rcgw\/gateway\.yml/.test(env), '--config /etc/rcgw/gateway.yml or RCGW_CONFIG')
  // The entrypoint script is the compiled src/cli/main.ts (tsconfig.build.json: rootDir src → dist).
  const script = argv.find((a) => a.endsWith('.js'))
  t.ok(script, 'a .js entrypoint')
  const rel = script!.replace(/^.*\/dist\//, '')
  t.ok(existsSync(join(root, 'src', rel.replace(/\.js$/, '.ts'))), `dist/${rel} is built from src/${rel.replace(/\.js$/, '.ts')}`)
  t.ok(argv.includes('start'), 'the command starts the gateway')
  // The flags for the image's Node major (ARG NODE_VERSION), not for the node running this test.
  const nodeMajor = /^ARG NODE_VERSION=(\d+)/m.exec(readFileSync(join(root, 'Dockerfile'), 'utf8'))?.[1]
  t.ok(nodeMajor, 'ARG NODE_VERSION names a major version')
  const imageFlags = gcFlagsFor(`${nodeMajor}.0.0`)
  t.ok(imageFlags.every((f) => argv.slice(0, argv.indexOf(script!)).includes(f)), `node runs with ${imageFlags.join(' ')} (src/cli/node-flags.ts, Node ${nodeMajor})`)
})

t.test('HEALTHCHECK probes /healthz on admin.port with node, and really works', async (t) => {
  const hc = finalOf('HEALTHCHECK')
  t.equal(hc.length, 1, 'one HEALTHCHECK')
  const m = /\bCMD\s+(\[.*\])\s*$/.exec(hc[0]!.args)
  t.ok(m, 'exec-form CMD')
  // Docker's HEALTHCHECK options (docs.docker.com/reference/dockerfile/#healthcheck), each with a value.
  const options = hc[0]!.args.slice(0, m!.index).trim().split(/\s+/).filter((o) => o !== '')
  for (const o of options) t.match(o, /^--(?:(?:interval|timeout|start-period|start-interval)=\d+(?:ms|s|m|h)|retries=\d+)$/, `valid option ${o}`)
  const cmd = JSON.parse(m![1]!) as string[]
  t.equal(cmd[0], 'node', 'uses node (the slim image has no curl or wget)')
  const script = cmd[cmd.indexOf('-e') + 1]!
  const url = /http:\/\/([\d.]+):(\d+)(\/\w+)/.exec(script)
  t.ok(url, 'an http URL in the script')
  t.equal(url![1], '127.0.0.1')
  t.equal(Number(url![2]), defaultConfig.admin.port, 'admin.port of the default config')
  t.equal(url![3], '/healthz')
  t.equal(defaultConfig.admin.host, '127.0.0.1', 'the default admin host is loopback, which a HEALTHCHECK inside the container reaches')

  const run = (port: number) =>
    new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, ['-e', script.replace(`:${url![2]}/`, `:${port}/`)], { stdio: 'ignore' })
      child.once('exit', (code) => resolve(code))
    })
  const admin = new AdminServer(new GatewayMetrics({ collectDefault: false }), { isListening: true, unhealthyClusters: () => [] })
  const addr: AddressInfo = await admin.listen('127.0.0.1', 0)
  t.teardown(() => admin.close())
  t.equal(await run(addr.port), 0, 'healthy against the real admin server')
  const sick = createServer((_req, res) => res.writeHead(500).end())
  await new Promise<void>((r) => sick.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => sick.close(() => r())))
  t.equal(await run((sick.address() as AddressInfo).port), 1, 'unhealthy on a non-200 answer')
  const closed = (sick.address() as AddressInfo).port
  await new Promise<void>((r) => sick.close(() => r()))
  t.equal(await run(closed), 1, 'unhealthy when nothing listens')
})

t.test('every COPY source exists and is not excluded by .dockerignore', async (t) => {
  const rules = ignoreRules(readFileSync(join(root, '.dockerignore'), 'utf8'))
  // The matcher itself, on the rules this repository has.
  t.ok(excluded(rules, 'node_modules/x/index.js'), 'node_modules is excluded')
  t.ok(excluded(rules, 'test/ops/certs.test.ts'), 'test/ is excluded')
  t.notOk(excluded(rules, 'src/cli/main.ts'), 'src/ is included')
  t.ok(excluded(ignoreRules('**/*.key\n!keep/a.key'), 'deep/dir/x.key'))
  t.notOk(excluded(ignoreRules('**/*.key\n!keep/a.key'), 'keep/a.key'))

  let checked = 0
  for (const s of allStages) {
    for (const i of s.body.filter((x) => x.cmd === 'COPY' || x.cmd === 'ADD')) {
      const c = copyOperands(i.args)
      if (c.flags.has('from')) continue
      for (const src of c.sources) {
        checked++
        const p = join(root, src)
        t.ok(existsSync(p), `line ${i.line}: ${src} exists`)
        t.notOk(excluded(rules, posix.normalize(src)), `line ${i.line}: ${src} is not excluded by .dockerignore`)
        if (existsSync(p) && statSync(p).isDirectory()) {
          const files = walk(p).map((f) => posix.join(src, f))
          const kept = files.filter((f) => !excluded(rules, f))
          t.ok(kept.length > 0, `line ${i.line}: ${src}/ sends ${kept.length} of ${files.length} files`)
        }
      }
    }
  }
  t.ok(checked >= 6, `${checked} COPY sources checked`)
  // Secrets never travel into a build context: the dev certificates live in data/.
  t.ok(excluded(rules, 'data/certs/gateway.key'), 'data/ (dev certificates) is excluded')
})
