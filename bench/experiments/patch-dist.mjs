#!/usr/bin/env node
/**
 * Makes a patched COPY of a gateway build (dist/) for before/after measurements; never touches the source tree.
 * The patches are the data-path changes measured in bench/FINDINGS.md, written against the compiled JavaScript.
 *
 *   node bench/experiments/patch-dist.mjs --to /tmp/rcgw-x/dist-b [--from dist] PATCH...
 *   node bench/run.mjs --compare-dist /tmp/rcgw-x/dist-b --only w1,w2,w3        (interleaved A/B, paired ratios)
 *   node bench/micro.mjs --compare-dist /tmp/rcgw-x/dist-b                        (JS-only micro-benchmarks)
 *
 * The copy needs node_modules next to it (Node resolves pino, prom-client, … upwards from the file): the script
 * links <to>/../node_modules to the repository's node_modules when it is missing.
 *
 * Each patch is an exact text replacement and fails loudly when the compiled code no longer matches (src/ moved
 * on): then port the change by hand. Patches:
 */
import { cpSync, existsSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')

const RELAY = 'gateway/relay.js'
const CONNECT = 'upstream/connect.js'

/** Back-pressure bound for the relay's writes, replacing "write() returned false" (see FINDINGS.md §1). */
const BOUND = Number(process.env.RCGW_PATCH_WRITE_BOUND ?? 1048576)

const PATCHES = {
  // §1: pause the other side only when more than BOUND bytes are queued on a socket, instead of whenever write()
  // returns false — which a TLS socket does for every write of ≥ 16 KiB (its writes complete asynchronously).
  hwm: [
    [
      RELAY,
      `        if (!this.client.write(buf) && (this.backendPause & PAUSE_BACKPRESSURE) === 0)
            this.pauseBackend(PAUSE_BACKPRESSURE);`,
      `        this.client.write(buf);
        if (this.client.writableLength > ${BOUND} && (this.backendPause & PAUSE_BACKPRESSURE) === 0)
            this.pauseBackend(PAUSE_BACKPRESSURE);`,
    ],
    [
      RELAY,
      `        if (!this.backend.write(buf) && (this.clientPause & PAUSE_BACKPRESSURE) === 0)
            this.pauseClient(PAUSE_BACKPRESSURE);
    }`,
      `        this.backend.write(buf);
        if (this.backend.writableLength > ${BOUND} && (this.clientPause & PAUSE_BACKPRESSURE) === 0)
            this.pauseClient(PAUSE_BACKPRESSURE);
    }`,
    ],
  ],
  // §1, backend → client direction only (the one that matters for W1).
  hwmout: [
    [
      RELAY,
      `        if (!this.client.write(buf) && (this.backendPause & PAUSE_BACKPRESSURE) === 0)
            this.pauseBackend(PAUSE_BACKPRESSURE);`,
      `        this.client.write(buf);
        if (this.client.writableLength > ${BOUND} && (this.backendPause & PAUSE_BACKPRESSURE) === 0)
            this.pauseBackend(PAUSE_BACKPRESSURE);`,
    ],
  ],
  // §2: keep the client socket corked until the end of the event-loop turn, so the 16 KiB chunks of one backend
  // read leave in one writev → one SSL_write → one syscall. Needs hwm (a corked write always "returns false").
  batchout: [
    [
      RELAY,
      `        if (!this.sliceMode) {
            // Forward first, then observe: whatever the observation triggers (a drain finishing, a framing error)
            // must not drop bytes the client is owed.
            this.writeClient(chunk);`,
      `        if (!this.sliceMode) {
            // Forward first, then observe: whatever the observation triggers (a drain finishing, a framing error)
            // must not drop bytes the client is owed.
            if (!this.outCorked) {
                this.outCorked = true;
                this.client.cork();
                setImmediate(this.uncorkOut);
            }
            this.writeClient(chunk);`,
    ],
    [RELAY, '    skipBody = false;', '    skipBody = false;\n    outCorked = false;\n    uncorkOut = () => { this.outCorked = false; this.client.uncork(); };'],
  ],
  // §2, client → backend: the same for requests (several client reads per turn leave in one write).
  batchin: [
    [
      RELAY,
      `        backend.cork();
        this.clientDecoder.push(chunk);`,
      `        if (!this.inCorked) {
            this.inCorked = true;
            backend.cork();
            setImmediate(this.uncorkIn);
        }
        backend.cork();
        this.clientDecoder.push(chunk);`,
    ],
    [RELAY, '    skipBody = false;', '    skipBody = false;\n    inCorked = false;\n    uncorkIn = () => { this.inCorked = false; this.backend?.uncork(); };'],
  ],
  // §3: one backend SecureContext per cluster instead of one per connect (tls.connect({ ca }) parses the PEM and
  // builds an X509 store every time: 21 % of the gateway's main thread under W3).
  ctx: [
    [
      CONNECT,
      "import { connect as tlsConnect } from 'node:tls';",
      `import { connect as tlsConnect, createSecureContext } from 'node:tls';
const contexts = new WeakMap();
const SESSION = false;
const sessions = new Map();
function tlsOptionsFor(tls, host) {
    const { ca, cert, key, minVersion, maxVersion, ecdhCurve, ...rest } = backendTlsOptions(tls, host);
    let secureContext = contexts.get(tls);
    if (secureContext === undefined) {
        secureContext = createSecureContext({ ca, cert, key, minVersion, maxVersion, ecdhCurve });
        contexts.set(tls, secureContext);
    }
    return { ...rest, secureContext };
}`,
    ],
    [
      CONNECT,
      'tlsConnect({ host: node.host, port: node.port, ...backendTlsOptions(tls, node.host) })',
      'tlsConnect({ host: node.host, port: node.port, ...tlsOptionsFor(tls, node.host), ...(SESSION ? { session: sessions.get(node.id) } : {}) })',
    ],
  ],
  // §3: resume backend TLS sessions (TLS 1.3 tickets), as HAProxy does for its servers; a resumed connect skips
  // getPeerCertificate + checkServerIdentity (12 % under W3) and the certificate exchange. Needs ctx.
  session: [
    [CONNECT, 'const SESSION = false;', 'const SESSION = true;'],
    [CONNECT, "        socket.once('error', onError);", "        if (SESSION && tls.enabled) socket.on('session', (s) => sessions.set(node.id, s));\n        socket.once('error', onError);"],
  ],
  // §5: request ids as numbers below 2^53 instead of BigInt.
  numid: [
    [
      'codec/decoder.js',
      'const h = new FrameHeader(raw.readBigInt64BE(6),',
      'const hi = raw.readInt32BE(6);\n        const h = new FrameHeader(hi >= 0 && hi < 0x200000 ? hi * 4294967296 + raw.readUInt32BE(10) : raw.readBigInt64BE(6),',
    ],
    [RELAY, 'encodeErrorFrame(h.requestId,', 'encodeErrorFrame(BigInt(h.requestId),', 'all'],
  ],
  // §4: reuse the last parsed credentials header (string equality) instead of parsing it again.
  credmemo: [
    [
      'auth/policy.js',
      '        const parsed = parseCredentialsHeader(credentials);',
      `        let parsed;
        if (credentials === this.lastCredentials)
            parsed = this.lastParsed;
        else {
            parsed = parseCredentialsHeader(credentials);
            this.lastCredentials = credentials;
            this.lastParsed = parsed;
        }`,
    ],
  ],
  // §4: reuse the last decoded signature header (string equality) instead of SHA-256-hashing it for the cache.
  sigmemo: [
    [
      'auth/verify.js',
      `    decode(header) {
        const key`,
      `    decode(header) {
        if (header === this.lastHeader)
            return this.lastDecoded;
        const out = this.decodeKeyed(header);
        this.lastHeader = header;
        this.lastDecoded = out;
        return out;
    }
    decodeKeyed(header) {
        const key`,
    ],
  ],
}

function main(argv) {
  let from = join(root, 'dist')
  let to = null
  const names = []
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--from') from = resolve(argv[++i])
    else if (argv[i] === '--to') to = resolve(argv[++i])
    else names.push(argv[i])
  }
  if (to === null || names.length === 0) {
    process.stderr.write(`usage: patch-dist.mjs --to DIR [--from DIR] PATCH...\npatches: ${Object.keys(PATCHES).join(' ')}\n`)
    process.exit(2)
  }
  for (const n of names) if (!PATCHES[n]) throw new Error(`unknown patch ${n} (known: ${Object.keys(PATCHES).join(' ')})`)
  if (resolve(to) === resolve(from) || resolve(to).startsWith(join(root, 'dist'))) throw new Error('refusing to patch the build in place')
  rmSync(to, { recursive: true, force: true })
  cpSync(from, to, { recursive: true })
  const nm = join(dirname(to), 'node_modules')
  if (!existsSync(nm) && !resolve(to).startsWith(root + '/')) symlinkSync(join(root, 'node_modules'), nm)
  for (const n of names) {
    for (const [file, before, after, mode] of PATCHES[n]) {
      const p = join(to, file)
      const text = readFileSync(p, 'utf8')
      const count = text.split(before).length - 1
      if (count === 0 || (mode !== 'all' && count !== 1))
        throw new Error(`patch ${n}: ${file}: expected ${mode === 'all' ? 'at least one' : 'exactly one'} occurrence of ${JSON.stringify(before.slice(0, 70))}…, found ${count}`)
      writeFileSync(p, text.split(before).join(after))
    }
  }
  process.stdout.write(`${to}: ${names.join(' + ')}\n`)
}

main(process.argv.slice(2))
