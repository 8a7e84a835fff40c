// Human-in-the-loop: signed Linear webhooks (fake sender, SDK verifier as the reference) turn ticket
// state changes into recorded human decisions, through the service on both backends.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { forEachBackend } from './support/backends';
import { startLinearFake, type LinearFake, type FakeIssue } from './fakes/linear';
import { buildLinearIssueWebhook, postLinearWebhook, signLinearWebhook, verifyLinearWebhook } from './fakes/linear-webhook';
import { LedgerWriter } from '../db/writer';
import type { Db } from '../db/adapter';
import { AlertDispatcher, LinearChannel } from '../engine/alerts';
import { verifyLinearSignature } from '../engine/hitl';
import { startService, type RunningService } from '../engine/service';

const SECRET = 'lin_wh_test_secret_0123456789';

describe('hitl: webhook verification agrees with @linear/sdk/webhooks', () => {
  const issue = { id: 'i-1', identifier: 'GRID-1', title: 'Dispute: x', state: { name: 'Done', type: 'completed' } };
  // Built inside each test (not at load time): a timestamp must be fresh relative to the check.
  type Built = ReturnType<typeof buildLinearIssueWebhook>;
  const cases: Array<[string, () => Built]> = [
    ['valid', () => buildLinearIssueWebhook(issue, { secret: SECRET })],
    ['forged', () => buildLinearIssueWebhook(issue, { secret: SECRET, forgeWithSecret: 'guess' })],
    ['stale', () => buildLinearIssueWebhook(issue, { secret: SECRET, staleBySeconds: 65 })],
    ['future', () => buildLinearIssueWebhook(issue, { secret: SECRET, staleBySeconds: -90 })],
    ['garbage signature', () => buildLinearIssueWebhook(issue, { secret: SECRET, signatureOverride: 'zz' })],
    ['correctly signed but upper-case hex', () => {
      const w = buildLinearIssueWebhook(issue, { secret: SECRET });
      return { ...w, signature: w.signature.toUpperCase() };
    }],
    ['signature of another body', () => ({ ...buildLinearIssueWebhook(issue, { secret: SECRET }), signature: signLinearWebhook(JSON.stringify({}), SECRET) })],
  ];
  for (const [name, build] of cases) {
    it(`GIVEN a ${name} webhook WHEN verified by ours and by the SDK THEN both accept or both reject`, async () => {
      const w = build();
      const sdk = await verifyLinearWebhook(w.rawBody, w.signature, SECRET);
      const ours = verifyLinearSignature(Buffer.from(w.rawBody), w.signature, SECRET);
      assert.equal(ours.ok, sdk.ok, `ours ${JSON.stringify(ours).slice(0, 120)} vs sdk ${JSON.stringify(sdk).slice(0, 120)}`);
      assert.equal(ours.ok, name === 'valid');
      if (name === 'stale' || name === 'future') assert.equal(!ours.ok && ours.code, 'WEBHOOK_STALE');
      if (name === 'forged') assert.equal(!ours.ok && ours.code, 'WEBHOOK_SIGNATURE_INVALID');
    });
  }
  it('GIVEN a tampered body WHEN verified THEN WEBHOOK_SIGNATURE_INVALID', () => {
    const w = buildLinearIssueWebhook(issue, { secret: SECRET });
    const v = verifyLinearSignature(Buffer.from(w.rawBody.replace('Done', 'Todo')), w.signature, SECRET);
    assert.deepEqual(v.ok ? 'ok' : v.code, 'WEBHOOK_SIGNATURE_INVALID');
  });
});

forEachBackend('hitl: Linear webhooks record human decisions', (b) => {
  let fake: LinearFake;
  let svc: RunningService | null = null;
  beforeEach(async () => (fake = await startLinearFake()));
  afterEach(async () => {
    await svc?.close();
    svc = null;
    assert.deepEqual(fake.handlerErrors, []);
    await fake.close();
  });

  /** A grid whose alerts went to the Linear fake; returns the ticket opened for `alert`. */
  const setup = async () => {
    const db = await b.fresh({ init: true });
    const writer = new LedgerWriter(db);
    const dispatcher = new AlertDispatcher(db, { channels: [new LinearChannel({ apiKey: fake.apiKey, apiUrl: fake.apiUrl })] });
    svc = await startService({ db, writer, linearWebhookSecret: SECRET, healthCacheMs: 0, log: () => {} });
    return { db, writer, dispatcher, svc };
  };
  const openBreaker = async (writer: LedgerWriter, reason = 'energy reserve below 1000') => {
    const p = { kind: 'breaker_set', proposal_id: randomUUID(), agent: 'system', open: true, reason };
    assert.equal((await writer.apply(p)).status, 'applied');
    return p;
  };
  const ticketFor = (key: string): FakeIssue => {
    const t = fake.issues.find((i) => i.title.includes(key));
    assert.ok(t, `ticket for ${key}`);
    return t;
  };
  const moved = (issue: FakeIssue, state: string, opts: Record<string, unknown> = {}) => {
    fake.setIssueState(issue.identifier, state);
    return buildLinearIssueWebhook(issue, { secret: SECRET, updatedFrom: { stateId: fake.states[1]!.id }, ...opts });
  };
  const breakerState = async (db: Db) => (await db.query<any>('SELECT open, set_by FROM breaker')).rows[0];
  const url = () => `${svc!.url}/webhooks/linear`;

  it('GIVEN a breaker ticket WHEN a forged or a stale "Done" arrives THEN 401 and the breaker stays open; WHEN a valid one arrives THEN a human breaker_set closes it, once', async () => {
    const { db, writer, dispatcher } = await setup();
    const trip = await openBreaker(writer);
    await dispatcher.runOnce();
    const ticket = ticketFor(trip.proposal_id);

    const forged = await postLinearWebhook(url(), moved(ticket, 'Done', { forgeWithSecret: 'not-the-secret' }));
    assert.deepEqual([forged.status, JSON.parse(forged.responseText).error.code], [401, 'WEBHOOK_SIGNATURE_INVALID']);
    const stale = await postLinearWebhook(url(), moved(ticket, 'Done', { staleBySeconds: 120 }));
    assert.deepEqual([stale.status, JSON.parse(stale.responseText).error.code], [401, 'WEBHOOK_STALE']);
    const unsigned = moved(ticket, 'Done');
    delete (unsigned.headers as Record<string, string>)['linear-signature'];
    assert.equal((await postLinearWebhook(url(), unsigned)).status, 401);
    assert.equal((await breakerState(db)).open, true);

    const valid = moved(ticket, 'Done');
    const ok = await postLinearWebhook(url(), valid);
    assert.equal(ok.status, 200, ok.responseText);
    const out = JSON.parse(ok.responseText);
    assert.deepEqual([out.duplicate, out.outcome.action], [false, 'breaker_reset']);
    assert.deepEqual(await breakerState(db), { open: false, set_by: 'council' });
    const entry = (await db.query<any>(`SELECT kind, agent, metadata FROM ledger WHERE proposal_id = $1`, [out.outcome.proposal_id])).rows[0];
    assert.deepEqual([entry.kind, entry.agent], ['breaker_set', 'council']);
    assert.match(entry.metadata.reasoning, new RegExp(`Linear ticket ${ticket.identifier} \\(${ticket.id}\\) moved to Done by Grid Operator`));

    const rows = Number((await db.query<any>('SELECT count(*)::bigint AS n FROM ledger')).rows[0].n);
    const again = await postLinearWebhook(url(), valid); // Linear redelivers the same delivery
    assert.equal(again.status, 200);
    assert.equal(JSON.parse(again.responseText).duplicate, true);
    assert.equal(Number((await db.query<any>('SELECT count(*)::bigint AS n FROM ledger')).rows[0].n), rows);
    assert.equal(Number((await db.query<any>(`SELECT count(*)::bigint AS n FROM admin_audit WHERE action = 'hitl.breaker_reset'`)).rows[0].n), 1);
  });

  it('GIVEN an old breaker ticket WHEN it is closed after a newer trip THEN the newer trip stays open (recorded, not reset)', async () => {
    const { db, writer, dispatcher } = await setup();
    const first = await openBreaker(writer, 'first trip');
    await dispatcher.runOnce();
    assert.equal((await writer.apply({ kind: 'breaker_set', proposal_id: randomUUID(), agent: 'council', open: false, reason: 'manual' })).status, 'applied');
    await openBreaker(writer, 'second trip');
    const r = await postLinearWebhook(url(), moved(ticketFor(first.proposal_id), 'Done'));
    assert.equal(JSON.parse(r.responseText).outcome.action, 'breaker_reset_not_needed');
    assert.equal((await breakerState(db)).open, true);
  });

  it('GIVEN a dispute ticket WHEN moved to Canceled THEN the human decision is recorded in admin_audit with the proposal and the Linear actor', async () => {
    const { db, writer, dispatcher } = await setup();
    const p = { kind: 'transfer', proposal_id: randomUUID(), agent: 'dave', from: 'dave', to: 'alice', resource: 'credits', amount: 900 };
    assert.equal((await writer.apply(p)).status, 'rejected');
    await dispatcher.runOnce();
    const r = await postLinearWebhook(url(), moved(ticketFor(p.proposal_id), 'Canceled'));
    assert.equal(r.status, 200, r.responseText);
    assert.equal(JSON.parse(r.responseText).outcome.action, 'dispute_dismissed');
    const a = (await db.query<any>(`SELECT actor, details FROM admin_audit WHERE action = 'hitl.dispute_dismissed'`)).rows;
    assert.equal(a.length, 1);
    assert.deepEqual([a[0].actor, a[0].details.alert.key, a[0].details.outcome.code, a[0].details.linear_actor.name], ['council', p.proposal_id, 'INSUFFICIENT_BALANCE', 'Grid Operator']);
  });

  it('GIVEN GRID_HUMAN_ACTOR names no human WHEN a valid decision arrives THEN 503 HITL_ACTOR_INVALID (Linear redelivers later) and nothing changes', async () => {
    const { db, writer, dispatcher } = await setup();
    await svc!.close();
    svc = await startService({ db, writer, linearWebhookSecret: SECRET, humanActor: 'alice', log: () => {} });
    const trip = await openBreaker(writer);
    await dispatcher.runOnce();
    const r = await postLinearWebhook(url(), moved(ticketFor(trip.proposal_id), 'Done'));
    assert.deepEqual([r.status, JSON.parse(r.responseText).error.code], [503, 'HITL_ACTOR_INVALID']);
    assert.equal((await breakerState(db)).open, true);
  });

  it('GIVEN events that are not decisions on grid tickets WHEN received THEN 200 ignored and nothing recorded', async () => {
    const { db, writer, dispatcher } = await setup();
    const trip = await openBreaker(writer);
    await dispatcher.runOnce();
    const t = ticketFor(trip.proposal_id);
    const noStateChange = buildLinearIssueWebhook(t, { secret: SECRET, updatedFrom: { title: 'old' } });
    const inProgress = moved(t, 'In Progress');
    const stranger = buildLinearIssueWebhook({ id: randomUUID(), identifier: 'GRID-99', title: 'Circuit breaker opened: hand-made', state: { name: 'Done', type: 'completed' } }, { secret: SECRET, updatedFrom: { stateId: 'x' } });
    for (const w of [noStateChange, inProgress, stranger]) {
      const r = await postLinearWebhook(url(), w);
      assert.equal(r.status, 200, r.responseText);
      assert.equal(JSON.parse(r.responseText).outcome.action, 'ignored');
    }
    assert.equal((await breakerState(db)).open, true);
    assert.equal(Number((await db.query<any>('SELECT count(*)::bigint AS n FROM hitl_deliveries')).rows[0].n), 0);
  });
});
