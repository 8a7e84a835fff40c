/**
 * The bridge's live side over both backends: the SSE stream delivers new rows (and replays missed
 * ones on reconnect), event streams are bounded, the metrics window folds new rows without
 * rescanning the ledger, and the verification status reflects a tampered chain.
 */
import assert from 'node:assert/strict';
import { forEachBackend } from './support/backends';
import { harness, eventually, openReader, type Harness } from './support/bridge-harness';
import { openSse } from './support/sse-client';
import { transferInput, AGENTS } from './support/bridge-seed';
import { LedgerWriter } from '../db/writer';
import { startBridge, type Bridge } from '../streamlit-bridge';
import { gini } from '../engine/telemetry/gini';
import type { Db } from '../db/adapter';

forEachBackend('bridge: live stream, metrics, verification', (b) => {
  describe('events', () => {
    let h: Harness | undefined;
    afterEach(async () => {
      await h?.close();
      h = undefined;
    });

    it('GIVEN an open /events stream WHEN a transfer and a refused proposal are applied THEN a ledger and a rejection event arrive', async () => {
      h = await harness(b, { trades: 5 });
      const es = await openSse(h.bridge.url + '/events');
      try {
        assert.equal(es.status, 200);
        assert.match(String(es.headers['content-type']), /text\/event-stream/);
        const hello = await es.waitFor((e) => e.event === 'hello');
        const head = hello.data.head.last_id;
        const writer = new LedgerWriter(h.db);
        const t0 = Date.now();
        const r = await writer.apply(transferInput('alice', 'bob', 'credits', 11));
        assert.equal(r.status, 'applied');
        const id = r.status === 'applied' ? r.entries[0].id : '';
        const ev = await es.waitFor((e) => e.event === 'ledger' && e.data.id === id, 2_000);
        assert.ok(Date.now() - t0 < 2_000);
        assert.equal(ev.id, id, 'ledger events carry the ledger id as the SSE id');
        assert.ok(BigInt(id) > BigInt(head));
        assert.deepEqual([ev.data.from, ev.data.to, ev.data.amount, ev.data.resource], ['alice', 'bob', '11', 'credits']);
        const bad = await writer.apply(transferInput('bob', 'bob', 'credits', 1));
        assert.equal(bad.status, 'rejected');
        const rej = await es.waitFor((e) => e.event === 'rejection' && e.data.proposal_id === bad.proposal_id, 2_000);
        assert.equal(rej.data.code, bad.status === 'rejected' ? bad.code : '');
        await es.waitFor((e) => e.event === 'alert' && e.data.key === bad.proposal_id, 2_000);
      } finally {
        es.close();
      }
    });

    it('GIVEN a client that missed rows WHEN it reconnects with Last-Event-ID THEN exactly the missed rows are replayed', async () => {
      h = await harness(b, { trades: 5 });
      const head = BigInt((await h.get('/api/health')).body.head.last_id);
      const es = await openSse(h.bridge.url + '/events', { 'Last-Event-ID': String(head - 3n) });
      try {
        await es.waitFor((e) => e.event === 'ledger' && e.data.id === String(head));
        assert.deepEqual(es.events.filter((e) => e.event === 'ledger').map((e) => e.id), [head - 2n, head - 1n, head].map(String));
      } finally {
        es.close();
      }
      const old = await openSse(h.bridge.url + '/events?last_event_id=0');
      try {
        // The ring holds the seeded history (< sseReplayRows rows), so id 0 replays from row 1.
        await old.waitFor((e) => e.event === 'ledger' && e.data.id === String(head));
        assert.equal(old.events.filter((e) => e.event === 'ledger').length, Number(head));
      } finally {
        old.close();
      }
    });

    it('GIVEN the stream limit WHEN one more client connects THEN it gets 503 TOO_MANY_CLIENTS, and a freed slot is reusable', async () => {
      h = await harness(b, { trades: 1, maxSseClients: 2 });
      const a = await openSse(h.bridge.url + '/events');
      const c = await openSse(h.bridge.url + '/events');
      const refused = await openSse(h.bridge.url + '/events');
      assert.equal(refused.status, 503);
      assert.equal(JSON.parse(refused.body).error.code, 'TOO_MANY_CLIENTS');
      a.close();
      await eventually(async () => (await h!.get('/api/health')).body.sse.clients === 1, 2_000, 'slot freed');
      const again = await openSse(h.bridge.url + '/events');
      assert.equal(again.status, 200);
      again.close();
      c.close();
    });
  });

  describe('metrics and verification', () => {
    let bridge: Bridge | undefined;
    let reader: Db | undefined;
    let h: Harness | undefined;
    afterEach(async () => {
      await bridge?.close();
      if (reader && h && reader !== h.db) await reader.close();
      await h?.close();
      bridge = reader = h = undefined;
    });

    it('GIVEN a caught-up bridge WHEN new entries are applied THEN metrics count them and the tail only ever reads past its cursor', async () => {
      h = await harness(b, { trades: 20 });
      await h.bridge.close();
      // A second bridge over a spy that records every ledger read with its cursor.
      const base = await openReader(b, h.db);
      reader = base;
      const cursors: bigint[] = [];
      const spy: Db = { ...base, query: (sql, params) => {
        if (/FROM ledger_feed WHERE id > \$1 ORDER BY id LIMIT/.test(sql)) cursors.push(BigInt(String(params![0])));
        return base.query(sql, params);
      } };
      bridge = await startBridge({ db: spy, pollMs: 20 });
      const entries = (await h.db.query<any>('SELECT count(*)::int AS n, count(*) FILTER (WHERE leg = 0)::int AS p FROM ledger')).rows[0];
      const rejections = (await h.db.query<any>('SELECT count(*)::int AS n FROM rejected_proposals')).rows[0].n;
      const m0 = (await (await fetch(bridge.url + '/api/metrics')).json()) as any;
      assert.deepEqual([m0.totals.entries, m0.totals.proposals, m0.totals.rejections], [entries.n, entries.p, rejections]);
      const caughtUp = BigInt(m0.lastEntryId);
      const readsAtCatchUp = cursors.length;
      const writer = new LedgerWriter(h.db);
      for (let i = 0; i < 5; i++) await writer.apply(transferInput('carol', 'dave', 'credits', 3 + i));
      await writer.apply(transferInput('carol', 'carol', 'credits', 1));
      const m1 = await eventually(async () => {
        const m = (await (await fetch(bridge!.url + '/api/metrics')).json()) as any;
        return m.totals.entries === entries.n + 5 && m.totals.rejections === rejections + 1 ? m : null;
      }, 3_000, 'metrics to fold the new rows');
      assert.equal(m1.totals.proposals, entries.p + 5);
      // After catch-up, no read starts below the cursor reached by then: nothing is rescanned.
      const later = cursors.slice(readsAtCatchUp);
      assert.ok(later.length > 0);
      assert.ok(later.every((c) => c >= caughtUp), `a read restarted below ${caughtUp}: ${later.filter((c) => c < caughtUp)}`);
      for (let i = 1; i < cursors.length; i++) assert.ok(cursors[i] >= cursors[i - 1], 'cursor went backwards');
      // Gini over the agents equals the formula applied to the balances the world reports.
      const world = (await (await fetch(bridge.url + '/api/world')).json()) as any;
      const credits = AGENTS.map((a) => BigInt(world.balances[a]?.credits ?? '0'));
      assert.equal(m1.gini.credits.value, gini(credits));
      assert.equal(m1.gini.credits.holders, AGENTS.length);
      const last = m1.buckets[m1.buckets.length - 1];
      assert.ok(BigInt(last.resources.credits.volume) >= 3n + 4n + 5n + 6n + 7n);
      assert.ok(m1.gini_series.length >= 1);
      assert.equal((await (await fetch(bridge.url + '/api/metrics?buckets=1')).json() as any).buckets.length, 1);
    });

    it('GIVEN an intact ledger WHEN verification runs THEN verified; GIVEN a row altered behind the writer\'s back THEN broken', async () => {
      h = await harness(b, { trades: 8, verifyMinIntervalMs: 60_000 });
      const v = await eventually(async () => {
        const s = (await h!.get('/api/verification')).body;
        return s.state !== 'pending' && !s.running ? s : null;
      }, 5_000, 'first verification');
      assert.equal(v.state, 'verified', v.summary);
      assert.equal(v.checked_through, (await h.get('/api/health')).body.head.last_id);
      assert.ok(Date.parse(v.checked_at) > 0);
      assert.equal(v.report.chainOk, true);
      // Tamper as the owner, bypassing the append-only trigger (what an attacker with DB access does).
      await h.db.exec(`ALTER TABLE ledger DISABLE TRIGGER ledger_append_only;
        UPDATE ledger SET amount = amount + 1 WHERE id = (SELECT min(id) FROM ledger WHERE kind = 'transfer');
        ALTER TABLE ledger ENABLE TRIGGER ledger_append_only;`);
      // Cached: the status still shows the earlier result until a run (interval not elapsed).
      assert.equal((await h.get('/api/verification')).body.state, 'verified');
      const after = await h.bridge.context.verifier.run();
      assert.equal(after.state, 'broken');
      assert.match(after.summary, /BROKEN/);
      assert.ok(after.report!.badRows.some((r) => r.problem === 'HASH_MISMATCH'));
      assert.equal((await h.get('/api/verification')).body.state, 'broken');
    });
  });
});
