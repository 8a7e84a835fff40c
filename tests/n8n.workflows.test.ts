/**
 * The shipped workflows (workflows/*.json, the files users import) run headlessly through n8n's
 * own engine (n8n-core WorkflowExecute + PackageDirectoryLoader) on both database backends, with
 * the scripted proposer and with the Gemini proposer against the local fake Gemini API (real SDK,
 * real HTTP), Linear and Discord alerts going to their local fakes.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import type { IDataObject } from 'n8n-workflow';
import { forEachBackend } from './support/backends';
import { gridEnv, linearMutations, loadWorkflowFile, withParams, withPin, WORKFLOWS_DIR, type GridEnv } from './support/n8n-grid';
import { jsonReply } from './fakes/gemini';

const ok = (r: { status: string; error?: { message: string; node?: string } }) =>
  assert.equal(r.status, 'success', `run failed at ${r.error?.node}: ${r.error?.message}`);

/** trade-loop with the Propose node's output pinned: exactly these proposals reach the law. */
function tradeLoopWith(proposals: IDataObject[]) {
  return withPin(
    loadWorkflowFile('trade-loop'),
    'Propose',
    proposals.map((p) => ({ agent: p.agent as string, proposer: 'pinned', proposal: p })),
  );
}

const transfer = (from: string, to: string, amount: number, resource = 'credits') => ({
  proposal_id: randomUUID(),
  kind: 'transfer',
  agent: from,
  from,
  to,
  resource,
  amount,
  reasoning: 'n8n test',
});

forEachBackend('n8n workflows run headless', (b) => {
  let env: GridEnv;
  beforeEach(async () => (env = await gridEnv(b)));
  afterEach(async () => env.close());

  it('GIVEN every workflow file in workflows/ WHEN each runs from its manual trigger with its shipped parameters THEN each ends in success', async () => {
    const files = readdirSync(WORKFLOWS_DIR).filter((f) => f.endsWith('.json'));
    assert.deepEqual(files.sort(), ['circuit-breaker.json', 'dispute-review.json', 'rehydrate.json', 'trade-loop.json']);
    for (const f of files) {
      const r = await env.run(f.replace(/\.json$/, ''));
      ok(r);
    }
  });

  it('GIVEN the scripted cooperative proposer WHEN trade-loop runs THEN every proposal reaches the ledger and the applied ones move it', async () => {
    const head0 = await env.count('ledger');
    const r = await env.run('trade-loop');
    ok(r);
    const proposed = r.nodes['Propose']![0]!;
    assert.ok(proposed.length >= 5, `five agents propose at least once each, got ${proposed.length}`);
    const applied = r.nodes['Apply']?.[0] ?? [];
    const recorded = r.nodes['Record Rejection']?.[0] ?? [];
    assert.equal(applied.length + recorded.length, proposed.length, 'each proposal is decided by the writer exactly once');
    const appliedOk = applied.filter((x) => x.status === 'applied');
    assert.ok(appliedOk.length > 0);
    assert.equal(await env.count('ledger'), head0 + appliedOk.reduce((n, x) => n + (x.entries as unknown[]).length, 0));
  });

  it('GIVEN one proposal over max_transfer WHEN trade-loop runs, then is retried with the same proposal_id THEN one rejected_proposals row, one Linear ticket and one Discord message, and the retry writes nothing', async () => {
    const bad = transfer('alice', 'bob', 5000);
    const good = transfer('bob', 'carol', 10);
    const wf = tradeLoopWith([bad, good]);
    const r = await env.run(wf);
    ok(r);
    assert.deepEqual(r.nodes['Validate']!.map((out) => out.map((x) => (x.validation as IDataObject).ok)), [[true], [false]]);
    assert.equal(r.nodes['Validate']![1]![0]!.code, 'EXCEEDS_MAX_TRANSFER');
    assert.equal(r.nodes['Record Rejection']![0]![0]!.code, 'EXCEEDS_MAX_TRANSFER');
    assert.equal(await env.count('rejected_proposals', `proposal_id = '${bad.proposal_id}'`), 1);
    assert.equal(linearMutations(env.linear, 'issueCreate'), 1);
    assert.equal(env.discord.messages.length, 1);
    assert.ok(env.linear.issues[0]!.title.includes(bad.proposal_id));
    const alertItem = r.items['Alert on Rejection'];
    assert.ok(alertItem, 'the alert node ran');

    const counts = async () => [await env.count('ledger'), await env.count('rejected_proposals'), await env.count('outbox')];
    const before = await counts();
    const again = await env.run(wf);
    ok(again);
    assert.equal(again.nodes['Record Rejection']![0]![0]!.duplicate, true);
    assert.equal(again.nodes['Apply']![0]![0]!.duplicate, true);
    assert.deepEqual(await counts(), before, 'a retried run writes nothing new');
    assert.equal(linearMutations(env.linear, 'issueCreate'), 1, 'no second ticket');
    assert.equal(env.discord.messages.length, 1, 'no second Discord message');
  });

  it('GIVEN the Gemini proposer and a valid model reply WHEN trade-loop runs THEN the proposal is applied with its token usage, and the call is charged to llm_budget through the ledger', async () => {
    env.gemini.enqueue(jsonReply({ kind: 'harvest', from: 'grid_reserve', resource: 'energy', amount: 40, reasoning: 'my share' }, { promptTokenCount: 300, candidatesTokenCount: 40, totalTokenCount: 340 }));
    const wf = withParams(loadWorkflowFile('trade-loop'), 'Propose', { operation: 'gemini', agents: 'alice', tick: 7 });
    const budget0 = await env.db.query<{ amount: bigint }>(`SELECT amount FROM balances WHERE actor = 'alice' AND resource = 'llm_budget'`);
    const r = await env.run(wf);
    ok(r);
    const [proposal, charge] = r.nodes['Propose']![0]!;
    assert.equal(proposal!.malformed, false);
    assert.deepEqual((proposal!.usage as IDataObject).totalTokens, 340);
    assert.equal((charge!.proposal as IDataObject).kind, 'burn');
    const applied = r.nodes['Apply']![0]!;
    assert.deepEqual(applied.map((x) => x.status), ['applied', 'applied']);
    const budget1 = await env.db.query<{ amount: bigint }>(`SELECT amount FROM balances WHERE actor = 'alice' AND resource = 'llm_budget'`);
    assert.equal(BigInt(budget1.rows[0]!.amount), BigInt(budget0.rows[0]!.amount) - 340n);
    assert.equal(env.gemini.calls.length, 1);
    assert.ok(env.gemini.calls[0]!.generationConfig.responseJsonSchema, 'structured output: a response schema is sent');
  });

  it('GIVEN a Gemini reply that is not JSON WHEN trade-loop runs THEN the run succeeds, the raw text is recorded as MALFORMED and alerted once', async () => {
    env.gemini.enqueue({ text: 'Sure! I would like to harvest some energy please.' });
    const wf = withParams(loadWorkflowFile('trade-loop'), 'Propose', { operation: 'gemini', agents: 'bob', tick: 1 });
    const r = await env.run(wf);
    ok(r);
    const proposed = r.nodes['Propose']![0]![0]!;
    assert.equal(proposed.malformed, true);
    assert.equal(typeof proposed.proposal, 'string');
    assert.equal(r.nodes['Record Rejection']![0]![0]!.code, 'MALFORMED');
    assert.equal(await env.count('rejected_proposals', `code = 'MALFORMED'`), 1);
    assert.equal(env.discord.messages.length, 1);
  });

  it('GIVEN Gemini answers 429 once WHEN trade-loop runs THEN the proposer retries and succeeds (2 HTTP attempts on the item); GIVEN 429 on every attempt THEN the run fails at Propose with LLM_RATE_LIMITED and nothing is written', async () => {
    env.gemini.enqueue({ error: 429 }, jsonReply({ kind: 'transfer', from: 'carol', to: 'dave', resource: 'credits', amount: 5 }));
    const wf = withParams(loadWorkflowFile('trade-loop'), 'Propose', { operation: 'gemini', agents: 'carol', tick: 2 });
    const r = await env.run(wf);
    ok(r);
    assert.equal(((r.nodes['Propose']![0]![0]!.usage as IDataObject).attempts), 2);
    assert.equal(r.nodes['Apply']![0]![0]!.status, 'applied');

    const before = [await env.count('ledger'), await env.count('rejected_proposals')];
    env.gemini.setResponder(() => ({ error: 429 }));
    const failed = await env.run(withParams(wf, 'Propose', { tick: 3, geminiOptions: { maxAttempts: 2 } }));
    assert.equal(failed.status, 'error');
    assert.equal(failed.error?.node, 'Propose');
    assert.match(failed.error?.message ?? '', /^LLM_RATE_LIMITED/);
    assert.deepEqual([await env.count('ledger'), await env.count('rejected_proposals')], before);
  });

  it('GIVEN the Grid Trigger instead of the manual trigger WHEN trade-loop is started from it THEN it emits one tick and the loop runs', async () => {
    const r = await env.run('trade-loop', { startNode: 'Every Minute' });
    ok(r);
    assert.equal(r.nodes['Every Minute']![0]![0]!.tick, 1);
    assert.ok((r.nodes['Propose']![0] ?? []).length > 0);
  });
});
