/**
 * The governance workflows headless on both backends: circuit-breaker (trip → alerts → wait for a
 * human → resumed or halted), rehydrate (replay repairs a drifted cache, verify fails loudly on a
 * broken chain) and dispute-review (a signed Linear decision resets the breaker through the
 * ledger, once).
 */
import assert from 'node:assert/strict';
import type { IDataObject } from 'n8n-workflow';
import { randomUUID } from 'node:crypto';
import { setBreaker } from '../engine/breaker';
import { buildLinearIssueWebhook } from './fakes/linear-webhook';
import { forEachBackend } from './support/backends';
import { gridEnv, linearMutations, loadWorkflowFile, withParams, withPin, WEBHOOK_SECRET, type GridEnv } from './support/n8n-grid';

const ok = (r: { status: string; error?: { message: string; node?: string } }) =>
  assert.equal(r.status, 'success', `run failed at ${r.error?.node}: ${r.error?.message}`);

/** Raises the reserve minimum above what the reserve holds: the next check finds a critical level. */
async function makeReserveCritical(env: GridEnv): Promise<void> {
  const r = await env.writer.apply({ proposal_id: randomUUID(), kind: 'policy_set', agent: 'council', patch: { breaker: { reserve_min: { energy: 50_000 } } } });
  assert.equal(r.status, 'applied');
}

const breakerOpen = async (env: GridEnv) => (await env.db.query<{ open: boolean }>('SELECT open FROM breaker')).rows[0]?.open === true;

/** circuit-breaker with a short wait, so a test never sits out the shipped 10 minutes. */
const breakerWorkflow = (timeoutSeconds: number) =>
  withParams(loadWorkflowFile('circuit-breaker'), 'Wait for Human', { timeoutSeconds, pollSeconds: 0.05 });

forEachBackend('n8n governance workflows run headless', (b) => {
  let env: GridEnv;
  beforeEach(async () => (env = await gridEnv(b)));
  afterEach(async () => env.close());

  it('GIVEN a reserve below its policy minimum WHEN circuit-breaker runs and a human resets the breaker after the trip alert THEN it trips once, opens one ticket and alerts Discord, resumes, and announces the reset', async () => {
    await makeReserveCritical(env);
    const run = env.run(breakerWorkflow(20));
    // The human: waits until the trip was alerted (the workflow is then at "Wait for Human"), then
    // closes the breaker as the council (the law allows humans only).
    const deadline = Date.now() + 15_000;
    while (env.discord.messages.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(await breakerOpen(env), true, 'the workflow tripped the breaker');
    const reset = await setBreaker(env.writer, { actor: 'council', open: false, reason: 'checked the reserve: refill ordered' });
    assert.equal(reset.status, 'applied');
    const r = await run;
    ok(r);
    const check = r.nodes['Check Levels']![0]![0]!;
    assert.equal(check.tripped, true);
    assert.match(String((check.reasons as string[])[0]), /below the policy minimum/);
    assert.equal(linearMutations(env.linear, 'issueCreate'), 1);
    assert.match(env.linear.issues[0]!.title, /^Circuit breaker opened: /);
    const waited = r.nodes['Wait for Human']![0]![0]!;
    assert.equal(waited.decision, 'resumed');
    assert.equal(waited.by, 'council');
    assert.equal(waited.proposal_id, reset.proposal_id);
    // Discord: the trip (critical) from "Alert Trip", then the reset (resolved) from "Announce Decision".
    assert.equal(env.discord.messages.length, 2);
    assert.equal((r.nodes['Announce Decision']![0]![0]!.deliveries as IDataObject[])[0]!.status, 'delivered');
  });

  it('GIVEN a trip and no human WHEN the wait times out THEN the decision is halted and the breaker stays open; agent trades are then refused CIRCUIT_OPEN', async () => {
    await makeReserveCritical(env);
    const r = await env.run(breakerWorkflow(0.3));
    ok(r);
    assert.equal(r.nodes['Wait for Human']![0]![0]!.decision, 'halted');
    assert.equal(await breakerOpen(env), true);
    const trade = withPin(loadWorkflowFile('trade-loop'), 'Propose', [
      { agent: 'alice', proposal: { proposal_id: randomUUID(), kind: 'transfer', agent: 'alice', from: 'alice', to: 'bob', resource: 'credits', amount: 1 } },
    ]);
    const t = await env.run(trade);
    ok(t);
    assert.equal(t.nodes['Validate']![1]![0]!.code, 'CIRCUIT_OPEN');
    assert.equal(t.nodes['Record Rejection']![0]![0]!.code, 'CIRCUIT_OPEN');
    // CIRCUIT_OPEN floods are not ticketed (the shipped skip list), but they reach Discord.
    assert.equal(linearMutations(env.linear, 'issueCreate'), 1, 'only the trip has a ticket');
  });

  it('GIVEN healthy levels WHEN circuit-breaker runs THEN nothing trips, nothing is alerted and nothing waits', async () => {
    const r = await env.run(breakerWorkflow(20));
    ok(r);
    assert.equal(r.nodes['Check Levels']![0]![0]!.tripped, false);
    assert.equal(r.nodes['Wait for Human']![0]![0]!.decision, 'not_waited', 'the shipped workflow waits only after its own trip');
    assert.ok((r.nodes['Wait for Human']![0]![0]!.waited_ms as number) < 1000);
    assert.equal(env.discord.messages.length + linearMutations(env.linear, 'issueCreate'), 0);
  });

  it('GIVEN a balance cache that drifted from the ledger WHEN rehydrate runs THEN replay rewrites the cache and verify passes', async () => {
    await env.db.query(`UPDATE balances SET amount = amount + 7 WHERE actor = 'alice' AND resource = 'credits'`);
    const r = await env.run('rehydrate');
    ok(r);
    const replayed = r.nodes['Replay Ledger']![0]![0]!;
    assert.equal(replayed.cacheMatches, false, 'replay saw the drift');
    assert.equal(replayed.wroteCache, true);
    assert.equal(r.nodes['Verify Ledger']![0]![0]!.ok, true);
    const bal = await env.db.query<{ amount: bigint }>(`SELECT amount FROM balances WHERE actor = 'alice' AND resource = 'credits'`);
    assert.equal(BigInt(bal.rows[0]!.amount), 1000n);
  });

  it('GIVEN a ledger row altered behind the writer\'s back WHEN rehydrate runs THEN Replay refuses to rebuild the cache (CHAIN_BROKEN), and with Replay as a dry run Verify fails with LEDGER_NOT_VERIFIED', async () => {
    await env.db.exec('ALTER TABLE ledger DISABLE TRIGGER ledger_append_only');
    await env.db.query('UPDATE ledger SET amount = amount + 1 WHERE id = 3');
    await env.db.exec('ALTER TABLE ledger ENABLE TRIGGER ledger_append_only');
    const r = await env.run('rehydrate');
    assert.equal(r.status, 'error');
    assert.equal(r.error?.node, 'Replay Ledger');
    assert.match(r.error?.message ?? '', /^CHAIN_BROKEN: refusing to rebuild the cache/);
    assert.match(r.error?.description ?? '', /HASH_MISMATCH/);

    const dry = await env.run(withParams(loadWorkflowFile('rehydrate'), 'Replay Ledger', { options: { dryRun: true } }));
    assert.equal(dry.status, 'error');
    assert.equal(dry.error?.node, 'Verify Ledger');
    assert.match(dry.error?.message ?? '', /^LEDGER_NOT_VERIFIED: chain broken \(HASH_MISMATCH at 3/);
    assert.equal(dry.nodes['Replay Ledger']![0]![0]!.chainOk, false);
  });

  it('GIVEN a breaker ticket moved to Done in Linear WHEN dispute-review receives the signed delivery THEN the breaker is reset by the human through the ledger, announced once, and a redelivery changes nothing', async () => {
    await makeReserveCritical(env);
    ok(await env.run(breakerWorkflow(0)));
    assert.equal(await breakerOpen(env), true);
    const issue = env.linear.setIssueState(env.linear.issues[0]!.id, 'Done');
    const hook = buildLinearIssueWebhook(issue, { secret: WEBHOOK_SECRET, updatedFrom: { stateId: randomUUID() } });
    const delivery = { rawBody: hook.rawBody, headers: hook.headers, receivedAt: new Date().toISOString() };
    const wf = withPin(loadWorkflowFile('dispute-review'), 'Manual Test', [delivery]);
    const messages0 = env.discord.messages.length;
    const r = await env.run(wf);
    ok(r);
    const decided = r.nodes['Record Decision']![0]![0]!;
    assert.equal(decided.ok, true);
    assert.equal((decided.outcome as IDataObject).action, 'breaker_reset');
    assert.equal(await breakerOpen(env), false);
    const entry = await env.db.query<{ agent: string }>(`SELECT agent FROM ledger WHERE proposal_id = $1`, [decided.alert_key]);
    assert.equal(entry.rows[0]?.agent, 'council');
    assert.equal(env.discord.messages.length, messages0 + 1, 'the reset is announced');

    const before = [await env.count('ledger'), await env.count('hitl_deliveries'), env.discord.messages.length];
    const again = await env.run(wf);
    ok(again);
    assert.equal(again.nodes['Record Decision']![0]![0]!.duplicate, true);
    assert.deepEqual([await env.count('ledger'), await env.count('hitl_deliveries'), env.discord.messages.length], before);
  });

  it('GIVEN a delivery signed with the wrong secret WHEN dispute-review runs THEN it answers WEBHOOK_SIGNATURE_INVALID and records nothing', async () => {
    await makeReserveCritical(env);
    ok(await env.run(breakerWorkflow(0)));
    const issue = env.linear.setIssueState(env.linear.issues[0]!.id, 'Done');
    const hook = buildLinearIssueWebhook(issue, { secret: WEBHOOK_SECRET, forgeWithSecret: 'not-the-secret', updatedFrom: { stateId: randomUUID() } });
    const r = await env.run(withPin(loadWorkflowFile('dispute-review'), 'Manual Test', [{ rawBody: hook.rawBody, headers: hook.headers }]));
    ok(r);
    const decided = r.nodes['Record Decision']![0]![0]!;
    assert.equal(decided.ok, false);
    assert.equal(decided.status, 401);
    assert.equal((decided.error as IDataObject).code, 'WEBHOOK_SIGNATURE_INVALID');
    assert.equal(await env.count('hitl_deliveries'), 0);
    assert.equal(await breakerOpen(env), true);
  });
});
