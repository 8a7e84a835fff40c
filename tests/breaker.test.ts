// The circuit breaker's automation on both backends: trips at the reserve threshold, on a
// rejection-rate spike and on drift found by verify; blocks agents (CIRCUIT_OPEN) but not humans
// or the system; every trip and reset is a ledger entry; only a human resets it.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { forEachBackend } from './support/backends';
import { initBlueprint, transfer, count } from './support/fixtures';
import { LedgerWriter, type ApplyResult } from '../db/writer';
import { checkBreaker, findTripReasons, setBreaker, rejectionWindow } from '../engine/breaker';
import type { Db } from '../db/adapter';

const POLICY = { breaker: { reserve_min: { energy: 4000 }, rejection_rate_bps: 5000, rejection_window: 10 } };

const harvest = (agent: string, amount: number) => ({ proposal_id: randomUUID(), kind: 'harvest', agent, from: 'reserve', resource: 'energy', amount });
const code = (r: ApplyResult) => (r.status === 'rejected' ? r.code : 'APPLIED');

async function breakerEntries(db: Db) {
  const r = await db.query<{ agent: string; metadata: any }>(`SELECT agent, metadata FROM ledger WHERE kind = 'breaker_set' ORDER BY id`);
  return r.rows.map((x) => ({ by: x.agent, open: x.metadata.open, reason: String(x.metadata.reason) }));
}

forEachBackend('circuit breaker', (b) => {
  it('GIVEN reserve_min energy 4000 WHEN the reserve reaches exactly 4000 THEN no trip; WHEN it falls to 3999 THEN the system trips it once, as a ledger entry with the reason and an alert', async () => {
    const db = await b.fresh({ migrated: true });
    await initBlueprint(db, POLICY);
    const w = new LedgerWriter(db);
    assert.equal(code(await w.apply(harvest('A', 1000))), 'APPLIED');
    const atMin = await checkBreaker(db, w);
    assert.deepEqual([atMin.tripped, atMin.open, atMin.reasons], [false, false, []]);
    assert.equal(code(await w.apply(harvest('A', 1))), 'APPLIED');
    const below = await checkBreaker(db, w);
    assert.equal(below.tripped, true);
    assert.deepEqual(below.lowReserves, [{ actor: 'reserve', resource: 'energy', balance: '3999', min: '4000' }]);
    const entries = await breakerEntries(db);
    assert.equal(entries.length, 1);
    assert.equal(entries[0].by, 'system');
    assert.equal(entries[0].open, true);
    assert.match(entries[0].reason, /automatic trip: reserve reserve holds 3999 energy, below the policy minimum of 4000/);
    const br = await db.query<{ open: boolean; set_by: string }>('SELECT open, set_by FROM breaker');
    assert.deepEqual(br.rows[0], { open: true, set_by: 'system' });
    const alerts = await db.query<{ payload: any }>(`SELECT payload FROM outbox WHERE topic = 'breaker'`);
    assert.equal(alerts.rows.length, 1);
    assert.equal(alerts.rows[0].payload.open, true);
    // Already open: a second check finds the same level but writes nothing.
    const again = await checkBreaker(db, w);
    assert.deepEqual([again.tripped, again.open], [false, true]);
    assert.equal((await breakerEntries(db)).length, 1);
  });

  it('GIVEN a tripped breaker WHEN agents, a human and the system propose THEN agents get CIRCUIT_OPEN and the others pass', async () => {
    const db = await b.fresh({ migrated: true });
    await initBlueprint(db, POLICY);
    const w = new LedgerWriter(db);
    await w.apply(harvest('B', 1001));
    assert.equal((await checkBreaker(db, w)).tripped, true);
    const [agentT, agentH, human, system] = await w.applyBatch([
      transfer('A', 'B', 10),
      harvest('A', 1),
      { ...transfer('A', 'B', 10), agent: 'council' },
      { proposal_id: randomUUID(), kind: 'mint', agent: 'system', to: 'reserve', resource: 'energy', amount: 2000 },
    ]);
    assert.deepEqual([code(agentT), code(agentH), code(human), code(system)], ['CIRCUIT_OPEN', 'CIRCUIT_OPEN', 'APPLIED', 'APPLIED']);
    assert.match((agentT as any).message, /agent trading is halted: automatic trip/);
    // Back above the threshold, the breaker stays open: only a human closes it.
    const after = await checkBreaker(db, w);
    assert.deepEqual([after.reasons, after.open, after.tripped], [[], true, false]);
  });

  it('GIVEN an open breaker WHEN the system, the governor and an agent try to reset it THEN NOT_AUTHORIZED; a human resets it, agents trade again, and both changes are in the ledger', async () => {
    const db = await b.fresh({ migrated: true });
    await initBlueprint(db, POLICY);
    const w = new LedgerWriter(db);
    assert.equal(code(await setBreaker(w, { actor: 'governor', open: true, reason: 'manual halt by the governor' })), 'APPLIED');
    for (const actor of ['system', 'governor', 'A']) {
      assert.equal(code(await setBreaker(w, { actor, open: false, reason: 'resume' })), 'NOT_AUTHORIZED', actor);
    }
    assert.equal(code(await w.apply(transfer('A', 'B', 5))), 'CIRCUIT_OPEN');
    assert.equal(code(await setBreaker(w, { actor: 'council', open: false, reason: 'reviewed the reserve; resuming' })), 'APPLIED');
    assert.equal(code(await w.apply(transfer('A', 'B', 5))), 'APPLIED');
    assert.deepEqual(
      (await breakerEntries(db)).map((e) => [e.by, e.open]),
      [
        ['governor', true],
        ['council', false],
      ],
    );
    assert.equal(await count(db, 'rejected_proposals'), 4);
  });

  it('GIVEN rejection_rate 5000 bps over 10 decisions WHEN 9 decisions are in THEN no trip; WHEN the 10th makes 6 of 10 rejections THEN it trips; after a human reset the window starts over', async () => {
    const db = await b.fresh({ migrated: true });
    await initBlueprint(db, POLICY);
    const w = new LedgerWriter(db);
    for (let i = 0; i < 4; i++) assert.equal(code(await w.apply(transfer('A', 'B', 1))), 'APPLIED');
    for (let i = 0; i < 5; i++) assert.equal(code(await w.apply(transfer('B', 'A', 10_000))), 'INSUFFICIENT_BALANCE');
    const partial = await checkBreaker(db, w);
    assert.deepEqual([partial.tripped, partial.rejections.decisions, partial.rejections.full], [false, 9, false]);
    await w.apply(transfer('B', 'A', 10_000));
    const spike = await checkBreaker(db, w);
    assert.equal(spike.tripped, true);
    assert.deepEqual([spike.rejections.rejected, spike.rejections.decisions, spike.rejections.bps], [6, 10, 6000]);
    assert.match(spike.reasons[0], /6 of the last 10 agent decisions were rejections \(6000 bps > 5000 bps\)/);
    await setBreaker(w, { actor: 'council', open: false, reason: 'spike understood' });
    const fresh = await rejectionWindow(db, 10);
    assert.deepEqual([fresh.decisions, fresh.rejected], [0, 0]);
    assert.equal((await checkBreaker(db, w)).tripped, false);
  });

  it('GIVEN a balance cache altered behind the ledger WHEN the breaker checks without verify THEN nothing; WITH verify THEN it trips on drift', async () => {
    const db = await b.fresh({ migrated: true });
    await initBlueprint(db);
    const w = new LedgerWriter(db);
    await db.query(`UPDATE balances SET amount = amount + 7 WHERE actor = 'A' AND resource = 'credits'`);
    assert.deepEqual((await findTripReasons(db)).reasons, []);
    const c = await checkBreaker(db, w, { verify: true });
    assert.equal(c.tripped, true);
    assert.deepEqual(c.verify, { chainOk: true, cacheMatches: false, headMatches: true, badRows: 0, diffs: 1 });
    assert.match(c.reasons[0], /verify: the balance cache differs from the ledger for 1 balance\(s\) \(first: A\/credits cache 107, ledger 100\)/);
  });
});
