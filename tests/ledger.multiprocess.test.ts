/**
 * Many writers on one ledger: separate OS processes, each with its own pool and LedgerWriter,
 * append to the same Postgres schema at once. The in-process concurrency test
 * (ledger.concurrency.test.ts) shares one event loop; this one shares nothing but the server,
 * as n8n queue-mode workers do.
 *
 * Besides its own stream, every process resubmits every 25th proposal of its neighbour's stream
 * (same id, same content) at about the same moment the neighbour submits it, so "decided exactly
 * once" is tested under a real race between processes, not only by sequential retries.
 */
import { strict as assert } from 'node:assert';
import { BACKENDS } from './support/backends';
import { manyAccounts } from './support/many-accounts';
import { initGrid } from '../engine/init';
import { replay } from '../db/replay';
import { proposalAt, runWriterProcesses, type WriterJob } from './support/writer-process';

const PROCESSES = 4;
const PER_PROCESS = 5000;
const ACCOUNTS = 50;
const RESUBMIT_EVERY = 25;

describe('ledger: many writer processes [postgres]', () => {
  const pg = BACKENDS.find((b) => b.name === 'postgres')!;
  let db: Awaited<ReturnType<typeof pg.fresh>> | undefined;

  afterEach(async () => {
    if (db) {
      await db.exec(`DROP SCHEMA IF EXISTS ${db.schema} CASCADE`).catch(() => {});
      await db.close().catch(() => {});
      db = undefined;
    }
  });

  it(`GIVEN ${ACCOUNTS} accounts WHEN ${PROCESSES} processes each apply ${PER_PROCESS} random transfers at once (and race each other on resubmitted ids) THEN the chain is single and intact, credits are conserved exactly, no balance is negative and every proposal is decided exactly once`, async function () {
    this.timeout(180_000);
    db = await pg.fresh({ migrated: true });
    const { total, scenario } = manyAccounts(ACCOUNTS, 1000);
    await initGrid(db, scenario);
    const before = await db.query<{ n: bigint }>('SELECT count(*)::bigint AS n FROM ledger');
    const seeds = Array.from({ length: PROCESSES }, (_, k) => 7001 + k);
    const jobs: WriterJob[] = seeds.map((seed, k) => ({
      url: pg.url!,
      schema: db!.schema,
      seed,
      count: PER_PROCESS,
      accounts: ACCOUNTS,
      // Up to 400 of an average 1000 per account: a steady share of INSUFFICIENT_FUNDS rejections.
      amountMax: 400,
      mode: 'single',
      // 16 in flight per process: group commits of ~16, thousands of transactions interleaving
      // across processes; 8 took 75 s on the (loaded) 2-core box, 16 about half that.
      lanes: 16,
      batch: 0,
      resubmitEvery: RESUBMIT_EVERY,
      resubmitSeed: seeds[(k + 1) % PROCESSES],
      poolSize: 2,
    }));

    const { results, wallMs } = await runWriterProcesses(jobs, 150_000);

    // Every answer is a decision, never a storage error (deadlock, retry exhaustion, lost row).
    for (const r of results) assert.equal(r.errorCount, 0, `seed ${r.seed}: ${r.errors.join('; ')}`);
    for (const r of results) assert.equal(r.outcomes.length, PER_PROCESS, `seed ${r.seed} answered every own proposal`);

    // What each id was answered, by anyone: own answers and the neighbour's resubmissions.
    const answers = new Map<string, string[]>();
    const add = (id: string, c: string) => (answers.get(id) ?? answers.set(id, []).get(id)!).push(c);
    results.forEach((r, k) => {
      for (let i = 0; i < PER_PROCESS; i++) add(proposalAt(seeds[k], i, ACCOUNTS, 400).proposal_id, r.outcomes[i]);
      for (const s of r.resubmits) {
        const [i, c] = s.split(':');
        add(proposalAt(jobs[k].resubmitSeed, Number(i), ACCOUNTS, 400).proposal_id, c);
      }
    });
    assert.equal(answers.size, PROCESSES * PER_PROCESS, 'proposal ids are distinct across streams');

    // The database: each id appears in exactly one of ledger / rejected_proposals, once.
    const ids = [...answers.keys()];
    const applied = await db.query<{ id: string; legs: bigint }>(
      'SELECT proposal_id::text AS id, count(*)::bigint AS legs FROM ledger WHERE proposal_id = ANY($1::uuid[]) GROUP BY proposal_id',
      [ids],
    );
    const rejected = await db.query<{ id: string; n: bigint }>(
      'SELECT proposal_id::text AS id, count(*)::bigint AS n FROM rejected_proposals WHERE proposal_id = ANY($1::uuid[]) GROUP BY proposal_id',
      [ids],
    );
    const decided = new Map<string, 'a' | 'r'>();
    for (const r of applied.rows) {
      assert.equal(Number(r.legs), 1, `a transfer is one ledger row (${r.id})`);
      decided.set(r.id, 'a');
    }
    for (const r of rejected.rows) {
      assert.equal(Number(r.n), 1, `rejected once (${r.id})`);
      assert.ok(!decided.has(r.id), `${r.id} is both applied and rejected`);
      decided.set(r.id, 'r');
    }
    assert.equal(decided.size, ids.length, 'every proposal was decided');
    let raced = 0;
    for (const [id, got] of answers) {
      const truth = decided.get(id)!;
      // Exactly one answer decided it; any other answer is the duplicate of that same outcome.
      assert.equal(got.filter((c) => c === 'a' || c === 'r').length, 1, `${id} decided by exactly one answer: ${got}`);
      for (const c of got) assert.equal(c === 'a' || c === 'd' ? 'a' : 'r', truth, `${id} answered ${c} but recorded ${truth}`);
      if (got.length > 1) raced++;
    }
    assert.equal(raced, PROCESSES * (PER_PROCESS / RESUBMIT_EVERY), 'every resubmitted id was answered twice');
    const totalRejected = await db.query<{ n: bigint }>('SELECT count(*)::bigint AS n FROM rejected_proposals');
    assert.equal(Number(totalRejected.rows[0].n), rejected.rows.length, 'no rejection without a proposal of ours');
    const outbox = await db.query<{ n: bigint }>(`SELECT count(*)::bigint AS n FROM outbox WHERE topic = 'rejection'`);
    assert.equal(Number(outbox.rows[0].n), rejected.rows.length, 'one alert per rejection');

    // The chain: one line, no fork, no gap, every hash right, the head where the last row is.
    const chain = await db.query<{ n: bigint; maxid: bigint; minid: bigint }>('SELECT count(*)::bigint AS n, max(id) AS maxid, min(id) AS minid FROM ledger');
    assert.equal(BigInt(chain.rows[0].minid), 1n);
    assert.equal(BigInt(chain.rows[0].n), BigInt(chain.rows[0].maxid), 'ids are gap-free');
    assert.equal(BigInt(chain.rows[0].n) - BigInt(before.rows[0].n), BigInt(applied.rows.length), 'one row per applied transfer, none lost');
    const links = await db.query<{ n: bigint }>('SELECT count(*)::bigint AS n FROM (SELECT prev_hash FROM ledger GROUP BY prev_hash HAVING count(*) > 1) f');
    assert.equal(Number(links.rows[0].n), 0, 'no two rows share a predecessor: the chain did not fork');
    const rep = await replay(db, { dryRun: true });
    assert.equal(rep.chainOk, true, JSON.stringify(rep.badRows.slice(0, 3)));
    assert.equal(rep.headMatches, true, 'ledger_head points at the last row');
    assert.equal(rep.cacheMatches, true, JSON.stringify(rep.diffs.slice(0, 3)));
    assert.ok(Object.values(rep.conservation).every((c) => c.ok), JSON.stringify(rep.conservation));

    // Money: exactly what genesis minted, and nobody below zero.
    const sum = await db.query<{ s: bigint; neg: bigint }>(`SELECT sum(amount)::bigint AS s, count(*) FILTER (WHERE amount < 0)::bigint AS neg FROM balances WHERE resource = 'credits'`);
    assert.equal(BigInt(sum.rows[0].s), total, 'credits conserved exactly');
    assert.equal(Number(sum.rows[0].neg), 0, 'no negative balance');

    const appliedN = applied.rows.length;
    assert.ok(appliedN > 0 && rejected.rows.length > 0, 'the mix has both outcomes');
    const slowest = Math.max(...results.map((r) => r.p99ms));
    process.stdout.write(
      `      (${PROCESSES}×${PER_PROCESS} proposals in ${wallMs} ms: ${appliedN} applied, ${rejected.rows.length} rejected, ${raced} raced resubmissions, ` +
        `${Math.round(((PROCESSES * PER_PROCESS) / wallMs) * 1000)} decisions/s, worst p99 ${slowest} ms)\n`,
    );
  });
});
