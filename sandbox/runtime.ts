/**
 * QuickJS mechanics: the per-process WASM module, one fresh runtime + context per call, limits,
 * handle hygiene, and turning whatever the guest did into one ErrorResponse.
 *
 * Why a fresh runtime per call (not a reused context): measured ≈105–250 µs on this machine,
 * and it makes isolation structural — no guest state, prototype pollution or replaced API
 * survives a call, and a runtime that ran out of memory is simply thrown away. The semantics of
 * invoke / pay / balance / world live in executor.ts; this file only marshals strings.
 *
 * Why "poisoning": QuickJS guards its own (shadow) stack, but recursion also consumes V8's
 * native stack. If V8 overflows first, a RangeError unwinds through WASM frames without running
 * their cleanup and the module's heap can no longer be trusted (freeing the runtime then aborts
 * on an assertion). LIMITS.sandbox stack sizes are chosen so this does not happen; if it ever
 * does, the module is marked poisoned, nothing else is called on it, the call tree fails with
 * STACK_OVERFLOW, and the next call loads a fresh module.
 *
 * Why our own WebAssembly.Memory: QuickJS's per-runtime memory limit does not bound bytes in
 * this WASM build (it counts allocations; upstream quickjs-emscripten #271), so a guest could
 * grow the module to 2 GB of host memory. The module is instantiated with a Memory whose
 * `maximum` is LIMITS.sandbox.moduleMemoryBytes: growth beyond it fails inside malloc and the
 * guest gets a normal "out of memory". Host-side allocations into the module (strings we pass
 * in) go through emscripten's `_malloc`, which would silently return 0 and let the caller
 * write at address 0; it is wrapped to throw SandboxHeapExhausted instead.
 */
import {
  RELEASE_SYNC,
  newQuickJSWASMModuleFromVariant,
  newVariant,
  type QuickJSContext,
  type QuickJSHandle,
  type QuickJSRuntime,
  type QuickJSWASMModule,
} from 'quickjs-emscripten';
import { LIMITS } from '../validator/limits';
import { fail, type ErrorResponse } from './errors';
import type { CallTree } from './journal';
import { PRELUDE_SOURCE } from './prelude';

let modulePromise: Promise<QuickJSWASMModule> | null = null;
let readyModule: QuickJSWASMModule | null = null;
const poisoned = new WeakSet<QuickJSWASMModule>();

/** Process-wide counters, exported so tests can assert a module was never poisoned. */
export const quickjsStats = { loads: 0, poisonings: 0 };

/** A host-side allocation into the sandbox heap failed because the module is at its cap. */
export class SandboxHeapExhausted extends Error {
  constructor(bytes: number) {
    super(`The sandbox heap is full (host allocation of ${bytes} bytes failed).`);
    this.name = 'SandboxHeapExhausted';
  }
}

const WASM_PAGE = 64 * 1024;
/** The prebuilt module's INITIAL_MEMORY (16 MB); its memory may not start smaller. */
const INITIAL_PAGES = 256;

async function instantiate(): Promise<QuickJSWASMModule> {
  const maximum = Math.max(INITIAL_PAGES, Math.floor(LIMITS.sandbox.moduleMemoryBytes / WASM_PAGE));
  const wasmMemory = new WebAssembly.Memory({ initial: INITIAL_PAGES, maximum });
  const mod = await newQuickJSWASMModuleFromVariant(newVariant(RELEASE_SYNC, { wasmMemory }));
  // `module` is the emscripten module; private in the typings but stable in 0.32.0 (pinned).
  // tests/sandbox.test.ts asserts the guard is installed so an upgrade cannot drop it silently.
  const em = (mod as unknown as { module: { _malloc(n: number): number } }).module;
  const malloc = em._malloc.bind(em);
  em._malloc = (n: number) => {
    const ptr = malloc(n);
    if (ptr === 0) throw new SandboxHeapExhausted(n);
    return ptr;
  };
  return mod;
}

/** The QuickJS WASM module, loaded once per process (the promise is cached). */
export function loadQuickJS(): Promise<QuickJSWASMModule> {
  if (modulePromise === null) {
    quickjsStats.loads++;
    modulePromise = instantiate().then(
      (m) => (readyModule = m),
      (err: unknown) => {
        modulePromise = null; // let the next call retry instead of caching a rejection
        throw err;
      },
    );
  }
  return modulePromise;
}

/** The loaded module, or null before loadQuickJS() resolved (or after a poisoning). */
export function readyQuickJS(): QuickJSWASMModule | null {
  return readyModule;
}

function poison(mod: QuickJSWASMModule): void {
  if (poisoned.has(mod)) return;
  poisoned.add(mod);
  quickjsStats.poisonings++;
  if (readyModule === mod) {
    readyModule = null;
    modulePromise = null;
  }
}

function isHostStackOverflow(e: unknown): boolean {
  return e instanceof RangeError && /Maximum call stack size exceeded/.test(e.message);
}

type HookResult = { ok: true; text: string } | { ok: false; error: ErrorResponse };

/** What guest API calls do; implemented by the executor. Strings in, strings out. */
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
  maxOutputBytes: number;
  maxMessageChars: number;
  seed: number;
  hooks: GuestHooks;
}

export type VmCallResult = { ok: true; json: string; peak: number } | { ok: false; error: ErrorResponse; peak: number };

/** Bytes of QuickJS heap in use, from the runtime's own accounting (≈20 µs). */
function heapUsed(rt: QuickJSRuntime): number {
  const m = /memory used\s+\d+\s+(\d+)/.exec(rt.dumpMemoryUsage());
  return m ? Number(m[1]) : 0;
}

/** UTF-16 length of a guest string without copying it (`length` of a primitive is not guest-overridable). */
function units(ctx: QuickJSContext, h: QuickJSHandle): number {
  return ctx.getProp(h, 'length').consume((l) => (ctx.typeof(l) === 'number' ? ctx.getNumber(l) : Infinity));
}

function memoryFailure(limit: number, cause?: string): ErrorResponse {
  return fail('MEMORY_LIMIT', `The call exceeded its memory limit of ${limit} bytes.`, {
    limit_bytes: limit,
    ...(cause === undefined ? {} : { cause }),
  });
}

/** Most host errors a call keeps for identity checks; older ones are released. */
const MAX_TRACKED_HOST_ERRORS = 8;

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
      if (e instanceof SandboxHeapExhausted) {
        tree.abort(memoryFailure(spec.memoryLimit, e.message));
      } else if (isHostStackOverflow(e)) {
        poison(mod);
        tree.abort(fail('STACK_OVERFLOW', 'The call recursed deeper than the host stack allows.', { reason: 'HOST_STACK' }));
      } else {
        tree.abort(fail('EXECUTION_ERROR', `The sandbox host failed: ${e instanceof Error ? e.message : String(e)}`, { reason: 'HOST_ERROR' }));
      }
      return throwHost(ctx, tree.failure!);
    }
  };

  /** A guest string, or null if it is not a string or longer than `limit` UTF-16 units (not copied). */
  const str = (ctx: QuickJSContext, h: QuickJSHandle, limit: number): string | null =>
    ctx.typeof(h) === 'string' && units(ctx, h) <= limit ? ctx.getString(h) : null;

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

    const fInvoke = keep(
      ctx.newFunction('invoke', (idH, methodH, argsH) =>
        guard(ctx, () => {
          const id = str(ctx, idH, 256);
          const method = str(ctx, methodH, 256);
          const args = str(ctx, argsH, 4 * spec.maxOutputBytes);
          if (id === null || method === null || args === null) {
            return throwHost(ctx, fail('INVALID_ARGS', 'invoke(artifactId, method, args) needs two short strings and small JSON arguments.'));
          }
          const used = heapUsed(runtime);
          peak = Math.max(peak, used);
          const r = spec.hooks.invoke(id, method, args, used);
          return r.ok ? ctx.newString(r.text) : throwHost(ctx, r.error);
        }),
      ),
    );
    const fPay = keep(
      ctx.newFunction('pay', (toH, amountH, resourceH) =>
        guard(ctx, () => {
          const to = str(ctx, toH, 256);
          const amount = str(ctx, amountH, 64);
          const resource = str(ctx, resourceH, 256);
          const err =
            to === null || amount === null || resource === null
              ? fail('INVALID_ARGS', 'pay(to, amount, resource?) needs an id, an integer amount and a resource id.')
              : spec.hooks.pay(to, amount, resource);
          return err === null ? ctx.true : throwHost(ctx, err);
        }),
      ),
    );
    const fBalance = keep(
      ctx.newFunction('balance', (resourceH) =>
        guard(ctx, () => {
          const resource = str(ctx, resourceH, 256);
          const r = resource === null ? ({ ok: false, error: fail('INVALID_ARGS', 'balance(resource?) needs a resource id.') } as const) : spec.hooks.balance(resource);
          return r.ok ? ctx.newString(r.text) : throwHost(ctx, r.error);
        }),
      ),
    );
    const fWorld = keep(
      ctx.newFunction('world', () =>
        guard(ctx, () => {
          const r = spec.hooks.world();
          return r.ok ? ctx.newString(r.text) : throwHost(ctx, r.error);
        }),
      ),
    );

    result = (() => {
      const prelude = ctx.evalCode(PRELUDE_SOURCE, 'sandbox:prelude', { type: 'global', strict: true });
      if (prelude.error) return { ok: false, error: classify(ctx, keep(prelude.error), null), peak } as const;
      const preludeFn = keep(prelude.value);
      const installed = ctx.callFunction(preludeFn, ctx.undefined, [
        fInvoke,
        fPay,
        fBalance,
        fWorld,
        keep(ctx.newNumber(tree.now)),
        keep(ctx.newNumber(spec.seed)),
        keep(ctx.newNumber(spec.maxMessageChars)),
      ]);
      if (installed.error) return { ok: false, error: classify(ctx, keep(installed.error), null), peak } as const;
      const triple = keep(installed.value);
      const runFn = keep(ctx.getProp(triple, 0));
      const serializeFn = keep(ctx.getProp(triple, 1));
      const describeFn = keep(ctx.getProp(triple, 2));
      const failWith = (errH: QuickJSHandle) => ({ ok: false, error: classify(ctx, keep(errH), describeFn), peak }) as const;

      const loaded = ctx.evalCode(spec.code, spec.filename, { type: 'global' });
      if (loaded.error) return failWith(loaded.error);
      keep(loaded.value);

      const called = ctx.callFunction(runFn, ctx.undefined, [
        keep(ctx.newString(spec.method)),
        keep(ctx.newString(spec.argsJson)),
        keep(ctx.newString(spec.ctxJson)),
      ]);
      if (called.error) return failWith(called.error);
      let value = keep(called.value);

      // Promise jobs are never run: methods are synchronous (every host API is). A settled
      // promise (an async method that never awaited) is unwrapped; a pending one is an error.
      // Why: QuickJS 2025-09 leaks a reference — and asserts when the runtime is freed — if the
      // deadline interrupts a long promise chain inside a job (measured: reproducible with
      // `spin = () => Promise.resolve().then(spin)`). Unrun jobs are freed cleanly with the runtime.
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

      const serialized = ctx.callFunction(serializeFn, ctx.undefined, value);
      if (serialized.error) return failWith(serialized.error);
      const sH = keep(serialized.value);
      // UTF-8 bytes >= UTF-16 units, so a string longer than the limit is rejected uncopied.
      const length = units(ctx, sH);
      const json = length <= spec.maxOutputBytes ? ctx.getString(sH) : null;
      const bytes = json === null ? length : Buffer.byteLength(json);
      if (json === null || bytes > spec.maxOutputBytes) {
        return {
          ok: false,
          error: fail('OUTPUT_TOO_LARGE', `The result is at least ${bytes} bytes of JSON; the limit is ${spec.maxOutputBytes}.`, {
            limit_bytes: spec.maxOutputBytes,
          }),
          peak,
        } as const;
      }
      return { ok: true, json, peak } as const;
    })();
    if (!poisoned.has(mod)) peak = Math.max(peak, heapUsed(runtime));
    if (outOfMemory) peak = Math.max(peak, spec.memoryLimit);
    // QuickJS's own limit misses large allocations (see top); enforce it on the samples too.
    if (result.ok && peak > spec.memoryLimit) result = { ok: false, error: memoryFailure(spec.memoryLimit), peak };
    result.peak = peak;
  } catch (e) {
    // A QuickJS API call itself threw. Most such throws start in host-side marshalling before
    // WASM is entered, but one that unwound through WASM frames leaves QuickJS inconsistent and
    // the two cannot be told apart here: give the module up either way (the next call reloads).
    poison(mod);
    const error =
      e instanceof SandboxHeapExhausted
        ? memoryFailure(spec.memoryLimit, e.message)
        : isHostStackOverflow(e)
          ? fail('STACK_OVERFLOW', 'The call recursed deeper than the host stack allows.', { reason: 'HOST_STACK' })
          : fail('EXECUTION_ERROR', `The sandbox failed: ${e instanceof Error ? e.message : String(e)}`, { reason: 'SANDBOX_FAULT' });
    tree.abort(error);
    result = { ok: false, error: tree.failure ?? error, peak };
  } finally {
    if (!poisoned.has(mod)) {
      try {
        for (const he of hostErrors) he.handle.alive && he.handle.dispose();
        for (let i = owned.length - 1; i >= 0; i--) if (owned[i]!.alive) owned[i]!.dispose();
        vm?.dispose();
        rt?.dispose();
      } catch (e) {
        // A failed free means leaked or corrupt state: stop using this module, and fail the
        // tree because its other runtimes live in the same module.
        poison(mod);
        tree.abort(fail('EXECUTION_ERROR', `The sandbox failed to release a runtime: ${String(e)}`, { reason: 'SANDBOX_FAULT' }));
        if (result!.ok) result = { ok: false, error: tree.failure!, peak };
      }
    }
  }
  return result;
}
