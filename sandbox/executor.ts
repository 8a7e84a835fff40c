/**
 * The artifact executor: runs one method of a code artifact inside QuickJS (WASM), with hard
 * limits, and returns the ONE response shape of sandbox/errors.ts plus an effects journal.
 *
 * CODE CONVENTION. An artifact's `content` is a classic script (no import/export) evaluated in
 * a fresh context. It must define a global binding `methods` (var, let or const) holding an
 * object whose functions are the artifact's tools:
 *
 *     var methods = {
 *       sum(args, ctx) { return args.xs.reduce((a, b) => a + b, 0); },
 *     };
 *
 * Only methods named in the artifact's MCP-style `interface.tools` can be called. A method gets
 * `args` (a JSON object checked against the tool's inputSchema subset, see interface.ts) and a
 * frozen `ctx = { artifactId, method, caller, depth, now }`, and returns any JSON value;
 * `undefined` becomes null. Methods are synchronous: promise jobs never run (an `async` method
 * that never awaits is fine; a pending promise is EXECUTION_ERROR — see runtime.ts for why).
 *
 * GUEST API — the only things added to a standard ECMAScript global object (no process, require,
 * console, timers, host objects):
 *   invoke(artifactId, method, args)  synchronous; runs the target in a NEW runtime at depth+1
 *                                     and returns its result. User artifacts and `genesis:*`
 *                                     system artifacts are both valid targets. Any failure of
 *                                     the target fails the WHOLE call tree (see journal.ts).
 *   pay(to, amount, resource?)        moves `amount` (safe integer, bigint or decimal string;
 *                                     anything else is INVALID_ARGS) of `resource` (default
 *                                     "credits") FROM THIS ARTIFACT to `to`. Journaled, not
 *                                     applied. Throws a catchable SandboxError (`error_code`
 *                                     INSUFFICIENT_FUNDS, INVALID_ARGS, …); uncaught, the call
 *                                     fails with that code.
 *   balance(resource?)                this artifact's balance as a decimal string, journal
 *                                     included.
 *   world()                           the world snapshot (read from the host once per call
 *                                     tree); each call returns a fresh copy, so changing it
 *                                     changes nothing outside.
 * Date.now() / new Date() return the tree's logical clock (request.now), and Math.random() is
 * seeded (request.seed), so a call is reproducible from its request. The four API bindings are
 * non-writable, non-configurable and frozen; each call has a fresh context anyway.
 *
 * PRICES. Every successful call of a user artifact journals `invokePrice` credits from its
 * invoker (the agent at top level, the calling artifact below) to the artifact's owner.
 */
import { LIMITS } from '../validator/limits';
import { errorResponseSchema, fail, type ErrorResponse } from './errors';
import { checkArgs, findTool, parseInterface, type SandboxLimits } from './interface';
import { CallTree, isValidId, parseAmount } from './journal';
import { loadQuickJS, readyQuickJS } from './module';
import { runInFreshRuntime, type GuestHooks } from './runtime';
import { isTombstone, type CallRequest, type ExecutionOutcome, type HostApi } from './types';
import type { QuickJSWASMModule } from 'quickjs-emscripten';

/** The resource invoke prices are paid in (the system's scrip). */
export const SCRIP = 'credits';
/** Ids with this prefix are routed to HostApi.genesis instead of loadArtifact. */
export const GENESIS_PREFIX = 'genesis:';

const METHOD_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

interface PendingCall {
  parentCallId: number | null;
  artifactId: string;
  method: string;
  args: unknown;
  invoker: string;
  depth: number;
}

type CallResult = { ok: true; json: string; peak: number } | { ok: false; error: ErrorResponse; peak: number };

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

export class Executor {
  readonly limits: SandboxLimits;
  /**
   * Parsed interfaces by stored object: a host that hands out the same record skips
   * re-validation. Records are treated as immutable (an artifact write yields a new record).
   */
  private readonly interfaces = new WeakMap<object, ReturnType<typeof parseInterface>>();

  /**
   * `limits` may only be given by tests and benches; production uses LIMITS.sandbox.
   * (moduleMemoryBytes is process-wide: module.ts always reads it from LIMITS.)
   */
  constructor(
    private readonly host: HostApi,
    limits: Partial<SandboxLimits> = {},
  ) {
    this.limits = { ...LIMITS.sandbox, ...limits };
  }

  /** Resolve once the WASM module is loaded (shared by every Executor in the process). */
  async ready(): Promise<void> {
    await loadQuickJS();
  }

  async run(req: CallRequest): Promise<ExecutionOutcome> {
    return this.runTree(await loadQuickJS(), req);
  }

  /**
   * Synchronous variant for callers that awaited ready() (the engine loop, benchmarks). Throws
   * if the module is not loaded — also after a poisoning, until ready() is awaited again.
   */
  runSync(req: CallRequest): ExecutionOutcome {
    const mod = readyQuickJS();
    if (mod === null) throw new Error('Executor.runSync: await executor.ready() first (the QuickJS module is not loaded).');
    return this.runTree(mod, req);
  }

  private runTree(mod: QuickJSWASMModule, req: CallRequest): ExecutionOutcome {
    const started = performance.now();
    // process.cpuUsage() is a getrusage() syscall (5–25 µs here under load): twice per tree only.
    const cpu0 = process.cpuUsage();
    const cpuMicros = () => {
      const c = process.cpuUsage(cpu0);
      return c.user + c.system;
    };
    const wallMicros = () => Math.round((performance.now() - started) * 1000);
    const rejected = (error: ErrorResponse): ExecutionOutcome => ({
      ...error,
      effects: { payments: [], edges: [] },
      events: [],
      metrics: { cpuMicros: cpuMicros(), wallMicros: wallMicros(), peakMemoryBytes: 0, calls: 0 },
    });
    if (!isValidId(req.invoker)) return rejected(fail('INVALID_ARGS', 'The invoker must be an id (1–64 printable characters, no spaces).'));
    if (typeof req.artifactId !== 'string' || typeof req.method !== 'string') {
      return rejected(fail('INVALID_ARGS', 'artifactId and method must be strings.'));
    }
    const budget = req.cpuBudgetMs;
    if (budget !== undefined && !(budget > 0)) {
      return rejected(fail('INSUFFICIENT_COMPUTE', 'The caller has no compute budget left for this call.', { budget_ms: budget }));
    }
    const now = req.now ?? Date.now();
    if (!Number.isFinite(now)) return rejected(fail('INVALID_ARGS', 'now must be a finite number of milliseconds.'));
    const deadlineMs = Math.min(this.limits.cpuDeadlineMs, budget ?? Infinity);
    const budgetBound = budget !== undefined && budget < this.limits.cpuDeadlineMs;
    const seed = req.seed ?? fnv1a(`${req.artifactId}\u0000${req.method}\u0000${req.invoker}\u0000${now}`);
    const tree = new CallTree(this.host, this.limits, started, deadlineMs, budgetBound, now, seed);

    const top = this.execCall(tree, mod, {
      parentCallId: null,
      artifactId: req.artifactId,
      method: req.method,
      args: req.args,
      invoker: req.invoker,
      depth: 0,
    });
    const m = { cpuMicros: cpuMicros(), wallMicros: wallMicros(), peakMemoryBytes: top.peak, calls: tree.calls };
    if (!top.ok || tree.failure !== null) {
      const error = tree.failure ?? (top as { error: ErrorResponse }).error;
      return { ...error, effects: { payments: [], edges: [] }, events: tree.events, metrics: m };
    }
    return {
      success: true,
      result: JSON.parse(top.json) as unknown,
      effects: { payments: tree.payments, edges: tree.edges },
      events: tree.events,
      metrics: m,
    };
  }

  /** Run one call (top-level or nested), record its event, and abort the tree if it failed. */
  private execCall(tree: CallTree, mod: QuickJSWASMModule, call: PendingCall): CallResult {
    const callId = tree.allocateCallId();
    tree.calls++;
    const wall0 = performance.now();
    let r: CallResult;
    const info = { owner: null as string | null };
    try {
      r = this.dispatch(tree, mod, call, callId, info);
    } catch (e) {
      // Host code (loadArtifact, balance, genesis, …) threw: not the artifact's fault.
      r = { ok: false, error: fail('EXECUTION_ERROR', `The sandbox host failed: ${e instanceof Error ? e.message : String(e)}`, { reason: 'HOST_ERROR' }), peak: 0 };
    }
    tree.events.push({
      type: r.ok ? 'INVOKE_SUCCESS' : 'INVOKE_FAILURE',
      callId,
      parentCallId: call.parentCallId,
      parentArtifactId: call.parentCallId === null ? null : call.invoker,
      artifactId: call.artifactId,
      owner: info.owner,
      method: call.method,
      invoker: call.invoker,
      depth: call.depth,
      at: tree.now,
      ...(r.ok ? {} : { error_code: r.error.error_code, message: r.error.message }),
      wallMicros: Math.round((performance.now() - wall0) * 1000),
      peakMemoryBytes: r.peak,
    });
    if (!r.ok && tree.failure === null) {
      tree.abort({
        ...r.error,
        details: { ...r.error.details, artifact_id: call.artifactId, method: call.method, depth: call.depth, call_id: callId },
      });
    }
    return r;
  }

  private dispatch(tree: CallTree, mod: QuickJSWASMModule, call: PendingCall, callId: number, info: { owner: string | null }): CallResult {
    const L = this.limits;
    const no = (error: ErrorResponse): CallResult => ({ ok: false, error, peak: 0 });
    if (call.depth > L.maxInvokeDepth) {
      return no(fail('DEPTH_EXCEEDED', `invoke() nested deeper than ${L.maxInvokeDepth} levels.`, { max_depth: L.maxInvokeDepth }));
    }
    if (tree.calls > L.maxCallsPerTree) {
      return no(fail('EXECUTION_ERROR', `The call tree made more than ${L.maxCallsPerTree} calls.`, { reason: 'CALL_LIMIT' }));
    }
    if (performance.now() > tree.deadline) {
      tree.timedOut = true;
      return no(tree.deadlineFailure());
    }
    if (!isValidId(call.artifactId)) return no(fail('INVALID_ARGS', 'The artifact id must be 1–64 printable characters without spaces.'));
    if (!METHOD_NAME.test(call.method)) return no(fail('INVALID_ARGS', 'The method must be an identifier of at most 64 characters.'));
    if (call.artifactId.startsWith(GENESIS_PREFIX)) return this.execGenesis(tree, call, callId);

    const rec = this.host.loadArtifact(call.artifactId);
    if (rec === null) return no(fail('NOT_FOUND', `Artifact ${call.artifactId} does not exist.`));
    if (isTombstone(rec)) return no(fail('DELETED', `Artifact ${call.artifactId} was deleted.`));
    info.owner = rec.owner;
    const iface = this.interfaceOf(rec.interface);
    if (!iface.ok) return no(iface.error);
    const tool = findTool(iface.value, call.method);
    if (!tool) {
      return no(
        fail('INVALID_ARGS', `Artifact ${call.artifactId} has no method "${call.method}".`, {
          reason: 'UNKNOWN_METHOD',
          available: iface.value.tools.map((t) => t.name),
        }),
      );
    }
    const args = checkArgs(tool, call.args, L);
    if (!args.ok) return no(args.error);
    const access = this.host.checkAccess?.(call.invoker, rec, call.method);
    if (access && !access.ok) return no(fail('ACCESS_DENIED', access.message, { invoker: call.invoker }));
    const codeBytes = Buffer.byteLength(rec.content);
    if (codeBytes > L.maxCodeBytes) {
      return no(fail('EXECUTION_ERROR', `The artifact code is ${codeBytes} bytes; the limit is ${L.maxCodeBytes}.`, { reason: 'CODE_TOO_LARGE' }));
    }
    const charged = rec.invokePrice > 0n && call.invoker !== rec.owner;
    if (charged) {
      const available = tree.balance(call.invoker, SCRIP);
      if (available < rec.invokePrice) {
        return no(
          fail('INSUFFICIENT_FUNDS', `${call.invoker} cannot pay the invoke price ${rec.invokePrice} ${SCRIP} (holds ${available}).`, {
            payer: call.invoker,
            price: rec.invokePrice.toString(),
            available: available.toString(),
          }),
        );
      }
    }
    tree.edges.push({ callId, parentCallId: call.parentCallId, from: call.invoker, to: call.artifactId, method: call.method, depth: call.depth });

    let nestedPeak = 0;
    const hooks: GuestHooks = {
      invoke: (artifactId, method, argsJson, used) => {
        let nestedArgs: unknown;
        try {
          nestedArgs = JSON.parse(argsJson);
        } catch {
          return { ok: false, error: fail('INVALID_ARGS', 'invoke() arguments must be JSON.') };
        }
        const child = this.execCall(tree, mod, {
          parentCallId: callId,
          artifactId,
          method,
          args: nestedArgs,
          invoker: call.artifactId,
          depth: call.depth + 1,
        });
        nestedPeak = Math.max(nestedPeak, used + child.peak);
        return child.ok ? { ok: true, text: child.json } : { ok: false, error: child.error };
      },
      pay: (to, amountText, resource) => {
        const amount = parseAmount(amountText);
        if (!amount.ok) return amount.error;
        return tree.propose({ from: call.artifactId, to, resource, amount: amount.value, kind: 'pay', callId, depth: call.depth });
      },
      balance: (resource) =>
        isValidId(resource)
          ? { ok: true, text: tree.balance(call.artifactId, resource).toString() }
          : { ok: false, error: fail('INVALID_ARGS', 'balance(resource?) needs a resource id.') },
      world: () => {
        const w = tree.worldJson();
        return w.ok ? { ok: true, text: w.json } : w;
      },
    };
    const vm = runInFreshRuntime(mod, {
      tree,
      code: rec.content,
      filename: `artifact:${call.artifactId}`,
      method: call.method,
      argsJson: args.json,
      ctxJson: JSON.stringify({ artifactId: call.artifactId, method: call.method, caller: call.invoker, depth: call.depth, now: tree.now }),
      memoryLimit: L.memoryBytes,
      stackBytes: call.depth === 0 ? L.stackBytes : L.nestedStackBytes,
      maxArgsBytes: L.maxArgsBytes,
      maxOutputBytes: L.maxOutputBytes,
      maxMessageChars: L.maxErrorMessageChars,
      seed: (tree.seed + Math.imul(callId, 0x9e3779b9)) >>> 0,
      hooks,
    });
    const peak = Math.max(vm.peak, nestedPeak);
    if (!vm.ok) return { ok: false, error: vm.error, peak };
    if (charged) {
      // Re-checked now: the callee may have re-entered the invoker and spent its credits.
      const err = tree.propose({ from: call.invoker, to: rec.owner, resource: SCRIP, amount: rec.invokePrice, kind: 'invoke_price', callId, depth: call.depth });
      if (err) return { ok: false, error: err, peak };
    }
    return { ok: true, json: vm.json, peak };
  }

  private interfaceOf(raw: unknown): ReturnType<typeof parseInterface> {
    if (raw === null || typeof raw !== 'object') return parseInterface(raw, this.limits);
    let parsed = this.interfaces.get(raw);
    if (parsed === undefined) this.interfaces.set(raw, (parsed = parseInterface(raw, this.limits)));
    return parsed;
  }

  /** Genesis artifacts (gap 15): same response shape, same journal, host implementation. */
  private execGenesis(tree: CallTree, call: PendingCall, callId: number): CallResult {
    const no = (error: ErrorResponse): CallResult => ({ ok: false, error, peak: 0 });
    const args = checkArgs({ name: call.method, description: '', inputSchema: { type: 'object' } }, call.args, this.limits);
    if (!args.ok) return no(args.error);
    tree.edges.push({ callId, parentCallId: call.parentCallId, from: call.invoker, to: call.artifactId, method: call.method, depth: call.depth });
    const out = this.host.genesis({
      id: call.artifactId,
      method: call.method,
      args: args.value,
      invoker: call.invoker,
      depth: call.depth,
      balance: (actor, resource) => tree.balance(actor, resource),
      world: () => {
        const w = tree.worldJson();
        if (!w.ok) throw new Error(w.error.message);
        return JSON.parse(w.json) as unknown;
      },
    });
    if (!out.success) {
      return no(
        errorResponseSchema.safeParse(out).success
          ? out
          : fail('EXECUTION_ERROR', `Genesis artifact ${call.artifactId} returned a malformed error.`, { reason: 'GENESIS_MALFORMED' }),
      );
    }
    let json: string;
    try {
      json = JSON.stringify(out.result ?? null);
    } catch {
      return no(fail('EXECUTION_ERROR', `Genesis artifact ${call.artifactId} returned a result that is not JSON.`, { reason: 'GENESIS_MALFORMED' }));
    }
    const bytes = Buffer.byteLength(json);
    if (bytes > this.limits.maxOutputBytes) {
      return no(fail('OUTPUT_TOO_LARGE', `The result is ${bytes} bytes of JSON; the limit is ${this.limits.maxOutputBytes}.`, { limit_bytes: this.limits.maxOutputBytes }));
    }
    for (const p of out.payments ?? []) {
      if (p.from !== call.invoker && p.from !== call.artifactId) {
        return no(fail('EXECUTION_ERROR', `Genesis artifact ${call.artifactId} tried to move value from ${p.from}.`, { reason: 'GENESIS_PAYER' }));
      }
      if (typeof p.amount !== 'bigint') {
        return no(fail('EXECUTION_ERROR', `Genesis artifact ${call.artifactId} proposed a non-bigint amount.`, { reason: 'GENESIS_MALFORMED' }));
      }
      const err = tree.propose({ from: p.from, to: p.to, resource: p.resource, amount: p.amount, kind: 'genesis', callId, depth: call.depth });
      if (err) return no(err);
    }
    return { ok: true, json, peak: 0 };
  }
}
