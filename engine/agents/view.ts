/**
 * What an agent can read off a world snapshot: its holdings, the shared reserves, the other
 * agents, the policy it lives under, and the commons arithmetic (sustainable share).
 *
 * Snapshot amounts are decimal strings (JSON-safe); everything here turns them into bigint.
 */
import { policyFromJson, resourcePolicy, type Policy } from '../../validator';
import type { WorldSnapshot } from '../world-state';

export interface Reserve {
  id: string;
  stock: Map<string, bigint>;
}

export interface AgentView {
  agent: string;
  policy: Policy;
  breakerOpen: boolean;
  /** Every registered agent (kind 'agent'), sorted, including this one. */
  agents: string[];
  /** Every other agent, sorted. */
  others: string[];
  reserves: Reserve[];
  resources: string[];
  balance(actor: string, resource: string): bigint;
  /** The agent's own holdings with a positive balance, sorted by resource. */
  holdings(): Array<[string, bigint]>;
  /** Largest single movement the policy allows (0 = no limit). */
  maxTransfer(resource: string): bigint;
  minBalance(resource: string): bigint;
  openOffers: WorldSnapshot['open_offers'];
}

export function viewOf(world: WorldSnapshot, agent: string): AgentView {
  const policy = policyFromJson(world.policy);
  const agents = world.actors.filter((a) => a.kind === 'agent').map((a) => a.id).sort();
  const balance = (actor: string, resource: string): bigint => BigInt(world.balances[actor]?.[resource] ?? '0');
  const reserves: Reserve[] = world.actors
    .filter((a) => a.kind === 'reserve')
    .map((a) => a.id)
    .sort()
    .map((id) => ({ id, stock: new Map(Object.entries(world.balances[id] ?? {}).map(([r, v]) => [r, BigInt(v)] as [string, bigint]).sort((x, y) => cmp(x[0], y[0]))) }));
  return {
    agent,
    policy,
    breakerOpen: world.breaker.open,
    agents,
    others: agents.filter((a) => a !== agent),
    reserves,
    resources: world.resources.map((r) => r.id).sort(),
    balance,
    holdings: () =>
      Object.entries(world.balances[agent] ?? {})
        .map(([r, v]) => [r, BigInt(v)] as [string, bigint])
        .filter(([, v]) => v > 0n)
        .sort((x, y) => cmp(x[0], y[0])),
    maxTransfer: (r) => resourcePolicy(policy, r).max_transfer,
    minBalance: (r) => resourcePolicy(policy, r).min_balance,
    openOffers: world.open_offers,
  };
}

export function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The most the whole population may take from a stock this period and still see it regrow to
 * where it was: with regrowth r (bps), a stock left at S − h regrows to (S − h)(1 + r), which is
 * ≥ S exactly when h ≤ S·r / (1 + r). With r = 100 % (GovSim's doubling) that is half the stock.
 * Rounded down: the sustainable figure must never overstate what is safe to take.
 */
export function sustainableTotal(stock: bigint, regrowthBps: number): bigint {
  if (stock <= 0n || regrowthBps <= 0) return 0n;
  const r = BigInt(regrowthBps);
  return (stock * r) / (10_000n + r);
}

/** One agent's equal part of the sustainable total (GovSim's "sustainability threshold"). */
export function sustainableShare(stock: bigint, regrowthBps: number, agents: number): bigint {
  return agents > 0 ? sustainableTotal(stock, regrowthBps) / BigInt(agents) : 0n;
}

/** min(a, cap) where a cap of 0 means "no cap" (the policy's max_transfer convention). */
export function capAt(amount: bigint, cap: bigint): bigint {
  return cap > 0n && amount > cap ? cap : amount;
}
