// The commons scenario through the real loop, on both backends: with the default seed an
// ungoverned greedy mix collapses the reserve and the governed run survives; without the rate
// limit the breaker is what saves it; the same seed gives the same ledger on both backends.
import assert from 'node:assert/strict';
import { forEachBackend, BACKENDS } from './support/backends';
import { runLoop, DEFAULT_SCENARIO } from '../engine/loop';
import { loadScenarioFile } from '../engine/scenario';
import { commonsOf, ungoverned } from '../engine/commons';
import { compareCommons, COMPARISON_RUNS } from '../engine/commons/compare';
import type { Db } from '../db/adapter';

const scenario = () => loadScenarioFile(DEFAULT_SCENARIO());

async function agentProposalIds(db: Db): Promise<string[]> {
  const r = await db.query<{ p: string }>(
    `SELECT l.proposal_id::text AS p FROM ledger l JOIN actors a ON a.id = l.agent AND a.kind = 'agent' WHERE l.leg = 0
     UNION ALL SELECT x.proposal_id::text FROM rejected_proposals x WHERE x.proposal_id IS NOT NULL ORDER BY 1`,
  );
  return r.rows.map((x) => x.p);
}

forEachBackend('commons', (b) => {
  it('GIVEN the default seed and the greedy mix WHEN the commons runs UNGOVERNED THEN the reserve collapses within 3 periods and the run stops there', async () => {
    const db = await b.fresh({ migrated: true });
    const s = await runLoop({ db, governed: false, proposer: 'scripted' });
    const c = s.commons!;
    assert.equal(s.scenario, 'commons-ungoverned');
    assert.equal(c.survived, false);
    assert.ok(c.collapsedIn !== null && c.collapsedIn <= 3, `collapsed in ${c.collapsedIn}`);
    assert.deepEqual([c.survivalPeriods, s.stoppedBy, s.ticks], [c.collapsedIn - 1, 'collapse', c.collapsedIn]);
    assert.ok(c.collapse.length > 0);
    assert.ok(c.overuse.applied > 0, 'greedy harvests above the sustainable share were applied');
    assert.ok(c.efficiencyBps < 1000, `efficiency ${c.efficiencyBps} bps`);
    assert.equal(s.systemRejected, 0);
    assert.equal(s.breaker.trips.length, 0, 'the permissive policy arms no breaker');
  });

  it('GIVEN the default seed and the same mix WHEN the commons runs GOVERNED THEN it survives all 50 periods and most over-use is refused', async () => {
    const db = await b.fresh({ migrated: true });
    const lines: string[] = [];
    const s = await runLoop({ db, proposer: 'scripted', onProgress: (l) => lines.push(l) });
    const c = s.commons!;
    assert.deepEqual([c.survived, c.survivalPeriods, c.collapsedIn, s.stoppedBy, s.ticks], [true, 50, null, 'ticks', 50]);
    // max_transfer is a static cap (the share at capacity): below capacity a capped harvest can
    // still exceed that period's share; the rate limit and the breaker bound the rest.
    assert.ok(c.overuse.attempted > 0 && c.overuse.applied * 2 < c.overuse.attempted, `over-use ${c.overuse.applied} applied / ${c.overuse.attempted} attempted`);
    assert.ok(c.efficiencyBps >= 7000, `efficiency ${c.efficiencyBps} bps`);
    assert.ok((s.rejectionsByCode.RATE_LIMITED ?? 0) > 0, 'the rate limit stopped the greedy second round');
    assert.equal(s.systemRejected, 0);
    assert.equal(s.alertsQueued, s.rejected + s.breaker.trips.length, 'one outbox row per rejection and per trip');
    assert.equal(lines.length, 50);
    assert.match(lines[0], /^tick 1\/50 \| applied \d+ \| rejected \d+ .*\| breaker closed \| commons_reserve energy \d+\/10000 water \d+\/6000/);
  });

  it('GIVEN the governed policy WITHOUT its rate limit WHEN greedy agents take a second round THEN the breaker trips on the reserve level, halts the agents, and the commons survives', async () => {
    const db = await b.fresh({ migrated: true });
    const base = scenario();
    const { rate_limit: _dropped, ...policy } = base.policy!;
    const s = await runLoop({ db, scenario: { ...base, policy }, proposer: 'scripted', ticks: 10 });
    assert.equal(s.breaker.trips.length, 1);
    assert.ok(s.breaker.trips[0].period <= 3, `tripped in period ${s.breaker.trips[0].period}`);
    assert.match(s.breaker.trips[0].reasons.join(' '), /reserve commons_reserve holds \d+ (energy|water), below the policy minimum/);
    assert.deepEqual([s.breaker.open, s.breaker.by], [true, 'system']);
    assert.ok((s.rejectionsByCode.CIRCUIT_OPEN ?? 0) > 0, 'the random agent kept trying and was halted');
    assert.equal(s.commons!.survived, true);
    assert.deepEqual(s.commons!.finalStock, { energy: '10000', water: '6000' }, 'halted, the reserve regrew to capacity');
  });

  it('GIVEN the same seed WHEN the governed commons runs twice on fresh grids THEN the same proposals (ids included) are decided the same way', async () => {
    const runs = [];
    for (let i = 0; i < 2; i++) {
      const db = await b.fresh({ migrated: true });
      const s = await runLoop({ db, proposer: 'scripted', ticks: 8, agents: 'erin=adversarial' });
      runs.push({ ids: await agentProposalIds(db), applied: s.applied, codes: s.rejectionsByCode, gain: s.commons!.gain });
    }
    assert.ok(runs[0].ids.length > 50);
    assert.deepEqual(runs[1], runs[0]);
  });
});

describe('commons: scenario and comparison', () => {
  it('GIVEN scenarios/commons.json THEN its commons settings validate and the ungoverned variant drops the policy', () => {
    const s = scenario();
    const c = commonsOf(s)!;
    assert.equal(c.reserve, 'commons_reserve');
    assert.deepEqual(Object.keys(c.resources).sort(), ['energy', 'water']);
    const u = ungoverned(s);
    assert.deepEqual([u.name, u.policy], ['commons-ungoverned', undefined]);
  });

  it('GIVEN the same seed WHEN the governed commons runs on PGlite and on Postgres THEN both ledgers hold the same agent proposals and outcomes', async () => {
    const out = [];
    for (const b of BACKENDS) {
      const db = await b.fresh({ migrated: true });
      try {
        const s = await runLoop({ db, proposer: 'scripted', ticks: 5, agents: 'erin=random' });
        out.push({ ids: await agentProposalIds(db), codes: s.rejectionsByCode, gain: s.commons!.gain.total });
      } finally {
        if (db.kind === 'postgres') await db.exec(`DROP SCHEMA IF EXISTS ${db.schema} CASCADE`);
        await db.close();
      }
    }
    assert.deepEqual(out[1], out[0]);
  });

  it('GIVEN the README comparison WHEN it is run for 12 periods THEN every ungoverned greedy mix collapses, every governed run survives, and the table has one row per run', async function () {
    this.timeout(120_000);
    const { rows, markdown } = await compareCommons({ ticks: 12, openFresh: () => BACKENDS[0].fresh({ migrated: true }) });
    assert.equal(rows.length, COMPARISON_RUNS.length);
    for (const r of rows) {
      const greedy = Object.values(r.summary.agents).includes('greedy');
      if (r.run.startsWith('ungoverned') && greedy) assert.equal(r.summary.commons!.survived, false, r.run);
      if (r.run.startsWith('governed')) assert.equal(r.summary.commons!.survived, true, r.run);
    }
    assert.equal(markdown.split('\n').length, 2 + rows.length);
  });
});
