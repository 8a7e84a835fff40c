#!/usr/bin/env node
/**
 * `npm run bench` — runs every benchmark and writes a JSON report to bench-results/ with ratios
 * against baselines measured in the same run. Needs the local Postgres (started if down) and
 * pgbench; PGlite figures are measured too.
 *
 * Options (env): BENCH_SECONDS (per throughput point, default 8), BENCH_REPLAY_ROWS (default
 * 300000), BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres), BENCH_ONLY
 * (comma list of: postgres,pglite,pgbench,sandbox,multiwriter,artifacts).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus } from 'node:os';
import { benchBackend, pgbench, preparePgbench } from './ledger';
import { benchMultiWriter } from './multiwriter';
import { ensurePostgres } from '../tests/support/postgres';

async function main() {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    process.stdout.write('npm run bench — ledger and sandbox benchmarks; see bench/run.ts for the environment options\n');
    return;
  }
  const pgUrl = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const seconds = Number(process.env.BENCH_SECONDS ?? 8);
  const replayRows = Number(process.env.BENCH_REPLAY_ROWS ?? 300_000);
  const only = new Set((process.env.BENCH_ONLY ?? 'pgbench,postgres,pglite,sandbox,multiwriter,artifacts').split(','));
  const log = (l: string) => process.stderr.write(l + '\n');
  const report: Record<string, any> = {
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
    settings: { seconds, replayRows },
  };
  if (!(await ensurePostgres())) throw new Error(`Postgres is not reachable at ${pgUrl}`);
  if (only.has('pgbench')) {
    log('pgbench TPC-B baseline…');
    await preparePgbench(pgUrl);
    report.pgbench = Object.fromEntries([1, 4, 16].map((c) => [c, pgbench(pgUrl, c, seconds)]));
    log(`  pgbench tps: ${JSON.stringify(report.pgbench)}`);
  }
  for (const kind of ['postgres', 'pglite'] as const) {
    if (!only.has(kind)) continue;
    log(`${kind}…`);
    report[kind] = await benchBackend(kind, { pgUrl, seconds, replayRows, log });
  }
  if (only.has('multiwriter')) {
    log('multiwriter (1, 2, 4 writer processes)…');
    const mw = await benchMultiWriter({ pgUrl, seconds, log });
    report.multiwriter = { rows: mw.rows, markdown: mw.markdown, loadAverageAtStart: mw.loadAverage };
    log(mw.markdown);
  }
  if (report.pgbench && report.postgres) {
    report.ratios = {
      singleApplyVsPgbench: Object.fromEntries(
        (report.postgres.singleApply as any[]).map((r) => [`${r.mode}@${r.clients}`, Math.round((r.perSecond / report.pgbench[r.clients]) * 100) / 100]),
      ),
      batchVsBareCopySameRows: report.postgres.batchApply.ratio,
      batchVsBareInsertSameRows: report.postgres.batchApply.ratioVsInsert,
      replayVerifiedVsReadOnly: report.postgres.replay.ratio,
      replayVerifiedVsCopyRead: report.postgres.replay.ratioVsCopyRead,
    };
  }
  if (only.has('sandbox')) {
    try {
      const mod = require('./sandbox');
      log('sandbox…');
      report.sandbox = await mod.benchSandbox();
    } catch (e: any) {
      report.sandbox = { error: String(e?.message ?? e) };
    }
  }
  if (only.has('artifacts')) {
    // Warm invoke through the full ledger path (bench/artifacts.ts, artifact-economy helper).
    try {
      log('artifacts (invoke through the ledger)…');
      report.artifacts = await require('./artifacts').benchArtifacts({ pgUrl });
    } catch (e: any) {
      report.artifacts = { error: String(e?.message ?? e) };
    }
  }
  const dir = join(process.cwd(), 'bench-results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `bench-${report.at.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(report, null, 2));
  writeFileSync(join(dir, 'latest.json'), JSON.stringify(report, null, 2));
  process.stdout.write(JSON.stringify({ report: file, ratios: report.ratios ?? null }, null, 2) + '\n');
}

main().catch((e) => {
  process.stderr.write(`bench: ${e?.stack ?? e}\n`);
  process.exitCode = 1;
});
