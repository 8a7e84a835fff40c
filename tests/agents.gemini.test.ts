// The Gemini proposer with the real @google/genai SDK against the local fake Gemini server
// (real HTTP on 127.0.0.1): structured-output round trip with usage charged to the agent's
// llm_budget, malformed model output recorded as MALFORMED, retries (429 with RetryInfo, 5xx,
// network), refusals, and the per-agent budget freezing an agent that has spent it.
import assert from 'node:assert/strict';
import { forEachBackend } from './support/backends';
import { startGeminiFake, jsonReply, type GeminiFake, type GeminiReply } from './fakes/gemini';
import { GeminiProposer, llmResponseSchema, SYSTEM_INSTRUCTION, ProposerError } from '../engine/agents';
import { openLoop } from '../engine/loop';
import { parseScenario } from '../engine/scenario';
import { LIMITS, policyToJson, DEFAULT_POLICY } from '../validator';
import type { WorldSnapshot } from '../engine/world-state';
import type { Db } from '../db/adapter';

const grid = (budgets: { alice: number; bob: number }) =>
  parseScenario({
    name: 'llm-grid',
    resources: [
      { id: 'energy', unit: 'kWh' },
      { id: 'credits', unit: 'cr' },
      { id: 'llm_budget', unit: 'tokens' },
    ],
    actors: [
      { id: 'system', kind: 'system' },
      { id: 'council', kind: 'human' },
      { id: 'pool', kind: 'reserve' },
      { id: 'alice', kind: 'agent' },
      { id: 'bob', kind: 'agent' },
    ],
    balances: [
      { actor: 'pool', resource: 'energy', amount: 1000 },
      { actor: 'alice', resource: 'credits', amount: 100 },
      { actor: 'alice', resource: 'llm_budget', amount: budgets.alice },
      { actor: 'bob', resource: 'llm_budget', amount: budgets.bob },
    ],
    founder: 'council',
  });

const HARVEST = { kind: 'harvest', from: 'pool', resource: 'energy', amount: 100, reasoning: 'take my share of the pool' };

const tinyWorld = (): WorldSnapshot => ({
  as_of: { ledger_id: '3', head_hash: '00', at: new Date(0).toISOString() },
  actors: [
    { id: 'system', kind: 'system' },
    { id: 'pool', kind: 'reserve' },
    { id: 'alice', kind: 'agent' },
  ],
  resources: [
    { id: 'energy', unit: 'kWh' },
    { id: 'llm_budget', unit: 'tokens' },
  ],
  balances: { pool: { energy: '1000' }, alice: { llm_budget: '500' } },
  policy: policyToJson(DEFAULT_POLICY),
  breaker: { open: false, reason: 'genesis', by: null },
  open_offers: [],
});

describe('gemini proposer: HTTP behaviour against the fake', () => {
  let fake: GeminiFake;
  before(async () => {
    fake = await startGeminiFake();
  });
  after(() => fake.close());
  afterEach(() => {
    assert.deepEqual(fake.handlerErrors, []);
    assert.equal(fake.pending(), 0, 'every queued reply was consumed');
  });

  const proposer = (extra: Record<string, unknown> = {}) => new GeminiProposer({ apiKey: fake.apiKey, baseUrl: fake.url, seed: 1, ...extra });
  const ctx = { agent: 'alice', world: tinyWorld(), tick: 0, now: 0 };

  it('GIVEN a 429 with RetryInfo retryDelay 1s WHEN alice proposes THEN the proposer waits at least 1 s, retries once, and returns the proposal with attempts 2', async () => {
    fake.enqueue({ error: 429, retryDelaySeconds: 1 }, jsonReply(HARVEST, { promptTokenCount: 80, candidatesTokenCount: 20 }));
    const before = fake.calls.length;
    const p = proposer();
    const [a] = await p.propose(ctx);
    const calls = fake.calls.slice(before);
    assert.equal(calls.length, 2);
    assert.ok(calls[1].request.monotonicMs - calls[0].request.monotonicMs >= 1000, 'honoured retryDelay');
    assert.ok(p.waits[0] >= 1000);
    assert.equal(a.usage!.attempts, 2);
    assert.equal(a.usage!.totalTokens, 100);
    assert.deepEqual({ ...(a.raw as any), proposal_id: undefined }, { proposal_id: undefined, agent: 'alice', ...HARVEST });
  });

  it('GIVEN two 503s and a network drop WHEN alice proposes THEN it retries with capped, jittered backoff and succeeds on the fourth call', async () => {
    fake.enqueue({ error: 503 }, { error: 500 }, { crash: true }, jsonReply(HARVEST));
    const slept: number[] = [];
    const p = proposer({ sleep: async (ms: number) => void slept.push(ms) });
    const [a] = await p.propose(ctx);
    assert.equal(a.usage!.attempts, 4);
    assert.equal(slept.length, 3);
    slept.forEach((ms, i) => assert.ok(ms >= 0 && ms <= Math.min(LIMITS.llm.maxBackoffMs, LIMITS.llm.baseBackoffMs * 2 ** i), `wait ${i}: ${ms}`));
  });

  it('GIVEN the service keeps answering 500 WHEN alice proposes THEN LLM_UNAVAILABLE after LIMITS.llm.maxAttempts calls', async () => {
    fake.enqueue(...Array.from({ length: LIMITS.llm.maxAttempts }, (): GeminiReply => ({ error: 500 })));
    const before = fake.calls.length;
    const err = await proposer({ sleep: async () => {} }).propose(ctx).catch((e) => e);
    assert.ok(err instanceof ProposerError);
    assert.equal(err.code, 'LLM_UNAVAILABLE');
    assert.equal(fake.calls.length - before, LIMITS.llm.maxAttempts);
  });

  it('GIVEN a 429 asking for 120 s WHEN alice proposes THEN LLM_RATE_LIMITED at once (no 2-minute wait), after one call', async () => {
    fake.enqueue({ error: 429, retryDelaySeconds: 120 });
    const before = fake.calls.length;
    const err = await proposer().propose(ctx).catch((e) => e);
    assert.equal(err.code, 'LLM_RATE_LIMITED');
    assert.equal(err.details.retryDelayMs, 120_000);
    assert.equal(fake.calls.length - before, 1);
  });

  it('GIVEN a wrong API key WHEN alice proposes THEN LLM_REQUEST_REFUSED without retrying', async () => {
    const before = fake.calls.length;
    const err = await new GeminiProposer({ apiKey: 'wrong', baseUrl: fake.url }).propose(ctx).catch((e) => e);
    assert.equal(err.code, 'LLM_REQUEST_REFUSED');
    assert.equal(err.details.status, 400);
    assert.equal(fake.calls.length - before, 1);
    assert.throws(() => new GeminiProposer({ apiKey: '' }), (e: any) => e.code === 'PROPOSER_CONFIG');
  });

  it('GIVEN an agent with an llm_budget of 0, or an open breaker, WHEN asked THEN the model is not called', async () => {
    const w = tinyWorld();
    w.balances.alice = {};
    const p = proposer();
    const before = fake.calls.length;
    assert.equal(p.isFrozen({ ...ctx, world: w }), true);
    assert.deepEqual(await p.propose({ ...ctx, world: w }), []);
    const halted = { ...tinyWorld(), breaker: { open: true, reason: 'test', by: 'system' } };
    assert.equal(p.isFrozen({ ...ctx, world: halted }), false);
    assert.deepEqual(await p.propose({ ...ctx, world: halted }), []);
    assert.equal(fake.calls.length, before);
  });
});

forEachBackend('gemini proposer in the loop', (b) => {
  let fake: GeminiFake;
  beforeEach(async () => {
    fake = await startGeminiFake();
  });
  afterEach(async () => {
    assert.deepEqual(fake.handlerErrors, []);
    await fake.close();
  });

  const loopFor = async (db: Db, budgets = { alice: 1000, bob: 1000 }, agents = 'alice=gemini,bob=cooperative') =>
    openLoop({ db, scenario: grid(budgets), agents, gemini: { apiKey: fake.apiKey, baseUrl: fake.url, seed: 3 }, breaker: false });

  const burns = (db: Db) => db.query<{ agent: string; from_actor: string; amount: bigint; reason: string }>(`SELECT agent, from_actor, amount, metadata->>'reasoning' AS reason FROM ledger WHERE kind = 'burn' ORDER BY id`);

  it('GIVEN alice asks Gemini WHEN a tick runs THEN the request carries the derived schema and her world, her harvest is applied, and the 150 tokens are burnt from her llm_budget by the system', async () => {
    const db = await b.fresh({ migrated: true });
    fake.enqueue(jsonReply(HARVEST, { promptTokenCount: 120, candidatesTokenCount: 30 }));
    const loop = await loopFor(db);
    const r = await loop.tick();
    assert.equal(fake.calls.length, 1);
    const call = fake.calls[0];
    assert.equal(call.request.path, '/v1beta/models/gemini-2.5-flash:generateContent');
    assert.equal(call.generationConfig.responseMimeType, 'application/json');
    assert.deepEqual(call.generationConfig.responseJsonSchema, llmResponseSchema());
    assert.equal(call.systemText, SYSTEM_INSTRUCTION);
    assert.match(call.promptText, /"you":"alice".*"your_balances":\{"credits":"100","llm_budget":"1000"\}/);
    const mine = r.decisions.find((d) => d.agent === 'alice')!;
    assert.equal(mine.result.status, 'applied');
    assert.deepEqual((mine.result as any).entries.map((e: any) => [e.kind, e.from, e.to, e.amount]), [['harvest', 'pool', 'alice', '100']]);
    const charged = (await burns(db)).rows;
    assert.equal(charged.length, 1);
    assert.deepEqual([charged[0].agent, charged[0].from_actor, BigInt(charged[0].amount)], ['system', 'alice', 150n]);
    assert.match(charged[0].reason, /llm charge: gemini-2\.5-flash used 120 prompt \+ 30 output \+ 0 thinking = 150 tokens for alice in period 0/);
    const bal = await db.query<{ amount: bigint }>(`SELECT amount FROM balances WHERE actor = 'alice' AND resource = 'llm_budget'`);
    assert.equal(BigInt(bal.rows[0].amount), 850n);
    const s = await loop.summary();
    assert.deepEqual([s.llm.calls, s.llm.tokens, s.llm.charged, s.llm.byAgent.alice.totalTokens], [1, 150, '150', 150]);
    await loop.close();
  });

  it('GIVEN the model answers prose, then JSON with a float amount WHEN two ticks run THEN both are recorded as MALFORMED rejections, as produced, and the tokens are still charged', async () => {
    const db = await b.fresh({ migrated: true });
    fake.enqueue({ text: 'Sure! I would harvest 100 energy from the pool.', usage: { promptTokenCount: 50, candidatesTokenCount: 10 } }, jsonReply({ ...HARVEST, amount: 10.5 }, { promptTokenCount: 50, candidatesTokenCount: 10 }));
    const loop = await loopFor(db);
    const r1 = await loop.tick();
    const r2 = await loop.tick();
    const [d1, d2] = [r1, r2].map((r) => r.decisions.find((d) => d.agent === 'alice')!);
    assert.deepEqual([d1.result.status, (d1.result as any).code, d1.result.proposal_id], ['rejected', 'MALFORMED', null]);
    assert.deepEqual([d2.result.status, (d2.result as any).code], ['rejected', 'MALFORMED']);
    assert.match((d2.result as any).message, /amount/);
    const rows = await db.query<{ proposal: any; code: string }>(`SELECT proposal, code FROM rejected_proposals ORDER BY id`);
    assert.deepEqual(rows.rows[0].proposal, { unparsed: 'Sure! I would harvest 100 energy from the pool.' });
    assert.equal(rows.rows[1].proposal.amount, 10.5);
    assert.equal(rows.rows[1].proposal.agent, 'alice');
    assert.deepEqual((await burns(db)).rows.map((x) => BigInt(x.amount)), [60n, 60n]);
    await loop.close();
  });

  it('GIVEN bob has 150 tokens of budget WHEN his call costs 200 THEN 150 are charged (the rest stated unpaid) and from the next tick he is frozen and not called', async () => {
    const db = await b.fresh({ migrated: true });
    fake.setResponder(() => jsonReply(HARVEST, { promptTokenCount: 120, candidatesTokenCount: 80 }));
    const loop = await loopFor(db, { alice: 1000, bob: 150 }, 'alice=cooperative,bob=gemini');
    const r1 = await loop.tick();
    assert.deepEqual(r1.frozen, []);
    assert.equal(fake.calls.length, 1);
    const charged = (await burns(db)).rows;
    assert.deepEqual([charged[0].from_actor, BigInt(charged[0].amount)], ['bob', 150n]);
    assert.match(charged[0].reason, /50 tokens could not be charged: budget exhausted, agent frozen/);
    const r2 = await loop.tick();
    assert.deepEqual(r2.frozen, ['bob']);
    assert.equal(fake.calls.length, 1, 'a frozen agent is not called');
    assert.ok(r2.decisions.every((d) => d.agent !== 'bob'));
    assert.ok(r2.decisions.some((d) => d.agent === 'alice'), 'the rest of the grid runs on');
    await loop.close();
  });

  it('GIVEN the model service refuses alice WHEN a tick runs THEN the error is counted, nothing is recorded for her, and the tick completes', async () => {
    const db = await b.fresh({ migrated: true });
    fake.enqueue({ error: 404, message: 'models/x is not found' });
    const loop = await loopFor(db);
    const r = await loop.tick();
    assert.deepEqual(r.proposerErrors, { LLM_REQUEST_REFUSED: 1 });
    assert.ok(r.decisions.every((d) => d.agent !== 'alice'));
    assert.equal((await burns(db)).rows.length, 0);
    await loop.close();
  });
});
