/**
 * Child processes of the bench: spawned pinned to a core with taskset, tracked so that every one of them is
 * stopped at the end (also on errors and signals), plus /proc readers for RSS and CPU time.
 */
import { spawn } from 'node:child_process'
import { createWriteStream, readdirSync, readFileSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { createInterface } from 'node:readline'

const live = new Set()
let niceness = 0

/** Scheduling priority for every child (negative = favoured over the machine's other processes; needs CAP_SYS_NICE). */
export function setNiceness(n) {
  niceness = n
}

/**
 * Spawns `cmd args` pinned to `core`. stdout lines go to `onLine` (and to `logFile` when given); stderr to logFile.
 * stdin is a pipe: our own children exit when it closes, so they never outlive the orchestrator by long.
 */
export function spawnPinned(name, core, cmd, args, { logFile, onLine, env, stdin = 'pipe' } = {}) {
  const argv = ['taskset', '-c', String(core), cmd, ...args]
  if (niceness !== 0) argv.unshift('nice', '-n', String(niceness))
  const child = spawn(argv[0], argv.slice(1), { stdio: [stdin, 'pipe', 'pipe'], env: env ?? process.env })
  const proc = { name, child, pid: child.pid, exited: false, exitCode: null, lines: [] }
  live.add(proc)
  const log = logFile ? createWriteStream(logFile, { flags: 'a' }) : null
  createInterface({ input: child.stdout }).on('line', (line) => {
    log?.write(line + '\n')
    if (proc.lines.length < 200) proc.lines.push(line)
    onLine?.(line)
  })
  child.stderr.on('data', (d) => {
    log?.write(d)
    proc.stderrTail = ((proc.stderrTail ?? '') + d.toString()).slice(-4000)
  })
  proc.exit = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      proc.exited = true
      proc.exitCode = code ?? signal
      live.delete(proc)
      log?.end()
      resolve(proc.exitCode)
    })
  })
  child.on('error', (e) => {
    proc.stderrTail = String(e)
  })
  return proc
}

/** SIGTERM, then SIGKILL after `graceMs`. Only ever signals the pid we spawned. */
export async function stopProc(proc, graceMs = 3000) {
  if (proc === null || proc === undefined || proc.exited) return
  try {
    proc.child.kill('SIGTERM')
  } catch {}
  const t = setTimeout(() => {
    try {
      proc.child.kill('SIGKILL')
    } catch {}
  }, graceMs)
  await proc.exit
  clearTimeout(t)
}

export async function stopAll() {
  await Promise.all([...live].map((p) => stopProc(p, 2000)))
}

/** Synchronous last resort (process 'exit' handler). */
export function killAllSync() {
  for (const p of live) {
    try {
      p.child.kill('SIGKILL')
    } catch {}
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen({ host: '127.0.0.1', port: 0 }, () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

/** Resolves once 127.0.0.1:port accepts a TCP connection; rejects if `proc` exits first or after timeoutMs. */
export async function waitForPort(port, proc, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (proc.exited) throw new Error(`${proc.name} exited (${proc.exitCode}) before listening: ${proc.stderrTail ?? proc.lines.slice(-5).join('\n')}`)
    const ok = await new Promise((resolve) => {
      const s = connect({ host: '127.0.0.1', port }, () => {
        s.destroy()
        resolve(true)
      })
      s.once('error', () => resolve(false))
    })
    if (ok) return
    if (Date.now() > deadline) throw new Error(`${proc.name} did not listen on ${port} within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** VmRSS of a process in bytes. */
export function rssBytes(pid) {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) * 1024 : NaN
}

/** utime + stime of a process, in clock ticks (USER_HZ = 100 on Linux). */
export function cpuTicks(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ')
    return Number(f[11]) + Number(f[12])
  } catch {
    return NaN
  }
}

/**
 * utime + stime of a process and all its live descendants (a gateway with `workers` is a primary and its forked
 * workers), in clock ticks.
 */
export function treeCpuTicks(pid) {
  const children = new Map()
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue
    try {
      const s = readFileSync(`/proc/${e}/stat`, 'utf8')
      const ppid = Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1])
      if (!children.has(ppid)) children.set(ppid, [])
      children.get(ppid).push(Number(e))
    } catch {}
  }
  let total = 0
  const stack = [pid]
  while (stack.length > 0) {
    const p = stack.pop()
    total += cpuTicks(p) || 0
    for (const c of children.get(p) ?? []) stack.push(c)
  }
  return total
}

/** Busy and total jiffies per core from /proc/stat. */
export function coreTicks() {
  const out = {}
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line)
    if (!m) continue
    const v = m[2].split(/\s+/).map(Number)
    const idle = v[3] + v[4]
    const total = v.reduce((a, b) => a + b, 0)
    out[m[1]] = { busy: total - idle, total }
  }
  return out
}

/** Fraction of time busy per core between two coreTicks() samples. */
export function coreBusy(a, b) {
  const out = {}
  for (const k of Object.keys(b)) {
    const dt = b[k].total - (a[k]?.total ?? 0)
    out[k] = dt > 0 ? (b[k].busy - (a[k]?.busy ?? 0)) / dt : NaN
  }
  return out
}
