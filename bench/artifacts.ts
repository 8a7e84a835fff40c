/**
 * Warm invoke through the FULL ledger path (engine/artifacts invokeArtifact): host snapshot read,
 * QuickJS run, one `invoke` proposal through the writer and the law (price leg + compute charge
 * + invocation registry), commit — against the executor alone and node:vm running the same
 * function in the same process and run, on Postgres and PGlite.
 *
 *   node dist-x/bench/artifacts.js        prints the JSON report
 *
 * Variants per backend:
 *   ledger_invoke_sequential    one invoke at a time (latency: what one agent sees)
 *   ledger_invoke_nested        an artifact invoking the sum artifact (two runtimes, two price legs)
 *   ledger_invoke_concurrent    `concurrency` invokes in flight (the writer's group commit batches them)
 * and once: executor_only (Executor.runSync over an in-memory host) and vm_new_context.
 */
import os from 'node:os';
import vm from 'node:vm';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openDb, type Db } from '../db/adapter';
import { LedgerWriter } from '../db/writer';
import { packageRoot } from '../db/migrate';
import { initGrid } from '../engine/init';
import { parseScenario } from '../engine/scenario';
import { invokeArtifact, writeArtifact } from '../engine/artifacts';
import { Executor } from '../sandbox/executor';
import type { HostApi } from '../sandbox/types';

const SOURCE = 'var methods = { sum(args) { let s = 0; for (const x of args.xs) s += x; return s; } };';
const CALLER = "var methods = { go(args) { return invoke('sum', 'sum', args); } };";
const ARGS = { xs: Array.from({ length: 100 }, (_, i) => i) };
const TOOL = (name: string) => ({ name, description: `${name} (bench)`, inputSchema: { type: 'object', required: ['xs'], properties: { xs: { type: 'array' } } } });

interface Figures {
  p50_us: number;
  p99_us: number;
  ops_per_s: number;
}

async function measure(fn: () => Promise<void>, iterations: number, warmup: number): Promise<Figures> {
  for (let i = 0; i < warmup; i++) await fn();
  const samples: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < iterations; i++) {
    const s = performance.now();
    await fn();
    samples.push((performance.now() - s) * 1000);
  }
  const total = performance.now() - t0;
  samples.sort((a, b) => a - b);
  const at = (q: number) => Math.round(samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]!);
  return { p50_us: at(0.5), p99_us: at(0.99), ops_per_s: Math.round(iterations / (total / 1000)) };
}

async function concurrent(fn: () => Promise<void>, total: number, inFlight: number): Promise<{ ops_per_s: number; in_flight: number }> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next++ < total) await fn();
  }));
  return { ops_per_s: Math.round(total / ((performance.now() - t0) / 1000)), in_flight: inFlight };
}

async function grid(kind: 'postgres' | 'pglite', pgUrl: string): Promise<Db> {
  const schema = `bench_art_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6)}`;
  const db = kind === 'postgres' ? await openDb({ url: pgUrl, schema }) : await openDb({ dataDir: 'memory://', schema });
  const json = JSON.parse(readFileSync(join(packageRoot(), 'scenarios', 'default.json'), 'utf8'));
  json.policy = { ...json.policy, rate_limit: { max_actions: 1_000_000, window_ms: 1_000 } };
  json.balances.push({ actor: 'alice', resource: 'credits', amount: 1_000_000_000 }, { actor: 'alice', resource: 'compute', amount: 1_000_000_000 });
  await initGrid(db, parseScenario(json));
  return db;
}

function ensure(r: { success: boolean }, what: string) {
  if (!r.success) throw new Error(`bench ${what}: ${JSON.stringify(r)}`);
}

async function benchBackend(kind: 'postgres' | 'pglite', o: { pgUrl: string; iterations: number; warmup: number; concurrency: number }) {
  const db = await grid(kind, o.pgUrl);
  try {
    const writer = new LedgerWriter(db);
    ensure(await writeArtifact({ db, writer, agent: 'bob', artifactId: 'sum', kind: 'code', content: SOURCE, interface: { tools: [TOOL('sum')] }, invokePrice: 1 }), 'write sum');
    ensure(await writeArtifact({ db, writer, agent: 'carol', artifactId: 'caller', kind: 'code', content: CALLER, interface: { tools: [TOOL('go')] } }), 'write caller');
    ensure(await invokeArtifact({ db, writer, invoker: 'alice', artifactId: 'genesis:ledger', method: 'transfer', args: { to: 'caller', amount: '1000' } }), 'fund caller');
    const call = (artifactId: string, method: string) => async () => {
      const r = await invokeArtifact({ db, writer, invoker: 'alice', artifactId, method, args: ARGS });
      if (!r.success || r.result !== 4950) throw new Error(`bench ${artifactId}: ${JSON.stringify(r).slice(0, 300)}`);
    };
    const sequential = await measure(call('sum', 'sum'), o.iterations, o.warmup);
    const nested = await measure(call('caller', 'go'), Math.ceil(o.iterations / 2), Math.ceil(o.warmup / 2));
    const conc = await concurrent(call('sum', 'sum'), o.iterations, o.concurrency);
    const rows = await db.query<{ n: bigint }>(`SELECT count(*)::bigint AS n FROM invocations`);
    return { ledger_invoke_sequential: sequential, ledger_invoke_nested: nested, ledger_invoke_concurrent: conc, invocations_recorded: Number(rows.rows[0].n) };
  } finally {
    if (db.kind === 'postgres') await db.exec(`DROP SCHEMA IF EXISTS ${db.schema} CASCADE`).catch(() => {});
    await db.close();
  }
}

export async function benchArtifacts(opts: { pgUrl?: string; iterations?: number; warmup?: number; concurrency?: number; backends?: Array<'postgres' | 'pglite'> } = {}) {
  const o = { pgUrl: opts.pgUrl ?? process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres', iterations: opts.iterations ?? 1000, warmup: opts.warmup ?? 100, concurrency: opts.concurrency ?? 8 };
  // Baselines in the same process and run: the executor alone, and node:vm.
  const host: HostApi = {
    loadArtifact: (id) => (id === 'sum' ? { id, owner: 'bob', content: SOURCE, interface: { tools: [TOOL('sum')] }, invokePrice: 1n } : null),
    balance: () => 10n ** 12n,
    world: () => ({}),
    genesis: () => ({ success: false, error_code: 'NOT_FOUND', message: 'none' }),
  };
  const ex = new Executor(host);
  await ex.ready();
  const executorOnly = await measure(async () => void ex.runSync({ artifactId: 'sum', method: 'sum', args: ARGS, invoker: 'alice', now: 0 }), o.iterations, o.warmup);
  const script = new vm.Script(SOURCE);
  const callVm = new vm.Script('(a) => JSON.stringify(methods.sum(JSON.parse(a)))');
  const argsJson = JSON.stringify(ARGS);
  const vmNew = await measure(async () => {
    const c = vm.createContext({});
    script.runInContext(c);
    (callVm.runInContext(c) as (a: string) => string)(argsJson);
  }, o.iterations, o.warmup);
  const report: Record<string, unknown> = { workload: 'sum of a 100-element array; price 1 credit; compute charged', iterations: o.iterations, executor_only: executorOnly, vm_new_context: vmNew };
  const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
  for (const kind of opts.backends ?? (['postgres', 'pglite'] as const)) {
    const r = await benchBackend(kind, o);
    report[kind] = {
      ...r,
      ratios: {
        ledger_p50_over_executor_p50: ratio(r.ledger_invoke_sequential.p50_us, executorOnly.p50_us),
        ledger_p50_over_vm_new_context_p50: ratio(r.ledger_invoke_sequential.p50_us, vmNew.p50_us),
        concurrent_ops_over_sequential_ops: ratio(r.ledger_invoke_concurrent.ops_per_s, r.ledger_invoke_sequential.ops_per_s),
      },
    };
  }
  report.machine = { node: process.version, cpus: os.cpus().length, loadavg_1m: Math.round(os.loadavg()[0]! * 100) / 100 };
  return report;
}

if (require.main === module) {
  benchArtifacts().then(
    (report) => console.log(JSON.stringify(report, null, 2)),
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
