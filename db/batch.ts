/**
 * A batch decided: the law's answer for each prepared proposal in order against a world (which
 * it advances), the entries to append, the rejections to record — and then sealed onto a chain
 * head: numbered and hashed (db/hash.ts, the definition verify checks).
 */
import { randomUUID } from 'node:crypto';
import { decide, reject, type MemoryWorld, type Policy, type Effect, type Rejection } from '../validator';
import { bodyText, chainHash } from './hash';
import type { Decided, Head } from './load';
import type { Prepared } from './prepare';

export interface EntrySummary {
  id: string;
  leg: number;
  kind: string;
  from: string | null;
  to: string | null;
  resource: string | null;
  amount: string | null;
  hash: string;
}

export interface AppliedResult {
  status: 'applied';
  proposal_id: string;
  duplicate: boolean;
  entries: EntrySummary[];
  validator_version: string;
}

export interface RejectedResult {
  status: 'rejected';
  proposal_id: string | null;
  duplicate: boolean;
  code: string;
  message: string;
  details?: Record<string, unknown>;
  validator_version: string;
}

export type ApplyResult = AppliedResult | RejectedResult;

/** Kinds whose effects are balance movements only: the only ones the warm cache decides. */
export const FAST_KINDS = new Set(['transfer', 'harvest', 'mint', 'burn']);

export interface Row {
  proposal_id: string;
  leg: number;
  agent: string;
  proposal_hash: string;
  e: Effect;
  /** Assigned when the batch is sealed onto the head. */
  id: bigint;
  hash: string;
}

export interface RejectionRow {
  p: Prepared;
  r: Rejection;
  agent: string | null;
  kind: string | null;
}

/** A batch decided against some state, ready to be sealed onto a head and committed. */
export interface Decision {
  rows: Row[];
  rejections: RejectionRow[];
  results: ApplyResult[];
  dupApplied: Array<{ index: number; proposal_id: string }>;
  policies: Map<number, Policy>;
  /** Whether any entry changes something besides balances (offers, policy, breaker, artifacts). */
  governance: boolean;
  /** Decision time of the batch (ms), stamped on its entries and rejections. */
  atMs: number;
}

/** Decide each proposal in order against `world` (mutated), answering known ids from `decided`. */
export function decideBatch(world: MemoryWorld, decided: Map<string, Decided>, prepared: Prepared[], atMs: number, vv: string): Decision {
  const rows: Row[] = [];
  const rejections: RejectionRow[] = [];
  const results: ApplyResult[] = [];
  const dupApplied: Array<{ index: number; proposal_id: string }> = [];
  const policies = new Map<number, Policy>();
  let governance = false;
  // Proposals applied earlier in this batch, id → proposal hash (an object per proposal here
  // was a measurable share of the batch path's garbage).
  const applied = new Map<string, string>();
  const appliedHere = (id: string): Decided | undefined => {
    const hash = applied.get(id);
    return hash === undefined ? undefined : { proposal_id: id, outcome: 'applied', proposal_hash: hash };
  };

  for (const p of prepared) {
    const prior = p.proposalId ? (decided.get(p.proposalId) ?? appliedHere(p.proposalId)) : undefined;
    if (prior) {
      if (prior.proposal_hash !== p.hash && p.malformed) {
        // MALFORMED precedes ID_CONFLICT: recorded without the id, which belongs to another decision.
        rejections.push({ p: { ...p, proposalId: null }, r: p.malformed, agent: null, kind: null });
        results.push({ status: 'rejected', proposal_id: p.proposalId, duplicate: false, code: p.malformed.code, message: p.malformed.message, details: p.malformed.details, validator_version: vv });
      } else if (prior.proposal_hash !== p.hash) {
        const r = reject('ID_CONFLICT', `proposal_id ${p.proposalId} was already decided for different content`, {
          conflicting_proposal_id: p.proposalId,
        });
        rejections.push({ p: { ...p, proposalId: null }, r, agent: p.proposal?.agent ?? null, kind: p.proposal?.kind ?? null });
        results.push({ status: 'rejected', proposal_id: p.proposalId, duplicate: false, code: r.code, message: r.message, details: r.details, validator_version: vv });
      } else if (prior.outcome === 'applied') {
        dupApplied.push({ index: results.length, proposal_id: p.proposalId! });
        results.push({ status: 'applied', proposal_id: p.proposalId!, duplicate: true, entries: [], validator_version: vv });
      } else {
        results.push(rejectedFromPrior(prior));
      }
      continue;
    }
    const decision = p.malformed ?? decide(world, p.proposal!);
    if (!decision.ok) {
      rejections.push({ p, r: decision, agent: p.proposal?.agent ?? null, kind: p.proposal?.kind ?? null });
      if (p.proposalId) {
        decided.set(p.proposalId, { proposal_id: p.proposalId, outcome: 'rejected', proposal_hash: p.hash, code: decision.code, message: decision.message, details: decision.details, validator_version: vv });
      }
      results.push({ status: 'rejected', proposal_id: p.proposalId, duplicate: false, code: decision.code, message: decision.message, details: decision.details, validator_version: vv });
      continue;
    }
    const prop = p.proposal!;
    const entries: EntrySummary[] = [];
    for (let leg = 0; leg < decision.effects.length; leg++) {
      let e = decision.effects[leg];
      if (leg === 0 && prop.reasoning) e = { ...e, metadata: { ...e.metadata, reasoning: prop.reasoning } };
      rows.push({ proposal_id: prop.proposal_id, leg, agent: prop.agent, proposal_hash: p.hash, e, id: 0n, hash: '' });
      world.applyEffect(e, { proposal_id: prop.proposal_id, agent: prop.agent });
      if (e.kind === 'policy_set') policies.set(world.policy.version, world.policy);
      if (!FAST_KINDS.has(e.kind) && e.kind !== 'tax') governance = true;
      entries.push({ id: '', leg, kind: e.kind, from: e.from, to: e.to, resource: e.resource, amount: e.amount === null ? null : e.amount.toString(), hash: '' });
    }
    world.recordAction(prop.agent, world.now);
    applied.set(prop.proposal_id, p.hash);
    results.push({ status: 'applied', proposal_id: prop.proposal_id, duplicate: false, entries, validator_version: vv });
  }
  return { rows, rejections, results, dupApplied, policies, governance, atMs };
}

/** Number and hash the batch's entries onto `head` (db/hash.ts: the definition verify checks). */
export function seal(d: Decision, head: Head, vv: string): void {
  const tail = '|' + d.atMs + '|';
  let prev = head.lastHash;
  // Ids as numbers while they are exact (always, in practice); bigint beyond 2^53.
  const small = head.lastId + BigInt(d.rows.length) < BigInt(Number.MAX_SAFE_INTEGER);
  let n = Number(head.lastId);
  let big = head.lastId;
  for (const r of d.rows) {
    const e = r.e;
    let idText: string;
    if (small) {
      n++;
      idText = String(n);
      r.id = BigInt(n);
    } else {
      big += 1n;
      idText = big.toString();
      r.id = big;
    }
    const body = bodyText(r.proposal_id, r.leg, e.kind, r.agent, e.from, e.to, e.resource, e.amount, vv, r.proposal_hash, e.metadata);
    r.hash = prev = chainHash(prev, idText + tail + body);
  }
  let k = 0;
  for (const res of d.results) {
    if (res.status !== 'applied' || res.duplicate) continue;
    for (const e of res.entries) {
      e.id = d.rows[k].id.toString();
      e.hash = d.rows[k].hash;
      k++;
    }
  }
}

/** The head a sealed batch leaves, with a fresh state_version. */
export function headAfter(d: Decision, before: Head): Head {
  const n = d.rows.length;
  return {
    lastId: before.lastId + BigInt(n),
    lastHash: n ? d.rows[n - 1].hash : before.lastHash,
    lastAtMs: n ? d.atMs : before.lastAtMs,
    stateVersion: randomUUID(),
  };
}

function rejectedFromPrior(d: Decided): RejectedResult {
  return { status: 'rejected', proposal_id: d.proposal_id, duplicate: true, code: d.code!, message: d.message!, details: d.details, validator_version: d.validator_version! };
}
