/**
 * One call in one fresh QuickJS runtime + context: limits, the guest API installed from the
 * host, handle hygiene, and turning whatever the guest did into one ErrorResponse.
 *
 * Why a fresh runtime per call (not a reused context): ≈105–250 µs on this machine, and it makes
 * isolation structural — no guest state, prototype pollution or replaced API survives a call,
 * and a runtime that ran out of memory is simply thrown away. The semantics of invoke / pay /
 * balance / world live in executor.ts; this file marshals values (as JSON text) and classifies.
 *
 * Promise jobs are never run: methods are synchronous (every host API is). A settled promise (an
 * async method that never awaited) is unwrapped; a pending one is EXECUTION_ERROR. Why: QuickJS
 * 2025-09 leaks a reference — and asserts when the runtime is freed — if the deadline interrupts
 * a long promise chain inside a job (measured: reproducible with
 * `spin = () => Promise.resolve().then(spin)`). Unrun jobs are freed cleanly with the runtime.
 */
import type { QuickJSContext, QuickJSHandle, QuickJSRuntime, QuickJSWASMModule, VmFunctionImplementation } from 'quickjs-emscripten';
import { fail, type ErrorResponse } from './errors';
import type { CallTree } from './journal';
import { SandboxHeapExhausted, hostThrowFailure, isHostStackOverflow, isPoisoned, memoryFailure, poison } from './module';
import { PRELUDE_SOURCE, seededRandom } from './prelude';

type HookResult = { ok: true; text: string } | { ok: false; error: ErrorResponse };

/** What guest API calls do; implemented by the executor. JSON text in, JSON text out. */
export interface GuestHooks {
  /** `used` is this runtime's sampled heap at the call (the tree peak adds the child on top). */
  invoke(artifactId: string, method: string, argsJson: string, used: number): HookResult;
  pay(to: string, amountText: string, resource: string): ErrorResponse | null;
  balance(resource: string): HookResult;
  world(): HookResult;
}

export interface VmCallSpec {
  tree: CallTree;
  code: string;
  filename: string;
  method: string;
  argsJson: string;
  ctxJson: string;
  memoryLimit: number;
  stackBytes: number;
  maxArgsBytes: number;
  maxOutputBytes: number;
  maxMessageChars: number;
  seed: number;
  hooks: GuestHooks;
}

export type VmCallResult = { ok: true; json: string; peak: number } | { ok: false; error: ErrorResponse; peak: number };

/** Default resource of pay() and balance(). */
const DEFAULT_RESOURCE = 'credits';
/** Most host errors a call keeps for identity checks; older ones are released. */
const MAX_TRACKED_HOST_ERRORS = 8;

/** Bytes of QuickJS heap in use, from the runtime's own accounting (≈20 µs). */
function heapUsed(rt: QuickJSRuntime): number {
  const m = /memory used\s+\d+\s+(\d+)/.exec(rt.dumpMemoryUsage());
  return m ? Number(m[1]) : 0;
}

/** UTF-16 length of a guest string without copying it (`length` of a primitive is not guest-overridable). */
function units(ctx: QuickJSContext, h: QuickJSHandle): number {
  return ctx.getProp(h, 'length').consume((l) => (ctx.typeof(l) === 'number' ? ctx.getNumber(l) : Infinity));
}

/** A guest string, or null if it is absent, not a string, or longer than `limit` UTF-16 units (then not copied). */
function str(ctx: QuickJSContext, h: QuickJSHandle | undefined, limit: number): string | null {
  return h !== undefined && ctx.typeof(h) === 'string' && units(ctx, h) <= limit ? ctx.getString(h) : null;
}

function absent(ctx: QuickJSContext, h: QuickJSHandle | undefined): boolean {
  return h === undefined || ctx.typeof(h) === 'undefined';
}

export function runInFreshRuntime(mod: QuickJSWASMModule, spec: VmCallSpec): VmCallResult {
  const { tree } = spec;
  let rt: QuickJSRuntime | null = null;
  let vm: QuickJSContext | null = null;
  const owned: QuickJSHandle[] = [];
  const hostErrors: Array<{ handle: QuickJSHandle; error: ErrorResponse }> = [];
  let peak = 0;
  let outOfMemory = false;
  const keep = (h: QuickJSHandle): QuickJSHandle => (owned.push(h), h);

  /** A guest exception carrying a host ErrorResponse; remembered so it classifies exactly. */
  const throwHost = (ctx: QuickJSContext, error: ErrorResponse) => {
    let h: QuickJSHandle | null = null;
    try {
      const err = (h = ctx.newError({ name: 'SandboxError', message: `${error.error_code}: ${error.message}` }));
      ctx.newString(error.error_code).consume((c) => ctx.setProp(err, 'error_code', c));
      hostErrors.push({ handle: err.dup(), error });
      if (hostErrors.length > MAX_TRACKED_HOST_ERRORS) hostErrors.shift()!.handle.dispose();
      return { error: err };
    } catch {
      // Only a full sandbox heap gets here. Throw a value that needs no allocation and make the
      // failure tree-wide, so classification comes from tree.failure and the guest is stopped.
      if (h?.alive) h.dispose();
      tree.abort(error.error_code === 'MEMORY_LIMIT' ? error : memoryFailure(spec.memoryLimit, 'the sandbox heap is full'));
      return { error: ctx.undefined };
    }
  };

  /** Wrap a host callback: never let a host exception reach WASM unclassified. */
  const guard = (ctx: QuickJSContext, body: () => QuickJSHandle | { error: QuickJSHandle }) => {
    if (tree.failure !== null) return throwHost(ctx, tree.failure);
    try {
      return body();
    } catch (e) {
      // Anything not from QuickJS itself is a bug in our hooks: HOST_ERROR, not the artifact's fault.
      const fromQuickJs = e instanceof SandboxHeapExhausted || e instanceof WebAssembly.RuntimeError || isHostStackOverflow(e);
      const f = fromQuickJs
        ? hostThrowFailure(mod, e, spec.memoryLimit, false)
        : { error: fail('EXECUTION_ERROR', `The sandbox host failed: ${e instanceof Error ? e.message : String(e)}`, { reason: 'HOST_ERROR' }), poison: false };
      if (f.poison) poison(mod);
      tree.abort(f.error);
      // A poisoned module gets no further allocations: throw a value that needs none.
      return isPoisoned(mod) ? { error: ctx.undefined } : throwHost(ctx, tree.failure!);
    }
  };

  const classify = (ctx: QuickJSContext, errH: QuickJSHandle, describeFn: QuickJSHandle | null): ErrorResponse => {
    if (tree.failure !== null) return tree.failure;
    if (tree.timedOut) return tree.deadlineFailure();
    for (const he of hostErrors) if (ctx.sameValue(he.handle, errH)) return he.error;
    let name = 'Error';
    let message = '(no message)';
    if (describeFn !== null) {
      const d = ctx.callFunction(describeFn, ctx.undefined, errH);
      if (d.error) d.error.dispose();
      else {
        const text = d.value.consume((v) => str(ctx, v, 4 * spec.maxMessageChars + 64));
        if (text !== null) [name, message] = JSON.parse(text) as [string, string];
      }
    }
    if (name === 'InternalError' && message === 'out of memory') {
      outOfMemory = true;
      return memoryFailure(spec.memoryLimit);
    }
    // QuickJS reports its stack guard as "stack overflow" (InternalError, or SyntaxError from JSON.parse).
    if (message === 'stack overflow' || (name === 'RangeError' && /Maximum call stack/.test(message))) {
      return fail('STACK_OVERFLOW', `The call recursed deeper than its ${spec.stackBytes}-byte stack allows.`, { stack_bytes: spec.stackBytes });
    }
    return fail('EXECUTION_ERROR', `${name}: ${message}`.slice(0, spec.maxMessageChars), { name });
  };

  let result: VmCallResult = { ok: false, error: fail('EXECUTION_ERROR', 'The sandbox did not run.'), peak: 0 };
  try {
    rt = mod.newRuntime();
    rt.setMemoryLimit(spec.memoryLimit);
    rt.setMaxStackSize(spec.stackBytes);
    rt.setInterruptHandler(() => tree.shouldInterrupt());
    const ctx = (vm = rt.newContext());
    const runtime = rt;
    const g = ctx.global;
    const JSONh = keep(ctx.getProp(g, 'JSON'));
    const parseFn = keep(ctx.getProp(JSONh, 'parse'));
    const stringifyFn = keep(ctx.getProp(JSONh, 'stringify'));
    const freezeFn = keep(ctx.getProp(keep(ctx.getProp(g, 'Object')), 'freeze'));

    /** JSON text → a new guest value (caller owns it), or the guest exception. */
    const fromJson = (text: string) => ctx.newString(text).consume((s) => ctx.callFunction(parseFn, ctx.undefined, s));
    /** Guest value → JSON text (undefined → "null"); `text` null when longer than `limit` units. */
    const toJson = (h: QuickJSHandle, limit: number): { error: QuickJSHandle } | { text: string | null; length: number } => {
      const r = ctx.callFunction(stringifyFn, ctx.undefined, h);
      if (r.error) return { error: r.error };
      return r.value.consume((v) => {
        if (ctx.typeof(v) !== 'string') return { text: 'null', length: 4 };
        const length = units(ctx, v);
        return { text: length <= limit ? ctx.getString(v) : null, length };
      });
    };
    const resourceOf = (h: QuickJSHandle | undefined) => (absent(ctx, h) ? DEFAULT_RESOURCE : str(ctx, h, 256));

    const api: Array<[string, VmFunctionImplementation<QuickJSHandle>]> = [
      [
        'invoke',
        (idH, methodH, argsH) =>
          guard(ctx, () => {
            const id = str(ctx, idH, 256);
            const method = str(ctx, methodH, 256);
            if (id === null || method === null) return throwHost(ctx, fail('INVALID_ARGS', 'invoke(artifactId, method, args): artifactId and method must be strings.'));
            let argsJson = '{}';
            if (!absent(ctx, argsH)) {
              const j = toJson(argsH!, spec.maxArgsBytes);
              if ('error' in j) return { error: j.error }; // the guest's own error (circular, BigInt, …)
              if (j.text === null) return throwHost(ctx, fail('INVALID_ARGS', `invoke() arguments exceed ${spec.maxArgsBytes} bytes of JSON.`));
              argsJson = j.text;
            }
            const used = heapUsed(runtime);
            peak = Math.max(peak, used);
            const r = spec.hooks.invoke(id, method, argsJson, used);
            if (!r.ok) return throwHost(ctx, r.error);
            const v = fromJson(r.text);
            return v.error ? { error: v.error } : v.value;
          }),
      ],
      [
        'pay',
        (toH, amountH, resourceH) =>
          guard(ctx, () => {
            // The host parses decimal text into a bigint and rejects anything that is not a
            // positive integer; unsafe numbers are sent as an invalid marker, never rounded.
            const type = amountH === undefined ? 'undefined' : ctx.typeof(amountH);
            const amount =
              type === 'string'
                ? (str(ctx, amountH, 64) ?? 'too-long')
                : type === 'bigint'
                  ? ctx.getBigInt(amountH!).toString()
                  : type === 'number' && Number.isSafeInteger(ctx.getNumber(amountH!))
                    ? String(ctx.getNumber(amountH!))
                    : `not-an-integer:${type}`;
            const to = str(ctx, toH, 256);
            const resource = resourceOf(resourceH);
            const err =
              to === null || resource === null
                ? fail('INVALID_ARGS', 'pay(to, amount, resource?) needs an id, an integer amount and a resource id.')
                : spec.hooks.pay(to, amount, resource);
            return err === null ? ctx.true : throwHost(ctx, err);
          }),
      ],
      [
        'balance',
        (resourceH) =>
          guard(ctx, () => {
            const resource = resourceOf(resourceH);
            const r = resource === null ? ({ ok: false, error: fail('INVALID_ARGS', 'balance(resource?) needs a resource id.') } as const) : spec.hooks.balance(resource);
            return r.ok ? ctx.newString(r.text) : throwHost(ctx, r.error);
          }),
      ],
      [
        'world',
        () =>
          guard(ctx, () => {
            const r = spec.hooks.world();
            if (!r.ok) return throwHost(ctx, r.error);
            const v = fromJson(r.text); // a fresh copy per call: changing it changes nothing outside
            return v.error ? { error: v.error } : v.value;
          }),
      ],
    ];
    for (const [name, impl] of api) {
      const f = keep(ctx.newFunction(name, impl));
      ctx.callFunction(freezeFn, ctx.undefined, f).dispose();
      // No `writable` in the descriptor: a new data property defaults to non-writable.
      ctx.defineProp(g, name, { value: f, configurable: false, enumerable: false });
    }
    const random = seededRandom(spec.seed);
    ctx.setProp(keep(ctx.getProp(g, 'Math')), 'random', keep(ctx.newFunction('random', () => ctx.newNumber(random()))));

    result = (() => {
      const prelude = ctx.evalCode(PRELUDE_SOURCE, 'sandbox:prelude', { type: 'global', strict: true });
      if (prelude.error) return { ok: false, error: classify(ctx, keep(prelude.error), null), peak } as const;
      const installed = ctx.callFunction(keep(prelude.value), ctx.undefined, keep(ctx.newNumber(tree.now)), keep(ctx.newNumber(spec.maxMessageChars)));
      if (installed.error) return { ok: false, error: classify(ctx, keep(installed.error), null), peak } as const;
      const pair = keep(installed.value);
      const runFn = keep(ctx.getProp(pair, 0));
      const describeFn = keep(ctx.getProp(pair, 1));
      const failWith = (errH: QuickJSHandle) => ({ ok: false, error: classify(ctx, keep(errH), describeFn), peak }) as const;

      const loaded = ctx.evalCode(spec.code, spec.filename, { type: 'global' });
      if (loaded.error) return failWith(loaded.error);
      keep(loaded.value);

      const args = fromJson(spec.argsJson);
      if (args.error) return failWith(args.error);
      const callCtx = fromJson(spec.ctxJson);
      if (callCtx.error) return failWith(callCtx.error);
      ctx.callFunction(freezeFn, ctx.undefined, keep(callCtx.value)).dispose();
      const called = ctx.callFunction(runFn, ctx.undefined, keep(ctx.newString(spec.method)), keep(args.value), callCtx.value);
      if (called.error) return failWith(called.error);
      let value = keep(called.value);

      const state = ctx.getPromiseState(value);
      if (state.type === 'pending') {
        return {
          ok: false,
          error: fail('EXECUTION_ERROR', 'The method returned a pending promise; artifact methods run synchronously (there is no job queue).'),
          peak,
        } as const;
      }
      if (state.type === 'rejected') return failWith(state.error);
      if (!state.notAPromise) value = keep(state.value);
      if (tree.failure !== null) return { ok: false, error: tree.failure, peak } as const;

      // UTF-8 bytes >= UTF-16 units, so a string longer than the limit is rejected uncopied.
      const out = toJson(value, spec.maxOutputBytes);
      if ('error' in out) return failWith(out.error);
      const bytes = out.text === null ? out.length : Buffer.byteLength(out.text);
      if (out.text === null || bytes > spec.maxOutputBytes) {
        return {
          ok: false,
          error: fail('OUTPUT_TOO_LARGE', `The result is at least ${bytes} bytes of JSON; the limit is ${spec.maxOutputBytes}.`, { limit_bytes: spec.maxOutputBytes }),
          peak,
        } as const;
      }
      return { ok: true, json: out.text, peak } as const;
    })();
    if (!isPoisoned(mod)) peak = Math.max(peak, heapUsed(runtime));
    if (outOfMemory) peak = Math.max(peak, spec.memoryLimit);
    // QuickJS's own limit misses large allocations (see module.ts); enforce it on the samples too.
    if (result.ok && peak > spec.memoryLimit) result = { ok: false, error: memoryFailure(spec.memoryLimit), peak };
    result.peak = peak;
  } catch (e) {
    // A QuickJS API call itself threw. Most such throws start in host-side marshalling before
    // WASM is entered, but one that unwound through WASM frames leaves QuickJS inconsistent and
    // the two cannot be told apart here: give the module up either way (the next call reloads).
    poison(mod);
    const { error } = hostThrowFailure(mod, e, spec.memoryLimit, true);
    tree.abort(error);
    result = { ok: false, error: tree.failure ?? error, peak };
  } finally {
    if (!isPoisoned(mod)) {
      try {
        for (const he of hostErrors) if (he.handle.alive) he.handle.dispose();
        for (let i = owned.length - 1; i >= 0; i--) if (owned[i]!.alive) owned[i]!.dispose();
        vm?.dispose();
        rt?.dispose();
      } catch (e) {
        // A failed free means leaked or corrupt state: stop using this module, and fail the
        // tree because its other runtimes live in the same module.
        poison(mod);
        tree.abort(fail('EXECUTION_ERROR', `The sandbox failed to release a runtime: ${String(e)}`, { reason: 'SANDBOX_FAULT' }));
        if (result.ok) result = { ok: false, error: tree.failure!, peak };
      }
    }
  }
  return result;
}
