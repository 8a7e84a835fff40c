/**
 * Deterministic scripted agents for offline runs, demos and tests. Each reads the same world
 * snapshot an LLM agent would and returns proposals; the law decides as for anyone else.
 *
 * - cooperative: takes its equal share of the sustainable harvest (GovSim's sustainability
 *   threshold), respects max_transfer, plans no more actions than the rate limit allows, waits
 *   while the breaker is open, and trades its surplus 1:1.
 * - greedy: asks for `greedBps` of its sustainable share (2× by default), again in every one of
 *   `greedyRounds` rounds per tick; it reads max_transfer (asking for more only gets rejected) but
 *   ignores rate limits and the reserve's future, and takes any offer that pays more than it costs.
 * - random: one or two random harvests, transfers, offers or accepts; ignores everything.
 * - adversarial: see adversarial.ts.
 *
 * Every random choice, and every proposal_id, comes from a Prng keyed by (seed, policy, agent,
 * tick): same seed and same world → same proposals, byte for byte.
 */
import { Prng } from './prng';
import { viewOf, sustainableShare, capAt, type AgentView } from './view';
import { adversarialAttempts } from './adversarial';
import { ProposerError, type ProposalAttempt, type ProposeContext, type Proposer } from './types';

export const SCRIPTED_KINDS = ['cooperative', 'greedy', 'random', 'adversarial'] as const;
export type ScriptedKind = (typeof SCRIPTED_KINDS)[number];

export interface ScriptedOptions {
  seed: number | string;
  /** Regrowth per period (bps) the commons-aware policies plan with; 10000 = the stock doubles. */
  regrowthBps?: number;
  /** Greedy: what one attempt asks for, in bps of its sustainable share (20000 = twice the share). */
  greedBps?: number;
  /** Greedy: harvest rounds per tick (each round asks once per reserve resource). */
  greedyRounds?: number;
  /** Adversarial: attacks per tick, drawn from the catalogue (0 = the whole catalogue). */
  attacksPerTick?: number;
  /** Offers made by scripted agents expire this many simulated ms after they are made. */
  offerTtlMs?: number;
}

const DEFAULTS = { regrowthBps: 10_000, greedBps: 20_000, greedyRounds: 2, attacksPerTick: 4, offerTtlMs: 30_000 };

type Resolved = Required<ScriptedOptions>;

export function scriptedProposer(kind: ScriptedKind, options: ScriptedOptions): Proposer {
  if (!SCRIPTED_KINDS.includes(kind)) {
    throw new ProposerError('PROPOSER_CONFIG', `unknown scripted policy ${JSON.stringify(kind)}; use one of ${SCRIPTED_KINDS.join(', ')}`);
  }
  // An explicit `undefined` (e.g. a scenario without a commons) must not override a default.
  const o = { ...DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as Resolved;
  const policy = { cooperative, greedy, random, adversarial: adversarialPolicy }[kind];
  return {
    kind,
    propose: async (ctx) => policy(ctx, viewOf(ctx.world, ctx.agent), new Prng(o.seed, kind, ctx.agent, ctx.tick), o),
  };
}

type Policy = (ctx: ProposeContext, v: AgentView, rng: Prng, o: Resolved) => ProposalAttempt[];

const harvest = (rng: Prng, agent: string, from: string, resource: string, amount: bigint, why: string): ProposalAttempt => ({
  raw: { proposal_id: rng.uuid(), kind: 'harvest', agent, from, resource, amount: amount.toString(), reasoning: why },
  label: 'harvest',
});

/** What the rate limit lets one agent do per window (a well-behaved agent plans within it). */
function actionBudget(v: AgentView): number {
  return Math.max(1, Math.min(v.policy.rate_limit.max_actions, 64));
}

const cooperative: Policy = (ctx, v, rng, o) => {
  if (v.breakerOpen) return [];
  const out: ProposalAttempt[] = [];
  const budget = actionBudget(v);
  for (const r of v.reserves) {
    for (const [res, stock] of r.stock) {
      const share = capAt(sustainableShare(stock, o.regrowthBps, v.agents.length), v.maxTransfer(res));
      if (share > 0n && out.length < budget) {
        out.push(harvest(rng, ctx.agent, r.id, res, share, `cooperative: my equal share of the sustainable harvest of ${stock} ${res}`));
      }
    }
  }
  if (out.length < budget) {
    const trade = fairTrade(ctx, v, rng, o);
    if (trade) out.push(trade);
  }
  return out;
};

/** Accept an offer that is at least 1:1, else offer a surplus of one commons resource for another. */
function fairTrade(ctx: ProposeContext, v: AgentView, rng: Prng, o: Resolved): ProposalAttempt | null {
  const affordable = (res: string, amt: bigint) => v.balance(ctx.agent, res) - amt >= v.minBalance(res);
  const offer = v.openOffers.find(
    (x) =>
      x.maker !== ctx.agent &&
      (x.counterparty === null || x.counterparty === ctx.agent) &&
      (x.expires_at === null || x.expires_at > ctx.now) &&
      BigInt(x.give.amount) >= BigInt(x.want.amount) &&
      affordable(x.want.resource, BigInt(x.want.amount)),
  );
  if (offer) {
    return { raw: { proposal_id: rng.uuid(), kind: 'accept', agent: ctx.agent, offer_id: offer.offer_id, reasoning: 'cooperative: a fair swap' }, label: 'accept' };
  }
  if (v.openOffers.some((x) => x.maker === ctx.agent)) return null;
  const commons = [...new Set(v.reserves.flatMap((r) => [...r.stock.keys()]))];
  if (commons.length < 2) return null;
  const held = commons.map((res) => [res, v.balance(ctx.agent, res)] as [string, bigint]).sort((a, b) => (a[1] < b[1] ? 1 : a[1] > b[1] ? -1 : 0));
  const [rich, richAmt] = held[0];
  const [poor, poorAmt] = held[held.length - 1];
  if (richAmt <= 2n * poorAmt + 10n) return null;
  // 1:1 swap: both legs move the same amount, so it must fit both resources' max_transfer —
  // an offer nobody can ever accept only breeds rejections (and alerts) every tick.
  const amount = capAt(capAt((richAmt - poorAmt) / 4n, v.maxTransfer(rich)), v.maxTransfer(poor));
  if (amount <= 0n || !affordable(rich, amount)) return null;
  return {
    raw: {
      proposal_id: rng.uuid(),
      kind: 'offer',
      agent: ctx.agent,
      give: { resource: rich, amount: amount.toString() },
      want: { resource: poor, amount: amount.toString() },
      expires_at: ctx.now + o.offerTtlMs,
      reasoning: `cooperative: swap surplus ${rich} for ${poor} 1:1`,
    },
    label: 'offer',
  };
}

const greedy: Policy = (ctx, v, rng, o) => {
  if (v.breakerOpen) return [];
  const out: ProposalAttempt[] = [];
  for (let round = 0; round < o.greedyRounds; round++) {
    for (const r of v.reserves) {
      for (const [res, stock] of r.stock) {
        const share = sustainableShare(stock, o.regrowthBps, v.agents.length);
        const want = capAt((share * BigInt(o.greedBps)) / 10_000n, v.maxTransfer(res));
        if (want > 0n) out.push(harvest(rng, ctx.agent, r.id, res, want, `greedy: as much of the ${stock} ${res} as I can get`));
      }
    }
  }
  const deal = v.openOffers.find(
    (x) =>
      x.maker !== ctx.agent &&
      (x.counterparty === null || x.counterparty === ctx.agent) &&
      (x.expires_at === null || x.expires_at > ctx.now) &&
      BigInt(x.give.amount) > BigInt(x.want.amount) &&
      v.balance(ctx.agent, x.want.resource) >= BigInt(x.want.amount),
  );
  if (deal) out.push({ raw: { proposal_id: rng.uuid(), kind: 'accept', agent: ctx.agent, offer_id: deal.offer_id, reasoning: 'greedy: pays more than it costs' }, label: 'accept' });
  return out;
};

const random: Policy = (ctx, v, rng, o) => {
  const out: ProposalAttempt[] = [];
  const actions = 1 + rng.int(2);
  const stocks = v.reserves.flatMap((r) => [...r.stock].filter(([, s]) => s > 0n).map(([res, s]) => ({ reserve: r.id, res, s })));
  for (let i = 0; i < actions; i++) {
    const holdings = v.holdings();
    const offers = v.openOffers.filter((x) => x.maker !== ctx.agent && (x.counterparty === null || x.counterparty === ctx.agent));
    const choices = [
      ...(stocks.length ? ['harvest'] : []),
      ...(holdings.length && v.others.length ? ['transfer'] : []),
      ...(holdings.length && v.resources.length > 1 ? ['offer'] : []),
      ...(offers.length ? ['accept'] : []),
    ];
    if (!choices.length) break;
    const id = rng.uuid();
    switch (rng.pick(choices)) {
      case 'harvest': {
        const t = rng.pick(stocks);
        const share = sustainableShare(t.s, o.regrowthBps, v.agents.length);
        out.push({ raw: { proposal_id: id, kind: 'harvest', agent: ctx.agent, from: t.reserve, resource: t.res, amount: rng.bigint(1n, 2n * share).toString(), reasoning: 'random' }, label: 'harvest' });
        break;
      }
      case 'transfer': {
        const [res, bal] = rng.pick(holdings);
        const to = rng.pick(v.others);
        out.push({ raw: { proposal_id: id, kind: 'transfer', agent: ctx.agent, from: ctx.agent, to, resource: res, amount: rng.bigint(1n, bal / 4n).toString(), reasoning: 'random' }, label: 'transfer' });
        break;
      }
      case 'offer': {
        const [give, bal] = rng.pick(holdings);
        const want = rng.pick(v.resources.filter((r) => r !== give));
        const amount = rng.bigint(1n, bal / 5n);
        const wantAmount = (amount * BigInt(80 + rng.int(41))) / 100n;
        out.push({
          raw: { proposal_id: id, kind: 'offer', agent: ctx.agent, give: { resource: give, amount: amount.toString() }, want: { resource: want, amount: (wantAmount > 0n ? wantAmount : 1n).toString() }, expires_at: ctx.now + o.offerTtlMs, reasoning: 'random' },
          label: 'offer',
        });
        break;
      }
      default: {
        const x = rng.pick(offers);
        out.push({ raw: { proposal_id: id, kind: 'accept', agent: ctx.agent, offer_id: x.offer_id, reasoning: 'random' }, label: 'accept' });
      }
    }
  }
  return out;
};

const adversarialPolicy: Policy = (ctx, v, rng, o) => adversarialAttempts(ctx, v, rng, o.attacksPerTick);
