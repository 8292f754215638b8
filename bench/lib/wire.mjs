/**
 * Lean transport-frame plumbing shared by the bench backend and the load generator.
 *
 * The gateway's own FrameDecoder (dist/codec) is built for correctness: it parses every variable header into Maps,
 * reads request ids as BigInt and allocates a header object per frame. The load side of a benchmark must be much
 * cheaper than the system under test (it shares one core with the backend), so this scanner does only what the
 * bench needs: find frame boundaries, hand out the fixed header (and optionally the variable header) as a view,
 * and optionally collect the first few body bytes. Frame layout: transport-protocol.md §1.1.
 */

export const HEADER_SIZE = 23
export const PING_SIZE = 6

export const STATUS_RESPONSE = 0x01
export const STATUS_ERROR = 0x02
export const STATUS_HANDSHAKE = 0x08

/**
 * Push-based frame scanner. Callbacks run synchronously inside push():
 *   onHeader(src, s, hdrLen, messageLength)  header bytes are src[s .. s+hdrLen) (23, or 23 + variable header when
 *                                            wantVar); valid only during the call
 *   onFrameEnd(prefix)                       after the last body byte; prefix = first `prefixLen` body bytes as a
 *                                            big-endian integer (only bytes that exist), for prefixLen ≤ 4... see below
 *   onPing()                                 a 6-byte ping
 *   onBodyBytes(n)                           optional, body bytes as they pass (for byte accounting)
 * prefixLen ≤ 5: byte 0 is skipped (the TaskId `00` every request body starts with) and bytes 1..4 form the int.
 */
export class Scanner {
  constructor({ wantVar = false, prefix = false, onHeader, onFrameEnd, onPing = () => {}, onError = (e) => { throw e } }) {
    this.wantVar = wantVar
    this.prefixWanted = prefix ? 5 : 0
    this.onHeader = onHeader
    this.onFrameEnd = onFrameEnd
    this.onPing = onPing
    this.onError = onError
    this.stash = Buffer.allocUnsafe(512)
    this.stashLen = 0
    this.remaining = -1 // -1: at a frame start; ≥ 0: body bytes still to come
    this.prefixGot = 0
    this.prefix = 0
    this.dead = false
  }

  /** Bytes needed before a decision at a frame start: 0 = header complete, -1 = ping, -2 = error. */
  need(src, s, avail) {
    if (avail < PING_SIZE) return PING_SIZE
    if (src[s] !== 0x45 || src[s + 1] !== 0x53) return -2
    const len = src.readInt32BE(s + 2)
    if (len === -1) return -1
    if (len <= 0) return -2
    if (avail < HEADER_SIZE) return HEADER_SIZE
    if (!this.wantVar) return 0
    const total = HEADER_SIZE + src.readInt32BE(s + 19)
    return avail < total ? total : 0
  }

  push(c) {
    if (this.dead) return
    const n = c.length
    let off = 0
    while (off < n) {
      if (this.remaining >= 0) {
        let take = this.remaining < n - off ? this.remaining : n - off
        if (this.prefixGot < this.prefixWanted) {
          const end = off + take
          for (let i = off; i < end && this.prefixGot < this.prefixWanted; i++) {
            if (this.prefixGot > 0) this.prefix = ((this.prefix << 8) | c[i]) >>> 0
            this.prefixGot++
          }
        }
        off += take
        this.remaining -= take
        if (this.remaining === 0) this.endFrame()
        continue
      }
      let src, s, avail
      if (this.stashLen === 0) {
        src = c
        s = off
        avail = n - off
      } else {
        src = this.stash
        s = 0
        avail = this.stashLen
      }
      const need = this.need(src, s, avail)
      if (need > 0) {
        // Not enough at this frame start: move bytes into the stash (only up to `need`, never past the header).
        const want = need - this.stashLen
        const m = want < n - off ? want : n - off
        if (this.stashLen + m > this.stash.length) {
          const grown = Buffer.allocUnsafe(Math.max(need, this.stash.length * 2))
          this.stash.copy(grown, 0, 0, this.stashLen)
          this.stash = grown
        }
        c.copy(this.stash, this.stashLen, off, off + m)
        this.stashLen += m
        off += m
        continue
      }
      if (need === -2) {
        this.dead = true
        this.onError(new Error(`bench scanner: bad frame start (${src.subarray(s, s + 6).toString('hex')})`))
        return
      }
      const fromStash = src === this.stash
      if (need === -1) {
        if (fromStash) this.stashLen = 0
        else off += PING_SIZE
        this.onPing()
        continue
      }
      const msgLen = src.readInt32BE(s + 2)
      const hdrLen = this.wantVar ? HEADER_SIZE + src.readInt32BE(s + 19) : HEADER_SIZE
      this.remaining = PING_SIZE + msgLen - hdrLen
      this.prefixGot = 0
      this.prefix = 0
      this.onHeader(src, s, hdrLen, msgLen)
      if (fromStash) this.stashLen = 0
      else off += hdrLen
      if (this.remaining === 0) this.endFrame()
    }
  }

  endFrame() {
    this.remaining = -1
    this.onFrameEnd(this.prefix, this.prefixGot)
  }
}

/** Low 32 bits of the request id of the frame header at src[s]. The bench keeps ids below 2^32. */
export function requestIdLow(src, s) {
  return src.readUInt32BE(s + 10)
}
