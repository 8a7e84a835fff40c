/**
 * Replay's source: the ledger as binary COPY (db/entry-binary.ts), split into rows.
 *
 * Why COPY: the server sends rows in its binary send formats with nothing to convert (≈0.7 µs a
 * row here, against ≈2 µs for text it must print), the client reads fields by offset instead of
 * building an object per row, and a chain v2 row's hash input is a slice of what arrives.
 */
import { COPY_COLUMNS, COPY_FIELDS, COPY_HEADER } from '../entry-binary';

/**
 * The COPY query replay runs: the rows after `afterId` — in id order (all of them, or the first
 * `limit`), or with `order: 'stored'` in whatever order the server finds them cheapest to read
 * (for an append-only table, almost always id order; see db/replay/in-order.ts).
 */
export function ledgerSelect(afterId: bigint, opts: { limit?: number; order?: 'id' | 'stored' } = {}): string {
  const { limit, order = 'id' } = opts;
  // Interpolated, not a parameter (COPY takes none): a bigint and an integer cannot carry SQL.
  if (typeof afterId !== 'bigint' || (limit !== undefined && !Number.isSafeInteger(limit))) throw new TypeError('ledgerSelect: bigint id and integer limit expected');
  if (order === 'stored' && limit !== undefined) throw new TypeError('ledgerSelect: a limit needs id order');
  return `SELECT ${COPY_COLUMNS} FROM ledger WHERE id > ${afterId}` + (order === 'id' ? ' ORDER BY id' : '') + (limit === undefined ? '' : ` LIMIT ${limit}`);
}

/**
 * Called for each row: `b` holds it in [start, end); field k's value is b[off[k], off[k] + len[k])
 * (len -1: NULL). `off` and `len` are reused for the next row. The bytes of `b` are never written
 * again (the fold keeps a reference to the last row's hash instead of copying it).
 */
export type OnRow = (b: Buffer, start: number, end: number, off: Int32Array, len: Int32Array) => void;

/** Splits one COPY statement's binary output, fed chunk by chunk as it arrives, into ledger rows. */
export class CopyRowSplitter {
  private carry: Buffer | null = null;
  private started = false;
  private ended = false;
  private readonly off = new Int32Array(COPY_FIELDS);
  private readonly len = new Int32Array(COPY_FIELDS);
  rows = 0;

  constructor(private readonly onRow: OnRow) {}

  /** The next piece of the output, b[start, end). */
  push(chunk: Buffer, start = 0, end = chunk.length): void {
    // A row cut by a piece boundary is completed from the next piece (one copy of that piece).
    let b = chunk;
    let p = start;
    let n = end;
    if (this.carry) {
      b = Buffer.concat([this.carry, chunk.subarray(start, end)]);
      p = 0;
      n = b.length;
      this.carry = null;
    }
    if (!this.started) {
      if (n - p < COPY_HEADER.length) {
        this.carry = Buffer.from(b.subarray(p, n));
        return;
      }
      if (!b.subarray(p, p + 11).equals(COPY_HEADER.subarray(0, 11))) throw new Error('replay: the ledger COPY output does not start with the binary COPY signature');
      p += COPY_HEADER.length + readInt32(b, p + 15); // flags, then the header extension's length and bytes
      this.started = true;
    }
    const off = this.off;
    const len = this.len;
    while (p + 2 <= n) {
      if (this.ended) throw new Error('replay: data after the end of the ledger COPY output');
      const count = (b[p] << 8) | b[p + 1];
      if (count === 0xffff) {
        this.ended = true;
        p += 2;
        continue;
      }
      const q = rowFields(b, p, n, off, len);
      if (q < 0) break;
      this.onRow(b, p, q, off, len);
      this.rows++;
      p = q;
    }
    if (p < n) this.carry = Buffer.from(b.subarray(p, n)); // a copy: `chunk` may be a view of a larger buffer
  }

  /** After the last chunk: the output must have ended exactly with its trailer. */
  finish(): void {
    if (!this.ended || this.carry) throw new Error('replay: the ledger COPY output ended early (truncated stream)');
  }
}

/**
 * The fields of the row starting at b[p] (its field count), within b[.., n): offsets and lengths
 * into `off`/`len`; returns the row's end, or -1 when the row does not end by n.
 */
export function rowFields(b: Uint8Array, p: number, n: number, off: Int32Array, len: Int32Array): number {
  const count = (b[p] << 8) | b[p + 1];
  if (count !== COPY_FIELDS) throw new Error(`replay: a ledger COPY row has ${count} fields, expected ${COPY_FIELDS}`);
  let q = p + 2;
  for (let k = 0; k < COPY_FIELDS; k++) {
    if (q + 4 > n) return -1;
    const l = readInt32(b, q);
    off[k] = q + 4;
    len[k] = l;
    q += 4 + (l > 0 ? l : 0);
  }
  return q > n ? -1 : q;
}

export function readInt32(b: Uint8Array, p: number): number {
  return (b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3];
}
