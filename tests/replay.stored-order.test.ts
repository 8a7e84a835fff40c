/**
 * Replay on Postgres reads the ledger as stored (db/replay/in-order.ts) through pg's socket
 * directly (db/pg-copy-out.ts). These tests scramble the stored order, break the consumer and the
 * query, and check that replay's answer never depends on any of it.
 */
import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { BACKENDS } from './support/backends';
import { grid } from './support/fixtures';
import { replay, type ReplayReport } from '../db/replay';
import { Fold } from '../db/replay/fold';
import { InOrder, TooScrambled } from '../db/replay/in-order';
import { CopyRowSplitter, ledgerSelect } from '../db/replay/copy-rows';
import { EntryEncoder } from '../db/entry-binary';
import { GENESIS_HASH } from '../db/hash';
import type { Db } from '../db/adapter';

const pg = BACKENDS.find((b) => b.name === 'postgres')!;

const t = (from: string, to: string, amount: number) => ({ proposal_id: randomUUID(), agent: from, from, to, resource: 'credits', amount });

/** What a replay concluded, without timings. */
function verdict(r: ReplayReport) {
  return { rows: r.rowsReplayed, lastId: r.lastId, head: r.headHash, chainOk: r.chainOk, cache: r.cacheMatches, headMatches: r.headMatches, checksum: r.checksum, bad: r.badRows.map((x) => `${x.id}:${x.problem}`) };
}

/** Rewrite the ledger so that it is stored in the order `order` gives (the append-only triggers are lifted meanwhile). */
async function restore(db: Db, order: string) {
  await db.exec(`ALTER TABLE ledger DISABLE TRIGGER ledger_append_only; ALTER TABLE ledger DISABLE TRIGGER ledger_no_truncate;
    CREATE TEMP TABLE scrambled AS SELECT * FROM ledger; TRUNCATE ledger;
    INSERT INTO ledger SELECT * FROM scrambled ORDER BY ${order}; DROP TABLE scrambled;
    ALTER TABLE ledger ENABLE TRIGGER ledger_append_only; ALTER TABLE ledger ENABLE TRIGGER ledger_no_truncate;`);
}

async function storedIds(db: Db): Promise<number[]> {
  return (await db.query<{ id: bigint }>('SELECT id FROM ledger WHERE id > 0')).rows.map((r) => Number(r.id));
}

describe('replay: ledger rows in stored order [postgres]', () => {
  async function ledger(n: number) {
    const g = await grid(pg);
    const r = await g.w.applyBatch(Array.from({ length: n }, (_, i) => (i % 2 ? t('B', 'A', 1 + (i % 5)) : t('A', 'B', 2 + (i % 3)))));
    assert.ok(r.every((x) => x.status === 'applied'));
    return g.db;
  }

  it('GIVEN a ledger stored in reverse id order WHEN replayed THEN rows wait for their turn and the verdict equals an id-ordered (paged) replay', async () => {
    const db = await ledger(120);
    const inOrder = verdict(await replay(db, { dryRun: true, pageRows: 1000 }));
    await restore(db, 'id DESC');
    const stored = await storedIds(db);
    assert.ok(stored[0] > stored[stored.length - 1], 'the table is really stored out of id order');
    assert.deepEqual(verdict(await replay(db, { dryRun: true })), inOrder);
    assert.equal(inOrder.chainOk, true);
  });

  it('GIVEN a ledger stored in reverse order and room for only 3 early rows WHEN replayed THEN replay falls back to reading in id order and reaches the same verdict', async () => {
    const db = await ledger(60);
    const inOrder = verdict(await replay(db, { dryRun: true, pageRows: 1000 }));
    await restore(db, 'id DESC');
    assert.deepEqual(verdict(await replay(db, { dryRun: true, maxEarlyRows: 3 })), inOrder);
  });

  it('GIVEN a shuffled stored order and a deleted row WHEN replayed (rows waiting, and with the fallback) THEN the gap and the broken link are named exactly as an id-ordered replay names them', async () => {
    const db = await ledger(80);
    const last = Number((await db.query<{ id: bigint }>('SELECT max(id) AS id FROM ledger')).rows[0].id);
    await db.exec('ALTER TABLE ledger DISABLE TRIGGER ledger_append_only');
    await db.query('DELETE FROM ledger WHERE id = $1', [last - 30]);
    await db.exec('ALTER TABLE ledger ENABLE TRIGGER ledger_append_only');
    const inOrder = verdict(await replay(db, { dryRun: true, pageRows: 1000 }));
    assert.equal(inOrder.chainOk, false);
    assert.ok(inOrder.bad.includes(`${last - 29}:ID_GAP`) && inOrder.bad.includes(`${last - 29}:BROKEN_LINK`), JSON.stringify(inOrder.bad));
    await restore(db, 'md5(id::text)');
    assert.deepEqual(verdict(await replay(db, { dryRun: true })), inOrder);
    assert.deepEqual(verdict(await replay(db, { dryRun: true, maxEarlyRows: 5 })), inOrder);
  });
});

describe('replay: COPY out through the socket [postgres]', () => {
  it('GIVEN a consumer that throws mid-stream WHEN copyOut runs on the pool and inside a transaction THEN it rejects with that error, the rest is read and dropped, and the connection (and the transaction) are usable', async () => {
    const g = await grid(pg);
    await g.w.applyBatch(Array.from({ length: 300 }, (_, i) => t(i % 2 ? 'A' : 'B', i % 2 ? 'B' : 'A', 1)));
    const boom = new Error('consumer failed');
    let seen = 0;
    const failing = (_b: Buffer, _s: number, _e: number) => {
      if (++seen === 3) throw boom;
    };
    await assert.rejects(g.db.copyOut(ledgerSelect(0n), failing), (e) => e === boom);
    assert.equal(seen, 3, 'the consumer is not called again after it threw (the rest is dropped)');
    assert.equal((await g.db.query<{ one: number }>('SELECT 1 AS one')).rows[0].one, 1);
    await g.db.transaction(async (tx) => {
      seen = 0;
      await assert.rejects(tx.copyOut(ledgerSelect(0n), failing), (e) => e === boom);
      // Still in a healthy transaction: a statement after the failed consumer succeeds.
      assert.equal((await tx.query<{ n: bigint }>('SELECT count(*) AS n FROM ledger')).rows[0].n > 300n, true);
    });
    const r = await replay(g.db, { dryRun: true });
    assert.equal(r.chainOk && r.cacheMatches, true);
  });

  it('GIVEN a COPY query the server refuses WHEN copyOut runs THEN it rejects with the server\'s error code and the connection answers the next query', async () => {
    const g = await grid(pg);
    await assert.rejects(g.db.copyOut('SELECT no_such_column FROM ledger', () => {}), (e: any) => e.code === '42703');
    await g.db.transaction(async (tx) => {
      await assert.rejects(tx.copyOut('SELECT 1/0 FROM ledger', () => {}), (e: any) => e.code === '22012' || e.code === '42703');
    }).catch((e: any) => assert.ok(['25P02', '22012'].includes(e.code), String(e))); // the aborted transaction may refuse COMMIT
    assert.equal((await g.db.query<{ one: number }>('SELECT 1 AS one')).rows[0].one, 1);
  });
});

describe('replay: InOrder', () => {
  /** `n` sealed entries as separate row buffers, in id order, and the Fold verdict from feeding them in order. */
  function rows(n: number) {
    const enc = new EntryEncoder(GENESIS_HASH, 'test-law');
    for (let i = 1; i <= n; i++) enc.append(i, 1_700_000_000_000 + i, randomUUID(), 0, 'mint', 'system', null, i % 2 ? 'A' : 'B', 'credits', BigInt(i), 'f'.repeat(64), '{}');
    const out: Buffer[] = [];
    const s = new CopyRowSplitter((b, start, end) => out.push(Buffer.from(b.subarray(start, end))));
    s.push(enc.bytes());
    s.finish();
    return out;
  }
  function feed(order: Buffer[], maxEarly: number) {
    const fold = new Fold(100);
    const io = new InOrder(fold, maxEarly);
    const s = new CopyRowSplitter((b, start, end, off, len) => io.row(b, start, end, off, len));
    const header = Buffer.from([0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    s.push(Buffer.concat([header, ...order, Buffer.from([0xff, 0xff])]));
    s.finish();
    io.finish();
    fold.finish();
    return { rows: fold.rows, bad: fold.bad.map((x) => `${x.id}:${x.problem}`), head: fold.prevHash, last: fold.lastId, balances: fold.world.allBalances().map((x) => x.join('/')) };
  }

  it('GIVEN sealed rows in any order WHEN fed through InOrder with room for all of them THEN the fold equals feeding them in id order', () => {
    const base = rows(40);
    const expected = feed(base, 1000);
    assert.deepEqual(expected.bad, []);
    fc.assert(
      fc.property(fc.shuffledSubarray(base.map((_, i) => i), { minLength: base.length, maxLength: base.length }), (perm) => {
        assert.deepEqual(feed(perm.map((i) => base[i]), 1000), expected);
      }),
      { numRuns: 60, seed: 7 },
    );
  });

  it('GIVEN rows with one missing WHEN fed out of order THEN the rows after the gap are folded at the end and the first of them is named', () => {
    const base = rows(12);
    const withGap = base.filter((_, i) => i !== 5);
    const r = feed([...withGap].reverse(), 1000);
    assert.deepEqual(r.bad, ['7:ID_GAP', '7:BROKEN_LINK']);
    assert.equal(r.rows, 11);
  });

  it('GIVEN more early rows than allowed WHEN fed THEN TooScrambled is thrown before any of them is folded out of turn', () => {
    const base = rows(10);
    assert.throws(() => feed([...base].reverse(), 3), (e) => e instanceof TooScrambled);
  });
});
