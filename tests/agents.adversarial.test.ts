// The adversarial catalogue through the real writer, on both backends: every attack rejected with
// the code the law must answer, nothing written to the ledger, every rejection recorded.
import assert from 'node:assert/strict';
import { forEachBackend } from './support/backends';
import { count } from './support/fixtures';
import { LedgerWriter } from '../db/writer';
import { readWorldState } from '../engine/world-state';
import { ATTACKS, Prng, viewOf, adversarialAttempts, scriptedProposer } from '../engine/agents';
import { bindPrincipal } from '../engine/principal';
import { setBreaker } from '../engine/breaker';
import type { Db } from '../db/adapter';

async function attackAll(db: Db, agent: string, seed = 5) {
  const world = await readWorldState(db);
  const attempts = adversarialAttempts({ agent, world, tick: 0, now: Date.now() }, viewOf(world, agent), new Prng(seed, 'adv'), 0);
  const inputs = attempts.map((a) => bindPrincipal(a.raw, agent).input);
  const results = await new LedgerWriter(db).applyBatch(inputs);
  return attempts.map((a, i) => ({ label: a.label!, expect: a.expect!, result: results[i] }));
}

async function ledgerFingerprint(db: Db) {
  const l = await db.query<{ n: string; h: string }>(`SELECT (SELECT count(*) FROM ledger)::text AS n, encode(last_hash, 'hex') AS h FROM ledger_head`);
  const b = await db.query<{ s: string }>(`SELECT string_agg(actor || '/' || resource || '=' || amount, ',' ORDER BY actor, resource) AS s FROM balances`);
  return { rows: l.rows[0].n, head: l.rows[0].h, balances: b.rows[0].s };
}

forEachBackend('adversarial agent', (b) => {
  it('GIVEN the default grid WHEN bob runs the whole attack catalogue THEN every attack is rejected with its expected code and nothing is written to the ledger', async () => {
    const db = await b.fresh({ init: true });
    // An open offer by another agent, so the foreign-id replay has an applied id to reuse.
    const offer = await new LedgerWriter(db).apply({ proposal_id: '33333333-3333-4333-8333-333333333333', kind: 'offer', agent: 'carol', give: { resource: 'water', amount: 10 }, want: { resource: 'credits', amount: 10 } });
    assert.equal(offer.status, 'applied');
    const before = await ledgerFingerprint(db);
    const rejectedBefore = await count(db, 'rejected_proposals');
    const out = await attackAll(db, 'bob');
    const labels = new Set(out.map((o) => o.label));
    for (const name of ['overdraw', 'replay_id', 'replay_foreign_id', 'drain_reserve', 'impersonate_system', 'forge_from_system', 'float_amount', 'huge_payload', 'malformed_json', 'reset_breaker']) {
      assert.ok(labels.has(name), `catalogue includes ${name}`);
    }
    assert.ok(out.length >= ATTACKS.length);
    for (const o of out) {
      assert.equal(o.result.status, 'rejected', `${o.label} must be rejected`);
      assert.equal((o.result as any).code, o.expect, `${o.label}: ${(o.result as any).message}`);
    }
    assert.deepEqual(await ledgerFingerprint(db), before, 'no ledger row and no balance changed');
    // Every rejection is recorded (with its outbox alert); the oversized one as a truncated stub.
    assert.equal((await count(db, 'rejected_proposals')) - rejectedBefore, out.length);
    const huge = await db.query<{ proposal: any }>(`SELECT proposal FROM rejected_proposals WHERE code = 'MALFORMED' AND proposal ? 'truncated'`);
    assert.equal(huge.rows.length, 1);
    const imp = await db.query<{ agent: string; kind: string; code: string }>(`SELECT agent, kind, code FROM rejected_proposals WHERE kind = 'mint' ORDER BY agent`);
    assert.ok(imp.rows.every((r) => r.agent === 'bob' && r.code === 'NOT_AUTHORIZED'), 'the impersonated mint is judged as bob');
  });

  it('GIVEN an open breaker WHEN the catalogue runs again THEN economic attacks answer CIRCUIT_OPEN, earlier-precedence ones keep their codes, and still nothing is written', async () => {
    const db = await b.fresh({ init: true });
    const trip = await setBreaker(new LedgerWriter(db), { actor: 'system', open: true, reason: 'test' });
    assert.equal(trip.status, 'applied');
    const before = await ledgerFingerprint(db);
    const out = await attackAll(db, 'dave', 9);
    for (const o of out) {
      assert.equal(o.result.status, 'rejected');
      const expected = ['INSUFFICIENT_BALANCE', 'EXCEEDS_MAX_TRANSFER', 'BELOW_MIN_BALANCE'].includes(o.expect) ? 'CIRCUIT_OPEN' : o.expect;
      assert.equal((o.result as any).code, expected, o.label);
    }
    assert.deepEqual(await ledgerFingerprint(db), before);
  });

  it('GIVEN the adversarial proposer over several ticks WHEN its attempts go through the writer THEN none is ever applied', async () => {
    const db = await b.fresh({ init: true });
    const p = scriptedProposer('adversarial', { seed: 11, attacksPerTick: 5 });
    const w = new LedgerWriter(db);
    let n = 0;
    for (let tick = 0; tick < 6; tick++) {
      const world = await readWorldState(db);
      const attempts = await p.propose({ agent: 'erin', world, tick, now: Date.now() });
      const res = await w.applyBatch(attempts.map((a) => bindPrincipal(a.raw, 'erin').input));
      res.forEach((r, i) => assert.equal(r.status, 'rejected', `tick ${tick} ${attempts[i].label}`));
      n += res.length;
    }
    assert.ok(n >= 20, `${n} attempts`);
    const erinRows = await db.query(`SELECT 1 FROM ledger WHERE agent = 'erin'`);
    assert.equal(erinRows.rows.length, 0);
  });
});
