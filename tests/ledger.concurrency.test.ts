import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { forEachBackend } from './support/backends';
import { manyAccounts, rng } from './support/many-accounts';
import { initGrid } from '../engine/init';
import { LedgerWriter, type ApplyResult } from '../db/writer';
import { openDb } from '../db/adapter';
import { replay } from '../db/replay';

forEachBackend('ledger: concurrent writers', (b) => {
  // Real Postgres gets the full load the issue asks for; PGlite (one connection) a smaller one.
  const writers = 8;
  const perWriter = b.name === 'postgres' ? 1000 : 100;

  it(`GIVEN 50 accounts WHEN ${writers} writers each apply ${perWriter} random transfers at once THEN every resource is conserved exactly, no balance is negative, the chain verifies and replay equals the cache`, async function () {
    this.timeout(180_000);
    const db = await b.fresh({ migrated: true });
    const { agents, total, scenario } = manyAccounts(50, 1000);
    await initGrid(db, scenario);
    // Each writer has its own connection pool, as separate processes would.
    const conns = b.name === 'postgres' ? await Promise.all(Array.from({ length: writers }, () => openDb({ url: b.url, schema: db.schema, poolSize: 2 }))) : Array.from({ length: writers }, () => db);
    const results: ApplyResult[] = [];
    try {
      await Promise.all(
        conns.map(async (conn, w) => {
          const writer = new LedgerWriter(conn);
          const next = rng(1000 + w);
          for (let i = 0; i < perWriter; i++) {
            const from = agents[Math.floor(next() * agents.length)];
            let to = agents[Math.floor(next() * agents.length)];
            if (to === from) to = agents[(agents.indexOf(from) + 1) % agents.length];
            const amount = 1 + Math.floor(next() * 400);
            results.push(await writer.apply({ proposal_id: randomUUID(), agent: from, from, to, resource: 'credits', amount }));
          }
        }),
      );
    } finally {
      if (b.name === 'postgres') await Promise.all(conns.map((c) => c.close()));
    }
    assert.equal(results.length, writers * perWriter);
    const applied = results.filter((r) => r.status === 'applied').length;
    assert.ok(applied > 0, 'some transfers must apply');
    const sum = await db.query<{ s: bigint; neg: bigint }>(`SELECT sum(amount)::bigint AS s, count(*) FILTER (WHERE amount < 0)::bigint AS neg FROM balances WHERE resource = 'credits'`);
    assert.equal(BigInt(sum.rows[0].s), total, 'credits conserved exactly');
    assert.equal(Number(sum.rows[0].neg), 0, 'no negative balance');
    const ids = await db.query<{ n: bigint; d: bigint; maxid: bigint }>(`SELECT count(*)::bigint AS n, count(DISTINCT id)::bigint AS d, max(id) AS maxid FROM ledger`);
    assert.equal(BigInt(ids.rows[0].n), BigInt(ids.rows[0].maxid), 'ids are gap-free: the chain did not fork');
    const rep = await replay(db, { dryRun: true });
    assert.equal(rep.chainOk, true, JSON.stringify(rep.badRows.slice(0, 3)));
    assert.equal(rep.cacheMatches, true, JSON.stringify(rep.diffs.slice(0, 3)));
    assert.equal(rep.headMatches, true);
    assert.ok(Object.values(rep.conservation).every((c) => c.ok));
    const rej = await db.query<{ n: bigint }>('SELECT count(*)::bigint AS n FROM rejected_proposals');
    assert.equal(Number(rej.rows[0].n), results.length - applied, 'every rejection recorded once');
  });
});
