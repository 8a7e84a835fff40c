/**
 * Sandboxed invokes through the ledger, on PGlite and Postgres: a run's payments, invoke prices
 * and compute charge land as legs of ONE `invoke` proposal decided by the law, or nothing moves;
 * failed runs are recorded with no movement; the invocation registry and its edges; genesis
 * artifacts; the sandbox attack suite through the whole path.
 */
import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { forEachBackend } from './support/backends';
import { artifactGrid, code, ok, failed, invoke, bal, legs, assertSound, type ArtifactGrid } from './support/artifact-grid';
import { invokeRecord } from './support/artifact-world';
import { invokeArtifact } from '../engine/artifacts';
import type { LedgerWriter } from '../db/writer';
import { LIMITS } from '../validator';

/** A four-level chain; every level pays the treasury 1 and calls the next; `fail` makes level 3 throw. */
async function chain(g: ArtifactGrid) {
  const level = (n: number, next: string | null) =>
    `var methods = { go(args) { pay('treasury', 1); ${next ? `return invoke('${next}', 'go', args) + 1;` : `if (args.fail) throw new Error('level 3 broke'); return 1;`} } };`;
  await code(g, 'bob', 'lvl0', level(0, 'lvl1'), { price: 5 });
  await code(g, 'carol', 'lvl1', level(1, 'lvl2'), { price: 3 });
  await code(g, 'dave', 'lvl2', level(2, 'lvl3'), { price: 2 });
  await code(g, 'erin', 'lvl3', level(3, null), { price: 1 });
  // Fund each level with 10 credits: alice calls genesis:ledger.transfer, a recorded run itself.
  for (const id of ['lvl0', 'lvl1', 'lvl2', 'lvl3']) ok(await invoke(g, 'alice', 'genesis:ledger', 'transfer', { to: id, amount: '10' }));
}

const ACTORS = ['alice', 'bob', 'carol', 'dave', 'erin', 'treasury', 'lvl0', 'lvl1', 'lvl2', 'lvl3'];
const credits = async (g: ArtifactGrid) => Object.fromEntries(await Promise.all(ACTORS.map(async (a) => [a, await bal(g.db, a)])));

forEachBackend('artifacts: nested invoke with payments through the ledger', (b) => {
  it('GIVEN a 4-level priced chain that pays at every level WHEN alice invokes it THEN one proposal carries every payment, price and the compute charge as legs', async () => {
    const g = await artifactGrid(b);
    await chain(g);
    const before = await credits(g);
    const compute0 = await bal(g.db, 'alice', 'compute');
    const r = await invoke(g, 'alice', 'lvl0', 'go', {});
    assert.equal(ok(r), 4);
    const pid = (r as any).proposal_id as string;
    const l = await legs(g.db, pid);
    assert.deepEqual(l.slice(0, -1), [
      ['invoke', null, null, null, null],
      ['invoke', 'lvl0', 'treasury', 'credits', '1'],
      ['invoke', 'lvl1', 'treasury', 'credits', '1'],
      ['invoke', 'lvl2', 'treasury', 'credits', '1'],
      ['invoke', 'lvl3', 'treasury', 'credits', '1'],
      ['invoke', 'lvl2', 'erin', 'credits', '1'],
      ['invoke', 'lvl1', 'dave', 'credits', '2'],
      ['invoke', 'lvl0', 'carol', 'credits', '3'],
      ['invoke', 'alice', 'bob', 'credits', '5'],
    ]);
    const charge = l.at(-1)!;
    assert.deepEqual(charge.slice(0, 4), ['compute_charge', 'alice', null, 'compute']);
    assert.ok(Number(charge[4]) >= 1);
    assert.equal(await bal(g.db, 'alice', 'compute'), compute0 - BigInt(charge[4]!));
    const after = await credits(g);
    const delta = Object.fromEntries(ACTORS.map((a) => [a, Number(after[a] - before[a])]));
    assert.deepEqual(delta, { alice: -5, bob: 5, carol: 3, dave: 2, erin: 1, treasury: 4, lvl0: -4, lvl1: -3, lvl2: -2, lvl3: -1 });
    const calls = await g.db.query<any>(`SELECT call_id, parent_call_id, artifact_id, caller, owner, type, depth FROM invocations WHERE proposal_id = $1 ORDER BY call_id`, [pid]);
    assert.deepEqual(calls.rows.map((c) => [c.call_id, c.parent_call_id, c.artifact_id, c.caller, c.owner, c.type, c.depth]), [
      [1, null, 'lvl0', 'alice', 'bob', 'INVOKE_SUCCESS', 0],
      [2, 1, 'lvl1', 'lvl0', 'carol', 'INVOKE_SUCCESS', 1],
      [3, 2, 'lvl2', 'lvl1', 'dave', 'INVOKE_SUCCESS', 2],
      [4, 3, 'lvl3', 'lvl2', 'erin', 'INVOKE_SUCCESS', 3],
    ]);
    const edges = await g.db.query<any>(`SELECT parent, child, calls::int AS calls, successes::int AS ok FROM invoke_edges WHERE child LIKE 'lvl%' ORDER BY child`);
    assert.deepEqual(edges.rows, [
      { parent: 'alice', child: 'lvl0', calls: 1, ok: 1 },
      { parent: 'lvl0', child: 'lvl1', calls: 1, ok: 1 },
      { parent: 'lvl1', child: 'lvl2', calls: 1, ok: 1 },
      { parent: 'lvl2', child: 'lvl3', calls: 1, ok: 1 },
    ]);
    await assertSound(g.db);
  });

  it('GIVEN the same chain failing at depth 3 WHEN alice invokes it THEN nothing moves: the ledger holds only the failure record and every level is an INVOKE_FAILURE', async () => {
    const g = await artifactGrid(b);
    await chain(g);
    const before = await credits(g);
    const compute0 = await bal(g.db, 'alice', 'compute');
    const e = failed(await invoke(g, 'alice', 'lvl0', 'go', { fail: true }), 'EXECUTION_ERROR');
    assert.equal(e.details.recorded, true);
    assert.equal(e.details.depth, 3);
    assert.deepEqual(await legs(g.db, e.details.proposal_id as string), [['invoke', null, null, null, null]]);
    assert.deepEqual(await credits(g), before);
    assert.equal(await bal(g.db, 'alice', 'compute'), compute0, 'a failed run charges no compute');
    const calls = await g.db.query<any>(`SELECT artifact_id, type FROM invocations WHERE proposal_id = $1 ORDER BY call_id`, [e.details.proposal_id]);
    assert.deepEqual(calls.rows.map((c) => `${c.artifact_id}:${c.type}`), ['lvl0:INVOKE_FAILURE', 'lvl1:INVOKE_FAILURE', 'lvl2:INVOKE_FAILURE', 'lvl3:INVOKE_FAILURE']);
    await assertSound(g.db);
  });

  it('GIVEN balances that change between the run and its recording WHEN a payment no longer fits THEN the whole invoke is rejected (INSUFFICIENT_FUNDS) and nothing moves', async () => {
    const g = await artifactGrid(b);
    await code(g, 'bob', 'pricey', `var methods = { go() { return 'ok'; } };`, { price: 900 });
    // A writer that, just before recording the run, lets alice spend most of her credits elsewhere.
    const racing = { apply: async (p: any) => (p.kind === 'invoke' && (await g.w.apply({ proposal_id: randomUUID(), agent: 'alice', from: 'alice', to: 'carol', resource: 'credits', amount: 500 })), g.w.apply(p)) } as unknown as LedgerWriter;
    const [a0, b0] = [await bal(g.db, 'alice'), await bal(g.db, 'bob')];
    const e = failed(await invokeArtifact({ db: g.db, writer: racing, invoker: 'alice', artifactId: 'pricey', method: 'go' }), 'INSUFFICIENT_FUNDS');
    assert.deepEqual([e.details.law_code, e.details.recorded], ['INSUFFICIENT_BALANCE', false]);
    assert.deepEqual([await bal(g.db, 'alice'), await bal(g.db, 'bob')], [a0 - 500n, b0]);
    assert.equal((await g.db.query<any>(`SELECT count(*)::int AS n FROM ledger WHERE kind IN ('invoke', 'compute_charge')`)).rows[0].n, 0);
    assert.equal((await g.db.query<any>(`SELECT code FROM rejected_proposals WHERE kind = 'invoke'`)).rows[0].code, 'INSUFFICIENT_BALANCE');
    await assertSound(g.db);
  });

  it('GIVEN the artifact is rewritten between the run and its recording WHEN the law sees the old revision THEN STALE_RUN, and the run is repeated once on the new code', async () => {
    const g = await artifactGrid(b);
    await code(g, 'bob', 'moving', `var methods = { go() { return 'v1'; } };`, { price: 1 });
    let raced = false;
    const racing = {
      apply: async (p: any) => {
        if (p.kind === 'invoke' && !raced) {
          raced = true;
          await code(g, 'bob', 'moving', `var methods = { go() { return 'v2'; } };`, { price: 2 });
        }
        return g.w.apply(p);
      },
    } as unknown as LedgerWriter;
    const b0 = await bal(g.db, 'bob');
    const r = await invokeArtifact({ db: g.db, writer: racing, invoker: 'alice', artifactId: 'moving', method: 'go' });
    assert.equal(ok(r), 'v2');
    assert.equal(await bal(g.db, 'bob'), b0 + 2n, 'the price in force when recorded is the one paid');
    assert.equal((await g.db.query<any>(`SELECT count(*)::int AS n FROM rejected_proposals WHERE code = 'STALE_RUN'`)).rows[0].n, 1);
    await assertSound(g.db);
  });

  it('GIVEN an agent that forges a run record (an artifact paying it) WHEN it reaches the writer THEN NOT_AUTHORIZED: only the system records runs', async () => {
    const g = await artifactGrid(b);
    await code(g, 'bob', 'vault', `var methods = { go() { return 1; } };`);
    ok(await invoke(g, 'bob', 'genesis:ledger', 'transfer', { to: 'vault', amount: '50' }));
    const forged = { ...invokeRecord('alice', 'vault', { payments: [[1, 'pay', 'vault', 'alice', 'credits', '50']] }), agent: 'alice', method: 'go', calls: [[1, null, 'vault', 'go', 1, null]] };
    const r = await g.w.apply(forged);
    assert.deepEqual([r.status, r.status === 'rejected' && r.code], ['rejected', 'NOT_AUTHORIZED']);
    assert.equal(await bal(g.db, 'vault'), 50n);
  });

  it('GIVEN compute budgets WHEN the invoker has none THEN INSUFFICIENT_COMPUTE and nothing recorded; WHEN a loop outlives a small budget THEN INSUFFICIENT_COMPUTE recorded with no charge', async () => {
    const g = await artifactGrid(b);
    await code(g, 'bob', 'spin', `var methods = { go() { for (;;) {} } };`);
    await code(g, 'bob', 'quick', `var methods = { go() { return 1; } };`);
    assert.equal((await g.w.apply({ kind: 'burn', proposal_id: randomUUID(), agent: 'system', from: 'dave', resource: 'compute', amount: '100000' })).status, 'applied');
    const none = failed(await invoke(g, 'dave', 'quick'), 'INSUFFICIENT_COMPUTE');
    assert.equal(none.details.recorded, false);
    assert.equal((await g.w.apply({ kind: 'burn', proposal_id: randomUUID(), agent: 'system', from: 'carol', resource: 'compute', amount: '99980' })).status, 'applied');
    const r = await invoke(g, 'carol', 'spin');
    const small = failed(r, 'INSUFFICIENT_COMPUTE');
    assert.ok((r as any).metrics.wallMicros < LIMITS.sandbox.cpuDeadlineMs * 1000, 'stopped at the 20 ms budget, not at the sandbox deadline');
    assert.equal(small.details.recorded, true);
    assert.equal(await bal(g.db, 'carol', 'compute'), 20n);
    await assertSound(g.db);
  });

  it('GIVEN access policies WHEN a stranger calls a private artifact THEN ACCESS_DENIED; an allow-listed caller and the owner succeed; an unregistered invoker is NOT_FOUND', async () => {
    const g = await artifactGrid(b);
    await code(g, 'bob', 'priv', `var methods = { go() { return 'mine'; } };`, { access: { mode: 'private' } });
    await code(g, 'bob', 'club', `var methods = { go() { return 'member'; } };`, { access: { mode: 'allow', allow: ['carol'] } });
    failed(await invoke(g, 'alice', 'priv'), 'ACCESS_DENIED');
    failed(await invoke(g, 'alice', 'club'), 'ACCESS_DENIED');
    assert.equal(ok(await invoke(g, 'carol', 'club')), 'member');
    assert.equal(ok(await invoke(g, 'bob', 'priv')), 'mine');
    failed(await invoke(g, 'zed', 'club'), 'NOT_FOUND');
    assert.equal((await g.db.query<any>(`SELECT count(*)::int AS n FROM invocations WHERE caller = 'zed'`)).rows[0].n, 0, 'an unknown invoker runs nothing');
  });

  it('GIVEN a rate limit of 3 actions WHEN alice invokes a fourth time in the window THEN RATE_LIMITED with retry_after, because runs are her actions', async () => {
    const g = await artifactGrid(b, { rate_limit: { max_actions: 3, window_ms: 10_000 } });
    await code(g, 'bob', 'quick', `var methods = { go() { return 1; } };`);
    for (let i = 0; i < 3; i++) ok(await invoke(g, 'alice', 'quick'));
    const e = failed(await invoke(g, 'alice', 'quick'), 'RATE_LIMITED');
    assert.equal(e.retry_after, 10);
    g.clock.t += 10_001;
    ok(await invoke(g, 'alice', 'quick'));
  });

  it('GIVEN an open breaker WHEN an agent invokes THEN CIRCUIT_OPEN before any code runs', async () => {
    const g = await artifactGrid(b);
    await code(g, 'bob', 'quick', `var methods = { go() { return 1; } };`);
    await g.w.apply({ kind: 'breaker_set', proposal_id: randomUUID(), agent: 'governor', open: true, reason: 'test halt' });
    const e = failed(await invoke(g, 'alice', 'quick'), 'CIRCUIT_OPEN');
    assert.match(e.message, /test halt/);
    assert.equal((await g.db.query<any>(`SELECT count(*)::int AS n FROM invocations`)).rows[0].n, 0);
  });

  it('GIVEN an artifact using the genesis store, event log, escrow and ledger WHEN run THEN it discovers artifacts with interface and invoke counts', async () => {
    const g = await artifactGrid(b);
    await code(g, 'bob', 'calc', `var methods = { add(a) { return a.x + a.y; } };`, { names: ['add'], description: 'adds risk numbers', price: 1 });
    ok(await invoke(g, 'alice', 'calc', 'add', { x: 1, y: 2 }));
    await code(g, 'carol', 'explorer', `var methods = { go() {
      return {
        info: invoke('genesis:store', 'get_artifact_info', { artifact_id: 'calc' }),
        search: invoke('genesis:store', 'search', { query: 'risk' }).map((a) => a.id),
        mine: invoke('genesis:store', 'list_by_owner', { owner: 'carol' }).map((a) => a.id),
        all: invoke('genesis:store', 'list', {}).map((a) => a.id),
        log: invoke('genesis:event_log', 'read', { offset: 0, limit: 2 }).map((e) => e.id),
        escrow: invoke('genesis:escrow', 'list_active', {}),
        balance: invoke('genesis:ledger', 'balance', { actor: 'bob' }),
        gstore: invoke('genesis:store', 'get_artifact_info', { artifact_id: 'genesis:store' }).interface.tools.map((t) => t.name),
      };
    } };`);
    const r = ok(await invoke(g, 'dave', 'explorer')) as any;
    assert.deepEqual([r.info.id, r.info.owner, r.info.invoke_count, r.info.success_count, r.info.interface.tools[0].name, r.info.invoke_price], ['calc', 'bob', 1, 1, 'add', '1']);
    assert.deepEqual([r.search, r.mine, r.all, r.log, r.escrow], [['calc'], ['explorer'], ['calc', 'explorer'], ['1', '2'], []]);
    assert.equal(r.balance, String(await bal(g.db, 'bob')));
    assert.deepEqual(r.gstore, ['list', 'list_by_owner', 'search', 'get_artifact_info']);
    failed(await invoke(g, 'dave', 'genesis:nowhere', 'x'), 'NOT_FOUND');
    failed(await invoke(g, 'dave', 'genesis:store', 'search', { query: 7 }), 'INVALID_ARGS');
  });
});
