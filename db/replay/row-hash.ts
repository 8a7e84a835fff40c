/**
 * Does a ledger row's stored hash match its contents? One row of the replay COPY stream
 * (copy-rows.ts), checked under the chain version it states:
 *
 * - v2 (db/entry-binary.ts): sha256 over the row from prev_hash's value to its end — a slice of
 *   what arrived — when the metadata is `{}`; other metadata is re-canonicalized first (the
 *   database returns jsonb in its own layout, the hash is over canonical JSON).
 * - v1 (db/hash.ts entryHash): the text form is rebuilt from the fields.
 *
 * Each row is checked on its own (it stores its prev_hash); the links between rows are the fold's.
 */
import { canonicalJson } from '../../validator/canonical';
import { entryHash, sha256Latin1 as digest } from '../hash';
import { HASH_V1, HASH_V2, PG_EPOCH_MS, hexOf, int32, uuidText } from '../entry-binary';
import { readInt32 } from './copy-rows';

// Field positions in COPY_COLUMNS order.
export const F = { hash: 0, prev: 1, version: 2, id: 3, at: 4, proposalId: 5, leg: 6, kind: 7, agent: 8, from: 9, to: 10, resource: 11, amount: 12, vv: 13, proposalHash: 14, metadata: 15 } as const;

let scratch = Buffer.allocUnsafe(64 * 1024);

/** Whether the row in b[..end) (fields at off/len) carries the hash of its contents. */
export function rowHashOk(b: Buffer, end: number, off: Int32Array, len: Int32Array): boolean {
  if (len[F.hash] !== 32 || len[F.prev] !== 32 || len[F.version] !== 2) return false;
  const version = (b[off[F.version]] << 8) | b[off[F.version] + 1];
  let d: string;
  if (version === HASH_V2) {
    const m = off[F.metadata];
    if (len[F.metadata] === 3 && b[m] === 1 && b[m + 1] === 0x7b && b[m + 2] === 0x7d) d = digest(b.subarray(off[F.prev], end));
    else {
      const input = v2WithCanonicalMetadata(b, off, len);
      if (input === null) return false;
      d = digest(input);
    }
  } else if (version === HASH_V1) {
    return v1Ok(b, off, len);
  } else return false;
  const h = off[F.hash];
  for (let i = 0; i < 32; i++) if (d.charCodeAt(i) !== b[h + i]) return false;
  return true;
}

/** The v2 hash input with the metadata as canonical JSON; null when the metadata is not jsonb text. */
function v2WithCanonicalMetadata(b: Buffer, off: Int32Array, len: Int32Array): Buffer | null {
  const m = off[F.metadata];
  const json = metadataText(b, off, len);
  if (json === null) return null;
  let canon: string;
  try {
    canon = json === '{}' ? json : canonicalJson(JSON.parse(json));
  } catch {
    return null;
  }
  const prefix = m - 4 - off[F.prev]; // prev_hash up to the metadata field's length
  const need = prefix + 5 + Buffer.byteLength(canon, 'utf8');
  if (scratch.length < need) scratch = Buffer.allocUnsafe(Math.max(need, scratch.length * 2));
  b.copy(scratch, 0, off[F.prev], m - 4);
  const n = scratch.write(canon, prefix + 5, 'utf8');
  int32(scratch, prefix, n + 1);
  scratch[prefix + 4] = 1;
  return scratch.subarray(0, prefix + 5 + n);
}

/** jsonb's text (after its version byte), or null when the field is not version-1 jsonb. */
export function metadataText(b: Buffer, off: Int32Array, len: Int32Array): string | null {
  const m = off[F.metadata];
  const l = len[F.metadata];
  if (l < 1 || b[m] !== 1) return null;
  return b.toString('utf8', m + 1, m + l);
}

/** A v1 row: rebuild entryText from the binary fields and hash it as the v1 writer did. */
function v1Ok(b: Buffer, off: Int32Array, len: Int32Array): boolean {
  if (len[F.id] !== 8 || len[F.at] !== 8 || len[F.proposalId] !== 16 || len[F.leg] !== 4) return false;
  for (const k of [F.kind, F.agent, F.vv, F.proposalHash]) if (len[k] < 0) return false;
  if (len[F.amount] !== 8 && len[F.amount] !== -1) return false;
  const us = b.readBigInt64BE(off[F.at]);
  // The v1 writer stored whole milliseconds; a sub-millisecond part was written by someone else
  // (and v1's text form, in ms, would not show it).
  if (us % 1000n !== 0n) return false;
  const meta = metadataText(b, off, len);
  if (meta === null) return false;
  let metadata: Record<string, unknown>;
  try {
    metadata = JSON.parse(meta);
  } catch {
    return false;
  }
  const text = (k: number) => (len[k] < 0 ? null : b.toString('utf8', off[k], off[k] + len[k]));
  const h = entryHash({
    id: b.readBigInt64BE(off[F.id]),
    executed_at: Number(us / 1000n) + PG_EPOCH_MS,
    proposal_id: uuidText(b, off[F.proposalId]),
    leg: readInt32(b, off[F.leg]),
    kind: text(F.kind) as any,
    agent: text(F.agent)!,
    from: text(F.from),
    to: text(F.to),
    resource: text(F.resource),
    amount: len[F.amount] === 8 ? b.readBigInt64BE(off[F.amount]) : null,
    validator_version: text(F.vv)!,
    proposal_hash: text(F.proposalHash)!,
    metadata,
    prev_hash: hexOf(b, off[F.prev], 32),
  });
  return h === hexOf(b, off[F.hash], 32);
}
