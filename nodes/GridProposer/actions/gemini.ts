/**
 * Gemini: one structured-output call per agent through engine/agents/gemini.ts (the response
 * schema is derived from the law's zod schemas; retries on 429/5xx with backoff are the
 * proposer's). Whatever the model returns is emitted as produced — invalid output is NOT a node
 * failure, it is a proposal the writer will record as MALFORMED. Token usage is on the item, and
 * (option, on by default) the call's charge to the agent's llm_budget is emitted as one more
 * proposal — a `burn` by the system actor — so it goes through the ledger like everything else.
 */
import type { IExecuteFunctions, INodeProperties } from 'n8n-workflow';
import { GeminiProposer, budgetOf, chargeFor } from '../../../engine/agents';
import { deterministicId } from '../../../engine/scenario';
import { LIMITS } from '../../../validator/limits';
import { geminiSettings } from '../../shared/credentials';
import { perItem, toNodeError } from '../../shared/items';
import { attemptItem, readInput } from './common';

const show = { show: { operation: ['gemini'] } };

export const geminiProperties: INodeProperties[] = [
  {
    displayName: 'Options',
    name: 'geminiOptions',
    type: 'collection',
    placeholder: 'Add option',
    default: {},
    displayOptions: show,
    options: [
      { displayName: 'Charge LLM Budget', name: 'charge', type: 'boolean', default: true, description: "Whether to emit each call's token charge as a burn proposal (when the grid tracks llm_budget)" },
      // eslint-disable-next-line n8n-nodes-base/node-param-default-missing -- the default is LIMITS.llm.maxAttempts (every limit lives in validator/limits.ts); the rule sees only literals
      { displayName: 'Max Attempts', name: 'maxAttempts', type: 'number', default: LIMITS.llm.maxAttempts, typeOptions: { minValue: 1, maxValue: LIMITS.llm.maxAttempts } },
      { displayName: 'Temperature', name: 'temperature', type: 'number', default: 1, typeOptions: { minValue: 0, maxValue: 2, numberPrecision: 2 } },
      // eslint-disable-next-line n8n-nodes-base/node-param-default-missing -- the default is LIMITS.llm.requestTimeoutMs; the rule sees only literals
      { displayName: 'Timeout (Ms)', name: 'timeoutMs', type: 'number', default: LIMITS.llm.requestTimeoutMs, typeOptions: { minValue: 1, maxValue: LIMITS.llm.requestTimeoutMs } },
    ],
  },
];

export async function runGemini(ctx: IExecuteFunctions) {
  let creds: Awaited<ReturnType<typeof geminiSettings>>;
  try {
    creds = await geminiSettings(ctx);
  } catch (e) {
    throw toNodeError(ctx, e, 0);
  }
  return perItem(ctx, async (i) => {
    const input = readInput(ctx, i);
    const o = ctx.getNodeParameter('geminiOptions', i, {}) as { charge?: boolean; maxAttempts?: number; temperature?: number; timeoutMs?: number };
    const proposer = new GeminiProposer({
      apiKey: creds.apiKey,
      baseUrl: creds.baseUrl || undefined,
      apiVersion: creds.apiVersion,
      model: creds.model,
      seed: input.seed,
      ...(o.maxAttempts ? { maxAttempts: o.maxAttempts } : {}),
      ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}),
      ...(o.temperature !== undefined ? { temperature: o.temperature } : {}),
    });
    const system = input.world.actors.find((a) => a.kind === 'system')?.id;
    const items: unknown[] = [];
    for (const agent of input.agents) {
      const attempts = await proposer.propose({ agent, world: input.world, tick: input.tick, now: Date.now(), signal: ctx.getExecutionCancelSignal() });
      let spent = 0n;
      for (const a of attempts) {
        const item = attemptItem(agent, 'gemini', input.tick, a);
        items.push(item);
        if ((o.charge ?? true) && a.usage && system) {
          const pid = (item.proposal as { proposal_id?: unknown })?.proposal_id;
          const c = chargeFor({
            world: input.world,
            system,
            agent,
            usage: a.usage,
            balance: budgetOf(input.world, agent) - spent,
            proposalId: deterministicId('llm-charge', typeof pid === 'string' ? pid : `${input.seed}/${agent}/${input.tick}`),
            tick: input.tick,
          });
          if (c) {
            spent += c.charged;
            items.push({ agent: system, proposer: 'llm_charge', tick: input.tick, label: 'llm_charge', charged_agent: agent, proposal: c.raw, malformed: false });
          }
        }
      }
    }
    return items;
  });
}
