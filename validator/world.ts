/**
 * The state the law reads, and the one in-memory implementation of it.
 *
 * The writer loads the slice of state a batch touches (under its locks) into a MemoryWorld,
 * validates each proposal in order and applies its effects, so proposal N+1 sees proposal N.
 * The n8n Validator node and the scripted agents use the same class over a snapshot. Replay folds
 * ledger entries through the same `applyEntry`, so there is exactly one definition of what an
 * entry does to state.
 */
import type { Actor, Effect, Resource } from './types';
import { applyPolicyPatch, DEFAULT_POLICY, type Policy } from './policy';
import { PolicyPatchSchema } from './schemas';
import { ArtifactBook, type ArtifactState, type ListingState } from './artifact-state';

export interface OfferState {
  offer_id: string;
  maker: string;
  give: { resource: string; amount: bigint };
  want: { resource: string; amount: bigint };
  counterparty: string | null;
  expires_at: number | null;
  status: 'open' | 'accepted' | 'cancelled';
}

export interface BreakerState {
  open: boolean;
  reason: string;
  /** Who last changed it (actor id), or null at genesis. */
  by: string | null;
}

/** Read-only view the rules are written against. */
export interface WorldView {
  /** The decision time (ms). Supplied by the writer; the law never reads a clock. */
  readonly now: number;
  readonly policy: Policy;
  readonly breaker: BreakerState;
  actor(id: string): Actor | undefined;
  resource(id: string): Resource | undefined;
  balance(actor: string, resource: string): bigint;
  /** Every actor holding a positive balance of `resource` (for interest). */
  holders(resource: string): Array<[string, bigint]>;
  offer(id: string): OfferState | undefined;
  /** Applied proposals by `agent` with decision time > sinceMs. */
  actionsSince(agent: string, sinceMs: number): number;
  // Artifact state (validator/artifact-state.ts); the loader fills what a batch names.
  artifact(id: string): ArtifactState | undefined;
  listing(id: string): ListingState | undefined;
  /** Byte size of stored content with this sha256, if it is stored. */
  blob(hash: string): number | undefined;
  /** Bytes of live artifacts owned by `owner`. */
  diskUsed(owner: string): number;
}

export class MemoryWorld implements WorldView {
  now = 0;
  policy: Policy = DEFAULT_POLICY;
  breaker: BreakerState = { open: false, reason: 'genesis', by: null };
  readonly actors = new Map<string, Actor>();
  readonly resources = new Map<string, Resource>();
  /**
   * Balances by resource, then actor. (Keyed by resource first: a lookup needs no key string
   * built per call — measured ≈8 % of the writer's per-proposal cost with concatenated keys.)
   */
  readonly balances = new Map<string, Map<string, bigint>>();
  readonly offers = new Map<string, OfferState>();
  /**
   * Rate-limit windows: per agent, the decision times of its applied proposals (see RateWindow).
   * Loaders fill them from the ledger; deciding a proposal records one more.
   */
  readonly windows = new Map<string, RateWindow>();
  /** Artifacts, escrow listings, content sizes, disk use (validator/artifact-state.ts). */
  readonly book = new ArtifactBook();

  artifact(id: string) {
    return this.book.artifacts.get(id);
  }
  listing(id: string) {
    return this.book.listings.get(id);
  }
  blob(hash: string) {
    return this.book.blobs.get(hash);
  }
  diskUsed(owner: string) {
    return this.book.diskUsed(owner);
  }
  actor(id: string) {
    return this.actors.get(id);
  }
  resource(id: string) {
    return this.resources.get(id);
  }
  balance(actor: string, resource: string): bigint {
    return this.balances.get(resource)?.get(actor) ?? 0n;
  }
  setBalance(actor: string, resource: string, amount: bigint) {
    let m = this.balances.get(resource);
    if (!m) this.balances.set(resource, (m = new Map()));
    m.set(actor, amount);
  }
  holders(resource: string): Array<[string, bigint]> {
    const out: Array<[string, bigint]> = [];
    for (const [a, v] of this.balances.get(resource) ?? []) if (v > 0n) out.push([a, v]);
    // Deterministic order: the law's output must not depend on Map insertion order.
    return out.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  }
  /** Every (actor, resource, amount), sorted — for diffs and checksums. */
  allBalances(): Array<[string, string, bigint]> {
    const out: Array<[string, string, bigint]> = [];
    for (const [r, m] of this.balances) for (const [a, v] of m) out.push([a, r, v]);
    return out.sort((x, y) => (x[0] === y[0] ? (x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : 0) : x[0] < y[0] ? -1 : 1));
  }
  offer(id: string) {
    return this.offers.get(id);
  }
  actionsSince(agent: string, sinceMs: number): number {
    return this.windows.get(agent)?.countAfter(sinceMs) ?? 0;
  }
  recordAction(agent: string, at: number, count = 1) {
    let w = this.windows.get(agent);
    if (!w) this.windows.set(agent, (w = new RateWindow()));
    w.add(at, count);
  }

  /**
   * Apply one effect. Movements change balances; governance entries change policy, breaker and
   * offers. The same function serves the writer (after validation) and replay (from the ledger).
   */
  applyEffect(e: Effect, ctx: { proposal_id: string; agent: string }): void {
    if (e.amount !== null && e.resource !== null) {
      if (e.from !== null) this.setBalance(e.from, e.resource, this.balance(e.from, e.resource) - e.amount);
      if (e.to !== null) this.setBalance(e.to, e.resource, this.balance(e.to, e.resource) + e.amount);
    }
    const m = e.metadata;
    switch (e.kind) {
      case 'offer':
        this.offers.set(ctx.proposal_id, {
          offer_id: ctx.proposal_id,
          maker: ctx.agent,
          give: { resource: String((m.give as any).resource), amount: BigInt((m.give as any).amount) },
          want: { resource: String((m.want as any).resource), amount: BigInt((m.want as any).amount) },
          counterparty: (m.counterparty as string | null) ?? null,
          expires_at: (m.expires_at as number | null) ?? null,
          status: 'open',
        });
        break;
      case 'swap': {
        const o = this.offers.get(String(m.offer_id));
        if (o) o.status = 'accepted';
        break;
      }
      case 'offer_cancel': {
        const o = this.offers.get(String(m.offer_id));
        if (o) o.status = 'cancelled';
        break;
      }
      case 'policy_set':
        // Stored as JSON (bigints as strings); the schema turns it back into typed values.
        this.policy = applyPolicyPatch(this.policy, PolicyPatchSchema.parse(m.patch));
        break;
      case 'breaker_set':
        this.breaker = { open: Boolean(m.open), reason: String(m.reason), by: ctx.agent };
        break;
      case 'artifact_write':
      case 'artifact_delete':
      case 'invoke':
      case 'escrow': {
        // A trusted proposer acting for a principal (an invoke run by the engine) counts as an
        // action of that principal for the rate limit.
        const principal = this.book.apply(e, ctx);
        if (principal !== null) this.recordAction(principal, this.now);
        break;
      }
      default:
        break;
    }
  }
}

/**
 * One agent's recent actions as (time, count) runs in time order. The writer stamps a whole batch
 * with one decision time, so an agent active in every batch adds one run per batch, not one per
 * proposal. Counting slides forward: runs at or before the window start are dropped from the
 * front (amortized O(1)), which is exact because the window start never moves backwards while a
 * world is in use (decision time never runs backwards along the chain, and a policy change
 * that moves the window makes the writer load a fresh world).
 */
export class RateWindow {
  private readonly at: number[] = [];
  private readonly n: number[] = [];
  private head = 0;
  private total = 0;
  /** Runs at or before this time have been dropped. */
  private droppedTo = -Infinity;

  add(at: number, count = 1): void {
    if (at <= this.droppedTo) return; // outside every window still to be asked about
    const last = this.at.length - 1;
    if (last >= this.head && this.at[last] === at) this.n[last] += count;
    else {
      // Loaders may hand runs in any order; keep them sorted (rare: appends are in time order).
      let i = this.at.length;
      while (i > this.head && this.at[i - 1] > at) i--;
      this.at.splice(i, 0, at);
      this.n.splice(i, 0, count);
    }
    this.total += count;
  }

  /** Actions strictly after `since`. */
  countAfter(since: number): number {
    if (since < this.droppedTo) {
      // Programmer error: a caller moved the window start backwards after runs were dropped.
      throw new Error(`rate window asked for actions after ${since}, but runs up to ${this.droppedTo} were already dropped`);
    }
    while (this.head < this.at.length && this.at[this.head] <= since) {
      this.total -= this.n[this.head];
      this.head++;
    }
    this.droppedTo = since;
    if (this.head > 64 && this.head * 2 > this.at.length) {
      this.at.splice(0, this.head);
      this.n.splice(0, this.head);
      this.head = 0;
    }
    return this.total;
  }
}
