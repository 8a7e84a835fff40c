/**
 * Artifacts as ledgered state, on PGlite and Postgres: writes and updates are proposals decided by
 * the law (ownership, interface, size, disk quota), a delete leaves a tombstone that every later
 * call answers DELETED, data artifacts are read through `read`, and replay rebuilds the artifact
 * caches from the ledger alone.
 */
import { strict as assert } from 'node:assert';
import { forEachBackend } from './support/backends';
import { artifactGrid, code, ok, failed, invoke, bal, legs, assertSound, tools } from './support/artifact-grid';
import { writeArtifact, deleteArtifact, invokeArtifact, depositArtifact, purchaseArtifact } from '../engine/artifacts';
import { replayArtifacts } from '../db/artifact-replay';
import { contentHash, pruneOrphanContent, putContent } from '../db/artifacts';
import { LIMITS } from '../validator';

const ECHO = `var methods = { go(args) { return { echo: args.x ?? null, v: 1 }; } };`;
const ECHO2 = `var methods = { go(args) { return { echo: args.x ?? null, v: 2 }; } };`;

forEachBackend('artifacts: write, update, delete, quota', (b) => {
  it('GIVEN alice writes a code artifact WHEN she updates it THEN the ledger holds both writes, the cache shows revision 2 and calls run the new code', async () => {
    const g = await artifactGrid(b);
    const w1 = await code(g, 'alice', 'echo', ECHO, { description: 'echoes x' });
    assert.deepEqual([w1.rev, w1.content_hash, w1.bytes], [1, contentHash(ECHO), Buffer.byteLength(ECHO)]);
    assert.deepEqual(ok(await invoke(g, 'bob', 'echo', 'go', { x: 7 })), { echo: 7, v: 1 });
    const w2 = await code(g, 'alice', 'echo', ECHO2);
    assert.equal(w2.rev, 2);
    assert.deepEqual(ok(await invoke(g, 'bob', 'echo', 'go', { x: 8 })), { echo: 8, v: 2 });
    const rows = await g.db.query<any>(`SELECT kind, agent, metadata FROM ledger WHERE kind = 'artifact_write' ORDER BY id`);
    assert.deepEqual(rows.rows.map((r) => [r.agent, r.metadata.artifact_id, r.metadata.rev, r.metadata.bytes, r.metadata.created]), [
      ['alice', 'echo', 1, Buffer.byteLength(ECHO), true],
      ['alice', 'echo', 2, Buffer.byteLength(ECHO2), false],
    ]);
    const cache = (await g.db.query<any>(`SELECT owner, created_by, rev, content_hash, deleted FROM artifacts WHERE id = 'echo'`)).rows[0];
    assert.deepEqual(cache, { owner: 'alice', created_by: 'alice', rev: 2, content_hash: contentHash(ECHO2), deleted: false });
    await assertSound(g.db);
  });

  it('GIVEN alice owns an artifact WHEN bob writes or deletes it THEN ACCESS_DENIED (law: NOT_AUTHORIZED) and nothing changes', async () => {
    const g = await artifactGrid(b);
    await code(g, 'alice', 'echo', ECHO);
    const e = failed(await writeArtifact({ db: g.db, writer: g.w, agent: 'bob', artifactId: 'echo', kind: 'code', content: ECHO2, interface: tools('go') }), 'ACCESS_DENIED');
    assert.equal(e.details.law_code, 'NOT_AUTHORIZED');
    failed(await deleteArtifact({ writer: g.w, agent: 'bob', artifactId: 'echo' }), 'ACCESS_DENIED');
    assert.deepEqual(ok(await invoke(g, 'bob', 'echo', 'go', { x: 1 })), { echo: 1, v: 1 });
  });

  it('GIVEN a code artifact without an interface, with a malformed one, or an id of an actor WHEN written THEN refused with a code', async () => {
    const g = await artifactGrid(b);
    failed(await writeArtifact({ db: g.db, writer: g.w, agent: 'alice', artifactId: 'x1', kind: 'code', content: ECHO }), 'INVALID_ARGS');
    failed(await writeArtifact({ db: g.db, writer: g.w, agent: 'alice', artifactId: 'x1', kind: 'code', content: ECHO, interface: { tools: [{ name: 'not a name', description: '', inputSchema: {} }] } }), 'INVALID_ARGS');
    failed(await writeArtifact({ db: g.db, writer: g.w, agent: 'alice', artifactId: 'genesis:mine', kind: 'code', content: ECHO, interface: tools('go') }), 'INVALID_ARGS');
    const taken = failed(await writeArtifact({ db: g.db, writer: g.w, agent: 'alice', artifactId: 'bob', kind: 'code', content: ECHO, interface: tools('go') }), 'CONFLICT');
    assert.equal(taken.details.law_code, 'ARTIFACT_ID_TAKEN');
    failed(await writeArtifact({ db: g.db, writer: g.w, agent: 'alice', artifactId: 'x2', kind: 'data', content: 'a\u0000b' }), 'INVALID_ARGS');
    assert.equal((await g.db.query<any>('SELECT count(*)::int AS n FROM artifacts')).rows[0].n, 0);
  });

  it('GIVEN alice near her disk quota WHEN one more artifact would pass it THEN QUOTA_EXCEEDED; after a delete frees space THEN it fits', async () => {
    const g = await artifactGrid(b);
    const big = (i: number) => `/*${'x'.repeat(LIMITS.sandbox.maxCodeBytes - 64 - i)}*/ var methods = { go() { return ${i}; } };`;
    const n = Math.floor(LIMITS.sandbox.diskQuotaBytes / LIMITS.sandbox.maxCodeBytes);
    for (let i = 0; i < n; i++) await code(g, 'alice', `big${i}`, big(i));
    const used = Number((await g.db.query<any>(`SELECT sum(bytes)::int AS s FROM artifacts WHERE owner = 'alice'`)).rows[0].s);
    const extra = 'var methods = { go() { return 1; } };' + ' '.repeat(LIMITS.sandbox.diskQuotaBytes - used);
    const e = failed(await writeArtifact({ db: g.db, writer: g.w, agent: 'alice', artifactId: 'one_more', kind: 'code', content: extra, interface: tools('go') }), 'QUOTA_EXCEEDED');
    assert.equal(e.details.quota, LIMITS.sandbox.diskQuotaBytes);
    // Someone else's quota is their own.
    await code(g, 'bob', 'bobs', extra);
    ok(await deleteArtifact({ writer: g.w, agent: 'alice', artifactId: 'big0' }));
    await code(g, 'alice', 'one_more', extra);
    // Content larger than any artifact may be is refused before it is stored.
    failed(await writeArtifact({ db: g.db, writer: g.w, agent: 'alice', artifactId: 'huge', kind: 'data', content: 'z'.repeat(70_000) }), 'QUOTA_EXCEEDED');
    await assertSound(g.db);
  });

  it('GIVEN a deleted artifact WHEN called directly, through another artifact, or written again THEN DELETED every time, nothing paid, and the host stays healthy', async () => {
    const g = await artifactGrid(b);
    await code(g, 'alice', 'gone', ECHO, { price: 5 });
    await code(g, 'bob', 'caller', `var methods = { go() { return invoke('gone', 'go', {}); } };`);
    ok(await deleteArtifact({ writer: g.w, agent: 'alice', artifactId: 'gone' }));
    const before = [await bal(g.db, 'carol'), await bal(g.db, 'alice')];
    const direct = failed(await invoke(g, 'carol', 'gone'), 'DELETED');
    assert.equal(direct.details.recorded, true);
    const nested = failed(await invoke(g, 'carol', 'caller'), 'DELETED');
    assert.deepEqual(await legs(g.db, nested.details.proposal_id as string), [['invoke', null, null, null, null]]);
    assert.deepEqual([await bal(g.db, 'carol'), await bal(g.db, 'alice')], before);
    const again = failed(await writeArtifact({ db: g.db, writer: g.w, agent: 'alice', artifactId: 'gone', kind: 'code', content: ECHO2, interface: tools('go') }), 'DELETED');
    assert.equal(again.details.law_code, 'ARTIFACT_DELETED');
    failed(await deleteArtifact({ writer: g.w, agent: 'alice', artifactId: 'gone' }), 'DELETED');
    await code(g, 'alice', 'alive', ECHO);
    assert.deepEqual(ok(await invoke(g, 'carol', 'alive', 'go', { x: 3 })), { echo: 3, v: 1 });
    const fails = await g.db.query<any>(`SELECT artifact_id, caller, type, error_code FROM invocations WHERE artifact_id = 'gone' ORDER BY entry_id`);
    assert.deepEqual(fails.rows, [
      { artifact_id: 'gone', caller: 'carol', type: 'INVOKE_FAILURE', error_code: 'DELETED' },
      { artifact_id: 'gone', caller: 'caller', type: 'INVOKE_FAILURE', error_code: 'DELETED' },
    ]);
    await assertSound(g.db);
  });

  it('GIVEN a priced data artifact WHEN bob reads it THEN he gets the content and the price goes to the owner; a private one is ACCESS_DENIED', async () => {
    const g = await artifactGrid(b);
    const text = 'grid forecast: "sunny" \u2028 line two';
    ok(await writeArtifact({ db: g.db, writer: g.w, agent: 'alice', artifactId: 'forecast', kind: 'data', content: text, invokePrice: 3 }));
    ok(await writeArtifact({ db: g.db, writer: g.w, agent: 'alice', artifactId: 'diary', kind: 'data', content: 'secret', access: { mode: 'private' } }));
    const [a0, b0] = [await bal(g.db, 'alice'), await bal(g.db, 'bob')];
    const r = await invoke(g, 'bob', 'forecast', 'read');
    assert.equal(ok(r), text);
    assert.deepEqual([await bal(g.db, 'alice') - a0, await bal(g.db, 'bob') - b0], [3n, -3n]);
    failed(await invoke(g, 'bob', 'diary', 'read'), 'ACCESS_DENIED');
    assert.equal(ok(await invoke(g, 'alice', 'diary', 'read')), 'secret');
    await assertSound(g.db);
  });
});

forEachBackend('artifacts: replay rebuilds artifact state', (b) => {
  it('GIVEN writes, a delete, an escrow sale and runs WHEN the caches are damaged THEN a dry run names the rows, a repair rebuilds them from the ledger, and verify passes', async () => {
    const g = await artifactGrid(b);
    await code(g, 'alice', 'a1', ECHO);
    await code(g, 'alice', 'a2', ECHO2);
    await code(g, 'bob', 'b1', `var methods = { go() { return invoke('a1', 'go', { x: 1 }); } };`);
    ok(await deleteArtifact({ writer: g.w, agent: 'alice', artifactId: 'a2' }));
    ok(await invoke(g, 'carol', 'b1'));
    failed(await invoke(g, 'carol', 'a2'), 'DELETED');
    const listing = ok(await depositArtifact({ db: g.db, writer: g.w, seller: 'bob', artifactId: 'b1', price: 40 }));
    ok(await purchaseArtifact({ db: g.db, writer: g.w, buyer: 'dave', listingId: listing.proposal_id }));
    const clean = await assertSound(g.db);
    assert.deepEqual([clean.artifacts.artifacts, clean.artifacts.listings, clean.artifacts.invocations], [3, 1, 3]);

    await g.db.query(`UPDATE artifacts SET owner = 'mallory', rev = 9 WHERE id = 'a1'`);
    await g.db.query(`UPDATE artifact_listings SET status = 'open' WHERE listing_id = $1`, [listing.proposal_id]);
    await g.db.query(`DELETE FROM invocations WHERE artifact_id = 'a2'`);
    const dry = await replayArtifacts(g.db, { dryRun: true });
    assert.equal(dry.cacheMatches, false);
    assert.deepEqual(dry.diffs.artifacts, ['a1']);
    assert.deepEqual(dry.diffs.listings, [listing.proposal_id]);
    assert.equal(dry.diffs.invocations.length, 1);
    assert.equal(dry.wroteCache, false);
    assert.equal((await g.db.query<any>(`SELECT owner FROM artifacts WHERE id = 'a1'`)).rows[0].owner, 'mallory', 'a dry run changes nothing');
    const fixed = await replayArtifacts(g.db);
    assert.equal(fixed.wroteCache, true);
    const after = await assertSound(g.db);
    assert.equal(after.artifacts.wroteCache, false);
    assert.deepEqual((await g.db.query<any>(`SELECT owner, rev FROM artifacts WHERE id = 'a1'`)).rows[0], { owner: 'alice', rev: 1 });
    const again = ok(await invokeArtifact({ db: g.db, writer: g.w, invoker: 'carol', artifactId: 'a1', method: 'go', args: { x: 5 } })) as { echo: number };
    assert.equal(again.echo, 5);
  });

  it('GIVEN content no artifact uses WHEN pruned THEN it is removed and content in use stays', async () => {
    const g = await artifactGrid(b);
    await code(g, 'alice', 'a1', ECHO);
    await putContent(g.db, 'orphan');
    assert.equal(await pruneOrphanContent(g.db, -1_000), 1);
    assert.deepEqual((await g.db.query<any>('SELECT hash FROM artifact_blobs')).rows, [{ hash: contentHash(ECHO) }]);
  });
});
