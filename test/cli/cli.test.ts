/**
 * The `rcgw` command as an operator runs it: a real process (the built dist/), real signals.
 * `npm test` builds before running tap, so dist/ is current.
 */
import t, { type Test } from 'tap'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, writeFileSync, mkdirSync, readFileSync } from 'node:fs'
import { join, resolve, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'
import { X509Certificate } from 'node:crypto'
import { stringify } from 'yaml'
import { tempDir } from '../helpers/tmp.js'
import { normalize } from '../helpers/gateway.js'
import { writePki } from '../helpers/pki.js'
import { main } from '../../src/cli/main.js'
import { GC_FLAGS, differingGcFlags, gcFlagsFor, missingGcFlags, withGcFlags, workerExecArgv } from '../../src/cli/node-flags.js'
import { backend, client } from '../gateway/fixtures.js'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const cli = join(root, 'dist', 'cli', 'main.js')

function capture() {
  let out = ''
  let err = ''
  return { io: { out: (s: string) => void (out += s), err: (s: string) => void (err += s) }, get out() { return out }, get err() { return err } }
}

/** Starts `rcgw start` and resolves once it logged "gateway started" (JSON log line on stdout). */
function startProcess(t: Test, args: string[], env: NodeJS.ProcessEnv = {}, nodeArgs: readonly string[] = []) {
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, cli, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL')
  })
  const lines: Array<Record<string, unknown>> = []
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
  const started = new Promise<Record<string, unknown>>((res, rej) => {
    // A generous safety net so a broken start fails this test instead of hanging the file.
    const timer = setTimeout(() => rej(new Error(`no "started" log line; stderr: ${stderr}`)), 60_000)
    child.once('exit', () => clearTimeout(timer))
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const obj = normalize(JSON.parse(line) as Record<string, unknown>)
        lines.push(obj)
        if (obj.event === 'started') {
          clearTimeout(timer)
          res(obj)
        }
      } catch {
        /* not JSON */
      }
    })
    child.once('exit', (code) => rej(new Error(`exited early with ${code}: ${stderr}`)))
  })
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)))
  return { child, started, exited, lines, stderr: () => stderr }
}

/** A config file for one cluster in front of an emulator backend (test PKI, no file watching); returns its path. */
async function gatewayWithBackend(t: Test, admin: Record<string, unknown>): Promise<string> {
  const be = await backend(t, 'cluster-a')
  const dir = tempDir(t)
  writePki(dir)
  const cfg = join(dir, 'gateway.yml')
  writeFileSync(
    cfg,
    stringify({
      listen: { host: '127.0.0.1', port: 0 },
      tls: { certificate: 'server.crt', key: 'server.key' },
      admin,
      reload: { watch: false },
      clusters: [{ name: 'a', default: true, nodes: [`127.0.0.1:${be.port}`], backend_tls: { certificate_authorities: ['ca.crt'], server_name: 'node.internal' } }],
    }),
  )
  return cfg
}

t.test('dist is built', async (t) => {
  t.ok(existsSync(cli), `${cli} exists (npm test runs the build first)`)
})

t.test('help, version, usage errors', async (t) => {
  const h = capture()
  t.equal(await main(['help'], h.io), 0)
  t.match(h.out, /usage: rcgw/)
  const v = capture()
  t.equal(await main(['version'], v.io), 0)
  t.match(v.out, /^rcgw \d+\.\d+\.\d+/)
  const u = capture()
  t.equal(await main(['frobnicate'], u.io), 2)
  t.match(u.err, /unknown command "frobnicate"/)
  const a = capture()
  t.equal(await main(['start', '--bogus'], a.io), 2)
  t.match(a.err, /unknown argument: --bogus/)
  const c = capture()
  t.equal(await main(['start', '--config'], c.io), 2)
})

t.test('check-config: valid file prints the summary; invalid file exits 2 naming the key', async (t) => {
  const dir = tempDir(t)
  writePki(dir)
  const good = join(dir, 'good.yml')
  writeFileSync(
    good,
    stringify({
      tls: { certificate: 'server.crt', key: 'server.key' },
      clusters: [{ name: 'remote-a', server_names: ['remote-a.example.com'], nodes: ['10.0.0.5:9443'], backend_tls: { certificate_authorities: ['ca.crt'] } }],
    }),
  )
  const ok = capture()
  t.equal(await main(['check-config', '--config', good], ok.io), 0)
  t.match(ok.out, /cluster remote-a/)
  t.match(ok.out, /nodes: 10\.0\.0\.5:9443/)
  t.match(ok.out, /idle timeout none/)
  t.match(ok.out, /config ok/)
  const bad = join(dir, 'bad.yml')
  writeFileSync(bad, readFileSync(good, 'utf8').replace('10.0.0.5:9443', '10.0.0.5'))
  const b = capture()
  t.equal(await main(['check-config', `--config=${bad}`], b.io), 2)
  t.match(b.err, /clusters\[0\]\.nodes\[0\]: invalid address "10\.0\.0\.5"/)
  t.equal(b.err.trim().split('\n').length, 1, 'one line')
})

t.test('check-config on the embedded default does not write certificates', async (t) => {
  const dir = tempDir(t)
  process.env.RCGW_DATA_DIR = dir
  t.teardown(() => {
    delete process.env.RCGW_DATA_DIR
  })
  const r = capture()
  t.equal(await main(['check-config'], r.io), 0, r.err)
  t.match(r.out, /will be generated on first start/)
  t.notOk(existsSync(join(dir, 'certs')), 'nothing written into the data directory')
})

t.test('start: invalid config exits 2 with one line', async (t) => {
  const dir = tempDir(t)
  const bad = join(dir, 'bad.yml')
  writeFileSync(bad, 'tls: { certificate: a, key: b }\nclusters: [{ name: x, nodes: [] }]\n')
  const r = spawnSync(process.execPath, [cli, 'start', '--config', bad], { encoding: 'utf8' })
  t.equal(r.status, 2)
  t.match(r.stderr, /clusters\[0\]\.nodes: at least one backend node is required/)
})

t.test('start with auto_generate creates a dev CA, prints its fingerprint, serves, and stops on SIGTERM', async (t) => {
  const be = await backend(t, 'cluster-a')
  const dir = tempDir(t)
  mkdirSync(join(dir, 'conf'))
  const cfg = join(dir, 'conf', 'gateway.yml')
  writeFileSync(
    cfg,
    stringify({
      listen: { host: '127.0.0.1', port: 0 },
      tls: { certificate: '${RCGW_DATA_DIR}/certs/gateway.crt', key: '${RCGW_DATA_DIR}/certs/gateway.key', auto_generate: true },
      admin: { host: '127.0.0.1', port: 0 },
      shutdown: { drain_timeout: '5s' },
      clusters: [{ name: 'a', server_names: ['localhost'], default: true, nodes: [`127.0.0.1:${be.port}`], backend_tls: { verification_mode: 'none' } }],
    }),
  )
  // RCGW_NO_REEXEC=1: the process stays as launched, without the GC flags (the relaunch has its own test below).
  const p = startProcess(t, ['start', '--config', cfg], { RCGW_DATA_DIR: join(dir, 'data'), RCGW_NO_REEXEC: '1' })
  const started = await p.started
  const caPath = join(dir, 'data', 'certs', 'ca.crt')
  t.ok(existsSync(caPath), 'development CA written to the data directory')
  const fp = new X509Certificate(readFileSync(caPath)).fingerprint256
  t.ok(p.stderr().includes(fp), 'the CA fingerprint is printed')
  t.ok(p.stderr().includes(caPath), 'the CA location is printed')
  const port = Number(String(started.listen).split(':').pop())
  const c = await client(t, port, { ca: readFileSync(caPath, 'utf8'), servername: 'localhost' })
  t.equal(c.clusterName, 'cluster-a', 'a client trusting the dev CA gets through')
  p.child.kill('SIGTERM')
  t.equal(await p.exited, 0, 'exit code 0 after SIGTERM')
  await c.closed
  t.ok(p.lines.some((l) => l.event === 'stopped'), 'logged the stop')
  // Started as a plain `node dist/cli/main.js start` with RCGW_NO_REEXEC=1: the GC flags are missing, and the log says so.
  const warn = p.lines.find((l) => l.event === 'node_flags_missing')
  t.ok(warn, 'warns about the missing V8 flags')
  t.same(warn?.missing, [...GC_FLAGS], 'naming them')
  t.match(String(warn?.msg), /npm start/, 'and how to start instead')
})

t.test('a plain `node dist/cli/main.js start` relaunches itself with the GC flags (issue #12)', async (t) => {
  const cfg = await gatewayWithBackend(t, { host: '127.0.0.1', port: 0 })
  const p = startProcess(t, ['start', '--config', cfg])
  const started = await p.started
  const relaunch = p.lines.find((l) => l.event === 'node_flags_relaunch')
  const hasExecve = typeof (process as unknown as { execve?: unknown }).execve === 'function'
  t.equal(relaunch?.how, hasExecve ? 'execve' : 'cluster', hasExecve ? 'replaced by execve (this node has process.execve)' : 'served by one node:cluster worker (no process.execve on this node)')
  t.same(relaunch?.flags, [...GC_FLAGS], 'naming the flags')
  t.notOk(p.lines.some((l) => l.event === 'node_flags_missing'), 'no warning: the serving process has them')
  // The process that serves: the same pid (execve) or the worker (whose log lines carry its own pid).
  const pids = [...new Set(p.lines.map((l) => Number(l['process.pid'])).filter((n) => n > 0))]
  const withFlags = pids.filter((pid) => {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
      return GC_FLAGS.every((f) => argv.includes(f))
    } catch {
      return false
    }
  })
  t.ok(withFlags.length >= 1, `a process of the gateway runs with ${GC_FLAGS.join(' ')} (pids ${pids.join(', ')})`)
  if (hasExecve) t.same(withFlags, [p.child.pid], 'and it is the launched pid itself')
  const port = Number(String(started.listen).split(':').pop())
  const c = await client(t, port)
  t.equal(c.clusterName, 'cluster-a', 'it serves')
  p.child.kill('SIGTERM')
  t.equal(await p.exited, 0, 'SIGTERM to the launched pid: drained, exit 0')
  await c.closed
})

t.test('the launch paths pass the V8 GC flags, and a process started with them does not warn', async (t) => {
  const shebang = readFileSync(join(root, 'src', 'cli', 'main.ts'), 'utf8').split('\n')[0]!
  // The static launchers carry Node 20's values (the machines' node); under Node 24 the process relaunches itself
  // with Node 24's (test below), and the Docker image (Node 24) passes those itself (test/ops/dockerfile.test.ts).
  const node20 = gcFlagsFor('20.0.0')
  t.equal(shebang, `#!/usr/bin/env -S node ${node20.join(' ')}`, 'the rcgw executable (package.json bin) starts node with them')
  t.equal(readFileSync(cli, 'utf8').split('\n')[0], shebang, 'and the build keeps that line')
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string>; bin: Record<string, string> }
  t.equal(pkg.bin.rcgw, 'dist/cli/main.js')
  t.ok(node20.every((f) => pkg.scripts.start!.split(/\s+/).includes(f)), 'npm start passes them')
  // What the kernel runs for the shebang: env -S splits the line into node + flags.
  const viaShebang = spawnSync('/usr/bin/env', [...shebang.slice(2).split(' ').slice(1), cli, 'version'], { encoding: 'utf8' })
  t.equal(viaShebang.status, 0, `the shebang command line runs (${viaShebang.stderr})`)
  t.match(viaShebang.stdout, /\d+\.\d+\.\d+/, 'and prints the version')
  t.same(missingGcFlags(['--min-semi-space-size=8', '--max_semi_space_size', '64']), [], 'any value (or the underscore spelling) counts as set')
  t.same(missingGcFlags(['--max-old-space-size=512']), [...GC_FLAGS])
  t.same(workerExecArgv(['--inspect', GC_FLAGS[0]!]), ['--inspect', GC_FLAGS[0]!, GC_FLAGS[1]!], 'workers get the missing ones added')
  // Per runtime (src/cli/node-flags.ts, bench/FINDINGS.md §6-§7).
  t.same(gcFlagsFor('20.20.2'), ['--min-semi-space-size=16', '--max-semi-space-size=16'], 'Node 20: 16 MB')
  t.same(gcFlagsFor('22.12.0'), ['--min-semi-space-size=16', '--max-semi-space-size=16'], 'Node 22 (not measured): as Node 20')
  t.same(gcFlagsFor('24.11.1'), ['--min-semi-space-size=2', '--max-semi-space-size=2'], 'Node 24: 2 MB')
  t.same(gcFlagsFor('26.0.0'), gcFlagsFor('24.0.0'), 'later majors: as Node 24')
  const n24 = gcFlagsFor('24.0.0')
  t.same(differingGcFlags(node20, n24), n24, 'Node 20 values under Node 24 differ')
  t.same(differingGcFlags(n24, n24), [])
  t.same(differingGcFlags(['--max_semi_space_size', '2', '--min-semi-space-size=2'], n24), [], 'the underscore and two-argument spellings are read')
  t.same(differingGcFlags(['--min-semi-space-size=16', '--min-semi-space-size=2', '--max-semi-space-size=2'], n24), [], 'the last occurrence wins, as in V8')
  t.same(differingGcFlags([], n24), [], 'missing is not differing')
  t.same(withGcFlags(['--inspect', '--max_semi_space_size', '64', '--min-semi-space-size=16', '--trace-gc']), ['--inspect', '--trace-gc', ...GC_FLAGS], 'a relaunch replaces every spelling of them, keeping the other flags')

  const cfg = await gatewayWithBackend(t, { enabled: false })
  const p = startProcess(t, ['start', '--config', cfg], {}, GC_FLAGS)
  await p.started
  t.notOk(p.lines.some((l) => l.event === 'node_flags_missing'), 'no warning')
  t.notOk(p.lines.some((l) => l.event === 'node_flags_relaunch'), 'no relaunch')
  t.ok(GC_FLAGS.every((f) => readFileSync(`/proc/${p.child.pid}/cmdline`, 'utf8').split('\0').includes(f)), 'the process runs with them')
  p.child.kill('SIGTERM')
  t.equal(await p.exited, 0)

  // As the shebang / npm start launch it: Node 20's values. Under Node 24 (process.execve), the process replaces
  // itself with Node 24's; under Node 20 they are the right ones already.
  const viaLauncher = startProcess(t, ['start', '--config', cfg], {}, gcFlagsFor('20.0.0'))
  await viaLauncher.started
  const argv = readFileSync(`/proc/${viaLauncher.child.pid}/cmdline`, 'utf8').split('\0')
  t.ok(GC_FLAGS.every((f) => argv.includes(f)), `launched with Node 20's flags, the process runs with this runtime's (${GC_FLAGS.join(' ')})`)
  const relaunched = viaLauncher.lines.find((l) => l.event === 'node_flags_relaunch')
  if (differingGcFlags(gcFlagsFor('20.0.0')).length > 0) t.equal(relaunched?.how, 'execve', 'by replacing itself (same pid)')
  else t.notOk(relaunched, 'no relaunch on Node 20')
  viaLauncher.child.kill('SIGTERM')
  t.equal(await viaLauncher.exited, 0)

  // RCGW_NO_REEXEC=1: another runtime's values stay; the log says they are not the recommended ones.
  const other = GC_FLAGS[0] === gcFlagsFor('20.0.0')[0] ? gcFlagsFor('24.0.0') : gcFlagsFor('20.0.0')
  const kept = startProcess(t, ['start', '--config', cfg], { RCGW_NO_REEXEC: '1' }, other)
  await kept.started
  t.ok(other.every((f) => readFileSync(`/proc/${kept.child.pid}/cmdline`, 'utf8').split('\0').includes(f)), 'kept as given')
  t.match(kept.lines.find((l) => l.event === 'node_flags_differ'), { recommended: [...GC_FLAGS] }, 'and logged as differing')
  kept.child.kill('SIGTERM')
  t.equal(await kept.exited, 0)
})

t.test('start: port in use exits 1 with a clear message', async (t) => {
  const { createServer } = await import('node:net')
  const srv = createServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  t.teardown(() => srv.close())
  const port = (srv.address() as { port: number }).port
  const dir = tempDir(t)
  writePki(dir)
  const cfg = join(dir, 'gw.yml')
  writeFileSync(cfg, stringify({ listen: { host: '127.0.0.1', port }, admin: { enabled: false }, tls: { certificate: 'server.crt', key: 'server.key' }, clusters: [{ name: 'a', nodes: ['127.0.0.1:1'] }] }))
  const r = spawnSync(process.execPath, [cli, 'start', '--config', cfg], { encoding: 'utf8' })
  t.equal(r.status, 1)
  t.match(r.stderr, /address in use/)
})
