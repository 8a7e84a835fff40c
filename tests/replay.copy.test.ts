/**
 * Replay's reading side (db/replay/): the binary COPY splitter under arbitrary chunking and
 * truncation, paged replay against one-statement replay, and the fold's two small structures
 * (Holdings: exact balances as numbers or bigints; Interner: bounded string decoding).
 */
import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { forEachBackend } from './support/backends';
import { copyOutAll } from './support/copy-rows';
import { grid, type Grid } from './support/fixtures';
import { CopyRowSplitter, ledgerSelect } from '../db/replay/copy-rows';
import { COPY_HEADER } from '../db/entry-binary';
import { Holdings, Interner } from '../db/replay/holdings';
import { replay, createCheckpoint, type ReplayReport } from '../db/replay';
import type { Db } from '../db/adapter';

const SEED = 20_261_208;

/** The rows (bytes, offsets and lengths relative to the row) from feeding `chunks` in order, then finish(); whether it finished. */
function splitChunks(chunks: Buffer[]): { rows: string[]; finished: boolean; error?: string } {
  const rows: string[] = [];
  // Offsets are relative to the row start, so rows from different chunkings compare equal.
  const s = new CopyRowSplitter((b, start, end, off, len) => {
    rows.push(`${b.subarray(start, end).toString('hex')}/${Array.from(off, (o) => o - start).join(',')}/${Array.from(len).join(',')}`);
  });
  try {
    for (const c of chunks) s.push(c);
    s.finish();
    return { rows, finished: true };
  } catch (e) {
    return { rows, finished: false, error: String(e) };
  }
}

/** `stream` cut at the sorted positions `cuts`. */
function cutAt(stream: Buffer, cuts: number[]): Buffer[] {
  const out: Buffer[] = [];
  let p = 0;
  for (const c of [...cuts].sort((a, b) => a - b)) {
    out.push(stream.subarray(p, c));
    p = c;
  }
  out.push(stream.subarray(p));
  return out;
}

const ledgerCopy = (db: Db) => copyOutAll(db, ledgerSelect(0n));

const t = (from: string, to: string, amount: number, reasoning?: string) => ({ proposal_id: randomUUID(), agent: from, from, to, resource: 'credits', amount, ...(reasoning === undefined ? {} : { reasoning }) });

/** A grid with `n` more transfers (some with long or unicode reasoning, so rows differ in size). */
async function busyGrid(g: Grid, n: number) {
  const batch = Array.from({ length: n }, (_, i) => (i % 2 ? t('B', 'A', 1 + (i % 3)) : t('A', 'B', 1 + (i % 3), i % 4 === 0 ? `row ${i} | "q" \\ ✓ 🦄 ${'x'.repeat(i * 7)}` : undefined)));
  const r = await g.w.applyBatch(batch);
  assert.ok(r.every((x) => x.status === 'applied'), JSON.stringify(r.filter((x) => x.status !== 'applied')));
}

forEachBackend('replay: the binary COPY splitter', (b) => {
  let stream: Buffer;
  let whole: string[];

  async function theStream() {
    if (stream) return;
    const g = await grid(b);
    await busyGrid(g, 30);
    stream = await ledgerCopy(g.db);
    const r = splitChunks([stream]);
    assert.equal(r.finished, true, r.error);
    whole = r.rows;
    assert.equal(whole.length, 35);
  }

  it('GIVEN the ledger\'s COPY output WHEN it is fed cut at random boundaries (cuts in the header, 1-byte chunks, empty chunks) THEN the same rows come out, in order, and finish() accepts it', async () => {
    await theStream();
    const n = stream.length;
    // Every byte its own chunk.
    const ones = splitChunks(Array.from({ length: n }, (_, i) => stream.subarray(i, i + 1)));
    assert.equal(ones.finished, true, ones.error);
    assert.deepEqual(ones.rows, whole);
    // Empty chunks between every byte of the header and around the trailer.
    const withEmpty: Buffer[] = [];
    for (let i = 0; i < COPY_HEADER.length + 4; i++) withEmpty.push(stream.subarray(i, i + 1), Buffer.alloc(0));
    withEmpty.push(stream.subarray(COPY_HEADER.length + 4, n - 1), Buffer.alloc(0), stream.subarray(n - 1), Buffer.alloc(0));
    assert.deepEqual(splitChunks(withEmpty).rows, whole);
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: n - 1 }), { maxLength: 60 }),
        fc.uniqueArray(fc.integer({ min: 1, max: COPY_HEADER.length + 2 }), { maxLength: 5 }),
        (cuts, headerCuts) => {
          const r = splitChunks(cutAt(stream, [...new Set([...cuts, ...headerCuts])]));
          assert.equal(r.finished, true, r.error);
          assert.deepEqual(r.rows, whole);
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('GIVEN the ledger\'s COPY output WHEN it ends early anywhere (in the header, mid-row, at a row boundary without the trailer) THEN finish() throws and no partial or garbage row was delivered', async () => {
    await theStream();
    const n = stream.length;
    for (let L = 0; L < n; L++) {
      const prefix = stream.subarray(0, L);
      for (const chunks of [[prefix], L > 2 ? [prefix.subarray(0, L >> 1), prefix.subarray(L >> 1)] : [prefix]]) {
        const r = splitChunks(chunks);
        assert.equal(r.finished, false, `a ${L}-byte prefix of ${n} was accepted`);
        assert.deepEqual(r.rows, whole.slice(0, r.rows.length), `rows delivered from a ${L}-byte prefix`);
      }
    }
    // Without the trailer exactly (every row whole).
    const r = splitChunks([stream.subarray(0, n - 2)]);
    assert.deepEqual([r.finished, r.rows.length], [false, whole.length]);
    // No chunk at all.
    assert.equal(splitChunks([]).finished, false);
  });

  it('GIVEN the ledger\'s COPY output WHEN data follows its trailer (one byte, a second trailer, a whole row, a second stream) THEN push or finish throws', async () => {
    await theStream();
    const firstRow = Buffer.from(whole[0].split('/')[0], 'hex');
    const tails = [Buffer.from([0]), Buffer.from([0xff]), Buffer.from([0xff, 0xff]), Buffer.from([0, 16]), firstRow, stream];
    for (const tail of tails) {
      for (const chunks of [[Buffer.concat([stream, tail])], [stream, tail], [stream, ...Array.from(tail.subarray(0, 40), (x) => Buffer.from([x]))]]) {
        const r = splitChunks(chunks);
        assert.equal(r.finished, false, `${tail.length} byte(s) after the trailer were accepted`);
      }
    }
  });

  it('GIVEN a stream that does not start with the binary COPY signature or has rows of another width WHEN split THEN it throws', async () => {
    await theStream();
    const bad = Buffer.from(stream);
    bad[0] ^= 1;
    assert.equal(splitChunks([bad]).finished, false);
    const narrow = Buffer.from(stream);
    narrow[COPY_HEADER.length + 1] = 15; // the first row's field count
    assert.match(splitChunks([narrow]).error ?? '', /15 fields/);
  });
});

// ---- Paged replay ------------------------------------------------------------------------------

const essentials = (r: ReplayReport) => ({
  checksum: r.checksum,
  rowsReplayed: r.rowsReplayed,
  lastId: r.lastId,
  headHash: r.headHash,
  chainOk: r.chainOk,
  badRows: r.badRows,
  cacheMatches: r.cacheMatches,
  headMatches: r.headMatches,
  conservation: r.conservation,
  diffs: r.diffs,
});

forEachBackend('replay: paged COPY against one statement', (b) => {
  async function samePaged(db: Db, expectRows: number) {
    const base = essentials(await replay(db, { dryRun: true }));
    assert.equal(base.rowsReplayed, expectRows);
    for (const pageRows of [1, 7, expectRows, expectRows + 1]) {
      assert.deepEqual(essentials(await replay(db, { dryRun: true, pageRows })), base, `pageRows ${pageRows}`);
    }
    return base;
  }

  it('GIVEN a ledger of 45 rows and then 49 (a multiple of 7) WHEN replayed with pageRows 1, 7, all and one more THEN the report (checksum, rows, last id, head hash, cache and head checks) equals the one-statement replay', async () => {
    const g = await grid(b);
    await busyGrid(g, 40);
    const r45 = await samePaged(g.db, 45);
    assert.equal(r45.chainOk, true);
    assert.equal(r45.cacheMatches, true);
    assert.equal(r45.headMatches, true);
    await busyGrid(g, 4);
    const r49 = await samePaged(g.db, 49);
    assert.equal(r49.lastId, '49');
    assert.notEqual(r49.headHash, r45.headHash);
  });

  it('GIVEN rows altered or deleted at page boundaries (ids 7, 8 and 14 with 7-row pages) WHEN replayed paged and in one statement THEN both name the same bad rows', async () => {
    const g = await grid(b);
    await busyGrid(g, 40);
    await g.db.exec('ALTER TABLE ledger DISABLE TRIGGER ledger_append_only');
    await g.db.query('UPDATE ledger SET amount = amount + 1 WHERE id IN (7, 8)');
    await g.db.query('DELETE FROM ledger WHERE id = 14');
    await g.db.exec('ALTER TABLE ledger ENABLE TRIGGER ledger_append_only');
    const base = await samePaged(g.db, 44);
    assert.equal(base.chainOk, false);
    const named = base.badRows.map((x) => `${x.id}:${x.problem}`);
    for (const x of ['7:HASH_MISMATCH', '8:HASH_MISMATCH', '15:ID_GAP', '15:BROKEN_LINK']) assert.ok(named.includes(x), `${x} in ${named.join(' ')}`);
  });
  it('GIVEN a checkpoint taken mid-ledger (v2 rows, with metadata) WHEN more rows follow and replay starts from the checkpoint (one statement and paged) THEN it reaches the same checksum, head and conservation as from row 0, folding only the rows after it', async () => {
    const g = await grid(b);
    await busyGrid(g, 23);
    const cp = await createCheckpoint(g.db);
    assert.equal(cp.entryId, '28');
    await busyGrid(g, 17);
    const full = await replay(g.db, { dryRun: true });
    assert.equal(full.chainOk, true);
    for (const pageRows of [undefined, 1, 7]) {
      const fromCp = await replay(g.db, { dryRun: true, fromCheckpoint: true, pageRows });
      assert.deepEqual(
        { ...essentials(fromCp), rowsReplayed: 0 },
        { ...essentials(full), rowsReplayed: 0 },
        `from the checkpoint, pageRows ${pageRows}`,
      );
      assert.deepEqual([fromCp.fromId, fromCp.rowsReplayed], ['29', 17]);
    }
    // A row altered after the checkpoint is named from it too.
    await g.db.exec('ALTER TABLE ledger DISABLE TRIGGER ledger_append_only');
    await g.db.query('UPDATE ledger SET amount = amount + 1 WHERE id = 30');
    await g.db.exec('ALTER TABLE ledger ENABLE TRIGGER ledger_append_only');
    const bad = await replay(g.db, { dryRun: true, fromCheckpoint: true, pageRows: 7 });
    assert.deepEqual(bad.badRows.map((x) => [x.id, x.problem]), [['30', 'HASH_MISMATCH']]);
  });
});

// ---- Holdings and Interner ---------------------------------------------------------------------

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

describe('replay: Holdings and Interner', () => {
  type Op = { op: 'add'; a: string; d: number } | { op: 'addBig'; a: string; d: bigint } | { op: 'set'; a: string; v: bigint };
  const actor = fc.constantFrom('a', 'b', 'c', 'd');
  const nearSafe = fc.oneof(fc.integer({ min: -3, max: 3 }).map((k) => MAX_SAFE + k), fc.integer({ min: -3, max: 3 }).map((k) => -MAX_SAFE + k));
  const num = fc.oneof(
    fc.integer({ min: -8, max: 8 }),
    fc.integer({ min: -1000, max: 1000 }),
    fc.maxSafeInteger(),
    fc.constantFrom(MAX_SAFE, -MAX_SAFE, 2 ** 52, -(2 ** 52), MAX_SAFE - 1, 1 - MAX_SAFE, 0),
    nearSafe.filter((v) => Number.isSafeInteger(v)),
  );
  const big = fc.oneof(
    fc.bigInt({ min: -(2n ** 62n), max: 2n ** 62n }),
    fc.bigInt({ min: -1000n, max: 1000n }),
    fc.bigInt({ min: 2n ** 53n - 4n, max: 2n ** 53n + 4n }),
    fc.bigInt({ min: -(2n ** 53n) - 4n, max: -(2n ** 53n) + 4n }),
    fc.constantFrom(2n ** 63n - 1n, -(2n ** 63n), 0n),
  );
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ op: fc.constant('add' as const), a: actor, d: num }),
    fc.record({ op: fc.constant('addBig' as const), a: actor, d: big }),
    fc.record({ op: fc.constant('set' as const), a: actor, v: big }),
  );

  it('GIVEN sequences of add, addBig and set crossing ±2^53 WHEN applied to Holdings and to a Map<string, bigint> THEN values, has(), forEach() and the negative flags agree after every step', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 60 }), (ops) => {
        const h = new Holdings();
        const ref = new Map<string, bigint>();
        for (const [i, o] of ops.entries()) {
          if (o.op === 'set') {
            h.set(o.a, o.v);
            ref.set(o.a, o.v);
          } else {
            const v = (ref.get(o.a) ?? 0n) + (o.op === 'add' ? BigInt(o.d) : o.d);
            ref.set(o.a, v);
            const neg = o.op === 'add' ? h.add(o.a, o.d) : h.addBig(o.a, o.d);
            assert.equal(neg, v < 0n, `step ${i} ${o.op}(${o.a}, ${o.d}): negative flag for ${v}`);
          }
          for (const a of ['a', 'b', 'c', 'd']) {
            assert.equal(h.get(a), ref.get(a) ?? 0n, `step ${i}: value of ${a}`);
            assert.equal(h.has(a), ref.has(a), `step ${i}: has(${a})`);
          }
          const seen: Array<[string, bigint]> = [];
          h.forEach((a, v) => seen.push([a, v]));
          seen.sort((x, y) => (x[0] < y[0] ? -1 : 1));
          assert.deepEqual(seen, [...ref].sort((x, y) => (x[0] < y[0] ? -1 : 1)), `step ${i}: forEach lists each actor once with its value`);
        }
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  it('GIVEN balances at the edge of exact numbers WHEN one unit crosses 2^53 either way THEN the values stay exact and the flag follows the sign', () => {
    const h = new Holdings();
    assert.equal(h.add('x', MAX_SAFE), false);
    assert.equal(h.add('x', 1), false);
    assert.equal(h.get('x'), 2n ** 53n);
    assert.equal(h.add('x', 2), false);
    assert.equal(h.get('x'), 2n ** 53n + 2n);
    assert.equal(h.add('x', -3), false);
    assert.equal(h.get('x'), 2n ** 53n - 1n);
    assert.equal(h.add('y', -MAX_SAFE), true);
    assert.equal(h.add('y', -2), true);
    assert.equal(h.get('y'), -(2n ** 53n) - 1n);
    assert.equal(h.addBig('y', 2n ** 53n + 1n), false);
    assert.equal(h.get('y'), 0n);
    assert.equal(h.add('y', -1), true);
    assert.equal(h.get('y'), -1n);
    // Sums that are not doubles: 2^53 + 1, 2^53 + 3, -(2^53 + 1).
    for (const [start, d, want] of [
      [MAX_SAFE, 2, 2n ** 53n + 1n],
      [MAX_SAFE, 4, 2n ** 53n + 3n],
      [MAX_SAFE - 1, 4, 2n ** 53n + 2n],
      [-MAX_SAFE, -2, -(2n ** 53n) - 1n],
    ] as Array<[number, number, bigint]>) {
      const z = new Holdings();
      z.add('z', start);
      assert.equal(z.add('z', d), want < 0n);
      assert.equal(z.get('z'), want, `${start} + ${d}`);
      assert.equal(z.add('z', -d), start < 0);
      assert.equal(z.get('z'), BigInt(start), `${start} + ${d} - ${d}`);
    }
  });

  const utf8Arb = fc.oneof(
    fc.string({ maxLength: 6 }),
    fc.string({ unit: 'grapheme', maxLength: 4 }),
    fc.constantFrom('', 'A', 'B', 'credits', 'énergie', '日本', '🦄', 'system'),
  );
  /** Byte strings whose Interner hash is equal: [x, y] and [x + 1, y - 31] (h = n·31² + 31·x + y). */
  const colliding = fc.tuple(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 40, max: 255 })).chain(([x, y]) =>
    fc.constantFrom(Buffer.from([x, y]), Buffer.from([x + 1, y - 31]), Buffer.from([x + 2, y - 62 >= 0 ? y - 62 : y])),
  );
  const bytesArb = fc.oneof(
    utf8Arb.map((s) => Buffer.from(s, 'utf8')),
    colliding,
    fc.uint8Array({ maxLength: 6 }).map((u) => Buffer.from(u)), // not always valid UTF-8: decoded as toString would
  );

  for (const capacity of [4, 1, 64]) {
    it(`GIVEN an Interner of capacity ${capacity} WHEN it decodes many byte strings, repeated, colliding and beyond its capacity, from buffers that are overwritten afterwards THEN every answer equals toString('utf8')`, () => {
      fc.assert(
        fc.property(fc.array(bytesArb, { minLength: 1, maxLength: 80 }), fc.array(fc.nat(40), { minLength: 1, maxLength: 80 }), (strings, pads) => {
          const it = new Interner(capacity);
          const distinct = new Set(strings.map((s) => s.toString('hex')));
          for (let round = 0; round < 2; round++) {
            for (const [i, s] of strings.entries()) {
              const pad = pads[i % pads.length];
              const buf = Buffer.alloc(pad + s.length + 3, 0xa5);
              s.copy(buf, pad);
              const want = s.toString('utf8');
              assert.equal(it.text(buf, pad, s.length), want, `round ${round}, string ${i} (${s.toString('hex')}), ${distinct.size} distinct`);
              buf.fill(0x5a); // the interner must have kept its own copy of the key
              s.copy(buf, pad);
              assert.equal(it.text(buf, pad, s.length), want);
              buf.fill(0x41);
            }
          }
        }),
        { seed: SEED, numRuns: 300 },
      );
    });
  }
});
