/**
 * The commons' physics, as ledger proposals: each period the system actor mints the reserve's
 * regrowth (a `mint` like any other, so replay reproduces the ecology too), and a reserve whose
 * stock falls below its collapse level after the harvest is dead — no regrowth, survival ends.
 *
 * Integer arithmetic only: regrowth = min(capacity − stock, ⌊stock · regrowth_bps / 10000⌋).
 * A stock of zero never regrows (as in GovSim, an emptied lake stays empty).
 */
import type { WorldSnapshot } from '../world-state';
import type { CommonsSettings } from './settings';

export function regrowth(stock: bigint, capacity: bigint, regrowthBps: number): bigint {
  if (stock <= 0n || stock >= capacity) return 0n;
  const grown = (stock * BigInt(regrowthBps)) / 10_000n;
  const room = capacity - stock;
  return grown < room ? grown : room;
}

export function stockOf(world: WorldSnapshot, c: CommonsSettings, resource: string): bigint {
  return BigInt(world.balances[c.reserve]?.[resource] ?? '0');
}

export interface Collapse {
  resource: string;
  stock: bigint;
  collapse_below: bigint;
}

/** Every commons resource below its collapse level (empty = the commons is alive). */
export function collapsedResources(world: WorldSnapshot, c: CommonsSettings): Collapse[] {
  const out: Collapse[] = [];
  for (const [res, rc] of Object.entries(c.resources).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const stock = stockOf(world, c, res);
    if (stock < rc.collapse_below) out.push({ resource: res, stock, collapse_below: rc.collapse_below });
  }
  return out;
}

/** The period's regrowth mints, by the system actor, one per resource that grows. */
export function regenerationProposals(world: WorldSnapshot, c: CommonsSettings, opts: { system: string; period: number; idFor: (resource: string) => string }): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const [res, rc] of Object.entries(c.resources).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const stock = stockOf(world, c, res);
    const amount = regrowth(stock, rc.capacity, c.regrowth_bps);
    if (amount <= 0n) continue;
    out.push({
      proposal_id: opts.idFor(res),
      kind: 'mint',
      agent: opts.system,
      to: c.reserve,
      resource: res,
      amount: amount.toString(),
      reasoning: `commons regrowth, period ${opts.period}: ${stock} ${res} grows by ${c.regrowth_bps} bps, capped at capacity ${rc.capacity}`,
    });
  }
  return out;
}
