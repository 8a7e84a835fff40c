/**
 * Escrow of artifacts, on PGlite and Postgres: deposit is one atomic proposal (no front-running
 * window), purchase moves the price and the ownership in one entry or nothing, cancel returns the
 * artifact, and a listing with a test artifact is released only by a passing judiciary run, which
 * an auditor can repeat.
 */
import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { forEachBackend } from './support/backends';
import { artifactGrid, code, ok, failed, invoke, bal, legs, assertSound, tools, type ArtifactGrid } from './support/artifact-grid';
import { depositArtifact, purchaseArtifact, cancelListing, writeArtifact, deleteArtifact, auditJudiciary } from '../engine/artifacts';
import { judgement } from './support/artifact-world';

const SORT = `var methods = { sort(a) { return a.xs.slice().sort((x, y) => x - y); } };`;
const BROKEN_SORT = `var methods = { sort(a) { return a.xs; } };`;
/** The judiciary's test: calls the delivered artifact and checks the answer. */
const TEST = `var methods = { test(a) {
  const out = invoke(a.artifact_id, 'sort', { xs: [3, 1, 2] });
  return { passed: JSON.stringify(out) === '[1,2,3]', got: out };
} };`;

async function listed(g: ArtifactGrid, opts: { source?: string; price?: number; test?: boolean } = {}) {
  await code(g, 'alice', 'sorter', opts.source ?? SORT, { names: ['sort'], price: 2 });
  if (opts.test) await code(g, 'erin', 'sort_test', TEST, { names: ['test'] });
  const r = ok(await depositArtifact({ db: g.db, writer: g.w, seller: 'alice', artifactId: 'sorter', price: opts.price ?? 100, ...(opts.test ? { testArtifact: 'sort_test' } : {}) }));
  return r.proposal_id;
}

const owner = async (g: ArtifactGrid, id = 'sorter') => (await g.db.query<any>('SELECT owner, listing_id FROM artifacts WHERE id = $1', [id])).rows[0];
const status = async (g: ArtifactGrid, l: string) => (await g.db.query<any>('SELECT status, buyer FROM artifact_listings WHERE listing_id = $1', [l])).rows[0];

forEachBackend('artifacts: escrow', (b) => {
  it('GIVEN alice lists her artifact WHEN bob buys it THEN one entry moves 100 credits bob→alice and the ownership, and the listing is sold', async () => {
    const g = await artifactGrid(b);
    const l = await listed(g);
    assert.deepEqual(await owner(g), { owner: 'escrow', listing_id: l });
    assert.deepEqual(await legs(g.db, l), [['escrow', null, null, null, null]]);
    const [a0, b0] = [await bal(g.db, 'alice'), await bal(g.db, 'bob')];
    const r = ok(await purchaseArtifact({ db: g.db, writer: g.w, buyer: 'bob', listingId: l }));
    assert.deepEqual(await legs(g.db, r.proposal_id), [['escrow', 'bob', 'alice', 'credits', '100']]);
    assert.deepEqual([await bal(g.db, 'alice') - a0, await bal(g.db, 'bob') - b0], [100n, -100n]);
    assert.deepEqual(await owner(g), { owner: 'bob', listing_id: null });
    assert.deepEqual(await status(g, l), { status: 'sold', buyer: 'bob' });
    // The new owner controls it; the seller no longer does.
    await code(g, 'bob', 'sorter', SORT.replace('x - y', 'y - x'), { names: ['sort'] });
    failed(await deleteArtifact({ writer: g.w, agent: 'alice', artifactId: 'sorter' }), 'ACCESS_DENIED');
    await assertSound(g.db);
  });

  it('GIVEN a listing WHEN alice cancels it THEN the artifact returns to her; buying the cancelled listing is CONFLICT (LISTING_NOT_OPEN)', async () => {
    const g = await artifactGrid(b);
    const l = await listed(g);
    failed(await cancelListing({ writer: g.w, seller: 'carol', listingId: l }), 'ACCESS_DENIED');
    ok(await cancelListing({ writer: g.w, seller: 'alice', listingId: l }));
    assert.deepEqual(await owner(g), { owner: 'alice', listing_id: null });
    const e = failed(await purchaseArtifact({ db: g.db, writer: g.w, buyer: 'bob', listingId: l }), 'CONFLICT');
    assert.equal(e.details.law_code, 'LISTING_NOT_OPEN');
    await code(g, 'alice', 'sorter', BROKEN_SORT, { names: ['sort'] });
    await assertSound(g.db);
  });

  it('GIVEN a listed artifact WHEN anyone tries to front-run (re-list, rewrite, delete, list someone else\'s, buy own) THEN each is refused and the listing is untouched', async () => {
    const g = await artifactGrid(b);
    const l = await listed(g);
    failed(await depositArtifact({ db: g.db, writer: g.w, seller: 'alice', artifactId: 'sorter', price: 1 }), 'ACCESS_DENIED');
    failed(await depositArtifact({ db: g.db, writer: g.w, seller: 'carol', artifactId: 'sorter', price: 1 }), 'ACCESS_DENIED');
    failed(await writeArtifact({ db: g.db, writer: g.w, agent: 'alice', artifactId: 'sorter', kind: 'code', content: BROKEN_SORT, interface: tools('sort') }), 'ACCESS_DENIED');
    failed(await deleteArtifact({ writer: g.w, agent: 'alice', artifactId: 'sorter' }), 'ACCESS_DENIED');
    failed(await purchaseArtifact({ db: g.db, writer: g.w, buyer: 'alice', listingId: l }), 'ACCESS_DENIED');
    // An agent cannot attach a judgement of its own making.
    const forged = await g.w.apply({ kind: 'escrow_purchase', proposal_id: randomUUID(), agent: 'bob', listing_id: l, judiciary: judgement('sort_test', 1, 1, true) });
    assert.deepEqual([forged.status, forged.status === 'rejected' && forged.code], ['rejected', 'NOT_AUTHORIZED']);
    assert.deepEqual(await status(g, l), { status: 'open', buyer: null });
    // Still callable while held; the seller earns its price.
    const a0 = await bal(g.db, 'alice');
    assert.deepEqual(ok(await invoke(g, 'dave', 'sorter', 'sort', { xs: [2, 1] })), [1, 2]);
    assert.equal(await bal(g.db, 'alice'), a0 + 2n);
    await assertSound(g.db);
  });

  it('GIVEN two buyers racing for one listing WHEN both purchases reach the writer THEN exactly one buys; the other is LISTING_NOT_OPEN and keeps its credits', async () => {
    const g = await artifactGrid(b);
    const l = await listed(g);
    const [b0, c0] = [await bal(g.db, 'bob'), await bal(g.db, 'carol')];
    const rs = await Promise.all(['bob', 'carol'].map((buyer) => purchaseArtifact({ db: g.db, writer: g.w, buyer, listingId: l })));
    assert.equal(rs.filter((r) => r.success).length, 1);
    const loser = rs.find((r) => !r.success)!;
    assert.equal(failed(loser, 'CONFLICT').details.law_code, 'LISTING_NOT_OPEN');
    const winner = (await status(g, l)).buyer;
    assert.equal((await bal(g.db, 'bob')) + (await bal(g.db, 'carol')), b0 + c0 - 100n);
    assert.equal((await owner(g)).owner, winner);
    await assertSound(g.db);
  });

  it('GIVEN a listing with a test artifact WHEN the delivered artifact passes THEN the judiciary releases it, the record is on the ledger, and an audit reproduces it', async () => {
    const g = await artifactGrid(b);
    const l = await listed(g, { test: true });
    const r = ok(await purchaseArtifact({ db: g.db, writer: g.w, buyer: 'bob', listingId: l }));
    assert.equal(r.judiciary?.passed, true);
    const entry = (await g.db.query<any>(`SELECT agent, from_actor, to_actor, amount, metadata FROM ledger WHERE proposal_id = $1`, [r.proposal_id])).rows[0];
    assert.deepEqual([entry.agent, entry.from_actor, entry.to_actor, String(entry.amount), entry.metadata.principal, entry.metadata.judiciary.passed], ['system', 'bob', 'alice', '100', 'bob', true]);
    assert.equal((await owner(g)).owner, 'bob');
    const audit = await auditJudiciary(g.db, l);
    assert.deepEqual([audit.reproducible, audit.matches], [true, true]);
    await assertSound(g.db);
  });

  it('GIVEN a listing with a test artifact WHEN the delivered artifact fails it THEN JUDICIARY_FAILED, nothing moves, the listing stays open and the seller can cancel', async () => {
    const g = await artifactGrid(b);
    const l = await listed(g, { source: BROKEN_SORT, test: true });
    const b0 = await bal(g.db, 'bob');
    const e = failed(await purchaseArtifact({ db: g.db, writer: g.w, buyer: 'bob', listingId: l }), 'JUDICIARY_FAILED');
    assert.equal((e.details.judiciary as any).passed, false);
    assert.equal(await bal(g.db, 'bob'), b0);
    assert.deepEqual(await status(g, l), { status: 'open', buyer: null });
    assert.equal((await g.db.query<any>(`SELECT code FROM rejected_proposals WHERE kind = 'escrow_purchase'`)).rows[0].code, 'JUDICIARY_FAILED');
    ok(await cancelListing({ writer: g.w, seller: 'alice', listingId: l }));
    await assertSound(g.db);
  });

  it('GIVEN the test artifact is made lax after listing WHEN bought THEN JUDICIARY_FAILED: the listing pinned the test revision it was listed with', async () => {
    const g = await artifactGrid(b);
    const l = await listed(g, { source: BROKEN_SORT, test: true });
    await code(g, 'erin', 'sort_test', `var methods = { test() { return true; } };`, { names: ['test'] });
    const e = failed(await purchaseArtifact({ db: g.db, writer: g.w, buyer: 'bob', listingId: l }), 'JUDICIARY_FAILED');
    assert.match(e.message, /changed/);
    assert.deepEqual(await status(g, l), { status: 'open', buyer: null });
  });
});
