// The engine loop as the CLI and the n8n nodes use it: clean stop on an AbortSignal, its own
// database opened and closed from a URL, resuming a grid without reusing ids, refusing a database
// that holds another grid, a scenario without a commons (interest accrual), and tick-by-tick use.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { forEachBackend, schemaName } from './support/backends';
import { PG_URL } from './support/postgres';
import { count } from './support/fixtures';
import { runLoop, openLoop } from '../engine/loop';
import { formatSummary } from '../engine/progress';
import { packageRoot } from '../db/migrate';
import { openDb } from '../db/adapter';

forEachBackend('engine loop', (b) => {
  it('GIVEN a run of 50 ticks WHEN the signal aborts during tick 3 THEN tick 3 finishes, the loop stops cleanly and the summary says so', async () => {
    const db = await b.fresh({ migrated: true });
    const ac = new AbortController();
    const lines: string[] = [];
    const s = await runLoop({
      db,
      proposer: 'scripted',
      signal: ac.signal,
      onProgress: (line, r) => {
        lines.push(line);
        if (r.period === 3) ac.abort();
      },
    });
    assert.deepEqual([s.ticks, s.stoppedBy, lines.length], [3, 'signal', 3]);
    assert.equal(s.commons!.survivalPeriods, 3);
    assert.match(formatSummary(s), /3 ticks, stopped by signal/);
    // The regrowth of tick 3 landed: the tick was not cut in half.
    const regrowth = await db.query(`SELECT 1 FROM ledger WHERE kind = 'mint' AND metadata->>'reasoning' LIKE 'commons regrowth, period 3:%'`);
    assert.ok(regrowth.rows.length > 0);
  });

  it('GIVEN a grid that already ran WHEN the loop runs again on it THEN it resumes: new proposal ids (no ID_CONFLICT, no duplicates) and the ledger keeps growing', async () => {
    const db = await b.fresh({ migrated: true });
    const first = await runLoop({ db, proposer: 'scripted', ticks: 3, agents: 'erin=random' });
    const rows1 = await count(db, 'ledger');
    const second = await runLoop({ db, proposer: 'scripted', ticks: 3, agents: 'erin=random' });
    assert.equal(first.applied > 0 && second.applied > 0, true);
    assert.equal(second.rejectionsByCode.ID_CONFLICT, undefined);
    assert.ok((await count(db, 'ledger')) > rows1);
    const genesis = await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM ledger WHERE metadata->>'reasoning' LIKE 'genesis:%'`);
    assert.equal(genesis.rows[0].n, '13', 'genesis ran once (12 opening mints + the opening policy)');
  });

  it('GIVEN a database holding the default grid WHEN the commons loop is pointed at it THEN it refuses with SCENARIO_INVALID and writes nothing', async () => {
    const db = await b.fresh({ init: true });
    const before = await count(db, 'ledger');
    const err = await runLoop({ db, proposer: 'scripted', ticks: 1 }).catch((e) => e);
    assert.equal(err.code, 'SCENARIO_INVALID');
    assert.match(err.message, /already holds a grid without commons_reserve/);
    assert.equal(await count(db, 'ledger'), before);
  });

  it('GIVEN the default scenario (no commons, 100 bps interest) WHEN 4 ticks run THEN interest accrues once per period through the system actor and no system proposal is refused', async () => {
    const db = await b.fresh({ migrated: true });
    const s = await runLoop({ db, scenario: join(packageRoot(), 'scenarios', 'default.json'), proposer: 'scripted', ticks: 4, agents: 'random' });
    assert.equal(s.commons, null);
    assert.equal(s.systemRejected, 0);
    const periods = await db.query<{ p: string }>(`SELECT DISTINCT metadata->>'period' AS p FROM ledger WHERE kind = 'interest' ORDER BY 1`);
    assert.deepEqual(periods.rows.map((r) => r.p), ['1', '2', '3', '4']);
    assert.ok(Object.keys(s.gini).includes('credits'));
  });

  it('GIVEN openLoop WHEN ticks are driven one at a time (as an n8n node does) THEN each report carries the decisions and the reserve levels', async () => {
    const db = await b.fresh({ migrated: true });
    const loop = await openLoop({ db, proposer: 'scripted', agents: 'erin=adversarial' });
    const r = await loop.tick();
    assert.equal(r.period, 1);
    assert.equal(r.decisions.length, r.attempts);
    assert.ok(r.decisions.filter((d) => d.agent === 'erin').every((d) => d.result.status === 'rejected' && (d.result as any).code === d.expect));
    assert.deepEqual(Object.keys(r.reserves), ['commons_reserve']);
    const r2 = await loop.tick();
    assert.equal(r2.now - r.now, 1000, 'one simulated period per tick');
    const s = await loop.summary();
    assert.equal(s.ticks, 2);
    await loop.close();
  });
});

describe('engine loop: its own database', () => {
  it('GIVEN a Postgres URL and schema WHEN runLoop opens the database itself THEN it runs, closes its pool, and a second run resumes the same grid', async () => {
    const schema = schemaName('loop');
    try {
      const a = await runLoop({ databaseUrl: PG_URL, schema, proposer: 'scripted', ticks: 2 });
      const b2 = await runLoop({ databaseUrl: PG_URL, schema, proposer: 'scripted', ticks: 2 });
      assert.deepEqual([a.backend, a.ticks, b2.ticks], ['postgres', 2, 2]);
      assert.equal(b2.rejectionsByCode.ID_CONFLICT, undefined);
    } finally {
      const db = await openDb({ url: PG_URL, schema });
      await db.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await db.close();
    }
  });

  it('GIVEN impossible options WHEN the loop is opened THEN it fails with a readable SCENARIO_INVALID before touching a database', async () => {
    for (const [o, msg] of [
      [{ ticks: 0 }, /ticks must be a whole number/],
      [{ ticks: 2.5 }, /ticks must be a whole number/],
      [{ intervalMs: -1 }, /intervalMs must be within/],
      [{ scenario: '/nonexistent/scenario.json' }, /cannot read scenario/],
    ] as const) {
      const err = await runLoop({ ...o, databaseUrl: 'postgres://nobody@127.0.0.1:1/none' }).catch((e) => e);
      assert.equal(err.code, 'SCENARIO_INVALID', String(err));
      assert.match(err.message, msg);
    }
  });
});
