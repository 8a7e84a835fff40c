/**
 * What both proposer operations share: the world-state parameter, which agents to speak for, the
 * seed/tick that key every proposal id, and how one attempt becomes an output item — bound to the
 * agent it was asked for (engine/principal), with a MALFORMED pre-parse flag for the workflow.
 */
import type { IExecuteFunctions, INodeProperties } from 'n8n-workflow';
import { parseProposal } from '../../../validator';
import { LIMITS } from '../../../validator/limits';
import { bindPrincipal } from '../../../engine/principal';
import type { ProposalAttempt } from '../../../engine/agents/types';
import type { WorldSnapshot } from '../../../engine/world-state';
import { jsonParam } from '../../shared/items';

export const sharedProperties: INodeProperties[] = [
  {
    displayName: 'World State',
    name: 'world',
    type: 'json',
    default: '={{ $json }}',
    required: true,
    description: 'Snapshot from Grid Ledger → Get World State (the agents see exactly this)',
  },
  {
    displayName: 'Agents',
    name: 'agents',
    type: 'string',
    default: '',
    placeholder: 'alice, bob',
    description: `Agent actors to propose for, comma-separated; empty: every actor of kind "agent" in the snapshot (at most ${LIMITS.n8n.maxAgentsPerItem})`,
  },
  {
    displayName: 'Seed',
    name: 'seed',
    type: 'string',
    default: 'n8n',
    description: 'Keys every random choice and proposal ID: same seed, tick and world give the same proposals',
  },
  {
    displayName: 'Tick',
    name: 'tick',
    type: 'number',
    // eslint-disable-next-line n8n-nodes-base/node-param-default-wrong-for-number -- an expression on purpose: a fixed number would repeat the same proposal ids on every run
    default: '={{ $now.toMillis() }}',
    description: 'Period number this proposal is for. Default: the current time in ms, so every run proposes afresh.',
  },
];

export interface ProposeInput {
  world: WorldSnapshot;
  agents: string[];
  seed: string;
  tick: number;
}

export function readInput(ctx: IExecuteFunctions, i: number): ProposeInput {
  const world = jsonParam(ctx, 'world', i, 'World State') as WorldSnapshot | undefined;
  if (!world || typeof world !== 'object' || !Array.isArray(world.actors) || !world.balances) {
    throw Object.assign(new Error('World State is not a snapshot from Grid Ledger → Get World State'), { code: 'GRID_SNAPSHOT_INVALID' });
  }
  const listed = String(ctx.getNodeParameter('agents', i, '') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const agents = listed.length ? [...new Set(listed)] : world.actors.filter((a) => a.kind === 'agent').map((a) => a.id);
  if (agents.length > LIMITS.n8n.maxAgentsPerItem) {
    throw Object.assign(new Error(`${agents.length} agents in one item; the limit is ${LIMITS.n8n.maxAgentsPerItem}`), { code: 'GRID_TOO_MANY_AGENTS' });
  }
  const known = new Set(world.actors.map((a) => a.id));
  const unknown = agents.filter((a) => !known.has(a));
  if (unknown.length) throw Object.assign(new Error(`not actors of this grid: ${unknown.join(', ')}`), { code: 'GRID_UNKNOWN_AGENT' });
  const tick = Number(ctx.getNodeParameter('tick', i, 0));
  if (!Number.isSafeInteger(tick) || tick < 0) throw Object.assign(new Error('Tick must be a whole number ≥ 0'), { code: 'GRID_PARAMETER_INVALID' });
  return { world, agents, seed: String(ctx.getNodeParameter('seed', i, 'n8n') || 'n8n'), tick };
}

/** One attempt as an output item: bound to its principal, flagged when it will not parse. */
export function attemptItem(agent: string, proposer: string, tick: number, a: ProposalAttempt): Record<string, unknown> {
  const bound = bindPrincipal(a.raw, agent);
  const parsed = parseProposal(bound.input);
  return {
    agent,
    proposer,
    tick,
    label: a.label ?? proposer,
    proposal: bound.input,
    malformed: !parsed.ok && parsed.code === 'MALFORMED',
    ...(!parsed.ok ? { parse_error: parsed.message } : {}),
    ...(bound.claimed !== undefined ? { claimed_agent: bound.claimed } : {}),
    ...(a.usage ? { usage: a.usage } : {}),
  };
}
