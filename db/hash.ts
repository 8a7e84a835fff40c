/**
 * The hash chain. Each entry's hash is sha256(prev_hash || canonical text of the entry), where
 * the canonical text lists every stored field in a fixed order, separated by '|' (ids cannot
 * contain '|': see IdSchema), with metadata last as canonical JSON. The writer computes it in SQL
 * (grid_append, migration 0003) from the body built here; verify recomputes it here. Changing any stored field,
 * reordering rows or removing one breaks the chain at that row.
 *
 * Because every row also stores prev_hash, rows can be re-hashed independently (in parallel) and
 * the links checked with a cheap comparison — verify does not have to be sequential.
 */
import { createHash } from 'node:crypto';
import { canonicalJson, type LedgerEntry } from '../validator';

export const GENESIS_HASH = '0'.repeat(64);

export type HashInput = Omit<LedgerEntry, 'hash'>;

/** Everything stored except id, executed_at and the hashes, in a fixed order. */
export function entryBody(e: Omit<HashInput, 'id' | 'executed_at' | 'prev_hash'>): string {
  return [
    e.proposal_id,
    String(e.leg),
    e.kind,
    e.agent,
    e.from ?? '',
    e.to ?? '',
    e.resource ?? '',
    e.amount === null ? '' : e.amount.toString(),
    e.validator_version,
    e.proposal_hash,
    canonicalJson(e.metadata),
  ].join('|');
}

/** id and time first: the writer's SQL (grid_append) assigns both under the head lock. */
export function entryText(e: HashInput): string {
  return `${e.id}|${e.executed_at}|${entryBody(e)}`;
}

export function entryHash(e: HashInput): string {
  return createHash('sha256').update(Buffer.from(e.prev_hash, 'hex')).update(entryText(e)).digest('hex');
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
