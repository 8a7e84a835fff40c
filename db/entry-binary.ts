/**
 * Chain v2: a ledger entry's binary encoding — what its hash is over, what the writer appends with
 * `COPY … FROM STDIN (FORMAT binary)`, and what replay reads back with `COPY … TO STDOUT`.
 *
 * One row of Postgres's binary COPY format is a 16-bit field count followed by each field as a
 * 32-bit big-endian byte length (-1 for NULL, then no bytes) and the value in the type's binary
 * send format. With the columns in COPY_COLUMNS order, a row is
 *
 *   count | F(hash) | F(prev_hash) | F(hash_version) | F(id) | … | F(metadata)
 *
 * and the v2 hash of an entry is sha256 over everything after F(hash)'s length and value except
 * prev_hash's own length, i.e. over
 *
 *   prev_hash (32 bytes) || F(hash_version) || F(id) || F(executed_at) || … || F(metadata)
 *
 * — one contiguous slice of the row. The writer hashes the bytes it is about to send; verify
 * hashes a slice of the stream it receives, with nothing to rebuild. Each field is
 * length-prefixed, so no value can be confused with a separator (v1 needed ids without '|').
 *
 * The send formats used: int2/int4/int8 big-endian two's complement; timestamptz an int8 of
 * microseconds since 2000-01-01 UTC; uuid its 16 bytes; text and bytea their bytes (UTF-8: every
 * connection uses client_encoding UTF8); jsonb a version byte (1) followed by JSON text. For
 * metadata the hashed JSON text is canonical JSON (validator/canonical.ts). The database returns
 * jsonb in its own layout, which equals canonical JSON for `{}` (the common case) but not in
 * general, so verify re-canonicalizes other metadata before hashing.
 */
import { sha256OfBytes } from './hash';

export const HASH_V1 = 1;
export const HASH_V2 = 2;

/** Column order of a ledger row in binary COPY, both ways. */
export const COPY_COLUMNS =
  'hash, prev_hash, hash_version, id, executed_at, proposal_id, leg, kind, agent, from_actor, to_actor, resource, amount, validator_version, proposal_hash, metadata';
export const COPY_FIELDS = 16;

/** Binary COPY's 11-byte signature, 32-bit flags (0) and 32-bit header-extension length (0). */
export const COPY_HEADER = Buffer.from([0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]);
/** The file trailer: a field count of -1. */
export const COPY_TRAILER = Buffer.from([0xff, 0xff]);

/** 2000-01-01T00:00:00Z in ms since the Unix epoch: Postgres's timestamp epoch. */
export const PG_EPOCH_MS = 946_684_800_000;

const TWO32 = 4294967296;

/** Nibble value of an ASCII hex digit, -1 otherwise. */
const NIBBLE = new Int8Array(256).fill(-1);
for (let i = 0; i < 16; i++) {
  NIBBLE['0123456789abcdef'.charCodeAt(i)] = i;
  NIBBLE['0123456789ABCDEF'.charCodeAt(i)] = i;
}
/** Lowercase hex of each byte value. */
const HEX_BYTE: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * Writes ledger entries as binary COPY rows into one growing buffer, chaining and hashing each
 * as it goes. `bytes()` is then the COPY data (header, rows, trailer) and each `append` has
 * returned the entry's hash.
 */
export class EntryEncoder {
  private buf: Buffer;
  private len = 0;
  /** Offset of the previous row's hash value (the next row's prev_hash), or -1 before the first row. */
  private prevAt = -1;
  private readonly firstPrev: Buffer;
  private readonly vv: Buffer;
  rows = 0;

  constructor(prevHashHex: string, validatorVersion: string, expectedRows = 16) {
    this.firstPrev = hexBytes(prevHashHex, 32);
    this.vv = Buffer.from(validatorVersion, 'utf8');
    this.buf = Buffer.allocUnsafe(COPY_HEADER.length + 2 + expectedRows * (360 + this.vv.length));
    COPY_HEADER.copy(this.buf, 0);
    this.len = COPY_HEADER.length;
  }

  /**
   * Append one entry and return its v2 hash (hex). `id` is a safe integer or a bigint; times
   * are ms since the Unix epoch; `metadataJson` is canonical JSON.
   */
  append(
    id: number | bigint,
    atMs: number,
    proposalId: string,
    leg: number,
    kind: string,
    agent: string,
    from: string | null,
    to: string | null,
    resource: string | null,
    amount: bigint | null,
    proposalHash: string,
    metadataJson: string,
  ): string {
    // Worst case: fixed fields, 3 UTF-8 bytes per UTF-16 unit of the text ones.
    const text = kind.length + agent.length + (from?.length ?? 0) + (to?.length ?? 0) + (resource?.length ?? 0) + proposalHash.length + metadataJson.length;
    this.reserve(2 + COPY_FIELDS * 4 + 32 + 32 + 2 + 8 + 8 + 16 + 4 + 8 + 1 + this.vv.length + 3 * text);
    const b = this.buf;
    let o = this.len;
    b[o++] = 0;
    b[o++] = COPY_FIELDS;
    o = int32(b, o, 32);
    const hashAt = o;
    o += 32;
    o = int32(b, o, 32);
    const from0 = o; // the hash input starts at prev_hash's value
    if (this.prevAt < 0) this.firstPrev.copy(b, o);
    else b.copyWithin(o, this.prevAt, this.prevAt + 32);
    o += 32;
    o = int32(b, o, 2);
    b[o++] = 0;
    b[o++] = HASH_V2;
    o = int32(b, o, 8);
    o = int64(b, o, id);
    o = int32(b, o, 8);
    // µs since 2000; exact as a number only within ±285 years of it (2^53 µs).
    const us = (atMs - PG_EPOCH_MS) * 1000;
    o = int64(b, o, Number.isSafeInteger(us) ? us : BigInt(atMs - PG_EPOCH_MS) * 1000n);
    o = int32(b, o, 16);
    o = uuidBytes(b, o, proposalId);
    o = int32(b, o, 4);
    o = int32(b, o, leg);
    o = textField(b, o, kind);
    o = textField(b, o, agent);
    o = textField(b, o, from);
    o = textField(b, o, to);
    o = textField(b, o, resource);
    if (amount === null) o = int32(b, o, -1);
    else {
      o = int32(b, o, 8);
      o = int64(b, o, amount);
    }
    o = int32(b, o, this.vv.length);
    o += this.vv.copy(b, o);
    o = textField(b, o, proposalHash);
    // jsonb: version 1, then the JSON text.
    const lenAt = o;
    o += 4;
    b[o++] = 1;
    o = asciiOrUtf8(b, o, metadataJson);
    int32(b, lenAt, o - lenAt - 4);
    const hex = sha256OfBytes(b.subarray(from0, o));
    for (let i = 0; i < 32; i++) b[hashAt + i] = (NIBBLE[hex.charCodeAt(2 * i)] << 4) | NIBBLE[hex.charCodeAt(2 * i + 1)];
    this.prevAt = hashAt;
    this.len = o;
    this.rows++;
    return hex;
  }

  /** The COPY data: header, rows, trailer. The encoder is spent afterwards. */
  bytes(): Buffer {
    this.reserve(2);
    this.buf[this.len++] = 0xff;
    this.buf[this.len++] = 0xff;
    return this.buf.subarray(0, this.len);
  }

  private reserve(n: number) {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.len + n, this.buf.length * 2));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }
}

export function int32(b: Buffer, o: number, v: number): number {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
  return o + 4;
}

/** A safe integer (two 32-bit halves) or a bigint, as big-endian int8. */
function int64(b: Buffer, o: number, v: number | bigint): number {
  if (typeof v === 'bigint') {
    if (v >= -9007199254740991n && v <= 9007199254740991n) v = Number(v);
    else {
      b.writeBigInt64BE(v, o);
      return o + 8;
    }
  }
  const hi = Math.floor(v / TWO32);
  int32(b, o, hi | 0);
  int32(b, o + 4, v - hi * TWO32);
  return o + 8;
}

/** A text field (length, UTF-8 bytes) or NULL. */
function textField(b: Buffer, o: number, s: string | null): number {
  if (s === null) return int32(b, o, -1);
  const end = asciiOrUtf8(b, o + 4, s);
  int32(b, o, end - o - 4);
  return end;
}

/** `s` as UTF-8 at `o`; a byte loop while it is ASCII (ids always are), Buffer.write otherwise. */
function asciiOrUtf8(b: Buffer, o: number, s: string): number {
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return o - i + b.write(s, o - i, 'utf8');
    b[o++] = c;
  }
  return o;
}

function uuidBytes(b: Buffer, o: number, id: string): number {
  // 8-4-4-4-12 hex digits; the writer only holds ids the law parsed as uuids.
  let k = 0;
  for (let i = 0; i < 16; i++) {
    if (k === 8 || k === 13 || k === 18 || k === 23) k++;
    const hi = NIBBLE[id.charCodeAt(k)];
    const lo = NIBBLE[id.charCodeAt(k + 1)];
    if (hi < 0 || lo < 0 || id.length !== 36) throw new Error(`entry encoding: not a uuid: ${JSON.stringify(id)}`);
    b[o++] = (hi << 4) | lo;
    k += 2;
  }
  return o;
}

function hexBytes(hex: string, n: number): Buffer {
  const out = Buffer.from(hex, 'hex');
  if (out.length !== n || hex.length !== 2 * n) throw new Error(`expected ${n} bytes of hex, got ${JSON.stringify(hex.slice(0, 80))}`);
  return out;
}

/** Lowercase hex of bytes [from, from + n) of `b`. */
export function hexOf(b: Uint8Array, from: number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += HEX_BYTE[b[from + i]];
  return s;
}

/** The canonical uuid text of 16 bytes. */
export function uuidText(b: Uint8Array, o: number): string {
  const h = hexOf(b, o, 16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
