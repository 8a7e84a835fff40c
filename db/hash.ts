/**
 * The hash chain. Each entry's hash is sha256(prev_hash || canonical text of the entry), where
 * the canonical text lists every stored field in a fixed order, separated by '|' (ids cannot
 * contain '|': see IdSchema), with metadata last as canonical JSON. The writer computes it here
 * (chainHash) and the database stores it (grid_commit, migration 0007); verify recomputes it here. Changing any stored field,
 * reordering rows or removing one breaks the chain at that row.
 *
 * Because every row also stores prev_hash, rows can be re-hashed independently (in parallel) and
 * the links checked with a cheap comparison — verify does not have to be sequential.
 */
import * as crypto from 'node:crypto';
import { createHash } from 'node:crypto';
import { canonicalJson, type LedgerEntry } from '../validator';

export const GENESIS_HASH = '0'.repeat(64);

export type HashInput = Omit<LedgerEntry, 'hash'>;

/** Everything stored except id, executed_at and the hashes, in a fixed order. */
export function entryBody(e: Omit<HashInput, 'id' | 'executed_at' | 'prev_hash'>): string {
  return bodyText(e.proposal_id, e.leg, e.kind, e.agent, e.from, e.to, e.resource, e.amount, e.validator_version, e.proposal_hash, e.metadata);
}

/** entryBody with its fields as arguments (the writer's hot path: no object to build). */
export function bodyText(
  proposalId: string,
  leg: number,
  kind: string,
  agent: string,
  from: string | null,
  to: string | null,
  resource: string | null,
  amount: bigint | null,
  validatorVersion: string,
  proposalHash: string,
  metadata: Record<string, unknown>,
): string {
  return (
    proposalId + '|' + leg + '|' + kind + '|' + agent + '|' + (from ?? '') + '|' + (to ?? '') + '|' + (resource ?? '') + '|' +
    (amount === null ? '' : amount.toString()) + '|' + validatorVersion + '|' + proposalHash + '|' + canonicalJson(metadata)
  );
}

/** id and time first: the writer assigns both from the head it extends. */
export function entryText(e: HashInput): string {
  return `${e.id}|${e.executed_at}|${entryBody(e)}`;
}

export function entryHash(e: HashInput): string {
  return chainHash(e.prev_hash, entryText(e));
}

// One-shot hashing (Node >= 20.12) is ~3x faster than createHash for inputs this small, and
// hex output is faster than a Buffer there (measured: 0.6 µs vs 1.9 µs per 180-byte entry).
const oneShot: ((alg: string, data: Uint8Array, enc: 'hex') => string) | undefined = (crypto as any).hash;
let scratch = Buffer.alloc(4096);

/** sha256(prev_hash bytes || utf8(text)), hex in and out: the link of the chain. */
export function chainHash(prevHex: string, text: string): string {
  const need = 32 + text.length * 3; // UTF-8 needs at most 3 bytes per UTF-16 unit
  if (need > scratch.length) scratch = Buffer.alloc(Math.max(need, scratch.length * 2));
  scratch.write(prevHex, 0, 32, 'hex');
  const len = 32 + scratch.write(text, 32, 'utf8');
  const view = scratch.subarray(0, len);
  return oneShot ? oneShot('sha256', view, 'hex') : createHash('sha256').update(view).digest('hex');
}

export function sha256Hex(text: string): string {
  return oneShot ? (crypto as any).hash('sha256', text, 'hex') : createHash('sha256').update(text).digest('hex');
}
