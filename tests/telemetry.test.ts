import assert from 'node:assert/strict';
import fc from 'fast-check';
import { analyzeArtifacts, binaryEntropy, controlEntropy, dependencyDepth, lindyScores, type InvokeEvent } from '../engine/telemetry/artifacts';
import { TelemetryError } from '../engine/telemetry/common';
import { gini, giniParts } from '../engine/telemetry/gini';
import { MetricsWindow, type RejectionRecord } from '../engine/telemetry/window';
import type { EntryKind, LedgerEntry } from '../validator/types';

let seq = 0n;
function entry(kind: EntryKind, from: string | null, to: string | null, resource: string | null,
  amount: bigint | null, at: number, proposal: string, leg = 0, metadata: Record<string, unknown> = {}): LedgerEntry {
  seq += 1n;
  return { id: seq, kind, from, to, resource, amount, executed_at: at, proposal_id: proposal, leg,
    agent: 'x', validator_version: 'test', proposal_hash: '0'.repeat(64), prev_hash: '0'.repeat(64), hash: '0'.repeat(64), metadata };
}
const rej = (code: string, at: number): RejectionRecord => ({ proposal_id: `r${at}`, code, agent: 'alice', at });
const close = (a: number | null, b: number) => assert.ok(a !== null && Math.abs(a - b) < 1e-12, `${a} ≉ ${b}`);
const code = (c: string) => (e: unknown) => e instanceof TelemetryError && e.code === c;

describe('telemetry: gini', () => {
  it('GIVEN [0,0,0,100] WHEN gini is computed THEN it is exactly 0.75', () => {
    // sorted Σ i·x = 4·100 = 400; (2·400 − 5·100) / (4·100) = 300/400
    assert.deepEqual(giniParts([0n, 0n, 100n, 0n]), { numerator: 300n, denominator: 400n });
    assert.equal(gini([0n, 0n, 0n, 100n]), 0.75);
  });
  it('GIVEN equal shares WHEN gini is computed THEN it is 0', () => {
    assert.equal(gini([7n, 7n, 7n, 7n, 7n]), 0);
  });
  it('GIVEN [1,2,3,4,5] WHEN gini is computed THEN it is 4/15 = 0.2666…', () => {
    // Σ i·x = 1+4+9+16+25 = 55; (110 − 6·15) / (5·15) = 20/75
    assert.deepEqual(giniParts([5n, 3n, 1n, 4n, 2n]), { numerator: 20n, denominator: 75n });
    close(gini([1n, 2n, 3n, 4n, 5n]), 4 / 15);
  });
  it('GIVEN empty, all-zero or single-holder distributions WHEN gini is computed THEN it is 0', () => {
    assert.equal(gini([]), 0);
    assert.equal(gini([0n, 0n]), 0);
    assert.equal(gini([10n ** 40n]), 0);
  });
  it('GIVEN balances beyond 2^53 WHEN gini is computed THEN the exact fraction keeps precision', () => {
    const big = 10n ** 30n;
    assert.equal(gini([0n, 0n, 0n, big]), 0.75);
    close(gini([big + 1n, big + 1n]), 0);
  });
  it('GIVEN a negative balance WHEN gini is computed THEN NEGATIVE_BALANCE is thrown', () => {
    assert.throws(() => gini([5n, -1n]), code('NEGATIVE_BALANCE'));
  });
});

describe('telemetry: MetricsWindow on a known ledger', () => {
  // bucketMs = 1000.
  // Bucket 0: p0 mint 500 water→alice; p1 mint 1000 energy→alice; p2 mint 1000 energy→bob;
  //           p3 transfer 300 energy alice→bob (leg 0) + tax 30 energy alice→burned (leg 1);
  //           rejection INSUFFICIENT_FUNDS.
  //   energy: volume = 300 + 30 = 330; supplyOpen = 0; supplyClose = 2000 − 30 = 1970
  //           velocity = 2·330 / (0 + 1970) = 660/1970 ≈ 0.33503
  //   proposals = 4 (legs 0), rejections 1 → rate 1/5 = 0.2
  // Bucket 1: p4 swap 100 energy bob→alice (leg 0) + swap 50 water alice→bob (leg 1);
  //           p5 burn 70 energy bob; p6 mint 40 compute→alice; p7 compute_charge 8 compute alice;
  //           p8 compute_charge 2 llm_budget (minted in p9 first) ; p10 artifact_write 1200 bytes;
  //           rejections RATE_LIMITED, INSUFFICIENT_FUNDS.
  //   energy: volume 100; open 1970, close 1900 → velocity 200/3870 ≈ 0.051680
  //   water:  volume 50; open = close = 500 → velocity 100/1000 = 0.1
  //   proposals = 7 (p4..p10), rejections 2 → rate 2/9, each code 1/9
  //   efficiency: 1 write, 1200 bytes; burn compute 8 → 0.125 writes/unit, 150 bytes/unit;
  //               burn llm_budget 2 → 0.5 writes/unit, 600 bytes/unit
  // End balances energy: alice 1000 − 300 − 30 + 100 = 770, bob 1000 + 300 − 100 − 70 = 1130.
  //   Gini[770,1130] = (2·(770 + 2·1130) − 3·1900) / (2·1900) = 360/3800 ≈ 0.094737
  //   with carol (0): (2·(0 + 2·770 + 3·1130) − 4·1900) / (3·1900) = 2260/5700 ≈ 0.396491
  function build(): { entries: LedgerEntry[]; rejections: RejectionRecord[] } {
    seq = 0n;
    const entries = [
      entry('mint', null, 'alice', 'water', 500n, 50, 'p0'),
      entry('mint', null, 'alice', 'energy', 1000n, 100, 'p1'),
      entry('mint', null, 'bob', 'energy', 1000n, 200, 'p2'),
      entry('transfer', 'alice', 'bob', 'energy', 300n, 300, 'p3', 0),
      entry('tax', 'alice', null, 'energy', 30n, 300, 'p3', 1),
      entry('swap', 'bob', 'alice', 'energy', 100n, 1500, 'p4', 0),
      entry('swap', 'alice', 'bob', 'water', 50n, 1500, 'p4', 1),
      entry('burn', 'bob', null, 'energy', 70n, 1600, 'p5'),
      entry('mint', null, 'alice', 'compute', 40n, 1610, 'p6'),
      entry('compute_charge', 'alice', null, 'compute', 8n, 1620, 'p7'),
      entry('mint', null, 'alice', 'llm_budget', 10n, 1625, 'p9'),
      entry('compute_charge', 'alice', null, 'llm_budget', 2n, 1630, 'p8'),
      entry('artifact_write', null, null, null, null, 1640, 'p10', 0, { bytes: 1200 }),
    ];
    const rejections = [rej('INSUFFICIENT_FUNDS', 400), rej('RATE_LIMITED', 1700), rej('INSUFFICIENT_FUNDS', 1800)];
    return { entries, rejections };
  }

  it('GIVEN the known ledger WHEN folded THEN velocity, counts, rates, efficiency and Gini match the hand arithmetic', () => {
    const { entries, rejections } = build();
    const w = new MetricsWindow({ bucketMs: 1000, maxBuckets: 10 });
    w.foldEntries(entries);
    w.foldRejections(rejections);
    const s = w.snapshot();
    assert.equal(s.buckets.length, 2);
    const [b0, b1] = s.buckets;
    assert.deepEqual([b0.startMs, b0.endMs, b0.entries, b0.proposals], [0, 1000, 5, 4]);
    assert.deepEqual({ ...b0.resources.energy, velocity: 0 },
      { volume: '330', minted: '2000', burned: '30', supplyOpen: '0', supplyClose: '1970', velocity: 0 });
    close(b0.resources.energy.velocity, 660 / 1970);
    assert.equal(b0.rejections.rate, 0.2);
    assert.deepEqual(b0.rejections.byCode, { INSUFFICIENT_FUNDS: { count: 1, rate: 0.2 } });

    assert.deepEqual([b1.entries, b1.proposals], [8, 7]);
    close(b1.resources.energy.velocity, 200 / 3870);
    assert.equal(b1.resources.water.velocity, 0.1);
    assert.equal(b1.resources.compute.velocity, 0);
    close(b1.rejections.rate, 2 / 9);
    close(b1.rejections.byCode.RATE_LIMITED.rate, 1 / 9);
    assert.deepEqual(b1.efficiency, {
      artifactWrites: 1, outputBytes: '1200',
      burn: { compute: { amount: '8', writesPerUnit: 0.125, bytesPerUnit: 150 },
        llm_budget: { amount: '2', writesPerUnit: 0.5, bytesPerUnit: 600 } },
    });
    assert.deepEqual(s.balances.energy, { alice: '770', bob: '1130' });
    assert.equal(s.supply.energy, '1900');
    close(s.gini.energy.value, 360 / 3800);
    close(w.snapshot({ holders: ['alice', 'bob', 'carol'] }).gini.energy.value, 2260 / 5700);
    assert.deepEqual(s.totals, { entries: 13, proposals: 11, rejections: 3, duplicateEntries: 0, lateEntries: 0, lateRejections: 0 });
    assert.deepEqual(JSON.parse(JSON.stringify(s)), s, 'snapshot is JSON-safe');
  });

  it('GIVEN a redelivered entry and a skipped id WHEN folded THEN the duplicate is skipped and the gap throws ENTRY_GAP', () => {
    const { entries } = build();
    const w = new MetricsWindow({ bucketMs: 1000 });
    w.foldEntries(entries.slice(0, 3));
    w.foldEntry(entries[1]);
    assert.equal(w.snapshot().totals.duplicateEntries, 1);
    assert.throws(() => w.foldEntry(entries[4]), code('ENTRY_GAP'));
    assert.equal(w.balance('bob', 'energy'), 1000n);
  });

  it('GIVEN maxBuckets 2 WHEN a third bucket opens THEN the oldest is evicted and a late row only updates balances', () => {
    seq = 0n;
    const w = new MetricsWindow({ bucketMs: 1000, maxBuckets: 2 });
    w.foldEntry(entry('mint', null, 'a', 'energy', 5n, 100, 'p1'));
    w.foldEntry(entry('mint', null, 'a', 'energy', 5n, 2100, 'p2'));
    w.foldEntry(entry('mint', null, 'a', 'energy', 5n, 500, 'p3'));
    w.foldRejection(rej('X', 900));
    const s = w.snapshot();
    assert.deepEqual(s.buckets.map((b) => b.index), [2]);
    assert.deepEqual([s.totals.lateEntries, s.totals.lateRejections, s.balances.energy.a], [1, 1, '15']);
  });

  it('GIVEN an agent overdrawn below zero WHEN a snapshot is taken THEN its Gini reports NEGATIVE_BALANCE, not a throw', () => {
    seq = 0n;
    const w = new MetricsWindow({ bucketMs: 1000 });
    w.foldEntry(entry('transfer', 'a', 'b', 'energy', 5n, 100, 'p1'));
    assert.deepEqual(w.snapshot().gini.energy, { value: null, holders: 2, error: 'NEGATIVE_BALANCE' });
    assert.throws(() => w.giniOf('energy'), code('NEGATIVE_BALANCE'));
  });

  it('GIVEN malformed input WHEN folded THEN coded errors are thrown', () => {
    seq = 0n;
    const w = new MetricsWindow({ bucketMs: 1000 });
    assert.throws(() => w.foldEntry(entry('transfer', 'a', 'b', 'energy', -1n, 1, 'p')), code('INVALID_ENTRY'));
    assert.throws(() => w.foldRejection({ proposal_id: 'p', code: '', agent: 'a', at: 1 }), code('INVALID_REJECTION'));
    assert.throws(() => new MetricsWindow({ bucketMs: 10 }), code('INVALID_OPTION'));
  });
});

describe('telemetry: incremental folding', () => {
  const actors = ['a', 'b', 'c', 'd'];
  const arbRow = fc.oneof(
    fc.record({
      t: fc.constant('e' as const),
      kind: fc.constantFrom<EntryKind>('transfer', 'swap', 'tax', 'mint', 'burn', 'compute_charge', 'artifact_write', 'policy_set'),
      from: fc.option(fc.constantFrom(...actors), { nil: null }),
      to: fc.option(fc.constantFrom(...actors), { nil: null }),
      resource: fc.constantFrom('energy', 'water', 'llm_budget'),
      amount: fc.bigInt({ min: 0n, max: 10n ** 20n }),
      at: fc.integer({ min: 0, max: 20_000 }),
      leg: fc.integer({ min: 0, max: 2 }),
      bytes: fc.integer({ min: 0, max: 5000 }),
    }),
    fc.record({ t: fc.constant('r' as const), code: fc.constantFrom('A', 'B', 'C'), at: fc.integer({ min: 0, max: 20_000 }) }),
  );
  type Row = typeof arbRow extends fc.Arbitrary<infer T> ? T : never;
  const toInput = (rows: Row[]) => {
    seq = 0n;
    return rows.map((r) => (r.t === 'r' ? rej(r.code, r.at)
      : r.kind === 'artifact_write' || r.kind === 'policy_set'
        ? entry(r.kind, null, null, null, null, r.at, 'p', r.leg, { bytes: r.bytes })
        : entry(r.kind, r.from, r.to, r.resource, r.amount, r.at, 'p', r.leg)));
  };
  const feed = (w: MetricsWindow, xs: Array<LedgerEntry | RejectionRecord>) => {
    for (const x of xs) if ('code' in x) w.foldRejection(x); else w.foldEntry(x);
  };

  it('GIVEN any ledger WHEN folded in chunks with snapshots between THEN the snapshot equals folding all at once and a rescan', () => {
    fc.assert(fc.property(fc.array(arbRow, { maxLength: 60 }), fc.array(fc.nat(60)), fc.integer({ min: 1, max: 8 }),
      (rows, cuts, maxBuckets) => {
        const input = toInput(rows);
        const all = new MetricsWindow({ bucketMs: 1000, maxBuckets });
        feed(all, input);
        const inc = new MetricsWindow({ bucketMs: 1000, maxBuckets });
        let pos = 0;
        for (const cut of [...cuts].sort((x, y) => x - y)) {
          feed(inc, input.slice(pos, Math.max(pos, cut)));
          pos = Math.max(pos, cut);
          inc.snapshot({ holders: actors });
        }
        feed(inc, input.slice(pos));
        const s = inc.snapshot({ holders: actors });
        assert.deepEqual(s, all.snapshot({ holders: actors }));

        // Independent rescan of the same rows: retained buckets, volumes, mint/burn, balances.
        const entries = input.filter((x): x is LedgerEntry => !('code' in x));
        const newest = Math.max(...input.map((x) => Math.floor(('code' in x ? x.at : x.executed_at) / 1000)));
        const kept = (at: number) => Math.floor(at / 1000) > newest - maxBuckets;
        for (const b of s.buckets) {
          const inB = entries.filter((e) => Math.floor(e.executed_at / 1000) === b.index);
          assert.equal(b.entries, inB.length);
          for (const [r, st] of Object.entries(b.resources)) {
            const m = inB.filter((e) => e.resource === r && e.amount !== null);
            const sum = (f: (e: LedgerEntry) => boolean) => m.filter(f).reduce((acc, e) => acc + (e.amount as bigint), 0n).toString();
            assert.equal(st.volume, sum((e) => ['transfer', 'swap', 'tax'].includes(e.kind)));
            assert.equal(st.minted, sum((e) => e.from === null));
            assert.equal(st.burned, sum((e) => e.to === null));
          }
        }
        assert.equal(s.buckets.reduce((n, b) => n + b.entries, 0), entries.filter((e) => kept(e.executed_at)).length);
        for (const r of Object.keys(s.balances)) {
          const total = Object.values(s.balances[r]).reduce((acc, v) => acc + BigInt(v), 0n);
          assert.equal(total.toString(), s.supply[r], 'Σ balances = supply');
        }
      }), { numRuns: 300, seed: 20261117 });
  });
});

describe('telemetry: artifacts', () => {
  const ev = (parent: string | null, child: string, invoker: string, owner: string, at: number, success = true): InvokeEvent =>
    ({ parent_artifact: parent, child_artifact: child, invoker, owner_of_child: owner, at, success });

  it('GIVEN A→B→C, D→B and a cycle X→Y→Z→X fed by C WHEN depth is computed THEN it is 4 and the cycle is reported', () => {
    // Chain A → B → C → {X,Y,Z collapsed} = 4 levels; the self-loop S→S is a cycle of depth 1.
    const r = dependencyDepth(['lone'], [['A', 'B'], ['B', 'C'], ['D', 'B'], ['C', 'X'], ['X', 'Y'], ['Y', 'Z'], ['Z', 'X'], ['S', 'S']]);
    assert.equal(r.depth, 4);
    assert.deepEqual(r.longestChain, ['A', 'B', 'C', 'X']);
    assert.deepEqual(r.cycles, [['S'], ['X', 'Y', 'Z']]);
    assert.deepEqual([r.artifacts, r.edges, r.cycleCount], [9, 8, 2]);
    assert.equal(dependencyDepth([], []).depth, 0);
    assert.equal(dependencyDepth(['only'], []).depth, 1);
  });

  it('GIVEN a 50 000-long chain WHEN depth is computed THEN it does not overflow the stack', () => {
    const edges = Array.from({ length: 49_999 }, (_, i) => [`a${i}`, `a${i + 1}`] as const);
    assert.equal(dependencyDepth([], edges).depth, 50_000);
  });

  it('GIVEN invoke events WHEN Lindy scores are computed THEN score = whole buckets of age × distinct successful invokers', () => {
    const events = [
      ev(null, 'lib', 'alice', 'alice', 0), ev(null, 'lib', 'bob', 'alice', 500), ev('app', 'lib', 'carol', 'alice', 900),
      ev(null, 'lib', 'bob', 'alice', 1000), ev(null, 'lib', 'dave', 'alice', 1100, false),
      ev(null, 'app', 'carol', 'carol', 2500),
    ];
    // now = 3500, bucketMs 1000: lib first seen 0 → 3 buckets × {alice,bob,carol} = 9;
    // app first seen 900 (as a parent) → ⌊2600/1000⌋ = 2 × {carol} = 2.
    const rows = lindyScores(events, { now: 3500, bucketMs: 1000 });
    assert.deepEqual(rows.map((r) => [r.artifact, r.ageBuckets, r.distinctInvokers, r.score, r.invocations, r.successes]),
      [['lib', 3, 3, 9, 5, 4], ['app', 2, 1, 2, 1, 1]]);
    assert.equal(rows[0].lastInvokedAt, 1000);
  });

  it('GIVEN 3 owner and 1 autonomous invocation WHEN control entropy is computed THEN H(0.75) ≈ 0.811278 bits', () => {
    // −0.75·log2 0.75 − 0.25·log2 0.25 = 0.311278 + 0.5
    const c = controlEntropy([ev(null, 'k', 'o', 'o', 1), ev(null, 'k', 'o', 'o', 2), ev(null, 'k', 'o', 'o', 3), ev(null, 'k', 'x', 'o', 4)]);
    assert.deepEqual([c.command, c.autonomous, c.commandShare, c.autonomousShare], [3, 1, 0.75, 0.25]);
    close(c.autonomyRatio, 1 / 3);
    close(c.entropyBits, 0.8112781244591328);
    assert.equal(binaryEntropy(0.5), 1);
    assert.deepEqual(controlEntropy([]), { invocations: 0, command: 0, autonomous: 0, commandShare: null,
      autonomousShare: null, autonomyRatio: null, entropyBits: 0 });
  });

  it('GIVEN a failed parent→child call WHEN analyzed THEN it adds no edge unless includeFailed', () => {
    const events = [ev('p', 'c', 'a', 'a', 1, false)];
    assert.equal(analyzeArtifacts(events, { now: 10 }).dependency.depth, 1);
    assert.equal(analyzeArtifacts(events, { now: 10, includeFailed: true }).dependency.depth, 2);
    assert.throws(() => analyzeArtifacts([{ ...events[0], at: NaN }], { now: 10 }), code('INVALID_EVENT'));
  });
});
