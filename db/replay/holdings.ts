/**
 * Two small structures that keep replay's per-row fold cheap (measured on 1M rows: BigInt
 * arithmetic and decoding a string per field were each a sizeable share of a row's cost).
 */

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/**
 * The balances of one resource by actor: numbers while they are exact (|v| ≤ 2^53 − 1, the law's
 * amounts are far below), bigint for an actor once its balance leaves that range (the law allows
 * balances up to 2^62). Values are always exact integers.
 */
export class Holdings {
  private readonly small = new Map<string, number>();
  private readonly large = new Map<string, bigint>();

  has(actor: string): boolean {
    return this.small.has(actor) || this.large.has(actor);
  }

  get(actor: string): bigint {
    const v = this.small.get(actor);
    return v !== undefined ? BigInt(v) : (this.large.get(actor) ?? 0n);
  }

  set(actor: string, v: bigint): void {
    if (v >= -MAX_SAFE && v <= MAX_SAFE) {
      this.small.set(actor, Number(v));
      this.large.delete(actor);
    } else {
      this.large.set(actor, v);
      this.small.delete(actor);
    }
  }

  /** Add `d` (an exact integer number); whether the balance is negative afterwards. */
  add(actor: string, d: number): boolean {
    if (this.large.size === 0 || !this.large.has(actor)) {
      const cur = this.small.get(actor) ?? 0;
      const v = cur + d;
      if (v <= MAX_SAFE && v >= -MAX_SAFE) {
        this.small.set(actor, v);
        return v < 0;
      }
      return this.addBig(actor, BigInt(d)); // the sum left the exact range: redo it in bigint
    }
    return this.addBig(actor, BigInt(d));
  }

  addBig(actor: string, d: bigint): boolean {
    const v = this.get(actor) + d;
    this.set(actor, v);
    return v < 0n;
  }

  forEach(fn: (actor: string, v: bigint) => void): void {
    for (const [a, v] of this.small) fn(a, BigInt(v));
    for (const [a, v] of this.large) fn(a, v);
  }
}

/**
 * Decodes UTF-8 byte strings to JS strings through a bounded hash table: actor, kind and resource
 * names repeat across rows, and a lookup (hash and compare a few bytes) costs less than decoding.
 * Past `capacity` distinct names it decodes without remembering.
 */
export class Interner {
  private readonly mask: number;
  private readonly keys: Array<Buffer | undefined>;
  private readonly values: string[];
  private size = 0;

  constructor(private readonly capacity = 1 << 16) {
    const slots = capacity * 2;
    this.mask = slots - 1;
    this.keys = new Array(slots);
    this.values = new Array(slots);
  }

  text(b: Buffer, o: number, n: number): string {
    let h = n;
    for (let i = 0; i < n; i++) h = Math.imul(h, 31) + b[o + i];
    for (let slot = h & this.mask, probes = 0; probes < 16; slot = (slot + 1) & this.mask, probes++) {
      const k = this.keys[slot];
      if (k === undefined) {
        const s = b.toString('utf8', o, o + n);
        if (this.size < this.capacity) {
          this.keys[slot] = Buffer.from(b.subarray(o, o + n));
          this.values[slot] = s;
          this.size++;
        }
        return s;
      }
      if (k.length === n) {
        let same = true;
        for (let i = 0; i < n; i++) {
          if (k[i] !== b[o + i]) {
            same = false;
            break;
          }
        }
        if (same) return this.values[slot];
      }
    }
    return b.toString('utf8', o, o + n);
  }
}
