/**
 * A small seeded PRNG (mulberry32): the offline runner draws every case from it, so a run is reproducible from its
 * seed alone, and the CI slice (fast-check) and the runner share the same case shape (lib/case.ts).
 */
export class Rng {
  private state: number

  constructor(seed: number) {
    this.state = seed >>> 0
  }

  /** A uint32. */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0
    let t = this.state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return (t ^ (t >>> 14)) >>> 0
  }

  /** An integer in [0, n) (n ≥ 1). */
  int(n: number): number {
    return n <= 1 ? 0 : this.next() % n
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() / 0x1_0000_0000 < p
  }

  /** A small count biased towards low values: 1 most of the time, up to max. */
  small(max: number): number {
    let n = 1
    while (n < max && this.chance(0.4)) n++
    return n
  }
}
