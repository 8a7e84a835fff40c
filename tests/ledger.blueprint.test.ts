import { strict as assert } from 'node:assert';
import { forEachBackend } from './support/backends';
import { initBlueprint, transfer, balance, count } from './support/fixtures';
import { LedgerWriter } from '../db/writer';
import { replay } from '../db/replay';
import { LAW_VERSION } from '../validator';

forEachBackend('ledger: the blueprint scenarios', (b) => {
  it('GIVEN A holds 100 and B holds 50 WHEN A transfers 30 to B THEN A has 70, B has 80 and one row is appended', async () => {
    const db = await b.fresh();
    await initBlueprint(db);
    const w = new LedgerWriter(db);
    const before = await count(db, 'ledger');
    const r = await w.apply(transfer('A', 'B', 30));
    assert.equal(r.status, 'applied');
    assert.equal(await balance(db, 'A'), 70n);
    assert.equal(await balance(db, 'B'), 80n);
    assert.equal((await count(db, 'ledger')) - before, 1);
    const row = (await db.query<any>('SELECT validator_version, amount FROM ledger ORDER BY id DESC LIMIT 1')).rows[0];
    assert.equal(row.validator_version, LAW_VERSION);
    assert.equal(BigInt(row.amount), 30n);
  });

  it('GIVEN A holds 100 WHEN A proposes to transfer 150 THEN it is rejected INSUFFICIENT_BALANCE and only a rejection is written', async () => {
    const db = await b.fresh();
    await initBlueprint(db);
    const w = new LedgerWriter(db);
    const ledgerBefore = await count(db, 'ledger');
    const r = await w.apply(transfer('A', 'B', 150));
    assert.equal(r.status, 'rejected');
    assert.equal(r.status === 'rejected' && r.code, 'INSUFFICIENT_BALANCE');
    assert.equal(await count(db, 'ledger'), ledgerBefore);
    assert.equal(await balance(db, 'A'), 100n);
    assert.equal(await count(db, 'rejected_proposals'), 1);
    const rej = (await db.query<any>('SELECT code, validator_version FROM rejected_proposals')).rows[0];
    assert.deepEqual([rej.code, rej.validator_version], ['INSUFFICIENT_BALANCE', LAW_VERSION]);
  });

  it('GIVEN an applied transfer WHEN the same proposal_id and content is retried THEN one row exists and the same answer comes back flagged duplicate', async () => {
    const db = await b.fresh();
    await initBlueprint(db);
    const w = new LedgerWriter(db);
    const p = transfer('A', 'B', 30);
    const first = await w.apply(p);
    const rows = await count(db, 'ledger');
    const again = await w.apply({ ...p });
    const third = await new LedgerWriter(db).apply(JSON.stringify(p));
    assert.equal(again.status, 'applied');
    assert.equal(again.duplicate, true);
    assert.equal(third.duplicate, true);
    assert.deepEqual(again.status === 'applied' && again.entries, first.status === 'applied' && first.entries);
    assert.equal(await count(db, 'ledger'), rows);
    assert.equal(await balance(db, 'A'), 70n);
  });

  it('GIVEN an applied transfer WHEN its proposal_id is reused for other content THEN ID_CONFLICT and nothing moves', async () => {
    const db = await b.fresh();
    await initBlueprint(db);
    const w = new LedgerWriter(db);
    const p = transfer('A', 'B', 30);
    await w.apply(p);
    const r = await w.apply({ ...p, amount: 31 });
    assert.equal(r.status === 'rejected' && r.code, 'ID_CONFLICT');
    assert.equal(await balance(db, 'A'), 70n);
  });

  it('GIVEN a rejected proposal WHEN it is retried with the same id and content THEN nothing new is written', async () => {
    const db = await b.fresh();
    await initBlueprint(db);
    const w = new LedgerWriter(db);
    const p = transfer('A', 'B', 1000);
    await w.apply(p);
    const again = await w.apply(p);
    assert.equal(again.status === 'rejected' && again.code, 'INSUFFICIENT_BALANCE');
    assert.equal(again.duplicate, true);
    assert.equal(await count(db, 'rejected_proposals'), 1);
    assert.equal(await count(db, 'outbox'), 1);
  });

  it('GIVEN an unknown actor WHEN it is named as the recipient THEN UNKNOWN_ACTOR and the ledger is untouched', async () => {
    const db = await b.fresh();
    await initBlueprint(db);
    const w = new LedgerWriter(db);
    const rows = await count(db, 'ledger');
    const r = await w.apply(transfer('A', 'ZED', 10));
    assert.equal(r.status === 'rejected' && r.code, 'UNKNOWN_ACTOR');
    assert.equal(await count(db, 'ledger'), rows);
  });

  it('GIVEN a batch with a bad proposal in the middle WHEN applied THEN the others apply, in order, and replay equals the cache', async () => {
    const db = await b.fresh();
    await initBlueprint(db);
    const w = new LedgerWriter(db);
    const res = await w.applyBatch([transfer('A', 'B', 60), transfer('A', 'B', 60), transfer('B', 'A', 100)]);
    assert.deepEqual(res.map((r) => r.status), ['applied', 'rejected', 'applied']);
    assert.equal(await balance(db, 'A'), 140n);
    assert.equal(await balance(db, 'B'), 10n);
    const rep = await replay(db, { dryRun: true });
    assert.equal(rep.chainOk, true);
    assert.equal(rep.cacheMatches, true);
  });
});
