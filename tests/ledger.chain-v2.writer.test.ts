/**
 * The writer's two append paths under chain v2 (db/commit.ts), on PGlite and on real Postgres:
 * COPY for >= LIMITS.ledger.copyMinEntries entries and arrays below both verify, with metadata
 * that is not `{}`; idempotency when the warm path's COPY is refused (23505) and the batch is
 * redone slow; a refused COPY in a pipeline; slicing; governance in a COPY-sized batch.
 */
import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { forEachBackend } from './support/backends';
import { assertEntriesStored, assertSound, balance, code, codes, count, grid } from './support/fixtures';
import { LIMITS } from '../validator/limits';
import type { ApplyResult, AppliedResult } from '../db/writer';
import type { Db, Tx } from '../db/adapter';

/**
 * Counts the writer's COPY appends: wraps db.transaction so every tx.copyIn is seen (attempts, and
 * entries of those that succeeded). `fail[k]`, when set, makes attempt k throw that error instead (nothing is copied).
 */
function spyCopyIn(db: Db, fail: Array<{ code: string } | null> = []) {
  const seen = { attempts: 0, copied: [] as number[] };
  const real = db.transaction.bind(db);
  (db as { transaction: Db['transaction'] }).transaction = ((fn: (tx: Tx) => Promise<unknown>) =>
    real((tx) =>
      fn({
        ...tx,
        copyIn: async (target: string, data: Uint8Array) => {
          const f = fail[seen.attempts++];
          if (f) throw Object.assign(new Error('injected: the COPY did not happen'), f);
          const n = await tx.copyIn(target, data);
          seen.copied.push(n);
          return n;
        },
      }),
    )) as Db['transaction'];
  return seen;
}

const statsDelta = (now: { fast: number; slow: number; fastRefused: number }, before: { fast: number; slow: number; fastRefused: number }) => ({
  fast: now.fast - before.fast,
  slow: now.slow - before.slow,
  fastRefused: now.fastRefused - before.fastRefused,
});

// ---- The writer's two append paths -------------------------------------------------------------

/** Reasoning texts that are hard for text formats: quotes, backslashes, '|', unicode, controls, a long one. */
const REASONINGS = [
  'he said "hi"',
  'back\\slash \\\\ and \\"',
  'pipe|in|the|text||',
  'unicode ✓ Zürich 日本 🦄💥 e\u0301',
  'mixed "|\\|" {}[]:,',
  'tab\there\nnewline\r\n',
  'controls \u0001\u001b\u001f\u007f',
  '\u2028 line and paragraph \u2029 separators',
  '{"looks":"like json"}',
  'x'.repeat(LIMITS.proposal.maxReasoningLength),
];

forEachBackend('ledger: chain v2 writer paths', (b) => {
  it('GIVEN COPY-sized batches (>= copyMinEntries) and single applies interleaved, with reasoning full of quotes, backslashes, pipes and unicode WHEN replayed THEN chain, cache and head verify, every row is hash_version 2 and the reasoning is stored as sent', async () => {
    assert.equal(LIMITS.ledger.copyMinEntries, 64, 'this test sizes its batches for 64');
    const g = await grid(b);
    const spy = spyCopyIn(g.db);
    const rsn = (i: number) => REASONINGS[i % REASONINGS.length];
    const all: ApplyResult[] = [];
    const sent: Array<{ proposal_id: string; reasoning: string }> = [];
    const t = (from: string, to: string, amount: number, i: number) => {
      const p = { proposal_id: randomUUID(), agent: from, from, to, resource: 'credits', amount, reasoning: rsn(i) };
      sent.push(p);
      return p;
    };

    // 1. 70 applied + 2 rejected in one batch (slow path, COPY): A 30, B 120.
    const b1 = [...Array.from({ length: 70 }, (_, i) => t('A', 'B', 1, i)), t('A', 'B', 10_000, 1), t('C', 'A', 1, 2)];
    const r1 = await g.w.applyBatch(b1);
    assert.deepEqual(codes(r1), [...Array(70).fill('applied'), 'INSUFFICIENT_BALANCE', 'INSUFFICIENT_BALANCE']);
    assert.deepEqual(spy.copied, [70]);
    // 2. One single apply (arrays): A 35, B 115.
    all.push(...r1, await g.w.apply(t('B', 'A', 5, 3)));
    // 3. 64 entries exactly (warm path, COPY): A 99, B 51.
    const r3 = await g.w.applyBatch(Array.from({ length: 64 }, (_, i) => t('B', 'A', 1, i + 4)));
    assert.deepEqual(codes(r3), Array(64).fill('applied'));
    // 4. Concurrent singles (group commit, arrays): A 96, C 3.
    const r4 = await Promise.all([0, 1, 2].map((i) => g.w.apply(t('A', 'C', 1, i + 5))));
    assert.deepEqual(codes(r4), ['applied', 'applied', 'applied']);
    // 5. 63 entries: one short of COPY (arrays). Alternating A→B, B→A: A 95, B 52.
    const r5 = await g.w.applyBatch(Array.from({ length: 63 }, (_, i) => (i % 2 === 0 ? t('A', 'B', 1, i) : t('B', 'A', 1, i))));
    assert.deepEqual(codes(r5), Array(63).fill('applied'));
    // 6. A last single, then another COPY batch on top of it: C→B 3 (C 0, B 55), then 66 × A→B 1 (A 29, B 121).
    all.push(...r3, ...r4, ...r5, await g.w.apply(t('C', 'B', 3, 9)));
    const r6 = await g.w.applyBatch(Array.from({ length: 66 }, (_, i) => t('A', 'B', 1, i + 7)));
    all.push(...r6);
    assert.deepEqual(codes(r6), Array(66).fill('applied'));

    assert.deepEqual(spy.copied, [70, 64, 66], 'exactly the batches of >= 64 entries went through COPY');
    assert.equal(spy.attempts, 3);
    assert.ok(g.w.stats.fast >= 2, `the warm path was used: ${JSON.stringify(g.w.stats)}`);
    assert.deepEqual([await balance(g.db, 'A'), await balance(g.db, 'B'), await balance(g.db, 'C')], [29n, 121n, 0n]);
    await assertEntriesStored(g.db, all);
    const rep = await assertSound(g.db);
    assert.equal(rep.rowsReplayed, 5 + 70 + 1 + 64 + 3 + 63 + 1 + 66);
    const versions = (await g.db.query<{ v: number }>('SELECT DISTINCT hash_version AS v FROM ledger ORDER BY 1')).rows.map((x) => Number(x.v));
    assert.deepEqual(versions, [2]);
    // The metadata stored is the reasoning as sent, and some of it is not {} on both paths.
    const stored = new Map(
      (await g.db.query<{ p: string; r: string | null }>(`SELECT proposal_id::text AS p, metadata->>'reasoning' AS r FROM ledger`)).rows.map((x) => [x.p, x.r]),
    );
    let checked = 0;
    for (const s of sent) {
      if (!stored.has(s.proposal_id)) continue; // rejected
      assert.equal(stored.get(s.proposal_id), s.reasoning, `reasoning of ${s.proposal_id}`);
      checked++;
    }
    assert.equal(checked, 70 + 1 + 64 + 3 + 63 + 1 + 66);
  });

  it('GIVEN a warm writer WHEN >= 64-proposal batches carry an id applied before (that would apply again, or now be rejected), an id rejected before, and an earlier id with other content THEN the refused COPY is redone slow: duplicates answer the original, the conflict is ID_CONFLICT, nothing is appended twice and the chain verifies', async () => {
    const g = await grid(b);
    const spy = spyCopyIn(g.db);
    const applied = { proposal_id: randomUUID(), agent: 'A', from: 'A', to: 'B', resource: 'credits', amount: 10, reasoning: 'first "time" | ✓' };
    const stillRejected = { proposal_id: randomUUID(), agent: 'A', from: 'A', to: 'B', resource: 'credits', amount: 100_000 };
    const wouldApplyNow = { proposal_id: randomUUID(), agent: 'C', from: 'C', to: 'B', resource: 'credits', amount: 5 };
    const base = { proposal_id: randomUUID(), agent: 'B', from: 'B', to: 'A', resource: 'credits', amount: 2 };
    const bigOne = { proposal_id: randomUUID(), agent: 'B', from: 'B', to: 'A', resource: 'credits', amount: 50 }; // B cannot pay it again
    const first = await g.w.applyBatch([applied, stillRejected, wouldApplyNow, base, bigOne]);
    assert.deepEqual(codes(first), ['applied', 'INSUFFICIENT_BALANCE', 'INSUFFICIENT_BALANCE', 'applied', 'applied']); // A 142, B 8
    assert.deepEqual(codes(await g.w.applyBatch([{ proposal_id: randomUUID(), agent: 'A', from: 'A', to: 'C', resource: 'credits', amount: 20 }])), ['applied']); // A 122, C 20
    assert.equal(g.w.stats.fast, 1, `warm: ${JSON.stringify(g.w.stats)}`);

    /** 64 new transfers, alternating A→B and B→A by 1 (net zero), with `extra` spliced in at `at`. */
    const batch = (extra: unknown[], at: number) => {
      const fresh = Array.from({ length: 64 }, (_, i) => ({ proposal_id: randomUUID(), agent: i % 2 ? 'B' : 'A', from: i % 2 ? 'B' : 'A', to: i % 2 ? 'A' : 'B', resource: 'credits', amount: 1 }));
      return [...fresh.slice(0, at), ...extra, ...fresh.slice(at)];
    };
    const snap = async () => ({ ledger: await count(g.db, 'ledger'), rejected: await count(g.db, 'rejected_proposals'), stats: { ...g.w.stats }, copies: spy.attempts, copied: spy.copied.length });
    /** `copiesDone`: 1 when the ledger's unique index refused the warm COPY itself, 2 when the COPY went through and grid_commit_finish refused (rolled back). */
    const expectRedone = async (s0: Awaited<ReturnType<typeof snap>>, copiesDone: number, ledgerDelta: number, rejectedDelta: number) => {
      const s1 = await snap();
      assert.deepEqual(statsDelta(s1.stats, s0.stats), { fast: 0, slow: 1, fastRefused: 1 }, 'refused on the warm path, redone slow');
      assert.deepEqual([s1.copies - s0.copies, s1.copied - s0.copied], [2, copiesDone], 'two COPY attempts (warm, refused; slow, done)');
      assert.equal(s1.ledger - s0.ledger, ledgerDelta, 'rows appended');
      assert.equal(s1.rejected - s0.rejected, rejectedDelta, 'rejections recorded');
    };

    // (a) an id applied before, same content: the original entries, duplicate.
    let s0 = await snap();
    const ra = await g.w.applyBatch(batch([{ ...applied }], 30));
    assert.deepEqual(ra.map((r) => [code(r), r.duplicate]), [...Array(30).fill(['applied', false]), ['applied', true], ...Array(34).fill(['applied', false])]);
    assert.deepEqual((ra[30] as AppliedResult).entries, (first[0] as AppliedResult).entries, 'the original entries');
    await expectRedone(s0, 1, 64, 0);
    await assertEntriesStored(g.db, ra);

    // (a2) an id applied before that the cache now decides as rejected (B holds 8): the COPY goes
    // through, grid_commit_finish's probe of the ledger refuses, and the slow path answers the original.
    s0 = await snap();
    const ra2 = await g.w.applyBatch(batch([{ ...bigOne }], 64));
    assert.deepEqual(ra2.map((r) => [code(r), r.duplicate]), [...Array(64).fill(['applied', false]), ['applied', true]]);
    assert.deepEqual((ra2[64] as AppliedResult).entries, (first[4] as AppliedResult).entries, 'the original entries');
    await expectRedone(s0, 2, 64, 0);

    // (b) ids rejected before, same content: the original rejections (one would be rejected again, one would apply now).
    s0 = await snap();
    const rb = await g.w.applyBatch(batch([{ ...stillRejected }, JSON.stringify(wouldApplyNow)], 0));
    assert.deepEqual(rb.slice(0, 2).map((r) => [code(r), r.duplicate]), [['INSUFFICIENT_BALANCE', true], ['INSUFFICIENT_BALANCE', true]]);
    for (const k of [0, 1]) {
      const [d, o] = [rb[k], first[k + 1]];
      assert.ok(d.status === 'rejected' && o.status === 'rejected');
      assert.deepEqual([d.code, d.message, d.details], [o.code, o.message, o.details], 'the original rejection');
    }
    assert.deepEqual(codes(rb.slice(2)), Array(64).fill('applied'));
    await expectRedone(s0, 2, 64, 0);

    // (c) an id decided before, other content: ID_CONFLICT, recorded once.
    s0 = await snap();
    const rc = await g.w.applyBatch(batch([{ ...base, amount: 3 }], 64));
    assert.deepEqual(rc.map((r) => [code(r), r.duplicate]), [...Array(64).fill(['applied', false]), ['ID_CONFLICT', false]]);
    await expectRedone(s0, 1, 64, 1);

    // Each decided id is recorded exactly once; balances moved only by the first two batches.
    for (const p of [applied, stillRejected, wouldApplyNow, base, bigOne]) {
      const n = await g.db.query<{ l: bigint; r: bigint }>(
        `SELECT (SELECT count(*) FROM ledger WHERE proposal_id = $1)::bigint AS l, (SELECT count(*) FROM rejected_proposals WHERE proposal_id = $1)::bigint AS r`,
        [p.proposal_id],
      );
      assert.equal(Number(n.rows[0].l) + Number(n.rows[0].r), 1, `${p.proposal_id} is recorded once`);
    }
    assert.deepEqual([await balance(g.db, 'A'), await balance(g.db, 'B'), await balance(g.db, 'C')], [122n, 8n, 20n]);
    assert.equal(await count(g.db, 'ledger'), 5 + 3 + 1 + 4 * 64, 'genesis, the first two batches, four batches of 64');
    const rep = await assertSound(g.db);
    assert.equal(rep.rowsReplayed, 5 + 3 + 1 + 4 * 64);
  });
  it('GIVEN three COPY-sized batches pipelined on the warm path WHEN the second one\'s COPY fails once with 40001 THEN the second and the speculatively decided third are redone slow, in order, and every answer and balance is exact', async () => {
    const g = await grid(b);
    const t = (from: string, to: string) => ({ proposal_id: randomUUID(), agent: from, from, to, resource: 'credits', amount: 1 });
    assert.deepEqual(codes(await g.w.applyBatch([t('A', 'B')])), ['applied']);
    assert.deepEqual(codes(await g.w.applyBatch([t('B', 'A')])), ['applied']);
    assert.equal(g.w.stats.fast, 1, 'warm');
    const spy = spyCopyIn(g.db, [null, { code: '40001' }]);
    const before = { ...g.w.stats };
    const p0 = g.w.applyBatch(Array.from({ length: 64 }, () => t('A', 'B'))); // A 36, B 114
    const p1 = g.w.applyBatch(Array.from({ length: 64 }, () => t('B', 'C'))); // B 50, C 64 — refused once, redone
    const p2 = g.w.applyBatch(Array.from({ length: 64 }, () => t('C', 'A'))); // needs p1: C 0, A 100
    const [r0, r1, r2] = await Promise.all([p0, p1, p2]);
    assert.deepEqual([codes(r0), codes(r1), codes(r2)], [Array(64).fill('applied'), Array(64).fill('applied'), Array(64).fill('applied')]);
    assert.deepEqual(statsDelta(g.w.stats, before), { fast: 1, slow: 2, fastRefused: 1 });
    assert.deepEqual([spy.attempts, spy.copied], [4, [64, 64, 64]], 'p0 warm; p1 warm (failed); p1 and p2 slow');
    assert.deepEqual([await balance(g.db, 'A'), await balance(g.db, 'B'), await balance(g.db, 'C')], [100n, 50n, 0n]);
    const ids = [r0[63], r1[0], r1[63], r2[0]].map((r) => BigInt((r as AppliedResult).entries[0].id));
    assert.ok(ids[0] < ids[1] && ids[2] < ids[3], `in submission order: ${ids.join(', ')}`);
    await assertEntriesStored(g.db, [...r0, ...r1, ...r2]);
    const rep = await assertSound(g.db);
    assert.equal(rep.rowsReplayed, 5 + 2 + 3 * 64);
  });

  it('GIVEN a batch larger than sliceProposals WHEN single applies arrive while it is decided in slices THEN every proposal is answered once, the batch is one COPY, the singles follow it, and the chain verifies', async () => {
    const g = await grid(b);
    const spy = spyCopyIn(g.db);
    const t = (from: string, to: string, i: number) => ({ proposal_id: randomUUID(), agent: from, from, to, resource: 'credits', amount: 1, ...(i % 97 === 0 ? { reasoning: `slice ${i} | "✓"` } : {}) });
    const n = 2 * LIMITS.ledger.sliceProposals + 201;
    const pBig = g.w.applyBatch(Array.from({ length: n }, (_, i) => (i % 2 ? t('B', 'A', i) : t('A', 'B', i))));
    const pSingles = [0, 1, 2, 3, 4].map((i) => g.w.apply(t('A', 'C', i + 1)));
    const [big, singles] = await Promise.all([pBig, Promise.all(pSingles)]);
    assert.deepEqual(codes(big), Array(n).fill('applied'));
    assert.deepEqual(codes(singles), Array(5).fill('applied'));
    assert.deepEqual(spy.copied, [n], 'the batch is one COPY; the singles go as arrays');
    const lastBig = BigInt((big[n - 1] as AppliedResult).entries[0].id);
    for (const s of singles) assert.ok(BigInt((s as AppliedResult).entries[0].id) > lastBig);
    // A: 100 - 601 + 600 - 5; B: 50 + 601 - 600; C: 5.
    assert.deepEqual([await balance(g.db, 'A'), await balance(g.db, 'B'), await balance(g.db, 'C')], [94n, 51n, 5n]);
    await assertEntriesStored(g.db, [...big, ...singles]);
    const rep = await assertSound(g.db);
    assert.equal(rep.rowsReplayed, 5 + n + 5);
  });

  it('GIVEN a COPY-sized batch that mixes governance (offer, accept, policy_set: nested metadata) with transfers WHEN it is applied THEN it goes through COPY, the caches (offers, policies) are written, and the chain verifies', async () => {
    const g = await grid(b);
    const spy = spyCopyIn(g.db);
    const offerId = randomUUID();
    const t = (from: string, to: string) => ({ proposal_id: randomUUID(), agent: from, from, to, resource: 'credits', amount: 1 });
    const batch: unknown[] = [
      { kind: 'offer', proposal_id: offerId, agent: 'A', give: { resource: 'credits', amount: 5 }, want: { resource: 'energy', amount: 10 }, reasoning: 'offer | "nested" ✓' },
      { kind: 'accept', proposal_id: randomUUID(), agent: 'B', offer_id: offerId },
      { kind: 'policy_set', proposal_id: randomUUID(), agent: 'council', patch: { resources: { credits: { max_transfer: 1000 } } }, reasoning: 'policy \\\\ "x"' },
      ...Array.from({ length: 61 }, (_, i) => (i % 2 ? t('B', 'A') : t('A', 'B'))),
    ];
    const r = await g.w.applyBatch(batch);
    assert.deepEqual(codes(r), Array(batch.length).fill('applied'));
    assert.deepEqual(spy.copied, [1 + 2 + 1 + 61]);
    const offers = (await g.db.query<{ status: string }>('SELECT status FROM offers WHERE offer_id = $1', [offerId])).rows;
    assert.deepEqual(offers.map((o) => o.status), ['accepted']);
    const pol = (await g.db.query<{ v: number }>('SELECT max(version) AS v FROM policies')).rows[0];
    assert.equal(Number(pol.v), 2);
    assert.deepEqual(
      [await balance(g.db, 'A'), await balance(g.db, 'B'), await balance(g.db, 'A', 'energy'), await balance(g.db, 'B', 'energy')],
      [94n, 56n, 1010n, 990n],
    );
    const meta = (await g.db.query<{ n: bigint }>(`SELECT count(*)::bigint AS n FROM ledger WHERE metadata <> '{}'::jsonb AND id > 5`)).rows[0];
    assert.ok(Number(meta.n) >= 4, 'offer, swap legs and policy_set carry metadata');
    await assertSound(g.db);
  });
});
