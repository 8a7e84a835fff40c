/**
 * One tick (one commons period) of the governance loop, as a function of its environment, so the
 * CLI loop, the service and the n8n nodes all run the very same step:
 *
 *   read world state → each non-frozen agent proposes → LLM charges + proposals, bound to their
 *   principals, through writer.applyBatch → commons collapse check → breaker check → regrowth and
 *   interest (system proposals through the writer) → metrics.
 *
 * Time: the writer's clock is the simulated period clock (start + tick × period_ms), so rate-limit
 * windows, offer expiries and the ledger's timestamps advance one period per tick however fast
 * the loop runs — which is what makes a seeded run repeat exactly.
 */
import { LIMITS, policyFromJson } from '../validator';
import type { Db } from '../db/adapter';
import type { LedgerWriter, ApplyResult } from '../db/writer';
import { readWorldState, type WorldSnapshot } from './world-state';
import { deterministicId } from './scenario';
import { Prng, ProposerError, chargeFor, budgetOf, type Proposer, type ProposalAttempt, type AgentKind } from './agents';
import { bindPrincipal } from './principal';
import { checkBreaker } from './breaker';
import { collapsedResources, regenerationProposals, type CommonsMetrics, type CommonsSettings } from './commons';

export interface LoopAgent {
  id: string;
  kind: AgentKind;
  proposer: Proposer;
}

export interface TickEnv {
  db: Db;
  writer: LedgerWriter;
  /** The writer's clock reads `clock.now`; runTick sets it for each tick. */
  clock: { now: number };
  /** Simulated time of tick 0. */
  startMs: number;
  periodMs: number;
  seed: number | string;
  /** Ledger head id when the loop started: keys ids, so a resumed run never reuses a past run's ids. */
  epoch: string;
  scenarioName: string;
  system: string;
  agents: LoopAgent[];
  commons: CommonsSettings | null;
  metrics: CommonsMetrics | null;
  breaker: { enabled: boolean; verifyEvery: number };
  signal?: AbortSignal;
}

export interface TickReport {
  tick: number;
  /** 1-based period. */
  period: number;
  now: number;
  attempts: number;
  applied: number;
  rejected: number;
  rejectedByCode: Record<string, number>;
  /** Attempts whose `agent` named someone other than their principal (judged as the principal). */
  impersonations: number;
  /** Attempts beyond LIMITS.agents.maxAttemptsPerTick, not sent. */
  dropped: number;
  frozen: string[];
  proposerErrors: Record<string, number>;
  /** The first few proposer errors of the tick, with their messages. */
  errors: Array<{ agent: string; code: string; message: string }>;
  llm: { calls: number; tokens: number; charged: string };
  /** System proposals (charges, regrowth, interest) the law refused — should stay 0. */
  systemRejected: number;
  collapsed: boolean;
  breaker: { open: boolean; tripped: boolean; reasons: string[] };
  regrowth: Record<string, string>;
  /** Every reserve actor's holdings at the end of the tick. */
  reserves: Record<string, Record<string, string>>;
  /** The decisions on the agents' attempts, in batch order (for tests and the n8n nodes). */
  decisions: Array<{ agent: string; label?: string; expect?: string; input: unknown; result: ApplyResult }>;
}

export async function runTick(env: TickEnv, tick: number): Promise<TickReport> {
  const period = tick + 1;
  env.clock.now = env.startMs + tick * env.periodMs;
  const now = env.clock.now;
  const world = await readWorldState(env.db);
  env.metrics?.startPeriod(world);
  const rep = emptyReport(tick, period, now);
  rep.breaker.open = world.breaker.open;

  // 1. Proposals. Order is a seeded shuffle per tick, so no agent is always first at the commons.
  const ctx = (agent: string) => ({ agent, world, tick, now, signal: env.signal });
  const active: LoopAgent[] = [];
  for (const a of env.agents) (a.proposer.isFrozen?.(ctx(a.id)) ? rep.frozen.push(a.id) : active.push(a));
  const order = new Prng(env.seed, 'order', env.epoch, tick).shuffle(active);
  const outputs = await mapLimit(order, LIMITS.agents.maxConcurrentLlmCalls, async (a) => {
    try {
      return await a.proposer.propose(ctx(a.id));
    } catch (e) {
      const code = e instanceof ProposerError ? e.code : 'PROPOSER_FAILED';
      rep.proposerErrors[code] = (rep.proposerErrors[code] ?? 0) + 1;
      if (rep.errors.length < 10) rep.errors.push({ agent: a.id, code, message: String((e as Error)?.message ?? e).slice(0, 500) });
      return [] as ProposalAttempt[];
    }
  });

  // 2. LLM charges first: the tokens were spent whatever the law says about the proposal.
  const charges = llmCharges(env, world, order, outputs, tick, rep);

  // 3. Round-robin rounds (every agent's 1st attempt, then every 2nd, ...), bound to their
  // principals. Each round is one batch and the breaker is checked after it: checked only after
  // the whole tick, a greedy second round would empty the reserve before the breaker could act.
  const lists = outputs.map((o) => {
    rep.dropped += Math.max(0, o.length - LIMITS.agents.maxAttemptsPerTick);
    return o.slice(0, LIMITS.agents.maxAttemptsPerTick);
  });
  const rounds: Array<Array<{ agent: string; attempt: ProposalAttempt; input: unknown }>> = [];
  for (let i = 0; lists.some((l) => i < l.length); i++) {
    const round: (typeof rounds)[number] = [];
    lists.forEach((l, j) => {
      if (i >= l.length) return;
      const b = bindPrincipal(l[i].raw, order[j].id);
      if (b.claimed !== undefined) rep.impersonations++;
      round.push({ agent: order[j].id, attempt: l[i], input: b.input });
    });
    rounds.push(round);
  }
  const breakerCheck = async (key: string, verify: boolean) => {
    const br = await checkBreaker(env.db, env.writer, { actor: env.system, verify, idKey: `${env.scenarioName}:${env.epoch}:${tick}:${key}` });
    rep.breaker.open = br.open;
    if (br.tripped) {
      rep.breaker.tripped = true;
      rep.breaker.reasons.push(...br.reasons);
    }
  };
  if (charges.length && rounds.length === 0) countSystem(await env.writer.applyBatch(charges), rep);
  for (let i = 0; i < rounds.length; i++) {
    const round = rounds[i];
    const pre = i === 0 ? charges : [];
    const results = await env.writer.applyBatch([...pre, ...round.map((s) => s.input)]);
    countSystem(results.slice(0, pre.length), rep);
    results.slice(pre.length).forEach((r, k) => {
      const s = round[k];
      env.metrics?.attempt(s.input);
      env.metrics?.result(r);
      rep.attempts++;
      if (r.status === 'applied') rep.applied++;
      else {
        rep.rejected++;
        rep.rejectedByCode[r.code] = (rep.rejectedByCode[r.code] ?? 0) + 1;
      }
      rep.decisions.push({ agent: s.agent, label: s.attempt.label, expect: s.attempt.expect, input: s.input, result: r });
    });
    if (env.breaker.enabled && !rep.breaker.open) await breakerCheck(`round${i}`, false);
  }

  // 4. The commons after the harvest: alive or collapsed (collapsed reserves do not regrow).
  const after = await readWorldState(env.db);
  const collapse = env.commons ? collapsedResources(after, env.commons) : [];
  env.metrics?.endPeriod(period, collapse);
  rep.collapsed = env.metrics ? env.metrics.isCollapsed : collapse.length > 0;

  // 5. The end-of-tick breaker check: levels, the rejection stream, and (periodically) drift.
  if (env.breaker.enabled) {
    const verify = env.breaker.verifyEvery > 0 && period % env.breaker.verifyEvery === 0;
    if (!rep.breaker.open) await breakerCheck('end', verify);
  } else {
    rep.breaker.open = after.breaker.open;
  }

  // 6. Regrowth and interest: system proposals, through the writer like everything else.
  const sys: unknown[] = [];
  if (env.commons && !rep.collapsed) {
    const regen = regenerationProposals(after, env.commons, {
      system: env.system,
      period,
      idFor: (res) => deterministicId(env.scenarioName, 'regrowth', env.epoch, String(tick), res),
    });
    for (const p of regen) rep.regrowth[String(p.resource)] = String(p.amount);
    sys.push(...regen);
  }
  if (policyFromJson(after.policy).interest.bps_per_period > 0) {
    sys.push({ proposal_id: deterministicId(env.scenarioName, 'interest', env.epoch, String(tick)), kind: 'accrue_interest', agent: env.system, period });
  }
  if (sys.length) countSystem(await env.writer.applyBatch(sys), rep);
  rep.reserves = await reserveLevels(env.db);
  return rep;
}

function llmCharges(env: TickEnv, world: WorldSnapshot, order: LoopAgent[], outputs: ProposalAttempt[][], tick: number, rep: TickReport): unknown[] {
  const out: unknown[] = [];
  let charged = 0n;
  order.forEach((a, j) => {
    let balance = budgetOf(world, a.id);
    outputs[j].forEach((att, i) => {
      if (!att.usage) return;
      rep.llm.calls++;
      rep.llm.tokens += att.usage.totalTokens;
      const c = chargeFor({ world, system: env.system, agent: a.id, usage: att.usage, balance, tick, proposalId: deterministicId(env.scenarioName, 'llm-charge', env.epoch, String(tick), a.id, String(i)) });
      if (!c) return;
      balance -= c.charged;
      charged += c.charged;
      out.push(c.raw);
    });
  });
  rep.llm.charged = charged.toString();
  return out;
}

function countSystem(results: ApplyResult[], rep: TickReport): void {
  for (const r of results) if (r.status === 'rejected') rep.systemRejected++;
}

async function reserveLevels(db: Db): Promise<Record<string, Record<string, string>>> {
  const r = await db.query<{ actor: string; resource: string; amount: string }>(
    `SELECT b.actor, b.resource, b.amount::text AS amount FROM balances b JOIN actors a ON a.id = b.actor AND a.kind = 'reserve' ORDER BY b.actor, b.resource`,
  );
  const out: Record<string, Record<string, string>> = {};
  for (const x of r.rows) (out[x.actor] ??= {})[x.resource] = x.amount;
  return out;
}

function emptyReport(tick: number, period: number, now: number): TickReport {
  return {
    tick, period, now, attempts: 0, applied: 0, rejected: 0, rejectedByCode: {}, impersonations: 0, dropped: 0, frozen: [], proposerErrors: {}, errors: [],
    llm: { calls: 0, tokens: 0, charged: '0' }, systemRejected: 0, collapsed: false, breaker: { open: false, tripped: false, reasons: [] }, regrowth: {}, reserves: {}, decisions: [],
  };
}

/** Map with at most `limit` calls in flight; results keep the input order. */
export async function mapLimit<T, R>(xs: readonly T[], limit: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(xs.length);
  let next = 0;
  const worker = async () => {
    while (next < xs.length) {
      const i = next++;
      out[i] = await fn(xs[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), xs.length) }, worker));
  return out;
}
