import { strict as assert } from 'node:assert';
import { forEachBackend } from './support/backends';
import { initBlueprint, transfer } from './support/fixtures';
import { LedgerWriter } from '../db/writer';
import { replay } from '../db/replay';
import { openDb } from '../db/adapter';
import { GridError } from '../db/errors';

forEachBackend('ledger: append-only and tamper evidence', (b) => {
  async function seeded() {
    const db = await b.fresh();
    await initBlueprint(db);
    const w = new LedgerWriter(db);
    for (let i = 0; i < 5; i++) await w.apply(transfer('A', 'B', 1 + i));
    return db;
  }

  it('GIVEN a ledger WHEN a row is updated, deleted or the table truncated THEN the database refuses', async () => {
    const db = await seeded();
    await assert.rejects(db.query('UPDATE ledger SET amount = amount + 1 WHERE id = 3'), /append-only/);
    await assert.rejects(db.query('DELETE FROM ledger WHERE id = 3'), /append-only/);
    await assert.rejects(db.query('TRUNCATE ledger'), /append-only/);
    await new LedgerWriter(db).apply(transfer('A', 'B', 10_000)); // one rejection, so row triggers fire
    await assert.rejects(db.query('DELETE FROM rejected_proposals'), /append-only/);
    await assert.rejects(db.query(`UPDATE rejected_proposals SET code = 'X'`), /append-only/);
    const r = await replay(db, { dryRun: true });
    assert.equal(r.chainOk, true);
  });

  it('GIVEN a row altered with the trigger disabled WHEN verified THEN the row is named and replay refuses to rebuild the cache', async () => {
    const db = await seeded();
    const last = (await db.query<{ id: bigint }>('SELECT max(id) AS id FROM ledger')).rows[0].id;
    const victim = BigInt(last) - 2n;
    await db.exec('ALTER TABLE ledger DISABLE TRIGGER ledger_append_only');
    await db.query('UPDATE ledger SET amount = amount + 1 WHERE id = $1', [victim]);
    await db.exec('ALTER TABLE ledger ENABLE TRIGGER ledger_append_only');
    const r = await replay(db, { dryRun: true });
    assert.equal(r.chainOk, false);
    // Only the altered row is named: its successor still links to the hash stored on it.
    assert.deepEqual(
      r.badRows.map((x) => [x.id, x.problem]),
      [[victim.toString(), 'HASH_MISMATCH']],
    );
    await assert.rejects(replay(db), (e: unknown) => e instanceof GridError && e.code === 'CHAIN_BROKEN');
  });

  it('GIVEN a row deleted with the trigger disabled WHEN verified THEN the gap and the broken link are named', async () => {
    const db = await seeded();
    const last = BigInt((await db.query<{ id: bigint }>('SELECT max(id) AS id FROM ledger')).rows[0].id);
    await db.exec('ALTER TABLE ledger DISABLE TRIGGER ledger_append_only');
    await db.query('DELETE FROM ledger WHERE id = $1', [last - 1n]);
    await db.exec('ALTER TABLE ledger ENABLE TRIGGER ledger_append_only');
    const r = await replay(db, { dryRun: true });
    assert.equal(r.chainOk, false);
    const problems = r.badRows.filter((x) => x.id === last.toString()).map((x) => x.problem);
    assert.ok(problems.includes('ID_GAP') && problems.includes('BROKEN_LINK'), JSON.stringify(r.badRows));
  });

  it('GIVEN a cache edited behind the ledger\'s back WHEN replayed THEN the drift is reported and repaired from the ledger', async () => {
    const db = await seeded();
    await db.query(`UPDATE balances SET amount = amount + 7 WHERE actor = 'A' AND resource = 'credits'`);
    const dry = await replay(db, { dryRun: true });
    assert.equal(dry.chainOk, true);
    assert.equal(dry.cacheMatches, false);
    assert.deepEqual(dry.diffs.map((d) => [d.actor, d.resource]), [['A', 'credits']]);
    const fixed = await replay(db);
    assert.equal(fixed.wroteCache, true);
    const again = await replay(db, { dryRun: true });
    assert.equal(again.cacheMatches, true);
    assert.equal(again.checksum, dry.checksum);
  });

  if (b.name === 'postgres') {
    it('GIVEN the grid_writer role WHEN it applies proposals THEN it can append (arrays and COPY) and verify but cannot update or delete ledger rows', async () => {
      const db = await seeded();
      const asWriter = await openDb({ url: b.url, schema: db.schema, role: 'grid_writer', poolSize: 1 });
      try {
        const r = await new LedgerWriter(asWriter).apply(transfer('A', 'B', 1));
        assert.equal(r.status, 'applied');
        // A batch large enough to be appended with COPY goes through the same privileges.
        const many = await new LedgerWriter(asWriter).applyBatch(Array.from({ length: 70 }, (_, i) => transfer(i % 2 ? 'A' : 'B', i % 2 ? 'B' : 'A', 1)));
        assert.deepEqual([...new Set(many.map((x) => x.status))], ['applied']);
        assert.equal((await replay(asWriter, { dryRun: true })).chainOk, true);
        await assert.rejects(asWriter.query('UPDATE ledger SET amount = 1 WHERE id = 1'), (e: any) => e.code === '42501');
        await assert.rejects(asWriter.query('DELETE FROM ledger WHERE id = 1'), (e: any) => e.code === '42501');
        await assert.rejects(asWriter.query(`UPDATE actors SET kind = 'human' WHERE id = 'A'`), (e: any) => e.code === '42501');
        const priv = await db.query<{ u: boolean; d: boolean; i: boolean }>(
          `SELECT has_table_privilege('grid_writer', 'ledger', 'UPDATE') AS u, has_table_privilege('grid_writer', 'ledger', 'DELETE') AS d, has_table_privilege('grid_writer', 'ledger', 'INSERT') AS i`,
        );
        assert.deepEqual(priv.rows[0], { u: false, d: false, i: true });
      } finally {
        await asWriter.close();
      }
    });
  }
});
