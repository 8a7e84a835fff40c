/**
 * Per-agent LLM budget (seed gap #12): each agent holds an `llm_budget` balance in the ledger,
 * like any other resource — so it can be granted, traded and audited. Every model call is
 * charged to the calling agent as a `burn` by the system actor whose reasoning records the model
 * and the token counts; an agent whose balance is ≤ 0 is frozen (its proposer is not called)
 * while the rest of the simulation runs on.
 *
 * The charge is capped at the balance: the tokens were already spent when the reply arrived, and
 * a burn larger than the balance would be refused by the law (INSUFFICIENT_BALANCE). What could
 * not be charged is stated in the entry's reasoning, and the agent is frozen from then on.
 */
import type { WorldSnapshot } from '../world-state';
import type { LlmUsage } from './types';

export const DEFAULT_BUDGET_RESOURCE = 'llm_budget';

/** Budgets apply only on grids that register the budget resource. */
export function budgetTracked(world: WorldSnapshot, resource = DEFAULT_BUDGET_RESOURCE): boolean {
  return world.resources.some((r) => r.id === resource);
}

export function budgetOf(world: WorldSnapshot, agent: string, resource = DEFAULT_BUDGET_RESOURCE): bigint {
  return BigInt(world.balances[agent]?.[resource] ?? '0');
}

export function isBudgetFrozen(world: WorldSnapshot, agent: string, resource = DEFAULT_BUDGET_RESOURCE): boolean {
  return budgetTracked(world, resource) && budgetOf(world, agent, resource) <= 0n;
}

export interface Charge {
  /** The `burn` proposal to send through the writer (by the system actor). */
  raw: Record<string, unknown>;
  charged: bigint;
  unpaid: bigint;
}

/**
 * The burn that charges one call's tokens to `agent`, or null when nothing is owed or budgets are
 * not tracked. `balance` is the agent's budget as the batch will see it before this charge.
 */
export function chargeFor(opts: {
  world: WorldSnapshot;
  system: string;
  agent: string;
  usage: LlmUsage;
  balance: bigint;
  proposalId: string;
  tick: number;
  resource?: string;
}): Charge | null {
  const resource = opts.resource ?? DEFAULT_BUDGET_RESOURCE;
  if (!budgetTracked(opts.world, resource)) return null;
  const owed = BigInt(Math.max(0, Math.trunc(opts.usage.totalTokens)));
  const charged = owed < opts.balance ? owed : opts.balance > 0n ? opts.balance : 0n;
  const unpaid = owed - charged;
  if (charged <= 0n) return null;
  const u = opts.usage;
  const why =
    `llm charge: ${u.model} used ${u.promptTokens} prompt + ${u.outputTokens} output + ${u.thoughtsTokens} thinking = ${u.totalTokens} tokens ` +
    `for ${opts.agent} in period ${opts.tick} (${u.attempts} HTTP attempt${u.attempts === 1 ? '' : 's'}${u.responseId ? `, response ${u.responseId}` : ''})` +
    (unpaid > 0n ? `; ${unpaid} tokens could not be charged: budget exhausted, agent frozen` : '');
  return {
    raw: { proposal_id: opts.proposalId, kind: 'burn', agent: opts.system, from: opts.agent, resource, amount: charged.toString(), reasoning: why },
    charged,
    unpaid,
  };
}
