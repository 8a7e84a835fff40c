/** Scripted: the deterministic policies of engine/agents (no key, no network). */
import type { IExecuteFunctions, INodeProperties } from 'n8n-workflow';
import { scriptedProposer, SCRIPTED_KINDS, type ScriptedKind } from '../../../engine/agents';
import { perItem } from '../../shared/items';
import { attemptItem, readInput } from './common';

const show = { show: { operation: ['scripted'] } };

export const scriptedProperties: INodeProperties[] = [
  {
    displayName: 'Policy',
    name: 'policy',
    type: 'options',
    default: 'cooperative',
    displayOptions: show,
    options: [
      { name: 'Adversarial', value: 'adversarial', description: 'Attacks from the catalogue (forgery, overflow, replay, ...)' },
      { name: 'Cooperative', value: 'cooperative', description: 'Takes its sustainable share, respects limits, trades surplus' },
      { name: 'Greedy', value: 'greedy', description: 'Asks for far more than its share, several times per tick' },
      { name: 'Random', value: 'random', description: 'Random harvests, transfers, offers and accepts' },
    ],
  },
  {
    displayName: 'Options',
    name: 'scriptedOptions',
    type: 'collection',
    placeholder: 'Add option',
    default: {},
    displayOptions: show,
    options: [
      { displayName: 'Regrowth (Bps)', name: 'regrowthBps', type: 'number', default: 10000 },
      { displayName: 'Greed (Bps)', name: 'greedBps', type: 'number', default: 20000 },
      { displayName: 'Attacks per Tick', name: 'attacksPerTick', type: 'number', default: 4 },
      { displayName: 'Offer TTL (Ms)', name: 'offerTtlMs', type: 'number', default: 30000 },
    ],
  },
];

export async function runScripted(ctx: IExecuteFunctions) {
  return perItem(ctx, async (i) => {
    const input = readInput(ctx, i);
    const kind = ctx.getNodeParameter('policy', i) as ScriptedKind;
    if (!SCRIPTED_KINDS.includes(kind)) throw Object.assign(new Error(`unknown policy ${kind}`), { code: 'PROPOSER_CONFIG' });
    const o = ctx.getNodeParameter('scriptedOptions', i, {}) as Record<string, number>;
    const proposer = scriptedProposer(kind, { seed: input.seed, ...o });
    const items: unknown[] = [];
    for (const agent of input.agents) {
      const attempts = await proposer.propose({ agent, world: input.world, tick: input.tick, now: Date.now(), signal: ctx.getExecutionCancelSignal() });
      for (const a of attempts) items.push(attemptItem(agent, kind, input.tick, a));
    }
    return items;
  });
}
