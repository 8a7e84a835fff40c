/**
 * What the model is shown and what shape it must answer in.
 *
 * The response schema is DERIVED from the law's zod schemas (validator/schemas.ts), narrowed to
 * what an agent may do on its own (transfer, harvest, offer) and without the envelope fields the
 * engine owns (proposal_id, agent). So the model is constrained by the same definitions the
 * validator enforces — but the validator still decides: structured output is a hint to the
 * model, not a guarantee, and whatever comes back goes to the writer as produced.
 *
 * The prompt is the agent's view of the world as JSON, trimmed (offers first, then other agents)
 * until it fits LIMITS.llm.maxPromptBytes.
 */
import { z } from 'zod/v4';
import { TransferSchema, HarvestSchema, OfferSchema, LIMITS, policyFromJson } from '../../validator';
import type { WorldSnapshot } from '../world-state';

const ENVELOPE = { proposal_id: true, agent: true } as const;

/** The zod schema of what the model writes (input side: amounts as integers or digit strings). */
export const LlmProposalSchema = z.discriminatedUnion('kind', [TransferSchema.omit(ENVELOPE), HarvestSchema.omit(ENVELOPE), OfferSchema.omit(ENVELOPE)]);

let cached: Record<string, unknown> | null = null;

/**
 * JSON Schema for `responseJsonSchema`. zod renders the law's bigint amount branch as `{}` (JSON
 * has no bigint); an empty branch would let the model answer anything, so it is pruned. `const`
 * becomes a one-value `enum`, which every Gemini schema dialect accepts.
 */
export function llmResponseSchema(): Record<string, unknown> {
  if (cached) return cached;
  const raw = z.toJSONSchema(LlmProposalSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  delete raw.$schema;
  cached = prune(raw) as Record<string, unknown>;
  return cached;
}

function prune(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(prune);
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === 'anyOf' && Array.isArray(v)) {
      const kept = v.filter((b) => !(b && typeof b === 'object' && Object.keys(b).length === 0)).map(prune);
      if (kept.length === 1) Object.assign(out, kept[0]);
      else out.anyOf = kept;
    } else if (k === 'const') {
      out.enum = [v];
    } else {
      out[k] = prune(v);
    }
  }
  return out;
}

export const SYSTEM_INSTRUCTION = [
  'You are an autonomous trading agent in a governed resource grid (energy, water, credits, ...).',
  'Each turn you propose exactly ONE action as a JSON object matching the response schema:',
  '- "harvest": take `amount` of `resource` from a shared reserve actor (`from`). The reserve regrows each period only if enough is left;',
  '  if it falls below its collapse level the commons is gone for everyone.',
  '- "transfer": move `amount` of `resource` from yourself (`from` must be you) to another actor (`to`).',
  '- "offer": propose a swap: you `give` {resource, amount} for `want` {resource, amount}, optionally to one `counterparty`.',
  'Amounts are whole numbers (integers or digit strings). A validator enforces the policy shown (max_transfer, min_balance,',
  'rate limits, circuit breaker); proposals that break it are rejected and recorded. Explain briefly in `reasoning`.',
].join('\n');

export interface PromptParts {
  system: string;
  user: string;
  /** What was left out to stay within the size limit. */
  trimmed: { offers: number; agents: number };
}

export function buildPrompt(world: WorldSnapshot, agent: string, tick: number, maxBytes: number = LIMITS.llm.maxPromptBytes): PromptParts {
  const policy = policyFromJson(world.policy);
  const kinds = new Map(world.actors.map((a) => [a.id, a.kind]));
  const reserves = Object.fromEntries(world.actors.filter((a) => a.kind === 'reserve').map((a) => [a.id, world.balances[a.id] ?? {}]));
  const others = world.actors.filter((a) => a.kind === 'agent' && a.id !== agent).map((a) => a.id).slice(0, LIMITS.agents.maxAgentsInPrompt);
  const offers = world.open_offers.slice(0, LIMITS.agents.maxOffersInPrompt);
  const doc = (nOffers: number, nAgents: number) => ({
    you: agent,
    period: tick,
    your_balances: world.balances[agent] ?? {},
    reserves,
    other_agents: Object.fromEntries(others.slice(0, nAgents).map((id) => [id, world.balances[id] ?? {}])),
    policy: {
      resources: JSON.parse(JSON.stringify(policy.resources, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))),
      rate_limit: policy.rate_limit,
      carbon_tax: policy.carbon_tax,
    },
    circuit_breaker: { open: world.breaker.open, reason: world.breaker.reason },
    open_offers: offers.slice(0, nOffers),
    registered_resources: world.resources.map((r) => r.id),
    other_actors: world.actors.filter((a) => a.kind !== 'agent').map((a) => `${a.id} (${kinds.get(a.id)})`),
  });
  let nOffers = offers.length;
  let nAgents = others.length;
  const sizeOf = (s: string) => Buffer.byteLength(s, 'utf8');
  const budget = maxBytes - sizeOf(SYSTEM_INSTRUCTION);
  let user = render(doc(nOffers, nAgents));
  // Halve what is listed until it fits: offers go first (least needed to act), then other agents.
  while (sizeOf(user) > budget && (nOffers > 0 || nAgents > 0)) {
    if (nOffers > 0) nOffers = Math.floor(nOffers / 2);
    else nAgents = Math.floor(nAgents / 2);
    user = render(doc(nOffers, nAgents));
  }
  // A huge registry: cut at the byte limit, dropping a multi-byte character split by the cut.
  if (sizeOf(user) > budget) user = Buffer.from(user, 'utf8').subarray(0, Math.max(0, budget)).toString('utf8').replace(/\uFFFD+$/, '');
  return { system: SYSTEM_INSTRUCTION, user, trimmed: { offers: world.open_offers.length - nOffers, agents: world.actors.filter((a) => a.kind === 'agent' && a.id !== agent).length - nAgents } };
}

function render(doc: unknown): string {
  return `World state (JSON):\n${JSON.stringify(doc)}\n\nPropose your one action for this period.`;
}
