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

/** One page. `$1` the last id already read, `$2` the page size in rows. */
export const PAGE_SQL = `SELECT count(*) AS n, max(id) AS last, string_agg(concat_ws('|',
    encode(prev_hash, 'hex'), encode(hash, 'hex'),
    CASE WHEN from_actor = '' OR to_actor = '' OR resource = '' THEN '!' ELSE '' END,
    id, (extract(epoch from executed_at) * 1000)::bigint, proposal_id, leg, kind, agent,
    COALESCE(from_actor, ''), COALESCE(to_actor, ''), COALESCE(resource, ''), COALESCE(amount::text, ''),
    validator_version, proposal_hash, metadata), E'\\n') AS text
  FROM (SELECT * FROM ledger WHERE id > $1 ORDER BY id LIMIT $2) page`;

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
  /** Line start offsets (relative to the text checked) whose stored hash does not match. */
  bad: number[];
  /** Lines whose metadata could not be canonicalized: offset and message. */
  errors: Array<[number, string]>;
}

const hashOne: (data: Buffer) => string =
  typeof (crypto as any).hash === 'function'
    ? (data) => (crypto as any).hash('sha256', data, 'hex') // one-shot (Node ≥ 20.12): no Hash object per row
    : (data) => crypto.createHash('sha256').update(data).digest('hex');

let scratch = Buffer.allocUnsafe(64 * 1024);

/**
 * Recompute the hash of every line in text[from, to) and compare it with the stored one, exactly
 * as entryHash does: sha256(bytes of prev_hash || utf8(entryText)). Lines that do not split into
 * 16 fields are skipped (the main thread reads them row by row and checks them itself).
 */
export function checkHashes(text: string, from = 0, to = text.length): HashCheck {
  const out: HashCheck = { bad: [], errors: [] };
  const sep = new Int32Array(FIELDS - 1);
  for (let pos = from; pos < to; ) {
    const end = splitLine(text, pos, to, sep);
    if (end === -1) {
      const e = text.indexOf(nl, pos);
      pos = e === -1 || e >= to ? to : e + 1;
      continue;
    }
    const idStart = sep[HASHED_FROM - 1] + 1;
    const metaStart = sep[FIELDS - 2] + 1;
    let body: string;
    try {
      const atStart = sep[HASHED_FROM] + 1;
      const atEnd = sep[HASHED_FROM + 1];
      const plainMeta = end - metaStart === 2 && text.charCodeAt(metaStart) === 123 && text.charCodeAt(metaStart + 1) === 125;
      const meta = plainMeta ? '' : canonicalMetadata(text.slice(metaStart, end));
      // entryText prints executed_at as a JS number: the same digits while it is a safe integer.
      if (atEnd - atStart <= 15) body = plainMeta ? text.slice(idStart, end) : text.slice(idStart, metaStart) + meta;
      else body = text.slice(idStart, atStart) + String(Number(text.slice(atStart, atEnd))) + text.slice(atEnd, plainMeta ? end : metaStart) + meta;
    } catch (e: any) {
      out.errors.push([pos, String(e?.message ?? e)]);
      pos = end + 1;
      continue;
    }
    const prevHex = sep[0] - pos;
    const need = (prevHex >> 1) + body.length * 3;
    if (need > scratch.length) scratch = Buffer.allocUnsafe(Math.max(need, scratch.length * 2));
    const n0 = scratch.write(text.slice(pos, sep[0]), 0, 'hex');
    const n1 = scratch.write(body, n0, 'utf8');
    const digest = hashOne(scratch.subarray(0, n0 + n1));
    if (sep[1] - sep[0] - 1 !== 64 || !text.startsWith(digest, sep[0] + 1)) out.bad.push(pos);
    pos = end + 1;
  }
  return out;
}
