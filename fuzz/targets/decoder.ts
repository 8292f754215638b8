/**
 * Target `decoder`: src/codec/decoder.ts FrameDecoder (and through it the variable-header parser, header.ts /
 * reader.ts) on mutated client streams, in arbitrary chunkings, with pauses from header().
 *
 * Per case the stream is decoded twice with the same options: once in one chunk without pauses (the reference)
 * and once cut and paused as `aux` says. Invariants:
 *  - push()/resume() never throw (the handler below throws only InvariantError);
 *  - error() at most once, and no callback after it;
 *  - the bytes reported (ping bytes, header `raw`, body slices) are exactly the stream's prefix, in order, and
 *    reported + bufferedBytes = bytes pushed while the decoder is alive (the relay's byte-exactness relies on it);
 *  - `raw` is 23 + varHeaderSize bytes (23 in fixed-header-only mode); a frame's body slices add up to
 *    bodyLength (+ varHeaderSize in fixed-header-only mode); bodyLength ≥ 0;
 *  - bounded memory: when not paused, bufferedBytes ≤ max(23, maxHeaderSize) (≤ 23 in fixed-header-only mode);
 *  - the chunked, paused run gives the same frames, pings and error as the reference.
 */
import { FrameDecoder, type DecodedHeader, type DecoderOptions } from '../../src/codec/decoder.js'
import { HEADER_SIZE } from '../../src/codec/constants.js'
import { chunking, invariant, latin1, type Target } from '../lib/target.js'

const MAX_HEADER_SIZES = [HEADER_SIZE, 64, 1024, 65536, Infinity] as const

interface Run {
  events: string[]
  reported: Buffer[]
  error: string | null
  frames: number
}

function decode(stream: Buffer, chunks: readonly Buffer[], opts: DecoderOptions, pauseBits: number, lateResume: boolean): Run {
  const fixed = opts.fixedHeaderOnly === true
  const run: Run = { events: [], reported: [], error: null, frames: 0 }
  let cur: DecodedHeader | null = null
  let curBody = 0
  let frameIndex = 0
  const afterError = (what: string): void => invariant(run.error === null, `${what} after error()`)
  const decoder = new FrameDecoder(
    {
      ping(bytes) {
        afterError('ping()')
        invariant(cur === null, 'ping() inside a frame')
        invariant(bytes.length === 6, `ping of ${bytes.length} bytes`)
        run.events.push('ping')
        run.reported.push(Buffer.from(bytes))
      },
      header(h, raw) {
        afterError('header()')
        invariant(cur === null, 'header() inside a frame')
        invariant(raw.length === (fixed ? HEADER_SIZE : HEADER_SIZE + h.varHeaderSize), `raw of ${raw.length} bytes for varHeaderSize ${h.varHeaderSize}`)
        invariant(h.bodyLength >= 0, `negative bodyLength ${h.bodyLength}`)
        invariant(h.messageLength === 17 + h.varHeaderSize + h.bodyLength, 'messageLength ≠ 17 + varHeaderSize + bodyLength')
        invariant(!opts.fixedHeaderOnly || h.variable === null, 'variable header parsed in fixed-header-only mode')
        run.events.push(`header:${h.requestId}:${h.status}:${h.version}:${h.messageLength}:${h.variable === null ? '-' : JSON.stringify([...h.variable.requestHeaders, ...h.variable.responseHeaders, h.variable.features, h.variable.action])}`)
        run.reported.push(Buffer.from(raw))
        cur = h
        curBody = 0
        run.frames++
        const pause = ((pauseBits >>> (frameIndex++ % 31)) & 1) === 1
        return !pause
      },
      body(slice) {
        afterError('body()')
        invariant(cur !== null, 'body() outside a frame')
        invariant(slice.length > 0, 'empty body slice')
        curBody += slice.length
        run.reported.push(slice)
      },
      frameEnd(h) {
        afterError('frameEnd()')
        invariant(cur === h, 'frameEnd() for another frame')
        const want = fixed ? h.bodyLength + h.varHeaderSize : h.bodyLength
        invariant(curBody === want, `frame body of ${curBody} bytes, header says ${want}`)
        run.events.push('end')
        cur = null
      },
      error(e) {
        invariant(run.error === null, 'error() twice')
        run.error = `${e.reason}:${e.message}`
        run.events.push(`error:${e.reason}`)
      },
    },
    opts,
  )
  const bound = fixed ? HEADER_SIZE : Math.max(HEADER_SIZE, opts.maxHeaderSize)
  let pushed = 0
  for (const c of chunks) {
    decoder.push(c)
    pushed += c.length
    if (!lateResume) while (decoder.paused) decoder.resume()
    if (!decoder.paused && !decoder.dead) {
      invariant(decoder.bufferedBytes <= bound, () => `bufferedBytes ${decoder.bufferedBytes} > bound ${bound}`)
    }
  }
  while (decoder.paused) decoder.resume()
  const reported = Buffer.concat(run.reported)
  invariant(reported.length <= stream.length && reported.equals(stream.subarray(0, reported.length)), 'reported bytes are not the stream prefix')
  if (!decoder.dead) {
    invariant(reported.length + decoder.bufferedBytes === pushed, () => `reported ${reported.length} + buffered ${decoder.bufferedBytes} ≠ pushed ${pushed}`)
  } else {
    invariant(run.error !== null, 'decoder dead without error()')
  }
  return run
}

export const decoderTarget: Target = {
  name: 'decoder',
  description: 'src/codec/decoder.ts FrameDecoder.push/resume (+ header.ts parseVariableHeader, reader.ts) in arbitrary chunkings',
  maxLen: 64 * 1024,
  dict: [
    latin1('ES'),
    Buffer.from([0x45, 0x53, 0xff, 0xff, 0xff, 0xff]),
    latin1('GET '),
    latin1('HTTP'),
    latin1('OPTION'),
    Buffer.from([0x16, 0x03, 0x01]),
    Buffer.from([0x00, 0x6d, 0x68, 0x33]), // 7170099
    Buffer.from([0x00, 0x86, 0x3d, 0x00]), // 8800000
    Buffer.from([0x00, 0x5c, 0xe7, 0x63]), // 6080099
    latin1('\x16internal:tcp/handshake'),
    latin1('_cross_cluster_access_credentials'),
    Buffer.from([0x08]),
    Buffer.from([0x09]),
    Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]),
  ],
  exec(input, aux) {
    const mode = (aux[2] ?? 0) % 3
    const opts: DecoderOptions =
      mode === 2
        ? { maxHeaderSize: Infinity, fixedHeaderOnly: true }
        : { maxHeaderSize: MAX_HEADER_SIZES[(aux[3] ?? 3) % MAX_HEADER_SIZES.length]!, parseVariableHeader: mode === 0 }
    const ref = decode(input, input.length === 0 ? [] : [input], opts, 0, false)
    const chunks = chunking(input, aux.slice(4))
    const pauseBits = aux[1] ?? 0
    const got = decode(input, chunks, opts, pauseBits, ((aux[0] ?? 0) & 4) !== 0)
    invariant(got.error === ref.error, () => `chunked run error ${got.error} ≠ reference ${ref.error}`)
    invariant(got.events.length === ref.events.length && got.events.every((e, i) => e === ref.events[i]), 'chunked run events differ from the reference')
    return ref.error === null ? `ok:${mode}:${Math.min(ref.frames, 4)}` : `${mode}:${ref.error.slice(0, ref.error.indexOf(':'))}`
  },
}
