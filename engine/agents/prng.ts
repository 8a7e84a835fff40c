/**
 * A small seeded PRNG (sfc32, Chris Doty-Humphrey's Small Fast Counter) and the helpers the
 * scripted agents draw from it — integers, picks, shuffles and UUIDs.
 *
 * WHY not Math.random / crypto.randomUUID: "same seed → same proposals" must include the
 * proposal ids, or a replayed run would collide with (or differ from) the recorded one. And WHY a
 * fresh stream per (seed, agent, tick) instead of one long stream: an agent's choices then do not
 * depend on how many other agents ran before it, on proposer call order, or on where a resumed
 * run starts.
 */

/** 128-bit string hash (cyrb128) → four 32-bit seeds. Only used to seed sfc32, not for security. */
function cyrb128(str: string): [number, number, number, number] {
  let h1 = 1779033703, h2 = 3144134277, h3 = 1013904242, h4 = 2773480762;
  for (let i = 0; i < str.length; i++) {
    const k = str.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}

export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** A stream keyed by any parts, e.g. `new Prng(seed, agent, tick)`. */
  constructor(...key: Array<string | number>) {
    [this.a, this.b, this.c, this.d] = cyrb128(key.map(String).join('\u0000'));
    for (let i = 0; i < 12; i++) this.u32(); // warm up: the first outputs of sfc32 are weakly mixed
  }

  /** Next uniform 32-bit unsigned integer (sfc32). */
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). For choices and jitter only — never for amounts (those use bigint). */
  next(): number {
    return this.u32() / 4294967296;
  }

  /** Uniform integer in [0, n) for 0 < n ≤ 2^32. */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Uniform bigint in [lo, hi] (inclusive); lo when hi < lo. Rejection sampling keeps it unbiased. */
  bigint(lo: bigint, hi: bigint): bigint {
    if (hi <= lo) return lo;
    const span = hi - lo + 1n;
    const bits = span.toString(2).length;
    const words = Math.ceil(bits / 32);
    const mask = (1n << BigInt(bits)) - 1n;
    for (;;) {
      let v = 0n;
      for (let i = 0; i < words; i++) v = (v << 32n) | BigInt(this.u32());
      v &= mask;
      if (v < span) return lo + v;
    }
  }

  pick<T>(xs: readonly T[]): T {
    if (xs.length === 0) throw new Error('pick from an empty list');
    return xs[this.int(xs.length)];
  }

  /** Fisher–Yates on a copy. */
  shuffle<T>(xs: readonly T[]): T[] {
    const out = [...xs];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }

  /** A version-4-shaped UUID drawn from this stream (deterministic, unlike randomUUID). */
  uuid(): string {
    const h = [this.u32(), this.u32(), this.u32(), this.u32()].map((w) => w.toString(16).padStart(8, '0')).join('');
    const variant = ((parseInt(h[16], 16) & 0x3) | 0x8).toString(16);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
  }
}
