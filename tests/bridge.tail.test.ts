/**
 * The bridge's tail cursors in isolation (no database): rejection/alert ids from sequences may
 * commit out of order or never (rollback), ledger ids may not — a missing one holds the tail back
 * and, if it stays missing, raises LEDGER_GAP once.
 */
import assert from 'node:assert/strict';
import { HoleCursor, FeedTail } from '../streamlit-bridge/tail';
import type { Queryable } from '../db/adapter';
import { LIMITS } from '../validator/limits';

const rows = (...ids: number[]) => ids.map((id) => ({ id: String(id) }));

describe('bridge tail: HoleCursor', () => {
  it('GIVEN ids 1,2,5 WHEN accepted THEN 3 and 4 are holes, and a late 4 is delivered once', () => {
    const c = new HoleCursor(0n, 1_000, 100);
    assert.deepEqual(c.accept(rows(1, 2, 5), 0).map((r) => r.id), ['1', '2', '5']);
    assert.deepEqual(c.pending(0), [3n, 4n]);
    assert.deepEqual(c.accept(rows(4), 10).map((r) => r.id), ['4']);
    assert.deepEqual(c.accept(rows(4, 5), 20), [], 'already delivered ids are not delivered again');
    assert.deepEqual(c.pending(20), [3n]);
  });

  it('GIVEN a hole older than its TTL WHEN pending is asked THEN it is given up', () => {
    const c = new HoleCursor(0n, 1_000, 100);
    c.accept(rows(2), 0);
    assert.deepEqual(c.pending(999), [1n]);
    assert.deepEqual(c.pending(1_000), []);
    assert.deepEqual(c.accept(rows(1), 1_001), [], 'a given-up id arriving later is below the cursor');
  });

  it('GIVEN a sequence jump of a million WHEN accepted THEN only maxHoles ids are tracked', () => {
    const c = new HoleCursor(0n, 1_000, 50);
    c.accept(rows(1_000_001), 0);
    assert.equal(c.holeCount, 50);
    assert.equal(c.pending(0)[0], 1_000_001n - 50n);
  });
});

/** A Queryable answering the tail's three feed queries from arrays. */
function fakeDb(feed: { ledger: number[] }): Queryable {
  return {
    async query(sql: string, params?: readonly unknown[]) {
      if (/FROM ledger_feed/.test(sql)) {
        const after = Number(params![0]);
        const out = feed.ledger.filter((id) => id > after).slice(0, Number(params![1])).map((id) => ({
          id: BigInt(id), proposal_id: 'p' + id, leg: 0, kind: 'transfer', agent: 'a', from_actor: 'a', to_actor: 'b',
          resource: 'credits', amount: 1n, validator_version: 'v', at_ms: BigInt(1_000 + id), metadata: {}, prev_hash: '', hash: '',
        }));
        return { rows: out as any[], rowCount: out.length };
      }
      if (/max\(id\)/.test(sql)) return { rows: [{ id: null }] as any[], rowCount: 1 };
      return { rows: [], rowCount: 0 };
    },
  };
}

describe('bridge tail: ledger order', () => {
  it('GIVEN ledger ids 1,2,4 WHEN polled THEN only 1,2 are handed out until 3 appears, then 3,4', async () => {
    const feed = { ledger: [1, 2, 4] };
    const t = { now: 0 };
    const tail = new FeedTail(fakeDb(feed), { batchRows: 10, now: () => t.now });
    const got: string[] = [];
    const notices: string[] = [];
    tail.on({ ledger: (rs) => got.push(...rs.map((r) => r.id)), notice: (n) => notices.push(n.code) });
    await tail.pollOnce();
    assert.deepEqual(got, ['1', '2']);
    assert.equal(tail.lastLedgerId, 2n);
    feed.ledger = [1, 2, 3, 4];
    await tail.pollOnce();
    assert.deepEqual(got, ['1', '2', '3', '4']);
    assert.deepEqual(notices, []);
  });

  it(`GIVEN a ledger id missing for ${LIMITS.bridge.ledgerGapAlertMs} ms WHEN polled THEN one LEDGER_GAP notice is raised`, async () => {
    const t = { now: 0 };
    const tail = new FeedTail(fakeDb({ ledger: [1, 3] }), { batchRows: 10, now: () => t.now });
    const notices: Array<{ code: string; message: string }> = [];
    tail.on({ notice: (n) => notices.push(n) });
    await tail.pollOnce();
    t.now = LIMITS.bridge.ledgerGapAlertMs - 1;
    await tail.pollOnce();
    assert.equal(notices.length, 0);
    t.now = LIMITS.bridge.ledgerGapAlertMs;
    await tail.pollOnce();
    t.now += 10_000;
    await tail.pollOnce();
    assert.equal(notices.length, 1);
    assert.equal(notices[0].code, 'LEDGER_GAP');
    assert.match(notices[0].message, /entry 2 has not appeared/);
  });

  it('GIVEN a full page WHEN polled THEN the next page is read at once (catch-up without waiting)', async () => {
    const ids = Array.from({ length: 25 }, (_, i) => i + 1);
    const tail = new FeedTail(fakeDb({ ledger: ids }), { batchRows: 10 });
    const batches: number[] = [];
    tail.on({ ledger: (rs) => batches.push(rs.length) });
    await tail.pollOnce();
    assert.deepEqual(batches, [10, 10, 5]);
    assert.equal(tail.lastLedgerId, 25n);
  });
});
