// Scripted agents without a database: determinism (same seed → same proposals, ids included),
// the well-behaved policies' arithmetic, the mix parser, and the LLM schema/prompt derivation.
import assert from 'node:assert/strict';
import { z } from 'zod/v4';
import { parseProposal, LIMITS, policyToJson, DEFAULT_POLICY, applyPolicyPatch, PolicyPatchSchema } from '../validator';
import { Prng, scriptedProposer, SCRIPTED_KINDS, sustainableShare, sustainableTotal, llmResponseSchema, LlmProposalSchema, buildPrompt, withEnvelope, type ScriptedKind } from '../engine/agents';
import { resolveMix } from '../engine/mix';
import { bindPrincipal } from '../engine/principal';
import { regrowth } from '../engine/commons';
import type { WorldSnapshot } from '../engine/world-state';

function world(over: Partial<WorldSnapshot> = {}, policyPatch: Record<string, unknown> = {}): WorldSnapshot {
  return {
    as_of: { ledger_id: '10', head_hash: '00', at: new Date(0).toISOString() },
    actors: [
      { id: 'system', kind: 'system' },
      { id: 'council', kind: 'human' },
      { id: 'pool', kind: 'reserve' },
      ...['a1', 'a2', 'a3', 'a4', 'a5'].map((id) => ({ id, kind: 'agent' as const })),
    ],
    resources: [
      { id: 'credits', unit: 'cr' },
      { id: 'energy', unit: 'kWh' },
      { id: 'water', unit: 'm3' },
    ],
    balances: {
      pool: { energy: '10000', water: '6000' },
      a1: { credits: '1000', energy: '900', water: '100' },
      a2: { credits: '1000' },
      a3: { credits: '500', water: '40' },
      a4: { credits: '10' },
      a5: { credits: '700', energy: '5' },
    },
    policy: policyToJson(applyPolicyPatch(DEFAULT_POLICY, PolicyPatchSchema.parse(policyPatch))),
    breaker: { open: false, reason: 'genesis', by: null },
    open_offers: [
      { offer_id: '11111111-1111-4111-8111-111111111111', maker: 'a2', give: { resource: 'credits', amount: '50' }, want: { resource: 'energy', amount: '40' }, counterparty: null, expires_at: null },
    ],
    ...over,
  };
}

const AGENTS = ['a1', 'a2', 'a3', 'a4', 'a5'];

async function proposals(kind: ScriptedKind, seed: number, w: WorldSnapshot, ticks = 5, order = AGENTS) {
  const p = scriptedProposer(kind, { seed });
  const out: Record<string, unknown[]> = {};
  for (let tick = 0; tick < ticks; tick++) for (const agent of order) out[`${tick}:${agent}`] = (await p.propose({ agent, world: w, tick, now: 1_000_000 + tick * 1000 })).map((a) => a.raw);
  return out;
}

describe('scripted agents: determinism', () => {
  for (const kind of SCRIPTED_KINDS) {
    it(`GIVEN the ${kind} policy and seed 7 WHEN it proposes twice, in different agent orders THEN the proposals, proposal_ids included, are identical`, async () => {
      const first = await proposals(kind, 7, world());
      const second = await proposals(kind, 7, world(), 5, [...AGENTS].reverse());
      assert.deepEqual(second, first);
      assert.ok(Object.values(first).some((l) => l.length > 0), 'the policy proposed something');
    });
  }

  it('GIVEN two different seeds WHEN the random policy proposes THEN the proposal ids differ', async () => {
    const ids = (o: Record<string, unknown[]>) => Object.values(o).flat().map((p: any) => p.proposal_id);
    const a = ids(await proposals('random', 1, world()));
    const b = ids(await proposals('random', 2, world()));
    assert.equal(a.filter((id) => b.includes(id)).length, 0);
  });

  it('GIVEN the Prng WHEN uuids are drawn THEN each is a valid, distinct proposal_id and the stream repeats for the same key', () => {
    const a = new Prng(42, 'x');
    const ids = Array.from({ length: 1000 }, () => a.uuid());
    assert.equal(new Set(ids).size, 1000);
    for (const id of ids.slice(0, 20)) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const b = new Prng(42, 'x');
    assert.deepEqual(Array.from({ length: 1000 }, () => b.uuid()), ids);
    const r = new Prng(1);
    for (let i = 0; i < 1000; i++) {
      const v = r.bigint(5n, 9n);
      assert.ok(v >= 5n && v <= 9n);
    }
    assert.equal(r.bigint(3n, 2n), 3n);
  });

  it('GIVEN every scripted proposal of a tick THEN each non-adversarial one parses as a well-formed proposal of its agent', async () => {
    for (const kind of ['cooperative', 'greedy', 'random'] as const) {
      for (const [key, list] of Object.entries(await proposals(kind, 3, world()))) {
        for (const raw of list) {
          const p = parseProposal(raw);
          assert.ok(p.ok, `${kind} ${key}: ${JSON.stringify(raw)} → ${!p.ok && p.message}`);
          assert.equal(p.proposal.agent, key.split(':')[1]);
        }
      }
    }
  });
});

describe('scripted agents: policies', () => {
  it('GIVEN a pool of 10000 energy and 6000 water shared by 5 agents WHEN the cooperative agent proposes THEN it harvests exactly its sustainable share of each', async () => {
    const [e, w] = (await scriptedProposer('cooperative', { seed: 1 }).propose({ agent: 'a3', world: world(), tick: 0, now: 0 })).map((a) => a.raw as any);
    assert.deepEqual([e.kind, e.from, e.resource, e.amount], ['harvest', 'pool', 'energy', '1000']);
    assert.deepEqual([w.kind, w.resource, w.amount], ['harvest', 'water', '600']);
  });

  it('GIVEN max_transfer 700 energy and a rate limit of 1 action WHEN the cooperative agent proposes THEN it caps the harvest and plans only one action', async () => {
    const out = await scriptedProposer('cooperative', { seed: 1 }).propose({ agent: 'a3', world: world({}, { resources: { energy: { max_transfer: 700 } }, rate_limit: { max_actions: 1 } }), tick: 0, now: 0 });
    assert.equal(out.length, 1);
    assert.equal((out[0].raw as any).amount, '700');
  });

  it('GIVEN an open breaker WHEN cooperative and greedy agents propose THEN they wait (nothing proposed)', async () => {
    const w = world({ breaker: { open: true, reason: 'test', by: 'system' } });
    for (const k of ['cooperative', 'greedy'] as const) assert.deepEqual(await scriptedProposer(k, { seed: 1 }).propose({ agent: 'a1', world: w, tick: 0, now: 0 }), []);
  });

  it('GIVEN the greedy policy (2 rounds, 2× share) WHEN it proposes THEN it asks twice per resource for twice its share, and accepts the offer paying more than it costs', async () => {
    const out = (await scriptedProposer('greedy', { seed: 1 }).propose({ agent: 'a1', world: world(), tick: 0, now: 0 })).map((a) => a.raw as any);
    assert.deepEqual(out.filter((p) => p.kind === 'harvest').map((p) => `${p.resource}:${p.amount}`), ['energy:2000', 'water:1200', 'energy:2000', 'water:1200']);
    assert.deepEqual(out.filter((p) => p.kind === 'accept').map((p) => p.offer_id), ['11111111-1111-4111-8111-111111111111']);
  });

  it('GIVEN regrowth rates WHEN the sustainable total and regrowth are computed THEN integer math matches the closed forms', () => {
    assert.equal(sustainableTotal(10_000n, 10_000), 5_000n); // doubling: half the stock
    assert.equal(sustainableTotal(10_000n, 5_000), 3_333n); // 50 %: S·0.5/1.5, rounded down
    assert.equal(sustainableShare(10_001n, 10_000, 5), 1_000n);
    assert.equal(sustainableTotal(0n, 10_000), 0n);
    assert.equal(regrowth(5_000n, 10_000n, 10_000), 5_000n);
    assert.equal(regrowth(6_000n, 10_000n, 10_000), 4_000n); // capped at capacity
    assert.equal(regrowth(0n, 10_000n, 10_000), 0n); // an emptied reserve stays empty
    assert.equal(regrowth(333n, 10_000n, 5_000), 166n);
  });
});

describe('engine: agent mix and principal binding', () => {
  const ids = ['erin', 'alice', 'carol', 'bob', 'dave'];
  it('GIVEN mix specs in each accepted form WHEN resolved THEN agents get the named policies, counts assigned in sorted order', () => {
    assert.deepEqual(Object.fromEntries(resolveMix('greedy:2,random:1', ids)), { alice: 'greedy', bob: 'greedy', carol: 'random', dave: 'cooperative', erin: 'cooperative' });
    assert.deepEqual(Object.fromEntries(resolveMix('bob=adversarial', ids, { alice: 'greedy' })).bob, 'adversarial');
    assert.deepEqual(Object.fromEntries(resolveMix('bob=adversarial', ids, { alice: 'greedy' })).alice, 'greedy');
    assert.deepEqual(new Set(resolveMix('random', ids).values()), new Set(['random']));
    assert.deepEqual(Object.fromEntries(resolveMix({ carol: 'gemini' }, ids)).carol, 'gemini');
  });

  it('GIVEN bad mix specs WHEN resolved THEN each fails with PROPOSER_CONFIG and a readable message', () => {
    for (const [spec, msg] of [['greedy:9', /asks for 9 agents/], ['mallory=greedy', /not a registered agent/], ['lazy', /unknown agent kind/], ['greedy;2', /unknown agent kind/], ['x y', /unknown agent kind/]] as const) {
      assert.throws(() => resolveMix(spec, ids), (e: any) => e.code === 'PROPOSER_CONFIG' && msg.test(e.message), spec);
    }
  });

  it('GIVEN attempts naming another agent WHEN bound to their principal THEN only `agent` changes and the claim is reported; text that is not an object passes untouched', () => {
    assert.deepEqual(bindPrincipal({ agent: 'system', kind: 'mint', amount: 5 }, 'mallory'), { input: { agent: 'mallory', kind: 'mint', amount: 5 }, claimed: 'system' });
    assert.deepEqual(bindPrincipal('{"agent":"system","x":1}', 'mallory'), { input: { agent: 'mallory', x: 1 }, claimed: 'system' });
    assert.deepEqual(bindPrincipal({ kind: 'harvest' }, 'mallory'), { input: { kind: 'harvest', agent: 'mallory' }, claimed: null });
    const same = { agent: 'mallory', kind: 'transfer' };
    assert.equal(bindPrincipal(same, 'mallory').input, same);
    for (const raw of ['{"agent":', '[1,2]', 'prose', 42, null]) assert.deepEqual(bindPrincipal(raw, 'm'), { input: raw });
    const polluted = bindPrincipal('{"agent":"x","__proto__":{"admin":true}}', 'm').input as Record<string, unknown>;
    assert.ok(Object.prototype.hasOwnProperty.call(polluted, '__proto__'), 'the own __proto__ key survives binding');
    assert.equal(parseProposal(polluted).ok, false);
  });
});

describe('gemini: schema and prompt derivation', () => {
  it('GIVEN the law\'s zod schemas WHEN the LLM response schema is derived THEN it covers transfer/harvest/offer without the envelope, and no branch accepts anything', () => {
    const s = llmResponseSchema() as any;
    assert.equal(s.$schema, undefined);
    assert.deepEqual(s.anyOf.map((b: any) => b.properties.kind.enum[0]), ['transfer', 'harvest', 'offer']);
    const json = JSON.stringify(s);
    assert.ok(!json.includes('{}'), 'no empty (accept-anything) schema');
    assert.ok(!json.includes('proposal_id') && !json.includes('"agent"'));
    assert.deepEqual(s.anyOf[1].properties.amount.anyOf.map((x: any) => x.type), ['integer', 'string']);
    // The zod schema it came from still accepts what the schema describes.
    assert.ok(LlmProposalSchema.safeParse({ kind: 'harvest', from: 'pool', resource: 'energy', amount: '5' }).success);
    assert.ok(z.toJSONSchema(LlmProposalSchema, { io: 'input', unrepresentable: 'any' }));
  });

  it('GIVEN a world with thousands of open offers WHEN the prompt is built THEN it stays within maxPromptBytes and says what it trimmed', () => {
    const offers = Array.from({ length: 5000 }, (_, i) => ({ offer_id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, maker: 'a2', give: { resource: 'credits', amount: '1' }, want: { resource: 'energy', amount: '1' }, counterparty: null, expires_at: null }));
    const p = buildPrompt(world({ open_offers: offers }), 'a1', 3, 4096);
    assert.ok(Buffer.byteLength(p.system) + Buffer.byteLength(p.user) <= 4096);
    assert.ok(p.trimmed.offers > 0);
    assert.match(p.user, /"you":"a1"/);
    const full = buildPrompt(world(), 'a1', 3);
    assert.ok(Buffer.byteLength(full.system) + Buffer.byteLength(full.user) <= LIMITS.llm.maxPromptBytes);
    assert.deepEqual(full.trimmed, { offers: 0, agents: 0 });
  });

  it('GIVEN model text WHEN the envelope is added THEN objects gain only missing proposal_id/agent and anything else stays the raw text', () => {
    const id = '22222222-2222-4222-8222-222222222222';
    assert.deepEqual(withEnvelope('{"kind":"harvest","amount":5}', id, 'a1'), { proposal_id: id, agent: 'a1', kind: 'harvest', amount: 5 });
    assert.deepEqual(withEnvelope('{"agent":"system","kind":"mint"}', id, 'a1'), { proposal_id: id, agent: 'system', kind: 'mint' });
    for (const t of ['I will harvest 5 energy.', '[{"kind":"harvest"}]', '"x"', '', '{"kind":']) assert.equal(withEnvelope(t, id, 'a1'), t);
  });
});
