/**
 * The page format replay reads, and the hash check over it (shared by the main thread and the
 * verify workers, so both read a page the same way).
 *
 * Why a page is one text value: reading the ledger row by row through the driver costs ≈3.5 µs a
 * row in the client (15 fields parsed into an object, int8 into BigInt), far more than the server
 * spends. `string_agg` hands the client one string per page instead, in this layout, one line per
 * row, fields separated by '|':
 *
 *   prev_hex | hash_hex | odd | id | at_ms | proposal_id | leg | kind | agent | from | to |
 *   resource | amount | validator_version | proposal_hash | metadata
 *
 * From `id` on, the line IS the text db/hash.ts hashes (entryText: the same fields, the same
 * order, '|' between them, NULL as ''), except that metadata is jsonb's text rather than
 * canonical JSON — so for the common `{}` a row's hash input is one slice of the page.
 *
 * Why the page can be trusted to split correctly (text fields are not escaped):
 * - a field containing '\n' would add a line: the reader checks the page has exactly one line per
 *   row (count(*)) before using it, else reads that page row by row;
 * - a field containing '|' shifts the fields after it, so the line's "metadata" becomes
 *   `X|<real metadata>`, which is never valid JSON (see `metadataAligned`);
 * - `odd` is '!' when from/to/resource is the empty string rather than NULL (both print as '');
 * - a NULL in a NOT NULL column (a dropped constraint) prints fewer fields.
 * In the last three cases the rest of that page is read row by row. Only a tampered ledger has
 * any of them (ids are [A-Za-z0-9_.:@-]; metadata, the free text, is jsonb and never has a raw newline).
 */
import * as crypto from 'node:crypto';
import { canonicalJson } from '../../validator/canonical';

export const FIELDS = 16;
/** Index of the field that starts the hashed text (id). */
export const HASHED_FROM = 3;

const nl = String.fromCharCode(10);

/**
 * One page: the rows with `$1` < id <= `$2`, and `next`, the first id after `$2` (so a reader can
 * skip a gap in the ids, or tell that the ledger ends here).
 */
// executed_at in ms: date_part (float8) rather than extract (numeric), a quarter of the page's
// server time (measured on 500k rows: 1.50 s vs 1.99 s). Exact here: every executed_at the writer
// stores is a whole millisecond, and a double carries a 13-digit ms count with ~1e-4 ms of error
// before the rounding cast (checked against extract on 2M random ms timestamps 1970–2200: 0 differ).
export const PAGE_SQL = `SELECT count(*) AS n, max(id) AS last, (SELECT min(id) FROM ledger WHERE id > $2) AS next,
    string_agg(concat_ws('|',
      encode(prev_hash, 'hex'), encode(hash, 'hex'),
      CASE WHEN from_actor = '' OR to_actor = '' OR resource = '' THEN '!' ELSE '' END,
      id, (date_part('epoch', executed_at) * 1000)::bigint, proposal_id, leg, kind, agent,
      COALESCE(from_actor, ''), COALESCE(to_actor, ''), COALESCE(resource, ''), COALESCE(amount::text, ''),
      validator_version, proposal_hash, metadata), E'\\n') AS text
  FROM (SELECT * FROM ledger WHERE id > $1 AND id <= $2 ORDER BY id) page`;

/** The rows of (after, upto], one object per row: the original reader, for pages and rows the fast layout cannot carry. */
export const ROWS_SQL = `SELECT id, proposal_id::text AS proposal_id, leg, kind, agent, from_actor, to_actor, resource, amount, validator_version,
        (extract(epoch from executed_at) * 1000)::bigint AS at_ms, proposal_hash, metadata::text AS metadata,
        encode(prev_hash, 'hex') AS prev_hash, encode(hash, 'hex') AS hash
   FROM ledger WHERE id > $1 AND id <= $2 ORDER BY id`;

/** Number of rows in a page (lines), counted without splitting it. */
export function countLines(text: string): number {
  let n = 1;
  for (let p = text.indexOf(nl); p !== -1; p = text.indexOf(nl, p + 1)) n++;
  return n;
}

/**
 * Offsets of the 15 separators of the line starting at `pos`, written into `sep`; returns the
 * line's end (its '\n' or `limit`), or -1 when the line has fewer than 15 separators.
 */
export function splitLine(text: string, pos: number, limit: number, sep: Int32Array): number {
  let end = text.indexOf(nl, pos);
  if (end === -1 || end > limit) end = limit;
  let p = pos - 1;
  for (let k = 0; k < FIELDS - 1; k++) {
    p = text.indexOf('|', p + 1);
    if (p === -1 || p >= end) return -1;
    sep[k] = p;
  }
  return end;
}

/**
 * Whether a line's metadata field is really the row's metadata. jsonb's text is valid JSON without
 * raw newlines. If a '|' inside an earlier field shifted the split, the "metadata" is `X|M` for the
 * real metadata M: that '|' is either outside any JSON string (rejected below) or inside one — and
 * then every quote of M flips the string state, so the scan meets a backslash outside a string
 * (M's escapes) or ends inside a string. Valid JSON has neither, so a shifted line never passes.
 */
export function metadataAligned(meta: string): boolean {
  if (meta.indexOf('|') === -1 && meta.indexOf('\\') === -1) return true; // '|' always occurs in a shifted line
  let inString = false;
  for (let i = 0; i < meta.length; i++) {
    const c = meta.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 124 || c === 92) return false; // '|' or '\' outside a string
  }
  return !inString;
}

/** canonicalJson(JSON.parse(text)) — the metadata text entryHash uses; `{}` (by far the most common) without parsing. */
export function canonicalMetadata(text: string): string {
  return text === '{}' ? text : canonicalJson(JSON.parse(text));
}

export interface HashCheck {
  /** Lines (0-based, within the bytes checked) whose stored hash does not match, with the row id. */
  bad: Array<[number, string]>;
  /** Lines whose metadata could not be canonicalized, with the message. */
  errors: Array<[number, string]>;
  /** Lines checked. */
  lines: number;
}

const hashOne: (data: Uint8Array) => string =
  typeof (crypto as any).hash === 'function'
    ? (data) => (crypto as any).hash('sha256', data, 'hex') // one-shot (Node ≥ 20.12): no Hash object per row
    : (data) => crypto.createHash('sha256').update(data).digest('hex');

const NL = 10;
const BAR = 124;
/** Nibble value of an ASCII hex digit, -1 otherwise. */
const NIBBLE = new Int8Array(256).fill(-1);
for (let i = 0; i < 16; i++) NIBBLE['0123456789abcdef'.charCodeAt(i)] = i;

let scratch = Buffer.allocUnsafe(64 * 1024);
/** Views of `scratch` by length: rows are mostly the same few sizes, and a view is an allocation. */
let views = new Map<number, Buffer>();

function grow(need: number) {
  if (need <= scratch.length) return;
  scratch = Buffer.allocUnsafe(Math.max(need, scratch.length * 2));
  views = new Map();
}

function hashScratch(length: number): string {
  let v = views.get(length);
  if (!v) {
    v = scratch.subarray(0, length);
    if (views.size < 4096) views.set(length, v);
  }
  return hashOne(v);
}

/**
 * The page text as UTF-8 bytes (what the hash is over), written into `reuse` when it is large
 * enough. The bytes never share memory with anything else, so their buffer can be transferred.
 */
export function utf8(text: string, reuse?: ArrayBuffer): Uint8Array {
  // Room for some multi-byte characters first; the exact size only when that was not enough.
  const room = text.length + (text.length >> 3) + 16;
  let bytes = reuse && reuse.byteLength >= room ? new Uint8Array(reuse) : new Uint8Array(Buffer.allocUnsafeSlow(room).buffer);
  let r = encoder.encodeInto(text, bytes);
  if (r.read < text.length) r = encoder.encodeInto(text, (bytes = new Uint8Array(Buffer.allocUnsafeSlow(Buffer.byteLength(text, 'utf8')).buffer)));
  return bytes.subarray(0, r.written);
}
const encoder = new TextEncoder();

/**
 * Recompute the hash of every line of a page (as UTF-8 bytes) and compare it with the stored one,
 * exactly as entryHash does: sha256(bytes of prev_hash || utf8(entryText)).
 *
 * The common line — 64-digit hashes, empty `odd`, metadata `{}`, a time of at most 15 digits — is
 * hashed straight from the bytes: its hash input is prev_hash's bytes followed by the line from `id`
 * on. (A line that ends in "|{}" has metadata `{}`: in valid JSON a '|' is only inside a string.)
 * Any other line is decoded and checked field by field. Lines that do not split into 16 fields
 * are skipped: the main thread reads those rows the original way.
 */
export function checkHashes(b: Uint8Array): HashCheck {
  const out: HashCheck = { bad: [], errors: [], lines: 0 };
  const to = b.length;
  const text = (s: number, e: number) => Buffer.from(b.buffer, b.byteOffset + s, e - s).toString('utf8');
  let line = 0;
  for (let pos = 0; pos < to; line++) {
    let end = b.indexOf(NL, pos);
    if (end === -1) end = to;
    fast: if (b[pos + 64] === BAR && b[pos + 129] === BAR && b[pos + 130] === BAR && end - pos > 136 && b[end - 3] === BAR && b[end - 2] === 123 && b[end - 1] === 125) {
      const idStart = pos + 131;
      let p = idStart;
      while (p < end && b[p] !== BAR) p++; // id
      const atStart = ++p;
      while (p < end && b[p] !== BAR) p++; // executed_at
      if (p - atStart > 15 || p >= end) break fast;
      const len = end - idStart;
      grow(32 + len);
      for (let i = 0; i < 32; i++) {
        const hi = NIBBLE[b[pos + 2 * i]];
        const lo = NIBBLE[b[pos + 2 * i + 1]];
        if (hi < 0 || lo < 0) break fast; // not plain hex: the general path decodes it as Buffer.from(hex) does
        scratch[i] = (hi << 4) | lo;
      }
      scratch.set(b.subarray(idStart, end), 32);
      const digest = hashScratch(32 + len);
      for (let i = 0; i < 64; i++) {
        if (digest.charCodeAt(i) !== b[pos + 65 + i]) {
          out.bad.push([line, text(idStart, atStart - 1)]);
          break;
        }
      }
      pos = end + 1;
      continue;
    }
    checkLine(text(pos, end), line, out);
    pos = end + 1;
  }
  out.lines = line;
  return out;
}

/** One line in general: split, canonicalize the metadata, rebuild entryText, hash. */
function checkLine(t: string, line: number, out: HashCheck): void {
  const sep = new Int32Array(FIELDS - 1);
  const end = splitLine(t, 0, t.length, sep);
  if (end === -1) return;
  const idStart = sep[HASHED_FROM - 1] + 1;
  const atStart = sep[HASHED_FROM] + 1;
  const atEnd = sep[HASHED_FROM + 1];
  const metaStart = sep[FIELDS - 2] + 1;
  let body: string;
  try {
    const meta = canonicalMetadata(t.slice(metaStart, end));
    // entryText prints executed_at as a JS number: the same digits while it is a safe integer.
    body = t.slice(idStart, atStart) + (atEnd - atStart <= 15 ? t.slice(atStart, atEnd) : String(Number(t.slice(atStart, atEnd)))) + t.slice(atEnd, metaStart) + meta;
  } catch (e: any) {
    out.errors.push([line, String(e?.message ?? e)]);
    return;
  }
  const prevHex = t.slice(0, sep[0]);
  grow((prevHex.length >> 1) + body.length * 3);
  const n0 = scratch.write(prevHex, 0, 'hex');
  const n1 = scratch.write(body, n0, 'utf8');
  const digest = hashOne(scratch.subarray(0, n0 + n1));
  if (sep[1] - sep[0] - 1 !== 64 || !t.startsWith(digest, sep[0] + 1)) out.bad.push([line, t.slice(idStart, atStart - 1)]);
}
