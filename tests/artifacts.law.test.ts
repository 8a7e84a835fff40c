/**
 * The artifact-economy law without a database (validator/artifacts.ts): what a recorded run may
 * move and who may record it, the invoker's breaker and rate limit, ordered funds, stale prices,
 * escrow payees and tax, malformed run records, and that folding the accepted entries again
 * rebuilds the same artifact state (what replay relies on).
 */
import { strict as assert } from 'node:assert';
import { MemoryWorld, LIMITS } from '../validator';
import { lawWorld, commit, assertRejected, assertAccepted, pid, T0 } from './support/law-world';
import { HASH, write, del, deposit, purchase, cancelListing, invokeRecord, blob, artifactBy, listedByA } from './support/artifact-world';

const run = (w: MemoryWorld, input: unknown) => commit(w, input);
const priced = (price: number, owner = 'C') => artifactBy(owner, 'art1', { invoke_price: price });

describe('artifacts law: recorded runs', () => {
  it('GIVEN an open breaker WHEN the system records a run for an agent THEN CIRCUIT_OPEN; for a human invoker it passes', () => {
    const w = lawWorld();
    artifactBy('C')(w);
    w.breaker = { open: true, reason: 'halt', by: 'council' };
    assertRejected(run(w, invokeRecord('A', 'art1')), 'CIRCUIT_OPEN');
    assertAccepted(run(w, invokeRecord('council', 'art1')));
  });

  it('GIVEN a limit of 1 action WHEN a run was recorded for A THEN A\'s next run and next transfer are RATE_LIMITED; B is not', () => {
    const w = lawWorld({ rate_limit: { max_actions: 1, window_ms: 10_000 } });
    artifactBy('C')(w);
    assertAccepted(run(w, invokeRecord('A', 'art1')));
    assertRejected(run(w, invokeRecord('A', 'art1')), 'RATE_LIMITED');
    assertRejected(run(w, { proposal_id: pid(9100), agent: 'A', from: 'A', to: 'B', resource: 'credits', amount: 1 }), 'RATE_LIMITED');
    assertAccepted(run(w, invokeRecord('B', 'art1')));
  });

  it('GIVEN an artifact with no credits WHEN the run credits it before it pays THEN accepted; paying first THEN INSUFFICIENT_BALANCE', () => {
    // art1 (0 credits) calls art2 (50 credits), which pays art1 5; then art1 pays B 5.
    const calls = [[1, null, 'art1', 'run', 1, null], [2, 1, 'art2', 'run', 1, null]];
    const receiveFirst = [[2, 'pay', 'art2', 'art1', 'credits', '5'], [1, 'pay', 'art1', 'B', 'credits', '5']];
    const setup = () => {
      const w = lawWorld();
      artifactBy('C')(w);
      artifactBy('C', 'art2')(w);
      w.setBalance('art2', 'credits', 50n);
      return w;
    };
    const w = setup();
    assertAccepted(run(w, invokeRecord('A', 'art1', { calls, payments: receiveFirst })));
    assert.deepEqual([w.balance('art1', 'credits'), w.balance('art2', 'credits'), w.balance('B', 'credits')], [0n, 45n, 55n]);
    assertRejected(run(setup(), invokeRecord('A', 'art1', { calls, payments: [...receiveFirst].reverse() })), 'INSUFFICIENT_BALANCE');
  });

  it('GIVEN a price of 3 WHEN the run recorded a price of 2, or none THEN STALE_RUN; the right price to the owner is accepted', () => {
    const w = lawWorld();
    priced(3)(w);
    assertRejected(run(w, invokeRecord('A', 'art1', { payments: [[1, 'price', 'A', 'C', 'credits', '2']] })), 'STALE_RUN');
    assertRejected(run(w, invokeRecord('A', 'art1')), 'STALE_RUN');
    assertRejected(run(w, invokeRecord('A', 'art1', { payments: [[1, 'price', 'A', 'B', 'credits', '3']] })), 'STALE_RUN');
    assertAccepted(run(w, invokeRecord('A', 'art1', { payments: [[1, 'price', 'A', 'C', 'credits', '3']] })));
    assert.deepEqual([w.balance('A', 'credits'), w.balance('C', 'credits')], [97n, 3n]);
  });

  it('GIVEN a listed artifact WHEN it is called THEN its price goes to the seller, not to the escrow actor', () => {
    const w = lawWorld();
    listedByA(pid(9200))(w);
    w.book.artifacts.get('art1')!.invoke_price = 4n;
    assertRejected(run(w, invokeRecord('B', 'art1', { payments: [[1, 'price', 'B', 'escrow', 'credits', '4']] })), 'STALE_RUN');
    assertAccepted(run(w, invokeRecord('B', 'art1', { payments: [[1, 'price', 'B', 'A', 'credits', '4']] })));
  });

  it('GIVEN payments the call tree does not allow WHEN recorded THEN NOT_AUTHORIZED', () => {
    const w = lawWorld();
    artifactBy('C')(w);
    artifactBy('C', 'art2')(w);
    w.setBalance('art2', 'credits', 50n);
    // art1 "paying" from art2's balance; a genesis payment from someone other than its caller; a pay recorded in a genesis call.
    assertRejected(run(w, invokeRecord('A', 'art1', { payments: [[1, 'pay', 'art2', 'B', 'credits', '1']] })), 'NOT_AUTHORIZED');
    const g = { calls: [[1, null, 'art1', 'run', 1, null], [2, 1, 'genesis:ledger', 'transfer', null, null]] };
    assertRejected(run(w, invokeRecord('A', 'art1', { ...g, payments: [[2, 'genesis', 'B', 'C', 'credits', '1']] })), 'NOT_AUTHORIZED');
    assertRejected(run(w, invokeRecord('A', 'art1', { ...g, payments: [[2, 'pay', 'art1', 'C', 'credits', '1']] })), 'NOT_AUTHORIZED');
    assertRejected(run(w, invokeRecord('treasury', 'art1')), 'NOT_AUTHORIZED');
  });

  it('GIVEN run records that contradict themselves WHEN parsed THEN MALFORMED', () => {
    const w = lawWorld();
    artifactBy('C')(w);
    const bad: Array<Record<string, unknown>> = [
      { outcome: 'failure', error_code: 'TIMEOUT', payments: [[1, 'pay', 'art1', 'B', 'credits', '1']] },
      { outcome: 'failure' },
      { error_code: 'TIMEOUT' },
      { calls: [[1, null, 'other', 'run', 1, null]] },
      { calls: [[1, null, 'art1', 'run', 1, null], [2, 7, 'art1', 'run', 1, null]] },
      { calls: [[1, null, 'art1', 'run', 1, null], [1, 1, 'art1', 'run', 1, null]] },
      { payments: [[3, 'pay', 'art1', 'B', 'credits', '1']] },
      { calls: [[1, null, 'art1', 'run', 1, 'TIMEOUT']] },
      { compute: '-1' },
    ];
    for (const extra of bad) assertRejected(run(w, invokeRecord('A', 'art1', extra)), 'MALFORMED');
    assertAccepted(run(w, invokeRecord('A', 'nope', { outcome: 'failure', error_code: 'NOT_FOUND', calls: [[1, null, 'nope', 'run', null, 'NOT_FOUND']] })));
  });
});

describe('artifacts law: writes and escrow', () => {
  it('GIVEN a write WHEN accepted THEN revision, bytes and disk use follow; an update by the owner replaces content and keeps the creator', () => {
    const w = lawWorld();
    blob(w, 1, 100);
    blob(w, 2, 300);
    assertAccepted(run(w, write('A', 'art1', HASH(1))));
    assertAccepted(run(w, write('A', 'art1', HASH(2), { invoke_price: 5 })));
    const a = w.artifact('art1')!;
    assert.deepEqual([a.rev, a.bytes, a.owner, a.created_by, a.invoke_price, w.diskUsed('A')], [2, 300, 'A', 'A', 5n, 300]);
    assertAccepted(run(w, del('A', 'art1')));
    assert.deepEqual([w.artifact('art1')!.deleted, w.diskUsed('A')], [true, 0]);
  });

  it('GIVEN a listing WHEN a human cancels it THEN it returns to the seller; WHEN carbon tax applies to credits THEN the purchase pays its tax leg', () => {
    const w = lawWorld();
    listedByA(pid(9300))(w);
    assertAccepted(run(w, cancelListing('council', pid(9300))));
    assert.equal(w.artifact('art1')!.owner, 'A');
    const t = lawWorld({ carbon_tax: { resource: 'credits', bps: 1000, mode: 'burn' } });
    listedByA(pid(9301), 20)(t);
    const d = run(t, purchase('B', pid(9301)));
    assertAccepted(d);
    assert.deepEqual(d.effects.map((e) => [e.kind, e.from, e.to, e.amount]), [['escrow', 'B', 'A', 20n], ['tax', 'B', null, 2n]]);
    assert.equal(t.artifact('art1')!.owner, 'B');
  });

  it('GIVEN a buyer at its disk quota WHEN it buys THEN QUOTA_EXCEEDED; a deposit by a non-escrow holder THEN NOT_AUTHORIZED', () => {
    const w = lawWorld();
    listedByA(pid(9400))(w);
    w.book.disk.set('B', LIMITS.sandbox.diskQuotaBytes);
    assertRejected(run(w, purchase('B', pid(9400))), 'QUOTA_EXCEEDED');
    artifactBy('A', 'art2')(w);
    assertRejected(run(w, deposit('A', 'art2', 5, { escrow: 'treasury' })), 'NOT_AUTHORIZED');
  });

  it('GIVEN every accepted artifact entry WHEN folded again into an empty world THEN the artifact state is the same (replay rebuilds it)', () => {
    const w = lawWorld();
    const entries: Array<{ e: any; pid: string; agent: string }> = [];
    const keep = (input: any) => {
      const d = run(w, input);
      assertAccepted(d);
      for (const e of d.effects) entries.push({ e, pid: d.proposal!.proposal_id, agent: d.proposal!.agent });
    };
    blob(w, 1, 120);
    keep(write('A', 'art1', HASH(1), { invoke_price: 2 }));
    keep(write('B', 'art2', HASH(1)));
    keep({ ...deposit('A', 'art1', 30), proposal_id: pid(9500) });
    w.setBalance('C', 'credits', 100n);
    keep(invokeRecord('C', 'art1', { payments: [[1, 'price', 'C', 'A', 'credits', '2']] }));
    keep(purchase('C', pid(9500)));
    keep(del('B', 'art2'));
    const again = new MemoryWorld();
    again.now = T0;
    for (const x of entries) again.applyEffect(x.e, { proposal_id: x.pid, agent: x.agent });
    assert.deepEqual([...again.book.artifacts.entries()], [...w.book.artifacts.entries()]);
    assert.deepEqual([...again.book.listings.entries()], [...w.book.listings.entries()]);
    assert.deepEqual(again.diskUsed('C'), w.diskUsed('C'));
    assert.equal(w.artifact('art1')!.owner, 'C');
  });
});
