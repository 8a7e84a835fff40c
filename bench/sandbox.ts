/**
 * Sandbox latency: the QuickJS executor (fresh runtime per call, every limit armed) against
 * Node's `vm` running the same function source, in the same process and run.
 *
 * The workload is a small artifact method — the sum of a 100-element array — called with JSON
 * arguments and returning a JSON result, so every variant does the same parse / compute /
 * stringify. Figures: p50 / p99 latency in µs and invocations per second, plus the ratios.
 *
 *   node dist-x/bench/sandbox.js            prints the JSON report
 *
 * Variants:
 *   executor_fresh_runtime   Executor.runSync: new runtime + context, interface and args check,
 *                            invoke price journaled, CPU / memory measured (what production runs)
 *   executor_nested_invoke   one artifact invoking the sum artifact (two runtimes per call)
 *   quickjs_reused_context   raw QuickJS, one context reused (reference: the isolation cost)
 *   vm_new_context           node:vm, a new context per call (not a security boundary)
 *   vm_reused_context        node:vm, one context reused
 */
import os from 'node:os';
import vm from 'node:vm';
import { Executor } from '../sandbox/executor';
import { loadQuickJS } from '../sandbox/module';
import type { ArtifactRecord, HostApi } from '../sandbox/types';

const SOURCE = 'var methods = { sum(args) { let s = 0; for (const x of args.xs) s += x; return s; } };';
const CALLER = "var methods = { go(args) { return invoke('sum', 'sum', args); } };";
const ARGS = { xs: Array.from({ length: 100 }, (_, i) => i) };
const ARGS_JSON = JSON.stringify(ARGS);
const EXPECTED = 4950;
const SUM_TOOL = { name: 'sum', description: 'sum of xs', inputSchema: { type: 'object', required: ['xs'], properties: { xs: { type: 'array' } } } };

interface Figures {
  p50_us: number;
  p99_us: number;
  mean_us: number;
  ops_per_s: number;
}

function measure(fn: () => void, iterations: number, warmup: number): Figures {
  for (let i = 0; i < warmup; i++) fn();
  const samples = new Array<number>(iterations);
  const t0 = performance.now();
  for (let i = 0; i < iterations; i++) {
    const s = performance.now();
    fn();
    samples[i] = (performance.now() - s) * 1000;
  }
  const totalMs = performance.now() - t0;
  samples.sort((a, b) => a - b);
  const at = (q: number) => Math.round(samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]!);
  return {
    p50_us: at(0.5),
    p99_us: at(0.99),
    mean_us: Math.round((totalMs * 1000) / iterations),
    ops_per_s: Math.round(iterations / (totalMs / 1000)),
  };
}

function check(label: string, got: unknown): void {
  if (got !== EXPECTED && got !== String(EXPECTED)) throw new Error(`bench ${label}: expected ${EXPECTED}, got ${JSON.stringify(got)}`);
}

function benchHost(): HostApi {
  const artifacts: Record<string, ArtifactRecord> = {
    sum: { id: 'sum', owner: 'owner', content: SOURCE, interface: { tools: [SUM_TOOL] }, invokePrice: 1n },
    caller: { id: 'caller', owner: 'owner', content: CALLER, interface: { tools: [{ ...SUM_TOOL, name: 'go' }] }, invokePrice: 0n },
  };
  return {
    loadArtifact: (id) => artifacts[id] ?? null,
    balance: () => 10n ** 12n,
    world: () => ({}),
    genesis: () => ({ success: false, error_code: 'NOT_FOUND', message: 'no genesis artifacts in the bench' }),
  };
}

export async function benchSandbox(opts: { iterations?: number; warmup?: number } = {}): Promise<object> {
  const iterations = opts.iterations ?? 2000;
  const warmup = opts.warmup ?? 300;
  const mod = await loadQuickJS();
  const executor = new Executor(benchHost());
  await executor.ready();

  const runExecutor = (artifactId: string, method: string) => () => {
    const out = executor.runSync({ artifactId, method, args: ARGS, invoker: 'bench', now: 0 });
    if (!out.success) throw new Error(`bench executor: ${out.error_code} ${out.message}`);
    check(artifactId, out.result);
  };

  // Raw QuickJS with one reused context: the floor under any per-call isolation.
  const rt = mod.newRuntime();
  const qctx = rt.newContext();
  qctx.evalCode(SOURCE).unwrap().dispose();
  const qfn = qctx.evalCode('(a) => JSON.stringify(methods.sum(JSON.parse(a)))').unwrap();
  const quickjsReused = () => {
    const r = qctx.newString(ARGS_JSON).consume((s) => qctx.callFunction(qfn, qctx.undefined, s)).unwrap();
    check('quickjs_reused_context', r.consume((v) => qctx.getString(v)));
  };

  const script = new vm.Script(SOURCE);
  const call = new vm.Script('(a) => JSON.stringify(methods.sum(JSON.parse(a)))');
  const vmNew = () => {
    const context = vm.createContext({});
    script.runInContext(context);
    check('vm_new_context', (call.runInContext(context) as (a: string) => string)(ARGS_JSON));
  };
  const reused = vm.createContext({});
  script.runInContext(reused);
  const reusedFn = call.runInContext(reused) as (a: string) => string;
  const vmReused = () => check('vm_reused_context', reusedFn(ARGS_JSON));

  const results = {
    executor_fresh_runtime: measure(runExecutor('sum', 'sum'), iterations, warmup),
    executor_nested_invoke: measure(runExecutor('caller', 'go'), Math.ceil(iterations / 2), Math.ceil(warmup / 2)),
    quickjs_reused_context: measure(quickjsReused, iterations * 5, warmup),
    vm_new_context: measure(vmNew, iterations, warmup),
    vm_reused_context: measure(vmReused, iterations * 5, warmup),
  };
  qfn.dispose();
  qctx.dispose();
  rt.dispose();

  const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
  const e = results.executor_fresh_runtime;
  return {
    workload: 'sum of a 100-element array, JSON args in, JSON result out',
    iterations,
    ...results,
    ratios: {
      executor_p50_over_vm_new_context_p50: ratio(e.p50_us, results.vm_new_context.p50_us),
      executor_p50_over_vm_reused_context_p50: ratio(e.p50_us, results.vm_reused_context.p50_us),
      vm_new_context_ops_over_executor_ops: ratio(results.vm_new_context.ops_per_s, e.ops_per_s),
      vm_reused_context_ops_over_executor_ops: ratio(results.vm_reused_context.ops_per_s, e.ops_per_s),
      executor_p50_over_quickjs_reused_p50: ratio(e.p50_us, results.quickjs_reused_context.p50_us),
    },
    machine: { node: process.version, cpus: os.cpus().length, loadavg_1m: Math.round(os.loadavg()[0]! * 100) / 100 },
  };
}

if (require.main === module) {
  benchSandbox().then(
    (report) => console.log(JSON.stringify(report, null, 2)),
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
