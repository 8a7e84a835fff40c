/**
 * Plain data shapes shared by the law and everything that records or reads its decisions.
 * No behaviour here; amounts are bigint everywhere (never number).
 */

/** Who an actor is decides what it may propose (see rules.ts, NOT_AUTHORIZED). */
export type ActorKind = 'agent' | 'human' | 'system' | 'governor' | 'treasury' | 'reserve' | 'escrow';

export interface Actor {
  id: string;
  kind: ActorKind;
}

export interface Resource {
  id: string;
  /** Human unit label, e.g. "kWh". Display only. */
  unit: string;
}

/**
 * One movement (or, for governance entries, one recorded decision) produced by an accepted
 * proposal. A proposal yields one or more entries: a taxed transfer yields the transfer and a
 * `tax` leg; an accepted swap yields two `swap` legs; interest yields one leg per holder.
 *
 * `from` null means value is created (mint, interest); `to` null means it is destroyed (burn,
 * tax burned). Entries with no movement (offer, policy_set, breaker_set) have resource/amount null.
 */
export type EntryKind =
  | 'transfer'
  | 'harvest'
  | 'tax'
  | 'swap'
  | 'mint'
  | 'burn'
  | 'interest'
  | 'offer'
  | 'offer_cancel'
  | 'policy_set'
  | 'breaker_set'
  | 'artifact_write'
  | 'artifact_delete'
  | 'invoke'
  | 'compute_charge'
  | 'escrow';

export interface Effect {
  kind: EntryKind;
  from: string | null;
  to: string | null;
  resource: string | null;
  amount: bigint | null;
  /** JSON-safe details (no bigint, no undefined). */
  metadata: Record<string, unknown>;
}

/** A ledger row as stored and as replay reads it back. */
export interface LedgerEntry extends Effect {
  /** Gap-free position in the chain, 1-based, assigned by the writer under the head lock. */
  id: bigint;
  proposal_id: string;
  /** Position of this entry within its proposal, 0-based. */
  leg: number;
  /** The principal who proposed it. */
  agent: string;
  validator_version: string;
  /** sha256 (hex) of the canonical proposal that produced this entry. */
  proposal_hash: string;
  /** Milliseconds since the epoch, as decided by the writer (part of the hash). */
  executed_at: number;
  /** Lowercase hex sha256. */
  prev_hash: string;
  hash: string;
}
