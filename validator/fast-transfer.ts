/**
 * A conservative shortcut for the commonest proposal: a plain transfer.
 *
 * Why: the zod parse of a transfer costs ≈7 µs, the largest single item in the writer's budget
 * per proposal (the batch path decides 100k proposals a second). This function recognizes only
 * inputs that are certainly valid transfers — a plain object with exactly the transfer keys,
 * each of the simplest accepted type — and builds exactly what TransferSchema would return.
 * Anything else, including every input zod would reject, gets `null` and goes through zod, so
 * every MALFORMED answer and message still comes from the schema. Keys are built in sorted order,
 * which spares canonicalJson a sort. The equivalence is checked by
 * a differential property test (tests/law.fast-transfer.test.ts) against ProposalSchema itself.
 */
import { LIMITS } from './limits';
import type { Proposal } from './schemas';

const P = LIMITS.proposal;
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const ID = /^[A-Za-z0-9_.:@-]+$/;
const KEYS = new Set(['proposal_id', 'agent', 'from', 'to', 'resource', 'amount', 'reasoning', 'kind']);

function id(v: unknown): v is string {
  return typeof v === 'string' && v.length >= 1 && v.length <= P.maxIdLength && ID.test(v) && v !== 'constructor' && v !== 'prototype';
}

export function fastTransfer(v: unknown): Proposal | null {
  if (v === null || typeof v !== 'object' || Object.getPrototypeOf(v) !== Object.prototype) return null;
  const o = v as Record<string, unknown>;
  let n = 0;
  for (const k in o) {
    if (!Object.prototype.hasOwnProperty.call(o, k) || !KEYS.has(k)) return null;
    n++;
  }
  if (Object.getOwnPropertySymbols(o).length) return null;
  const { proposal_id, agent, from, to, resource, amount, reasoning, kind } = o;
  if (kind !== undefined && kind !== 'transfer') return null;
  if (n !== 6 + (kind === undefined ? 0 : 1) + (reasoning === undefined ? 0 : 1)) return null; // a key present as undefined
  if (typeof proposal_id !== 'string' || !UUID.test(proposal_id)) return null;
  if (!id(agent) || !id(from) || !id(to) || !id(resource)) return null;
  if (typeof amount !== 'number' || !Number.isSafeInteger(amount)) return null;
  const a = BigInt(amount);
  if (a > P.maxAmount || a < -P.maxAmount) return null;
  if (reasoning !== undefined) {
    if (typeof reasoning !== 'string' || reasoning.length > P.maxReasoningLength || reasoning.includes('\u0000') || !reasoning.isWellFormed()) return null;
    return { agent, amount: a, from, kind: 'transfer', proposal_id, reasoning, resource, to } as Proposal;
  }
  return { agent, amount: a, from, kind: 'transfer', proposal_id, resource, to } as Proposal;
}
