/**
 * Loads, under the chain-head lock, the slice of state a batch needs into a MemoryWorld the law
 * can read, plus the head the batch will extend. One round trip (grid_load: migration 0007, its rate-window read as redefined in 0008).
 */
import { offerFromRow } from './rows';
import { MemoryWorld, policyFromJson, DEFAULT_POLICY, type Proposal, type Policy, type ActorKind } from '../validator';
import type { Queryable } from './adapter';
import { artifactNeeds, loadArtifacts } from './artifacts';
import { isArtifactProposal } from '../validator';

export interface Decided {
  proposal_id: string;
  outcome: 'applied' | 'rejected';
  proposal_hash: string;
  code?: string;
  message?: string;
  details?: Record<string, unknown>;
  validator_version?: string;
}

/** The chain head a batch extends, and the version of the state it was decided against. */
export interface Head {
  lastId: bigint;
  lastHash: string;
  lastAtMs: number;
  stateVersion: string;
}

export interface Loaded {
  world: MemoryWorld;
  decided: Map<string, Decided>;
  head: Head;
  /** Agents whose rate window was read (the proposers that are of kind agent). */
  windowsLoaded: string[];
}

export function needsOf(proposals: Proposal[]) {
  const ids = new Set<string>();
  const actors = new Set<string>();
  const holders = new Set<string>();
  const offers = new Set<string>();
  for (const p of proposals) {
    ids.add(p.proposal_id);
    actors.add(p.agent);
    switch (p.kind) {
      case 'transfer':
        actors.add(p.from).add(p.to);
        break;
      case 'harvest':
      case 'burn':
        actors.add(p.from);
        break;
      case 'mint':
        actors.add(p.to);
        break;
      case 'offer':
        if (p.counterparty) actors.add(p.counterparty);
        break;
      case 'accept':
      case 'offer_cancel':
        offers.add(p.offer_id);
        break;
      case 'accrue_interest':
        holders.add('*interest*');
        break;
      default:
        // Artifact economy (migration 0006): payment parties of a run, buyer, escrow actor.
        artifactNeeds(p, actors);
        break;
    }
  }
  return { ids, actors, holders, offers };
}

/**
 * Reads, under the chain-head lock (grid_load takes it and the transaction holds it to commit),
 * the slice of state the proposals need. The actors to read depend on the policy (its treasury,
 * its interest resource, its rate window); `policyHint` is the writer's guess, and when the
 * policy turns out to differ in a way that matters the slice is read again with the real one —
 * inside the same transaction, so nothing changed in between.
 */
export async function loadState(
  tx: Queryable,
  proposals: Proposal[],
  extraIds: string[],
  now: number,
  policyHint: Policy,
  /** Read the whole registry if it has at most this many actors (0: only what the batch names). */
  warmCap = 0,
): Promise<Loaded> {
  const first = await loadOnce(tx, proposals, extraIds, now, policyHint, warmCap);
  const real = first.world.policy;
  if (hintMatters(policyHint, real, proposals)) return loadOnce(tx, proposals, extraIds, now, real, warmCap);
  return first;
}

function hintMatters(hint: Policy, real: Policy, proposals: Proposal[]): boolean {
  return (
    hint.rate_limit.window_ms !== real.rate_limit.window_ms ||
    hint.rate_limit.max_actions !== real.rate_limit.max_actions ||
    proposals.some(
      (p) =>
        (p.kind === 'accrue_interest' && hint.interest.resource !== real.interest.resource) ||
        (p.kind === 'policy_set' && hint.carbon_tax.treasury !== real.carbon_tax.treasury),
    )
  );
}

async function loadOnce(tx: Queryable, proposals: Proposal[], extraIds: string[], now: number, policyHint: Policy, warmCap: number): Promise<Loaded> {
  const n = needsOf(proposals);
  for (const id of extraIds) n.ids.add(id);
  // A policy change is checked against the treasury it would leave in force.
  for (const p of proposals) {
    if (p.kind !== 'policy_set') continue;
    n.actors.add(policyHint.carbon_tax.treasury);
    if (p.patch.carbon_tax?.treasury) n.actors.add(p.patch.carbon_tax.treasury);
  }
  // Interest needs every holder of the interest resource; the policy says which resource that is.
  const holders = n.holders.size ? [policyHint.interest.resource] : [];
  const since = now - policyHint.rate_limit.window_ms;
  // Rate limits count proposals by their proposer, so only proposers need a window.
  const rateAgents = [...new Set(proposals.map((p) => p.agent))];
  const r = await tx.query<{ s: any }>('SELECT grid_load($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::text[], $6::bigint, $7::integer, $8::integer) AS s', [
    [...n.ids],
    [...n.actors],
    holders,
    [...n.offers],
    rateAgents,
    since,
    policyHint.rate_limit.max_actions,
    warmCap,
  ]);
  const s = typeof r.rows[0].s === 'string' ? JSON.parse(r.rows[0].s) : r.rows[0].s;
  const w = new MemoryWorld();
  w.policy = s.policy ? policyFromJson(s.policy) : DEFAULT_POLICY;
  w.breaker = { open: Boolean(s.breaker?.open), reason: String(s.breaker?.reason ?? 'genesis'), by: s.breaker?.by ?? null };
  for (const [id, kind] of s.actors) w.actors.set(id, { id, kind: kind as ActorKind });
  for (const [id, unit] of s.resources) w.resources.set(id, { id, unit });
  for (const [a, res, amt] of s.balances) w.setBalance(a, res, BigInt(amt));
  for (const o of s.offers) w.offers.set(o.offer_id, offerFromRow(o));
  for (const [agent, runs] of Object.entries(s.actions as Record<string, Array<[string, number]>>)) {
    for (const [at, count] of runs) w.recordAction(agent, Number(at), Number(count));
  }
  // Artifact economy (migration 0006): a second round trip, only for batches that need it.
  if (proposals.some(isArtifactProposal)) await loadArtifacts(tx, proposals, w, since, w.policy.rate_limit.max_actions);
  const decided = new Map<string, Decided>();
  for (const d of s.decided as Decided[]) decided.set(d.proposal_id, d);
  const h = s.head;
  const head: Head = { lastId: BigInt(h.last_id), lastHash: h.last_hash, lastAtMs: Number(h.last_at_ms), stateVersion: h.state_version };
  // Decision time never runs backwards along the chain, even when writers' clocks disagree.
  w.now = Math.max(now, head.lastAtMs);
  return { world: w, decided, head, windowsLoaded: Object.keys(s.actions) };
}
