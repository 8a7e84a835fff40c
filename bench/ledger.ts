/**
 * Ledger benchmarks. Every figure is paired with a baseline measured in the same run on the same
 * server, and the ratio is the result (absolute numbers move with the machine; ratios less so).
 *
 * - single-proposal apply at 1/4/16 clients vs pgbench TPC-B at the same client counts;
 * - batched apply (LIMITS.ledger.maxBatch per transaction) vs a bare batched INSERT of the same rows;
 * - replay with full chain verification vs reading the same rows without verifying (as row
 *   objects through the driver, and as replay's page text).
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { openDb, type Db } from '../db/adapter';
import { initGrid } from '../engine/init';
import { LedgerWriter } from '../db/writer';
import { replay } from '../db/replay';
import { CopyRowSplitter, ledgerSelect } from '../db/replay/copy-rows';
import { COPY_COLUMNS, COPY_HEADER, COPY_TRAILER } from '../db/entry-binary';
import { LIMITS } from '../validator/limits';
import { textArray, intArray } from '../db/pg-array';
import { loadavg } from 'node:os';
import { parseScenario } from '../engine/scenario';

export interface BenchOptions {
  pgUrl: string;
  seconds: number;
  replayRows: number;
  log: (line: string) => void;
}

const ACCOUNTS = 1000;

function scenario() {
  const agents = Array.from({ length: ACCOUNTS }, (_, i) => `b${i}`);
  return {
    agents,
    scenario: parseScenario({
      name: 'bench',
      resources: [{ id: 'credits', unit: 'cr' }],
      actors: [{ id: 'system', kind: 'system' }, { id: 'council', kind: 'human' }, ...agents.map((id) => ({ id, kind: 'agent' }))],
      balances: agents.map((actor) => ({ actor, resource: 'credits', amount: 1_000_000_000 })),
      founder: 'council',
    }),
  };
}

/**
 * A transfer as the writer receives one from the service API or an n8n item: parsed from JSON.
 * (Built directly, its id would be randomUUID()'s string — a tree of concatenated pieces that V8
 * flattens the first time it is read, a cost a parsed proposal never has.)
 */
function transferFor(agents: string[], i: number) {
  const a = agents[(i * 7919) % agents.length];
  const b = agents[(i * 104729 + 1) % agents.length];
  const to = a === b ? agents[(agents.indexOf(a) + 1) % agents.length] : b;
  return JSON.parse(JSON.stringify({ proposal_id: randomUUID(), agent: a, from: a, to, resource: 'credits', amount: 1 + (i % 50) }));
}

export async function freshDb(kind: 'postgres' | 'pglite', pgUrl: string, poolSize = 20): Promise<Db> {
  const schema = `bench_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6)}`;
  return kind === 'postgres' ? openDb({ url: pgUrl, schema, poolSize }) : openDb({ dataDir: 'memory://', schema });
}

async function dropDb(db: Db) {
  if (db.kind === 'postgres') await db.exec(`DROP SCHEMA IF EXISTS ${db.schema} CASCADE`).catch(() => {});
  await db.close();
}

/** pgbench TPC-B (the default script) on a scratch database of the same server. */
export function pgbench(pgUrl: string, clients: number, seconds: number): number {
  const u = new URL(pgUrl);
  const env = { ...process.env, PGHOST: u.hostname, PGPORT: u.port || '5432', PGUSER: decodeURIComponent(u.username || 'postgres') };
  const out = execFileSync('pgbench', ['-n', '-c', String(clients), '-j', String(Math.min(clients, 2)), '-T', String(seconds), 'grid_pgbench'], { env, encoding: 'utf8' });
  const m = /tps = ([0-9.]+)/.exec(out);
  if (!m) throw new Error('could not read tps from pgbench output:\n' + out);
  return Number(m[1]);
}

export async function preparePgbench(pgUrl: string): Promise<void> {
  const c = new Client({ connectionString: pgUrl });
  await c.connect();
  await c.query('DROP DATABASE IF EXISTS grid_pgbench');
  await c.query('CREATE DATABASE grid_pgbench');
  await c.end();
  const u = new URL(pgUrl);
  execFileSync('pgbench', ['-i', '-q', '-s', '1', 'grid_pgbench'], {
    env: { ...process.env, PGHOST: u.hostname, PGPORT: u.port || '5432', PGUSER: decodeURIComponent(u.username || 'postgres') },
    stdio: 'ignore',
  });
}

/**
 * `clients` concurrent callers for `seconds`. mode 'service': one writer (one process) serving
 * all callers, so concurrent proposals share transactions (group commit). mode 'connections':
 * one writer and one connection per client, as separate processes would be.
 */
export async function applyThroughput(db: Db, agents: string[], clients: number, seconds: number, mode: 'service' | 'connections', pgUrl?: string) {
  const writers: LedgerWriter[] = [];
  const extra: Db[] = [];
  if (mode === 'service' || db.kind === 'pglite') writers.push(new LedgerWriter(db));
  else {
    for (let i = 0; i < clients; i++) {
      const d = await openDb({ url: pgUrl, schema: db.schema, poolSize: 1 });
      extra.push(d);
      writers.push(new LedgerWriter(d));
    }
  }
  let done = 0;
  let applied = 0;
  const lat: number[] = [];
  const end = performance.now() + seconds * 1000;
  let i = 0;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      const w = writers[c % writers.length];
      while (performance.now() < end) {
        const t = performance.now();
        const r = await w.apply(transferFor(agents, i++));
        lat.push(performance.now() - t);
        done++;
        if (r.status === 'applied') applied++;
      }
    }),
  );
  await Promise.all(extra.map((d) => d.close()));
  lat.sort((a, b) => a - b);
  return { clients, mode, proposals: done, applied, perSecond: Math.round(done / seconds), p50ms: round(lat[Math.floor(lat.length / 2)]), p99ms: round(lat[Math.floor(lat.length * 0.99)]) };
}

/**
 * Batched apply (LIMITS.ledger.maxBatch proposals a transaction) against two baselines on the
 * same server, each appending the same rows in batches of the same size, one transaction each,
 * into a twin of the ledger (LIKE ledger INCLUDING ALL: the same indexes and checks):
 * - `bareCopy` — the strictest baseline: the rows the writer appended, every column exactly as
 *   stored, read back as binary COPY rows and appended again with COPY FROM STDIN from those
 *   ready-made bytes. Nothing is decided, validated, hashed or even encoded: the server's own
 *   cost of appending these rows, the fastest way there is.
 * - `bareInsert` — the same rows inserted as typed arrays through unnest: the goal's "bare
 *   batched insert" (the way the writer appended before it used COPY, and the baseline of
 *   earlier reports).
 * Rounds alternate the writer and its baselines, so a slow moment of the machine hits all of
 * them (on a shared 2-core machine one pair of runs swings by ±15 %); medians are
 * reported. The writer's first batch (which reads the registry and warms the cache) runs before
 * the clock.
 */
export async function batchThroughput(db: Db, agents: string[], batches: number, size: number = LIMITS.ledger.maxBatch, rounds = 3) {
  const w = new LedgerWriter(db);
  let next = 0;
  const make = () => Array.from({ length: size }, () => transferFor(agents, next++));
  await w.applyBatch(make());
  await db.exec(`CREATE TABLE bench_same (LIKE ledger INCLUDING ALL); CREATE TABLE bench_copy (LIKE ledger INCLUDING ALL)`);
  const perRound: Array<{ perSecond: number; bareCopyPerSecond: number; ratio: number; bareInsertPerSecond: number; ratioVsInsert: number }> = [];
  let applied = 0;
  for (let round = 0; round < rounds; round++) {
    const inputs = Array.from({ length: batches }, make);
    const firstId = BigInt((await db.query<{ n: bigint }>('SELECT last_id AS n FROM ledger_head')).rows[0].n);
    const t0 = performance.now();
    // Two batches outstanding (the writer decides one while the other commits); each batch's
    // answers are consumed as they arrive, as a streaming client would.
    const outstanding: Array<Promise<void>> = [];
    for (const batch of inputs) {
      outstanding.push(w.applyBatch(batch).then((rs) => rs.forEach((r) => r.status === 'applied' && applied++)));
      if (outstanding.length >= 2) await outstanding.shift();
    }
    await Promise.all(outstanding);
    const s = (performance.now() - t0) / 1000;
    const sCopy = await bareCopy(db, firstId, size);
    const sInsert = await bareInsert(db, firstId, size);
    const n = batches * size;
    perRound.push({
      perSecond: Math.round(n / s),
      bareCopyPerSecond: Math.round(n / sCopy),
      ratio: round2(sCopy / s),
      bareInsertPerSecond: Math.round(n / sInsert),
      ratioVsInsert: round2(sInsert / s),
    });
  }
  // Each figure is the median over the rounds (the ledger grows by a round's rows each time, so
  // later rounds are slower for the writer and its baselines alike).
  const med = (k: keyof (typeof perRound)[number]) => median(perRound.map((r) => r[k]));
  return {
    batchSize: size,
    proposals: batches * size * rounds,
    applied,
    perSecond: med('perSecond'),
    bareCopyPerSecond: med('bareCopyPerSecond'),
    ratio: med('ratio'),
    bareInsertPerSecond: med('bareInsertPerSecond'),
    ratioVsInsert: med('ratioVsInsert'),
    rounds: perRound,
    writerBatches: { ...w.stats },
  };
}

/** The strictest baseline: rows (firstId, head] as stored, appended again into bench_copy from their own COPY bytes; seconds spent appending. */
async function bareCopy(db: Db, firstId: bigint, size: number): Promise<number> {
  const batches: Buffer[][] = [];
  let cur: Buffer[] = [];
  const split = new CopyRowSplitter((b, start, end) => {
    cur.push(Buffer.from(b.subarray(start, end)));
    if (cur.length === size) {
      batches.push(cur);
      cur = [];
    }
  });
  await db.copyOut(ledgerSelect(firstId), (chunk, start, end) => split.push(chunk, start, end));
  split.finish();
  if (cur.length) batches.push(cur);
  const data = batches.map((rows) => Buffer.concat([COPY_HEADER, ...rows, COPY_TRAILER]));
  let spent = 0;
  for (const d of data) {
    const t = performance.now();
    await db.transaction((tx) => tx.copyIn(`bench_copy (${COPY_COLUMNS})`, d));
    spent += (performance.now() - t) / 1000;
  }
  return spent;
}

/** The array baseline: rows (firstId, head] as stored, inserted again into bench_same through unnest; seconds spent inserting. */
async function bareInsert(db: Db, firstId: bigint, size: number): Promise<number> {
  let spent = 0;
  for (let after = firstId; ; ) {
    const r = await db.query<any>(
      `SELECT id::text, proposal_id::text, leg, kind, agent, from_actor, to_actor, resource, amount::text, validator_version,
              (date_part('epoch', executed_at) * 1000)::bigint::text AS at, proposal_hash, metadata::text AS m,
              encode(prev_hash, 'hex') AS ph, encode(hash, 'hex') AS h
       FROM ledger WHERE id > $1 ORDER BY ledger.id LIMIT ${size}`,
      [after],
    );
    if (!r.rows.length) return spent;
    const b = r.rows;
    after = BigInt(b[b.length - 1].id);
    const t = performance.now();
    await db.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO bench_same (id, proposal_id, leg, kind, agent, from_actor, to_actor, resource, amount, validator_version, executed_at, proposal_hash, metadata, prev_hash, hash, hash_version)
         SELECT i, p, l, k, ag, f, t, r, a, v, timestamptz 'epoch' + at * interval '1 millisecond', ph, m::jsonb, decode(pv, 'hex'), decode(hh, 'hex'), 2
         FROM unnest($1::bigint[], $2::uuid[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bigint[],
                     $10::text[], $11::bigint[], $12::text[], $13::text[], $14::text[], $15::text[]) AS x(i, p, l, k, ag, f, t, r, a, v, at, ph, m, pv, hh)`,
        [
          intArray(b.map((x) => x.id)),
          textArray(b.map((x) => x.proposal_id)),
          intArray(b.map((x) => x.leg)),
          textArray(b.map((x) => x.kind)),
          textArray(b.map((x) => x.agent)),
          textArray(b.map((x) => x.from_actor)),
          textArray(b.map((x) => x.to_actor)),
          textArray(b.map((x) => x.resource)),
          intArray(b.map((x) => x.amount)),
          textArray(b.map((x) => x.validator_version)),
          intArray(b.map((x) => x.at)),
          textArray(b.map((x) => x.proposal_hash)),
          textArray(b.map((x) => x.m)),
          textArray(b.map((x) => x.ph)),
          textArray(b.map((x) => x.h)),
        ],
      );
    });
    spent += (performance.now() - t) / 1000;
  }
}

export async function replayThroughput(db: Db, agents: string[], rows: number, log: (l: string) => void) {
  const w = new LedgerWriter(db);
  const have = Number((await db.query<{ n: bigint }>('SELECT count(*) AS n FROM ledger')).rows[0].n);
  for (let done = have; done < rows; ) {
    const n = Math.min(1000, rows - done);
    await w.applyBatch(Array.from({ length: n }, (_, i) => transferFor(agents, done + i)));
    done += n;
    if (done % 50_000 < 1000) log(`  built ${done} ledger rows`);
  }
  // Baseline: read the same rows as objects through the driver (replay's original query), without folding or hashing.
  const t0 = performance.now();
  let last = 0n;
  let read = 0;
  for (;;) {
    const r = await db.query<any>(
      `SELECT id, proposal_id::text AS proposal_id, leg, kind, agent, from_actor, to_actor, resource, amount, validator_version,
              (extract(epoch from executed_at) * 1000)::bigint AS at_ms, proposal_hash, metadata::text AS metadata,
              encode(prev_hash, 'hex') AS prev_hash, encode(hash, 'hex') AS hash
       FROM ledger WHERE id > $1 ORDER BY id LIMIT 50000`,
      [last],
    );
    if (!r.rows.length) break;
    read += r.rows.length;
    last = BigInt(r.rows[r.rows.length - 1].id);
  }
  const readS = (performance.now() - t0) / 1000;
  // Second baseline: the rows read the way replay reads them (binary COPY, split into rows), not
  // verified or folded. Three rounds alternating with replay itself; medians.
  const copyRead = async () => {
    const t1 = performance.now();
    let rows = 0;
    const pageRows = db.kind === 'postgres' ? undefined : LIMITS.replay.pageRows;
    for (let after = 0n; ; ) {
      let last = after;
      const split = new CopyRowSplitter((b, _s, _e, off) => {
        rows++;
        last = b.readBigInt64BE(off[3]);
      });
      await db.copyOut(ledgerSelect(after, pageRows === undefined ? { order: 'stored' } : { limit: pageRows }), (chunk, start, end) => split.push(chunk, start, end));
      split.finish();
      if (pageRows === undefined || split.rows < pageRows) break;
      after = last;
    }
    return Math.round(rows / ((performance.now() - t1) / 1000));
  };
  const copyReads: number[] = [];
  const verified: number[] = [];
  let rep: Awaited<ReturnType<typeof replay>> | null = null;
  for (let round = 0; round < 3; round++) {
    copyReads.push(await copyRead());
    rep = await replay(db, { dryRun: true });
    if (!rep.chainOk || !rep.cacheMatches) throw new Error('replay did not verify during the benchmark');
    verified.push(rep.rowsPerSecond);
  }
  const v = median(verified);
  const c = median(copyReads);
  return {
    rows: rep!.rowsReplayed,
    verifiedPerSecond: v,
    verifiedRounds: verified,
    readOnlyPerSecond: Math.round(read / readS),
    ratio: round(v / (read / readS)),
    copyReadPerSecond: c,
    copyReadRounds: copyReads,
    ratioVsCopyRead: round(v / c),
    loadAverage: round(loadavg()[0]),
  };
}

export async function benchBackend(kind: 'postgres' | 'pglite', o: BenchOptions) {
  const { agents, scenario: sc } = scenario();
  const result: Record<string, unknown> = { backend: kind };
  const clientsList = [1, 4, 16];
  const single: unknown[] = [];
  for (const mode of ['service', 'connections'] as const) {
    if (kind === 'pglite' && mode === 'connections') continue; // one connection by construction
    for (const c of clientsList) {
      const db = await freshDb(kind, o.pgUrl);
      await initGrid(db, sc);
      const r = await applyThroughput(db, agents, c, o.seconds, mode, o.pgUrl);
      o.log(`  ${kind} apply ${mode} ${c} client(s): ${r.perSecond}/s (p50 ${r.p50ms} ms, p99 ${r.p99ms} ms)`);
      single.push(r);
      await dropDb(db);
    }
  }
  result.singleApply = single;
  {
    const db = await freshDb(kind, o.pgUrl);
    await initGrid(db, sc);
    const r = await batchThroughput(db, agents, kind === 'postgres' ? 10 : 4);
    o.log(`  ${kind} batched apply rounds: ${r.rounds.map((x) => `${x.perSecond}/s vs bare COPY ${x.bareCopyPerSecond}/s (${x.ratio}), bare INSERT ${x.bareInsertPerSecond}/s (${x.ratioVsInsert})`).join('; ')}`);
    o.log(`  ${kind} batched apply (medians): ${r.perSecond}/s vs bare COPY of the same rows ${r.bareCopyPerSecond}/s (ratio ${r.ratio}); vs bare INSERT of the same rows ${r.bareInsertPerSecond}/s (ratio ${r.ratioVsInsert})`);
    result.batchApply = r;
    await dropDb(db);
  }
  {
    const db = await freshDb(kind, o.pgUrl);
    await initGrid(db, sc);
    const r = await replayThroughput(db, agents, kind === 'postgres' ? o.replayRows : Math.min(o.replayRows, 100_000), o.log);
    o.log(`  ${kind} replay+verify: ${r.verifiedPerSecond} rows/s vs driver row read ${r.readOnlyPerSecond} rows/s (ratio ${r.ratio}), vs COPY read without verifying ${r.copyReadPerSecond} rows/s (ratio ${r.ratioVsCopyRead}); load ${r.loadAverage}`);
    result.replay = r;
    await dropDb(db);
  }
  return result;
}

function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

function round(x: number | undefined): number {
  return x === undefined ? NaN : Math.round(x * 100) / 100;
}
