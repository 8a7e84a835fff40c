/**
 * Chain v1 rows (written before migration 0008) followed by v2 rows, on PGlite and on real
 * Postgres: the mixed chain verifies, an upgrade through 0007's own grid_commit verifies without
 * a replay, and tampering with either kind of row is named.
 */
import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { forEachBackend } from './support/backends';
import { assertSound, balance, blueprint, Clock, code, codes, count, grid } from './support/fixtures';
import { initGrid } from '../engine/init';
import { migrate, loadMigrations } from '../db/migrate';
import { textArray, intArray } from '../db/pg-array';
import { DEFAULT_POLICY, policyToJson } from '../validator';
import { entryHash, GENESIS_HASH, sha256Hex } from '../db/hash';
import { canonicalJson } from '../validator/canonical';
import { LedgerWriter } from '../db/writer';
import { replay } from '../db/replay';
import type { Db } from '../db/adapter';

// ---- v1 rows before v2 rows --------------------------------------------------------------------

/** The blueprint's registry without opening balances: migrated and registered, no ledger row. */
const registryOnly = () => ({ ...blueprint(), name: 'v1-history', balances: [] });

interface V1Row {
  kind: 'mint' | 'transfer' | 'burn';
  agent: string;
  from: string | null;
  to: string | null;
  resource: string;
  amount: bigint;
  metadata: Record<string, unknown>;
}

/** Writes `rows` as the v1 writer did (text hash, db/hash.ts entryHash), ids 1…, whole milliseconds, chained from genesis. */
async function writeV1(db: Db, rows: V1Row[], t0: number): Promise<{ head: string; ids: bigint[] }> {
  let prev = GENESIS_HASH;
  const ids: bigint[] = [];
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    const id = BigInt(i + 1);
    const at = t0 + i * 1000 + 7; // whole ms, not whole seconds
    const e = {
      id,
      executed_at: at,
      proposal_id: randomUUID(),
      leg: 0,
      kind: r.kind,
      agent: r.agent,
      from: r.from,
      to: r.to,
      resource: r.resource,
      amount: r.amount,
      validator_version: '0.0.9+old.law-v1',
      proposal_hash: sha256Hex(`v1 proposal ${i}`),
      metadata: r.metadata,
      prev_hash: prev,
    };
    const hash = entryHash(e as any);
    await db.query(
      `INSERT INTO ledger (id, proposal_id, leg, kind, agent, from_actor, to_actor, resource, amount, validator_version, executed_at, proposal_hash, metadata, prev_hash, hash, hash_version)
       VALUES ($1, $2, 0, $3, $4, $5, $6, $7, $8, $9, timestamptz 'epoch' + $10::bigint * interval '1 millisecond', $11, $12::jsonb, decode($13, 'hex'), decode($14, 'hex'), 1)`,
      [id, e.proposal_id, e.kind, e.agent, e.from, e.to, e.resource, e.amount, e.validator_version, at, e.proposal_hash, JSON.stringify(e.metadata), prev, hash],
    );
    prev = hash;
    ids.push(id);
  }
  return { head: prev, ids };
}

forEachBackend('ledger: chain v1 rows followed by v2 rows', (b) => {
  async function mixedGrid() {
    const db = await b.fresh();
    const init = await initGrid(db, registryOnly());
    assert.equal(init.genesis.applied, 0);
    assert.equal(await count(db, 'ledger'), 0, 'a registry without balances writes no ledger row');
    const t0 = Date.now() - 86_400_000;
    const v1 = await writeV1(
      db,
      [
        { kind: 'mint', agent: 'system', from: null, to: 'A', resource: 'credits', amount: 100n, metadata: { reasoning: 'genesis | "v1" \\ ✓ 🦄' } },
        { kind: 'mint', agent: 'system', from: null, to: 'B', resource: 'credits', amount: 50n, metadata: {} },
        { kind: 'mint', agent: 'system', from: null, to: 'A', resource: 'energy', amount: 1000n, metadata: { z: 1, a: [1, 'two', { k: null }] } },
        { kind: 'transfer', agent: 'A', from: 'A', to: 'B', resource: 'credits', amount: 10n, metadata: { reasoning: 'pipe|quote"' } },
        { kind: 'burn', agent: 'system', from: 'B', to: null, resource: 'credits', amount: 5n, metadata: {} },
      ],
      t0,
    );
    // The caches are rebuilt from the v1 rows (not a dry run).
    const rebuilt = await replay(db);
    assert.deepEqual(rebuilt.badRows, []);
    assert.equal(rebuilt.chainOk, true);
    assert.equal(rebuilt.wroteCache, true);
    assert.equal(rebuilt.headHash, v1.head);
    assert.deepEqual([await balance(db, 'A'), await balance(db, 'B'), await balance(db, 'A', 'energy')], [90n, 55n, 1000n]);
    // Then v2 rows from the writer on top: transfers (COPY and arrays), a mint, a policy_set.
    const clock = new Clock();
    const w = new LedgerWriter(db, { clock: clock.now });
    const t = (from: string, to: string, amount: number, reasoning?: string) => ({ proposal_id: randomUUID(), agent: from, from, to, resource: 'credits', amount, ...(reasoning ? { reasoning } : {}) });
    const r1 = await w.applyBatch([t('A', 'B', 5, 'v2 | "first"'), t('B', 'C', 3)]);
    const r2 = await w.applyBatch([{ kind: 'mint', proposal_id: randomUUID(), agent: 'system', to: 'C', resource: 'credits', amount: 7 }]);
    clock.t += 1000;
    const r3 = await w.applyBatch([{ kind: 'policy_set', proposal_id: randomUUID(), agent: 'council', patch: { rate_limit: { max_actions: 1000, window_ms: 60_000 } } }]);
    clock.t += 1000;
    const r4 = await w.applyBatch(Array.from({ length: 66 }, (_, i) => (i % 2 ? t('B', 'A', 1) : t('A', 'B', 1, `copy ${i} | ✓`))));
    assert.deepEqual([...r1, ...r2, ...r3, ...r4].map(code), Array(2 + 1 + 1 + 66).fill('applied'));
    const rep = await assertSound(db);
    assert.equal(rep.rowsReplayed, 5 + 2 + 1 + 1 + 66);
    const versions = (await db.query<{ v: number; n: bigint }>('SELECT hash_version AS v, count(*)::bigint AS n FROM ledger GROUP BY 1 ORDER BY 1')).rows.map((x) => [Number(x.v), Number(x.n)]);
    assert.deepEqual(versions, [
      [1, 5],
      [2, 70],
    ]);
    return { db, v1, rep };
  }

  /** Dry-run replay's bad rows as [id, problem] pairs. */
  async function problems(db: Db): Promise<Array<[string, string]>> {
    const r = await replay(db, { dryRun: true });
    return r.badRows.map((x) => [x.id, x.problem]);
  }

  /** Runs `sql` with the append-only trigger disabled. */
  async function tamper(db: Db, sql: string, params: unknown[] = []) {
    await db.exec('ALTER TABLE ledger DISABLE TRIGGER ledger_append_only');
    try {
      await db.query(sql, params);
    } finally {
      await db.exec('ALTER TABLE ledger ENABLE TRIGGER ledger_append_only');
    }
  }

  const idOf = async (db: Db, where: string) => BigInt((await db.query<{ id: bigint }>(`SELECT min(id) AS id FROM ledger WHERE ${where}`)).rows[0].id);

  it('GIVEN a grid whose first rows are chain v1 (text hash, whole ms) WHEN the caches are rebuilt and the writer appends v2 rows (COPY and arrays) THEN the mixed chain verifies', async () => {
    const { db, v1, rep } = await mixedGrid();
    assert.equal(rep.chainOk, true);
    // The report counts rows by the chain version they state (what `grid verify` prints).
    assert.deepEqual(rep.hashVersions, { v1: 5, v2: 70, other: 0 });
    // The first v2 row links to the last v1 row.
    const link = (await db.query<{ p: string; v: number }>(`SELECT encode(prev_hash, 'hex') AS p, hash_version AS v FROM ledger WHERE id = 6`)).rows[0];
    assert.deepEqual([link.p, Number(link.v)], [v1.head, 2]);
    assert.deepEqual([await balance(db, 'A'), await balance(db, 'B'), await balance(db, 'C')], [85n, 57n, 10n]);
  });

  it('GIVEN a grid written before migration 0008 (v1 hashes appended by 0007\'s grid_commit) WHEN 0008 is applied and the new writer goes on without a replay THEN the old rows read as hash_version 1 and the whole chain, cache and head verify', async () => {
    const db = await b.fresh({ migrated: false });
    const migrations = loadMigrations();
    assert.equal(migrations[7]?.name, 'binary_chain');
    await migrate(db, migrations.slice(0, 7));
    const reg = registryOnly();
    await db.query('INSERT INTO resources (id, unit) SELECT * FROM unnest($1::text[], $2::text[])', [reg.resources.map((r) => r.id), reg.resources.map((r) => r.unit)]);
    await db.query('INSERT INTO actors (id, kind) SELECT * FROM unnest($1::text[], $2::text[])', [reg.actors.map((a) => a.id), reg.actors.map((a) => a.kind)]);
    await db.query(`INSERT INTO policies (version, policy) VALUES (1, $1::jsonb) ON CONFLICT (version) DO NOTHING`, [JSON.stringify(policyToJson(DEFAULT_POLICY))]);
    /** One batch through 0007's grid_commit, hashed as the v1 writer did (db/hash.ts). */
    const vv = '0.1.0+0000000v1.law-old';
    const v1Batch = async (atMs: number, rows: V1Row[], deltas: Array<[string, string, bigint]>) => {
      const head = (await db.query<any>(`SELECT last_id, encode(last_hash, 'hex') AS h, state_version::text AS v FROM ledger_head`)).rows[0];
      let prev: string = head.h;
      const firstId = BigInt(head.last_id) + 1n;
      const ids = rows.map(() => randomUUID());
      const hashes = rows.map((r, i) => {
        prev = entryHash({
          id: firstId + BigInt(i), executed_at: atMs, proposal_id: ids[i], leg: 0, kind: r.kind, agent: r.agent, from: r.from, to: r.to,
          resource: r.resource, amount: r.amount, validator_version: vv, proposal_hash: sha256Hex(ids[i]), metadata: r.metadata, prev_hash: prev,
        } as any);
        return prev;
      });
      await db.query(
        `SELECT grid_commit($1::uuid, $2::uuid, false, $3::bigint, $4::bigint, $5::uuid[], $6::int[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::bigint[], $13,
                            $14::text[], $15::text[], decode($16, 'hex'), $17::text[], $18::text[], $19::bigint[], '{}'::uuid[], '{}', '{}', '{}', '{}', '{}', '{}', '{}')`,
        [
          head.v, randomUUID(), firstId, atMs, textArray(ids), intArray(rows.map(() => 0)), textArray(rows.map((r) => r.kind)), textArray(rows.map((r) => r.agent)),
          textArray(rows.map((r) => r.from)), textArray(rows.map((r) => r.to)), textArray(rows.map((r) => r.resource)), intArray(rows.map((r) => r.amount)), vv,
          textArray(ids.map((id) => sha256Hex(id))), textArray(rows.map((r) => canonicalJson(r.metadata))), hashes.join(''),
          textArray(deltas.map((d) => d[0])), textArray(deltas.map((d) => d[1])), intArray(deltas.map((d) => d[2])),
        ],
      );
    };
    const t0 = Date.now() - 3_600_000;
    await v1Batch(t0, [
      { kind: 'mint', agent: 'system', from: null, to: 'A', resource: 'credits', amount: 100n, metadata: { reasoning: 'genesis: opening balance | "v1" ✓' } },
      { kind: 'mint', agent: 'system', from: null, to: 'B', resource: 'credits', amount: 50n, metadata: { reasoning: 'genesis' } },
      { kind: 'mint', agent: 'system', from: null, to: 'A', resource: 'energy', amount: 1000n, metadata: {} },
    ], [['A', 'credits', 100n], ['B', 'credits', 50n], ['A', 'energy', 1000n]]);
    await v1Batch(t0 + 1, [
      { kind: 'transfer', agent: 'A', from: 'A', to: 'B', resource: 'credits', amount: 10n, metadata: { reasoning: 'a\\b "c" | d 🦄' } },
      { kind: 'transfer', agent: 'B', from: 'B', to: 'C', resource: 'credits', amount: 5n, metadata: {} },
    ], [['A', 'credits', -10n], ['B', 'credits', 5n], ['C', 'credits', 5n]]);
    assert.equal(await count(db, 'ledger'), 5);

    const up = await migrate(db);
    assert.deepEqual(up.applied, ['0008_binary_chain']);
    const versions = async () => (await db.query<{ v: number; n: bigint }>('SELECT hash_version AS v, count(*)::bigint AS n FROM ledger GROUP BY 1 ORDER BY 1')).rows.map((x) => [Number(x.v), Number(x.n)]);
    assert.deepEqual(await versions(), [[1, 5]]);
    const clock = new Clock();
    const w = new LedgerWriter(db, { clock: clock.now });
    const tr = (from: string, to: string, amount: number, reasoning?: string) => ({ proposal_id: randomUUID(), agent: from, from, to, resource: 'credits', amount, ...(reasoning ? { reasoning } : {}) });
    assert.deepEqual(codes(await w.applyBatch([tr('A', 'C', 7, 'after the upgrade | ✓')])), ['applied']);
    assert.deepEqual(codes(await w.applyBatch(Array.from({ length: 64 }, (_, i) => (i % 2 ? tr('B', 'A', 1) : tr('A', 'B', 1, `copy ${i}`))))), Array(64).fill('applied'));
    assert.deepEqual(codes([await w.apply(tr('C', 'A', 2))]), ['applied']);
    const rep = await assertSound(db);
    assert.equal(rep.rowsReplayed, 5 + 1 + 64 + 1);
    assert.deepEqual(await versions(), [[1, 5], [2, 66]]);
    // A: 90 - 7 + 2; B: 55; C: 5 + 7 - 2.
    assert.deepEqual([await balance(db, 'A'), await balance(db, 'B'), await balance(db, 'C')], [85n, 55n, 10n]);
  });

  it('GIVEN the mixed v1/v2 chain WHEN single fields are altered behind the trigger (v1 amount, v1 sub-millisecond time, v2 hash_version, v2 time by 1 µs, v2 NULL vs \'\') THEN each altered row is named HASH_MISMATCH by id, and restoring it verifies again', async () => {
    const { db } = await mixedGrid();
    const v1Mint = await idOf(db, `hash_version = 1 AND kind = 'mint'`);
    const v1Transfer = await idOf(db, `hash_version = 1 AND kind = 'transfer'`);
    const v2Transfer = await idOf(db, `hash_version = 2 AND kind = 'transfer'`);
    const v2Mid = v2Transfer + 1n; // not the last row: its successor has the same millisecond
    const v2Mint = await idOf(db, `hash_version = 2 AND kind = 'mint'`);
    const v2Policy = await idOf(db, `hash_version = 2 AND kind = 'policy_set'`);
    const cases: Array<{ what: string; id: bigint; set: string; undo: string; exactly?: boolean }> = [
      { what: 'v1 amount + 1', id: v1Mint, set: 'amount = amount + 1', undo: 'amount = amount - 1', exactly: true },
      { what: 'v1 amount of a transfer - 1', id: v1Transfer, set: 'amount = amount - 1', undo: 'amount = amount + 1', exactly: true },
      { what: 'v1 executed_at + 0.4 ms', id: v1Transfer, set: `executed_at = executed_at + interval '0.4 ms'`, undo: `executed_at = executed_at - interval '0.4 ms'`, exactly: true },
      { what: 'v1 metadata z: 1 → 2', id: v1Mint + 2n, set: `metadata = '{"a": [1, "two", {"k": null}], "z": 2}'::jsonb`, undo: `metadata = '{"z": 1, "a": [1, "two", {"k": null}]}'::jsonb`, exactly: true },
      { what: 'v2 hash_version 2 → 1', id: v2Transfer, set: 'hash_version = 1', undo: 'hash_version = 2', exactly: true },
      { what: 'v2 executed_at + 1 µs', id: v2Mid, set: `executed_at = executed_at + interval '1 microsecond'`, undo: `executed_at = executed_at - interval '1 microsecond'`, exactly: true },
      { what: 'v2 metadata reasoning', id: v2Transfer, set: `metadata = jsonb_set(metadata, '{reasoning}', '"v2 | \\"First\\""')`, undo: `metadata = jsonb_set(metadata, '{reasoning}', '"v2 | \\"first\\""')`, exactly: true },
      { what: 'v2 policy_set from_actor NULL → \'\'', id: v2Policy, set: `from_actor = ''`, undo: 'from_actor = NULL', exactly: true },
      { what: 'v2 policy_set to_actor NULL → \'\'', id: v2Policy, set: `to_actor = ''`, undo: 'to_actor = NULL', exactly: true },
      { what: 'v2 mint from_actor NULL → \'\'', id: v2Mint, set: `from_actor = ''`, undo: 'from_actor = NULL' },
    ];
    assert.deepEqual(await problems(db), [], 'clean before');
    for (const c of cases) {
      await tamper(db, `UPDATE ledger SET ${c.set} WHERE id = $1`, [c.id]);
      const got = await problems(db);
      if (c.exactly) assert.deepEqual(got, [[c.id.toString(), 'HASH_MISMATCH']], c.what);
      else assert.ok(got.some(([id, p]) => id === c.id.toString() && p === 'HASH_MISMATCH'), `${c.what}: ${JSON.stringify(got)}`);
      await tamper(db, `UPDATE ledger SET ${c.undo} WHERE id = $1`, [c.id]);
      assert.deepEqual(await problems(db), [], `${c.what}: restored, it verifies`);
    }
    // What v1 could not tell apart (NULL and '' both hash as ''): the v1 mint's from_actor set to ''
    // is not a hash mismatch; it is still caught, by the entry's shape.
    await tamper(db, `UPDATE ledger SET from_actor = '' WHERE id = $1`, [v1Mint]);
    const v1Null = (await problems(db)).filter(([id]) => id === v1Mint.toString()).map(([, p]) => p);
    assert.ok(!v1Null.includes('HASH_MISMATCH') && v1Null.includes('BAD_SHAPE'), JSON.stringify(v1Null));
  });
});
