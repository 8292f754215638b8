import t from 'tap'
import fc from 'fast-check'
import { checkStrictBase64, decodeStrictBase64, encodeBase64 } from '../../src/auth/base64.js'

t.test('java.util.Base64.getDecoder() acceptance', async (t) => {
  const ok: [string, string][] = [
    ['', ''],
    ['aWQ6YWI=', 'id:ab'],
    ['aWQ6YWI', 'id:ab'],
    ['aQ==', 'i'],
    ['aQ', 'i'],
    ['aWQ6', 'id:'],
    ['+/+/', Buffer.from([0xfb, 0xff, 0xbf]).toString('latin1')],
    ['aR==', 'i'], // unused low bits are not checked, like Java
  ]
  for (const [input, plain] of ok) {
    t.equal(decodeStrictBase64(input)?.toString('latin1'), plain, JSON.stringify(input))
  }
  const bad: [string, string, string][] = [
    ['aWQ6 YWI=', 'illegal_character', 'Illegal base64 character 20'],
    ['aWQ6\nYWI=', 'illegal_character', 'Illegal base64 character a'],
    ['aW-6', 'illegal_character', 'Illegal base64 character 2d'],
    ['aW_6', 'illegal_character', 'Illegal base64 character 5f'],
    ['aWé6', 'illegal_character', 'Illegal base64 character -3d'],
    ['a\ud800b', 'illegal_character', 'Illegal base64 character 3f'],
    ['=', 'too_short', 'Input byte[] should at least have 2 bytes for base64 bytes'],
    ['a', 'too_short', 'Input byte[] should at least have 2 bytes for base64 bytes'],
    ['==', 'bad_padding', 'Input byte array has wrong 4-byte ending unit'],
    ['aWQ6=', 'bad_padding', 'Input byte array has wrong 4-byte ending unit'],
    ['aQ=', 'bad_padding', 'Input byte array has wrong 4-byte ending unit'],
    ['aQ=x', 'bad_padding', 'Input byte array has wrong 4-byte ending unit'],
    ['a=', 'dangling_character', 'Last unit does not have enough valid bits'],
    ['aWQ6Y', 'dangling_character', 'Last unit does not have enough valid bits'],
    ['aWI==', 'data_after_padding', 'Input byte array has incorrect ending byte at 4'],
    ['aQ==aQ==', 'data_after_padding', 'Input byte array has incorrect ending byte at 4'],
    ['aWI=x', 'data_after_padding', 'Input byte array has incorrect ending byte at 4'],
  ]
  for (const [input, reason, message] of bad) {
    t.same(checkStrictBase64(input), { reason, message }, JSON.stringify(input))
    t.equal(decodeStrictBase64(input), null)
  }
})

t.test('fast-check: encoder output always decodes to the same bytes', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 100 }), fc.boolean(), (bytes, strip) => {
      let s = encodeBase64(bytes)
      if (strip) s = s.replace(/=+$/, '')
      const back = decodeStrictBase64(s)
      return back !== null && back.equals(Buffer.from(bytes)) && !/\s/.test(s)
    }),
    { numRuns: 1000 },
  )
  fc.assert(
    fc.property(fc.string({ maxLength: 20 }), (s) => {
      const r = decodeStrictBase64(s)
      // whenever we accept, Node's lenient decoder agrees on the bytes and re-encoding is canonical up to padding
      return r === null || encodeBase64(r).replace(/=+$/, '').length === s.replace(/=+$/, '').length
    }),
    { numRuns: 1000 },
  )
  t.pass('encoder and decoder agree')
})
