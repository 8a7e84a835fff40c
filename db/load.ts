/**
 * Loads, under the locks of the actors a batch names, the slice of state the batch needs into a
 * MemoryWorld the law can read. One round trip (grid_load, migration 0003).
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

export interface Loaded {
  world: MemoryWorld;
  decided: Map<string, Decided>;
}

/** What a batch touches, derived from the proposals alone (the policy is not known yet). */
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

export async function loadState(
  tx: Queryable,
  proposals: Proposal[],
  extraIds: string[],
  now: number,
  policyHint: Policy,
): Promise<Loaded> {
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
  let since = now - policyHint.rate_limit.window_ms;
  // Rate limits count proposals by their proposer, so only proposers need a window.
  const rateAgents = [...new Set(proposals.map((p) => p.agent))];
  const r = await tx.query<{ s: any }>('SELECT grid_load($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::text[], $6::bigint, $7::integer) AS s', [
    [...n.ids],
    [...n.actors],
    holders,
    [...n.offers],
    rateAgents,
    since,
    policyHint.rate_limit.max_actions,
  ]);
  const s = typeof r.rows[0].s === 'string' ? JSON.parse(r.rows[0].s) : r.rows[0].s;
  const w = new MemoryWorld();
  w.policy = s.policy ? policyFromJson(s.policy) : DEFAULT_POLICY;
  w.breaker = { open: Boolean(s.breaker?.open), reason: String(s.breaker?.reason ?? 'genesis'), by: s.breaker?.by ?? null };
  for (const [id, kind] of s.actors) w.actors.set(id, { id, kind: kind as ActorKind });
  for (const [id, unit] of s.resources) w.resources.set(id, { id, unit });
  for (const [a, res, amt] of s.balances) w.setBalance(a, res, BigInt(amt));
  for (const o of s.offers) {
    w.offers.set(o.offer_id, offerFromRow(o));
  }
  let counts: Record<string, number> = s.actions;
  const rl = w.policy.rate_limit;
  if (rl.window_ms !== policyHint.rate_limit.window_ms || rl.max_actions !== policyHint.rate_limit.max_actions) {
    // The policy changed since the hint: count again with the real window (rare).
    since = now - rl.window_ms;
    const c = await tx.query<{ agent: string; n: string | bigint }>(
      `SELECT a AS agent, (SELECT count(*) FROM (SELECT 1 FROM ledger l WHERE l.leg = 0 AND l.agent = a
         AND l.executed_at > timestamptz 'epoch' + $2::bigint * interval '1 millisecond' LIMIT $3) c) AS n
       FROM unnest($1::text[]) AS a`,
      [rateAgents, since, rl.max_actions],
    );
    counts = Object.fromEntries(c.rows.map((x) => [x.agent, Number(x.n)]));
  }
  w.baseSince = since;
  for (const [a, c] of Object.entries(counts)) w.baseCounts.set(a, Number(c));
  // Artifact economy (migration 0006): a second round trip, only for batches that need it.
  if (proposals.some(isArtifactProposal)) await loadArtifacts(tx, proposals, w, since, rl.max_actions);
  const decided = new Map<string, Decided>();
  for (const d of s.decided as Decided[]) decided.set(d.proposal_id, d);
  w.now = now;
  return { world: w, decided };
}
