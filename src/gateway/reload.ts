/**
 * Hot reload support: which settings can change while running, which files a config depends on, and a watcher
 * that notices when any of them changes.
 *
 * What a reload applies (see TransportServer.prepareReload / commitReload):
 *   - the server certificate, key and client CAs: new TLS handshakes use the new material, established connections
 *     keep theirs;
 *   - per cluster: nodes, backend TLS, connect timeout and health checks → a new backend pool for NEW connections
 *     (an established connection keeps its backend node); API keys, signing CAs, key lookup, allowed actions →
 *     a new policy, used from the next request on EVERY connection of that cluster, established ones included, so
 *     that a tightened certificate_identity or a removed signing CA takes effect at once;
 *   - clusters added, removed or re-routed (server_names / default) for new connections (a removed cluster's
 *     established connections keep running, with its last policy, until they close); limits (lowered limits
 *     refuse new connections only: nothing established is closed), PROXY protocol, drain timeout and log level.
 *   - per cluster, `rest` (REST nodes, their TLS, connect timeout) → a new upstream for the REST listener's NEW
 *     requests (requests in flight finish on the old one; its idle keep-alive sockets time out).
 * What it refuses: `listen.host`, `listen.port`, the `admin` listener and the top-level `rest` section. A reload is all or nothing — applying the
 * rest while silently keeping the old address would leave the file and the running gateway disagreeing about
 * where it listens, which is exactly what an operator reading the file would trust; restart instead.
 */
import { watch, readFileSync, type FSWatcher } from 'node:fs'
import { basename, dirname } from 'node:path'
import { createHash } from 'node:crypto'
import type { GatewayConfig } from '../config/types.js'
import type { Logger } from '../log.js'

/** A refused reload: the config key at fault and what is wrong with it. */
export class ReloadError extends Error {
  constructor(
    readonly key: string,
    readonly problem: string,
  ) {
    super(`${key ? `${key}: ` : ''}${problem}`)
    this.name = 'ReloadError'
  }
}

/** The settings that need a restart; the first one that differs, or null. */
export function immovableChange(current: GatewayConfig, next: GatewayConfig): ReloadError | null {
  const restart = 'cannot change while the gateway runs; restart it to apply'
  if (next.listen.host !== current.listen.host)
    return new ReloadError('listen.host', `${restart} (running on ${current.listen.host}, the file says ${next.listen.host})`)
  if (next.listen.port !== current.listen.port)
    return new ReloadError('listen.port', `${restart} (running on ${current.listen.port}, the file says ${next.listen.port})`)
  if (next.admin.enabled !== current.admin.enabled) return new ReloadError('admin.enabled', restart)
  if (next.admin.enabled && next.admin.host !== current.admin.host)
    return new ReloadError('admin.host', `${restart} (running on ${current.admin.host}, the file says ${next.admin.host})`)
  if (next.admin.enabled && next.admin.port !== current.admin.port)
    return new ReloadError('admin.port', `${restart} (running on ${current.admin.port}, the file says ${next.admin.port})`)
  // The REST listener's own settings (address and timeouts) are read at start; its clusters' nodes and TLS reload,
  // and so does its PROXY protocol setting (as listen.proxy_protocol* does on the transport listener).
  const restOwn = (r: GatewayConfig['rest']): string => {
    if (r === undefined) return 'null'
    const { proxyProtocol: _pp, ...own } = r
    void _pp
    return JSON.stringify(own)
  }
  const restNow = restOwn(current.rest)
  const restNext = restOwn(next.rest)
  if (restNow !== restNext) {
    const a = (current.rest ?? {}) as Record<string, unknown>
    const b = (next.rest ?? {}) as Record<string, unknown>
    const names: Record<string, string> = {
      enabled: 'rest.enabled', host: 'rest.host', port: 'rest.port',
      headersTimeoutMs: 'rest.headers_timeout', requestTimeoutMs: 'rest.request_timeout', keepAliveTimeoutMs: 'rest.keep_alive_timeout',
    }
    const key = Object.keys(names).find((k) => a[k] !== b[k])
    return new ReloadError(key !== undefined ? names[key]! : 'rest', restart)
  }
  return null
}

/** Every file the running config was built from: the config file itself and each certificate, key and CA file. */
export function configFiles(cfg: GatewayConfig): string[] {
  const files = new Set<string>([cfg.source, cfg.tls.certificatePath, cfg.tls.keyPath])
  for (const b of cfg.tls.clientCas) files.add(b.path)
  for (const c of cfg.clusters) {
    for (const b of c.backendTls.ca) files.add(b.path)
    if (c.backendTls.cert !== undefined) files.add(c.backendTls.cert.path)
    if (c.backendTls.keyPath !== undefined) files.add(c.backendTls.keyPath)
    for (const b of c.auth.signingCas) files.add(b.path)
    for (const b of c.auth.lookup?.ca ?? []) files.add(b.path)
    for (const b of c.rest?.tls.ca ?? []) files.add(b.path)
    if (c.rest?.tls.cert !== undefined) files.add(c.rest.tls.cert.path)
    if (c.rest?.tls.keyPath !== undefined) files.add(c.rest.tls.keyPath)
  }
  return [...files]
}

/** A digest of the files' contents (a missing file counts as such), to tell a real change from a touch. */
export function filesFingerprint(files: readonly string[]): string {
  const h = createHash('sha256')
  for (const f of [...files].sort()) {
    h.update(f).update('\0')
    try {
      h.update(readFileSync(f))
    } catch (e) {
      h.update(`<${(e as NodeJS.ErrnoException).code ?? 'unreadable'}>`)
    }
    h.update('\0')
  }
  return h.digest('hex')
}

export interface ConfigWatcherOptions {
  /** The files to watch; asked again after every change (a reload may name new files). */
  readonly files: () => readonly string[]
  readonly debounceMs: number
  /** Called once the files changed and then stayed quiet for `debounceMs`. */
  readonly onChange: () => void
  readonly log?: Logger
}

/**
 * Watches files and their folders (fs.watch). The folder watch matters: editors, `kubectl` secret/configmap updates
 * (a `..data` symlink swap) and certificate tools replace a file by renaming a new one over it, which a watch on the
 * old file never reports. Events are debounced; then the contents are hashed and `onChange` is called only if they
 * really changed since the last call (or since start), so a busy folder or a touch does not cause reloads.
 */
export class ConfigWatcher {
  private watchers: FSWatcher[] = []
  private timer: NodeJS.Timeout | null = null
  private last: string
  private closed = false

  constructor(private readonly opts: ConfigWatcherOptions) {
    this.last = filesFingerprint(opts.files())
    this.arm()
  }

  /** Re-creates the watches for the current file list (after a reload that may have named new files). */
  refresh(): void {
    if (this.closed) return
    for (const w of this.watchers) w.close()
    this.watchers = []
    this.last = filesFingerprint(this.opts.files())
    this.arm()
  }

  close(): void {
    this.closed = true
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    for (const w of this.watchers) w.close()
    this.watchers = []
  }

  private arm(): void {
    const files = this.opts.files()
    const names = new Map<string, Set<string>>()
    for (const f of files) {
      const d = dirname(f)
      let s = names.get(d)
      if (s === undefined) names.set(d, (s = new Set()))
      s.add(basename(f))
      this.add(f, () => this.poke())
    }
    for (const [dir, inDir] of names) {
      // Kubernetes' atomic writer swaps `..data` (and writes `..<timestamp>` folders); other names in the folder
      // are not ours.
      this.add(dir, (name) => {
        if (name === null || inDir.has(name) || name.startsWith('..')) this.poke()
      })
    }
  }

  private add(path: string, onEvent: (name: string | null) => void): void {
    try {
      // persistent: false — watching must never keep a stopping process alive.
      const w = watch(path, { persistent: false }, (_ev, name) => onEvent(name === null ? null : String(name)))
      w.on('error', (e) => {
        this.opts.log?.debug({ path, err: e.message }, 'config watch error; the watch is dropped until the next change')
        w.close()
      })
      this.watchers.push(w)
    } catch (e) {
      // A file that does not exist (yet) is still covered by the watch on its folder.
      this.opts.log?.debug({ path, err: (e as Error).message }, 'cannot watch path')
    }
  }

  private poke(): void {
    if (this.closed) return
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = setTimeout(() => this.fire(), this.opts.debounceMs)
    this.timer.unref()
  }

  private fire(): void {
    this.timer = null
    if (this.closed) return
    const now = filesFingerprint(this.opts.files())
    if (now !== this.last) {
      this.last = now
      this.opts.onChange()
    }
    // Re-arm: a file replaced by rename is a new inode, which the old per-file watch no longer sees.
    if (!this.closed) {
      for (const w of this.watchers) w.close()
      this.watchers = []
      this.arm()
    }
  }
}
