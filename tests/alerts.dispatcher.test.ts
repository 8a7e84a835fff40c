// The outbox dispatcher against the real databases and the Linear fake (real @linear/sdk, real HTTP).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { forEachBackend } from './support/backends';
import { startLinearFake, type LinearFake } from './fakes/linear';
import { LedgerWriter } from '../db/writer';
import type { Db } from '../db/adapter';
import { AlertDispatcher, ConsoleChannel, LinearChannel, alertConfigFromEnv, channelsFromConfig, type AlertChannel } from '../engine/alerts';

/** dave holds 500 credits: asking for 900 is an INSUFFICIENT_BALANCE rejection (and an outbox row). */
const overdraw = (id = randomUUID()) => ({ kind: 'transfer', proposal_id: id, agent: 'dave', from: 'dave', to: 'alice', resource: 'credits', amount: 900, reasoning: 'try my luck' });

async function deliveries(db: Db, channel: string) {
  const r = await db.query<any>(
    `SELECT o.key, d.status, d.attempts, d.remote_id, d.last_error, d.next_attempt_at FROM outbox_deliveries d JOIN outbox o ON o.id = d.outbox_id WHERE d.channel = $1 ORDER BY d.outbox_id`,
    [channel],
  );
  return r.rows;
}

describe('alerts: channels from the environment', () => {
  it('GIVEN no keys WHEN configured from env THEN the console only; GIVEN Linear and Discord keys THEN all three', () => {
    assert.deepEqual(channelsFromConfig(alertConfigFromEnv({})).map((c) => c.name), ['console']);
    const cfg = alertConfigFromEnv({
      LINEAR_API_KEY: 'lin_api_x', LINEAR_API_URL: 'http://127.0.0.1:1/graphql', LINEAR_TEAM_ID: 'GRID', LINEAR_SKIP_CODES: 'CIRCUIT_OPEN, RATE_LIMITED',
      DISCORD_WEBHOOK_ID: '123456789012345678', DISCORD_WEBHOOK_TOKEN: 'tok', DISCORD_API_URL: 'http://127.0.0.1:1/api',
    });
    assert.deepEqual(cfg.linear, { apiKey: 'lin_api_x', apiUrl: 'http://127.0.0.1:1/graphql', team: 'GRID', skipCodes: ['CIRCUIT_OPEN', 'RATE_LIMITED'] });
    assert.deepEqual(channelsFromConfig(cfg).map((c) => c.name), ['console', 'linear', 'discord']);
    const skip = channelsFromConfig(cfg)[1]!;
    const alert = { topic: 'rejection', code: 'CIRCUIT_OPEN' } as any;
    assert.equal(skip.accepts(alert), false);
    assert.equal(skip.accepts({ ...alert, code: 'MALFORMED' }), true);
  });
});

forEachBackend('alerts: outbox dispatcher', (b) => {
  let fake: LinearFake;
  let now: number;
  const clock = () => now;
  const lines: string[] = [];
  beforeEach(async () => {
    fake = await startLinearFake();
    now = Date.parse('2030-01-01T00:00:00Z');
    lines.length = 0;
  });
  afterEach(async () => {
    assert.deepEqual(fake.handlerErrors, []);
    await fake.close();
  });
  const consoleCh = () => new ConsoleChannel((l) => lines.push(l));
  const linearCh = (apiKey = fake.apiKey) => new LinearChannel({ apiKey, apiUrl: fake.apiUrl, team: fake.team.key });
  const dispatcher = (db: Db, channels: AlertChannel[], extra: Partial<ConstructorParameters<typeof AlertDispatcher>[1]> = {}) =>
    new AlertDispatcher(db, { channels, clock, random: () => 0.5, ...extra });
  const tickets = (title: string) => fake.issues.filter((i) => i.title === title);
  const creates = () => fake.calls.filter((c) => c.fields.includes('issueCreate')).length;

  it('GIVEN no keys WHEN a proposal is rejected THEN the alert reaches the console once, even across a dispatcher restart', async () => {
    const db = await b.fresh({ init: true });
    const p = overdraw();
    const res = await new LedgerWriter(db).apply(p);
    assert.equal(res.status, 'rejected');
    const r1 = await dispatcher(db, [consoleCh()]).runOnce();
    assert.deepEqual([r1.enqueued, r1.delivered], [1, 1]);
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, new RegExp(`^\\[alert\\] rejected INSUFFICIENT_BALANCE agent=dave kind=transfer proposal=${p.proposal_id}: `));
    const r2 = await dispatcher(db, [consoleCh()]).drain();
    assert.deepEqual([r2.enqueued, r2.claimed, lines.length], [0, 0, 1]);
    assert.deepEqual((await deliveries(db, 'console')).map((d) => [d.key, d.status, d.attempts]), [[p.proposal_id, 'delivered', 1]]);
  });

  it('GIVEN Linear WHEN a rejection is dispatched THEN one ticket "Dispute: {proposal_id}" with labels dispute and the code, and a body with the proposal, code, version and time', async () => {
    const db = await b.fresh({ init: true });
    const p = overdraw();
    const res = await new LedgerWriter(db).apply(p);
    assert.equal(res.status, 'rejected');
    const r = await dispatcher(db, [consoleCh(), linearCh()]).runOnce();
    assert.equal(r.delivered, 2);
    const [t] = tickets(`Dispute: ${p.proposal_id}`);
    assert.ok(t, 'ticket created');
    assert.deepEqual(fake.labels.filter((l) => t.labelIds.includes(l.id)).map((l) => l.name).sort(), ['INSUFFICIENT_BALANCE', 'dispute']);
    assert.equal(t.teamId, fake.team.id);
    for (const needle of ['INSUFFICIENT_BALANCE', res.validator_version, '"amount": 900', '"reasoning": "try my luck"', 'rejected at', 'dave']) {
      assert.ok(t.description?.includes(needle), `body contains ${needle}`);
    }
    const [d] = await deliveries(db, 'linear');
    assert.deepEqual([d.status, d.remote_id], ['delivered', t.id]);
  });

  it('GIVEN a configured dispute label WHEN a rejection is ticketed THEN the ticket carries that label and the code', async () => {
    const db = await b.fresh({ init: true });
    const p = overdraw();
    await new LedgerWriter(db).apply(p);
    const ch = new LinearChannel({ apiKey: fake.apiKey, apiUrl: fake.apiUrl, team: fake.team.key, label: 'grid-dispute' });
    assert.equal((await dispatcher(db, [ch]).runOnce()).delivered, 1);
    const [t] = tickets(`Dispute: ${p.proposal_id}`);
    assert.deepEqual(fake.labels.filter((l) => t.labelIds.includes(l.id)).map((l) => l.name).sort(), ['INSUFFICIENT_BALANCE', 'grid-dispute']);
  });

  it('GIVEN Linear applies issueCreate but the answer is lost WHEN the dispatcher retries THEN it finds and adopts the ticket: exactly one per proposal', async () => {
    const db = await b.fresh({ init: true });
    const w = new LedgerWriter(db);
    const d = dispatcher(db, [linearCh()]);
    await w.apply(overdraw()); // warm-up: labels exist afterwards, so the next mutation is issueCreate
    await d.runOnce();
    const p = overdraw();
    await w.apply(p);
    fake.crashNextMutation(1);
    const r1 = await d.runOnce();
    assert.deepEqual([r1.delivered, r1.retried], [0, 1]);
    assert.equal(fake.calls.at(-1)!.outcome, 'crashed');
    assert.equal(tickets(`Dispute: ${p.proposal_id}`).length, 1, 'Linear created it although the client saw an error');
    const row = (await deliveries(db, 'linear')).find((x) => x.key === p.proposal_id);
    assert.deepEqual([row.status, row.attempts], ['pending', 1]);
    assert.match(row.last_error, /^NETWORK: /);
    assert.equal(new Date(row.next_attempt_at).getTime(), now + 250, 'first backoff: base 250 ms (jitter pinned)');
    assert.equal((await d.runOnce()).claimed, 0, 'not due before the backoff');
    now += 250;
    const createsBefore = creates();
    const r2 = await d.runOnce();
    assert.deepEqual([r2.delivered, r2.adopted], [1, 1]);
    assert.equal(creates(), createsBefore, 'no second issueCreate');
    const [t] = tickets(`Dispute: ${p.proposal_id}`);
    const after = (await deliveries(db, 'linear')).find((x) => x.key === p.proposal_id);
    assert.deepEqual([tickets(`Dispute: ${p.proposal_id}`).length, after.status, after.attempts, after.remote_id], [1, 'delivered', 2, t!.id]);
  });

  it('GIVEN a dispatcher that sent a ticket and died before marking WHEN another starts THEN it waits for the lease and then adopts, not duplicates', async () => {
    const db = await b.fresh({ init: true });
    const p = overdraw();
    await new LedgerWriter(db).apply(p);
    const dead = dispatcher(db, [linearCh()], { leaseMs: 60_000 });
    await dead.enqueue();
    const [claim] = await dead.claim('linear', 10);
    await linearCh().deliver(claim!.alert!); // sent… and the process dies here: no mark
    assert.equal(tickets(`Dispute: ${p.proposal_id}`).length, 1);
    const next = dispatcher(db, [linearCh()], { leaseMs: 60_000 });
    assert.equal((await next.runOnce()).claimed, 0, 'the dead claim is still leased');
    now += 60_000;
    const r = await next.runOnce();
    assert.deepEqual([r.delivered, r.adopted], [1, 1]);
    assert.equal(tickets(`Dispute: ${p.proposal_id}`).length, 1);
    assert.equal(creates(), 1);
  });

  it('GIVEN the breaker opens and closes WHEN dispatched THEN Linear gets one "Circuit breaker opened" ticket, the reset is skipped there, the console shows both', async () => {
    const db = await b.fresh({ init: true });
    const w = new LedgerWriter(db);
    const open = { kind: 'breaker_set', proposal_id: randomUUID(), agent: 'system', open: true, reason: 'energy reserve below 1000' };
    const close = { kind: 'breaker_set', proposal_id: randomUUID(), agent: 'council', open: false, reason: 'reserve refilled' };
    assert.equal((await w.apply(open)).status, 'applied');
    assert.equal((await w.apply(close)).status, 'applied');
    const r = await dispatcher(db, [consoleCh(), linearCh()]).runOnce();
    assert.deepEqual([r.delivered, r.skipped], [3, 1]);
    const t = fake.issues.filter((i) => i.title.startsWith('Circuit breaker opened: '));
    assert.deepEqual(t.map((i) => i.title), [`Circuit breaker opened: energy reserve below 1000 (${open.proposal_id})`]);
    assert.equal(t[0]!.priority, 1);
    assert.deepEqual(lines.map((l) => l.split(' by ')[0]), ['[alert] circuit breaker OPENED', '[alert] circuit breaker closed']);
    assert.deepEqual((await deliveries(db, 'linear')).map((d) => d.status), ['delivered', 'skipped']);
  });

  it('GIVEN a wrong Linear key WHEN dispatched THEN the delivery fails at once (no retry can fix it) and requeueFailed puts it back', async () => {
    const db = await b.fresh({ init: true });
    await new LedgerWriter(db).apply(overdraw());
    const logs: string[] = [];
    const d = dispatcher(db, [consoleCh(), linearCh('lin_api_wrong')], { log: (l) => logs.push(l) });
    const r = await d.runOnce();
    assert.deepEqual([r.delivered, r.failed], [1, 1]);
    const [row] = await deliveries(db, 'linear');
    assert.deepEqual([row.status, row.attempts], ['failed', 1]);
    assert.match(row.last_error, /^AUTH_FAILED: /);
    assert.match(logs[0]!, /linear gave up/);
    assert.deepEqual(await d.stats(), { console: { pending: 0, delivered: 1, failed: 0, skipped: 0 }, linear: { pending: 0, delivered: 0, failed: 1, skipped: 0 } });
    assert.equal(await d.requeueFailed('linear'), 1);
    assert.equal((await deliveries(db, 'linear'))[0].status, 'pending');
  });

  it('GIVEN Linear answers 500 every time WHEN retried THEN backoff doubles (250, 500, …) and the delivery fails after maxAttempts', async () => {
    const db = await b.fresh({ init: true });
    await new LedgerWriter(db).apply(overdraw());
    const d = dispatcher(db, [linearCh()], { maxAttempts: 3 });
    fake.failNext(10, 500);
    const waits: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await d.runOnce();
      assert.equal(r.claimed, 1);
      const [row] = await deliveries(db, 'linear');
      waits.push(new Date(row.next_attempt_at).getTime() - now);
      now = new Date(row.next_attempt_at).getTime();
    }
    const [row] = await deliveries(db, 'linear');
    assert.deepEqual([row.status, row.attempts], ['failed', 3]);
    assert.deepEqual(waits, [250, 500, 0]);
    assert.match(row.last_error, /^REMOTE_UNAVAILABLE: /);
    assert.equal(fake.issues.length, 0);
  });

  it('GIVEN the dispatcher loop is started WHEN a rejection is recorded THEN it is delivered without a manual round, and stop() ends the loop', async () => {
    const db = await b.fresh({ init: true });
    const d = new AlertDispatcher(db, { channels: [consoleCh()] }); // real clock: the loop polls
    d.start(20);
    await new LedgerWriter(db).apply(overdraw());
    for (let i = 0; i < 200 && lines.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    await d.stop();
    assert.equal(lines.length, 1);
    await new LedgerWriter(db).apply(overdraw());
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(lines.length, 1, 'stopped: nothing more is delivered');
  });

  it('GIVEN two dispatchers racing on the same outbox WHEN both run THEN every alert is delivered exactly once (SKIP LOCKED claims)', async () => {
    const db = await b.fresh({ init: true, poolSize: 4 });
    const w = new LedgerWriter(db);
    await w.applyBatch(Array.from({ length: 30 }, () => overdraw()));
    const a = dispatcher(db, [consoleCh()]);
    const c = dispatcher(db, [consoleCh()]);
    const [ra, rc] = await Promise.all([a.drain(), c.drain()]);
    assert.equal(ra.delivered + rc.delivered, 30);
    assert.equal(lines.length, 30);
    assert.equal(new Set(lines).size, 30);
  });
});
