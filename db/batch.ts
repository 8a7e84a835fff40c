/**
 * A batch decided: the law's answer for each prepared proposal in order against a world (which
 * it advances), the entries to append, the rejections to record — and then sealed onto a chain
 * head: numbered and hashed over their binary encoding (db/entry-binary.ts, the definition verify
 * checks).
 */
import { randomUUID } from 'node:crypto';
import { decide, reject, canonicalJson, type MemoryWorld, type Policy, type Effect, type Rejection } from '../validator';
import { EntryEncoder } from './entry-binary';
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
  /** Once sealed: the entries as binary COPY data (db/entry-binary.ts), what their hashes are over. */
  copy: Buffer | null;
  /** Proposals applied so far in this batch: id → proposal hash (an id resent within the batch is a duplicate). */
  appliedHere: Map<string, string>;
}

/** An empty decision at `atMs`, to be filled by `decideSome`. */
export function newDecision(atMs: number): Decision {
  return { rows: [], rejections: [], results: [], dupApplied: [], policies: new Map(), governance: false, atMs, copy: null, appliedHere: new Map() };
}

/**
 * Decide prepared[from..to) against `world` (mutated) into `d`, in order, after the ones decided
 * into it before — so a batch can be decided in slices, with the event loop running between them
 * (db/writer.ts) — answering known ids from `decided`.
 */
export function decideSome(d: Decision, world: MemoryWorld, decided: Map<string, Decided>, prepared: Prepared[], from: number, to: number, vv: string): void {
  const { rows, rejections, results, dupApplied, policies } = d;
  // Proposals applied earlier in this batch, id → proposal hash (an object per proposal here
  // was a measurable share of the batch path's garbage).
  const applied = d.appliedHere;
  const appliedHere = (id: string): Decided | undefined => {
    const hash = applied.get(id);
    return hash === undefined ? undefined : { proposal_id: id, outcome: 'applied', proposal_hash: hash };
  };

  for (let i = from; i < to; i++) {
    const p = prepared[i];
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
      if (!FAST_KINDS.has(e.kind) && e.kind !== 'tax') d.governance = true;
      entries.push({ id: '', leg, kind: e.kind, from: e.from, to: e.to, resource: e.resource, amount: e.amount === null ? null : e.amount.toString(), hash: '' });
    }
    world.recordAction(prop.agent, world.now);
    applied.set(prop.proposal_id, p.hash);
    results.push({ status: 'applied', proposal_id: prop.proposal_id, duplicate: false, entries, validator_version: vv });
  }
}

/**
 * Number and hash the batch's entries onto `head`: each entry is encoded as the binary COPY row
 * the database will store, and hashed over those bytes (chain v2, db/entry-binary.ts — the
 * definition verify checks). The bytes are kept for the append.
 */
export function seal(d: Decision, head: Head, vv: string): void {
  const s = new Sealer(d, head, vv);
  s.sealSome();
  s.finish();
}

/** `seal` in steps: `sealSome` after each `decideSome`, `finish` once the batch is decided. */
export class Sealer {
  private readonly enc: EntryEncoder;
  private next = 0;
  /** Ids as numbers while they are exact (always, in practice); bigint beyond 2^53. */
  private n: number;
  private big: bigint;

  constructor(
    private readonly d: Decision,
    private readonly head: Head,
    vv: string,
  ) {
    this.enc = new EntryEncoder(head.lastHash, vv, 64);
    this.n = Number(head.lastId);
    this.big = head.lastId;
  }

  /** Seal the rows decided since the last call. */
  sealSome(): void {
    const { d, enc } = this;
    const rows = d.rows;
    for (; this.next < rows.length; this.next++) {
      const r = rows[this.next];
      const e = r.e;
      let id: number | bigint;
      if (this.n < Number.MAX_SAFE_INTEGER) r.id = BigInt((id = ++this.n));
      else r.id = id = this.big = this.head.lastId + BigInt(this.next + 1);
      r.hash = enc.append(id, d.atMs, r.proposal_id, r.leg, e.kind, r.agent, e.from, e.to, e.resource, e.amount, r.proposal_hash, metadataText(e.metadata));
    }
  }

  /** All rows sealed: keep the COPY data and fill the answers' entry ids and hashes. */
  finish(): void {
    const d = this.d;
    this.sealSome();
    d.copy = this.enc.bytes();
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

/** Canonical JSON of an entry's metadata: `{}` (by far the most common) without a call. */
function metadataText(m: Record<string, unknown>): string {
  for (const _ in m) return canonicalJson(m);
  return '{}';
}

function rejectedFromPrior(d: Decided): RejectedResult {
  return { status: 'rejected', proposal_id: d.proposal_id, duplicate: true, code: d.code!, message: d.message!, details: d.details, validator_version: d.validator_version! };
}
