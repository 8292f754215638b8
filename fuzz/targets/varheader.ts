/**
 * Target `varheader`: src/codec/header.ts parseVariableHeader (StreamReader string maps, string arrays, the action
 * string) called directly on mutated variable headers, as a request at 9.x and 7.x versions and as a response.
 * Only CodecError may escape. Also checks that what parses re-encodes (writer.ts) to a header that parses the same.
 */
import { isDeepStrictEqual } from 'node:util'
import { parseVariableHeader, writeVariableHeader } from '../../src/codec/header.js'
import { CodecError } from '../../src/codec/errors.js'
import { StreamWriter } from '../../src/codec/writer.js'
import { invariant, latin1, type Target } from '../lib/target.js'

const VERSIONS = [9250003, 7170099, 8000099, 8800000] as const

export const varheaderTarget: Target = {
  name: 'varheader',
  description: 'src/codec/header.ts parseVariableHeader (reader.ts readStringMap/readMapOfLists/readStringArray/readString)',
  maxLen: 16 * 1024,
  dict: [Buffer.from([0x00]), Buffer.from([0x01]), Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xf0, 0x9f, 0x98, 0x80]), latin1('\x16internal:tcp/handshake')],
  exec(input, aux) {
    const isRequest = ((aux[0] ?? 0) & 1) === 0
    const version = VERSIONS[(aux[1] ?? 0) % VERSIONS.length]!
    let vh
    try {
      vh = parseVariableHeader(input, isRequest, version)
    } catch (e) {
      if (e instanceof CodecError) return `err:${e.code}`
      throw e
    }
    // Decoding is lossy (invalid UTF-8 becomes U+FFFD; like StreamInput.readString, continuation bits are not
    // checked; duplicate keys collapse), so compare one normalisation: parse(write(parse(x))) = parse(x).
    const w = new StreamWriter(input.length + 8)
    writeVariableHeader(w, vh, isRequest, version)
    const again = parseVariableHeader(w.toBuffer(), isRequest, version)
    invariant(isDeepStrictEqual(again, vh), 're-encoded variable header parses differently')
    return `ok:${isRequest ? 'req' : 'resp'}:${vh.requestHeaders.size > 0 ? 'h' : ''}`
  },
}
