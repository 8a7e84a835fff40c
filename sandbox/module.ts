/**
 * The one QuickJS WASM module of the process: loading it (once, promise cached), capping its
 * memory, and giving it up ("poisoning") when it can no longer be trusted.
 *
 * Why our own WebAssembly.Memory: QuickJS's per-runtime memory limit does not bound bytes in
 * this WASM build (it counts allocations; upstream quickjs-emscripten #271), so a guest could
 * grow the module to 2 GB of host memory. The module is instantiated with a Memory whose
 * `maximum` is LIMITS.sandbox.moduleMemoryBytes: growth beyond it fails inside malloc and the
 * guest gets a normal "out of memory". Host-side allocations into the module (strings we pass
 * in) go through emscripten's `_malloc`, which would silently return 0 and let the caller write
 * at address 0; it is wrapped to throw SandboxHeapExhausted instead.
 *
 * Why poisoning: QuickJS guards its own (shadow) stack, but recursion also consumes V8's native
 * stack. If V8 overflows first, a RangeError unwinds through WASM frames without running their
 * cleanup, and freeing the runtime then aborts on an assertion. LIMITS.sandbox stack sizes are
 * chosen so this does not happen; if it (or a WASM trap) ever does, the module is marked
 * poisoned, nothing else is called on it, and the next call loads a fresh module.
 */
import { RELEASE_SYNC, newQuickJSWASMModuleFromVariant, newVariant, type QuickJSWASMModule } from 'quickjs-emscripten';
import { LIMITS } from '../validator/limits';
import { fail, type ErrorResponse } from './errors';

let modulePromise: Promise<QuickJSWASMModule> | null = null;
let readyModule: QuickJSWASMModule | null = null;
const poisonedModules = new WeakSet<QuickJSWASMModule>();

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

export function poison(mod: QuickJSWASMModule): void {
  if (poisonedModules.has(mod)) return;
  poisonedModules.add(mod);
  quickjsStats.poisonings++;
  if (readyModule === mod) {
    readyModule = null;
    modulePromise = null;
  }
}

export function isPoisoned(mod: QuickJSWASMModule): boolean {
  return poisonedModules.has(mod);
}

export function isHostStackOverflow(e: unknown): boolean {
  return e instanceof RangeError && /Maximum call stack size exceeded/.test(e.message);
}

export function memoryFailure(limit: number, cause?: string): ErrorResponse {
  return fail('MEMORY_LIMIT', `The call exceeded its memory limit of ${limit} bytes.`, {
    limit_bytes: limit,
    ...(cause === undefined ? {} : { cause }),
  });
}

/**
 * What an exception thrown by the QuickJS API (not by guest code) means. `poison` is false only
 * for our own _malloc guard firing in host code that never entered WASM. A WASM trap (C code of
 * the wrapper dereferencing a failed allocation) counts as running out of memory when the
 * module's memory is within 10% of its cap (emscripten stops growing ~0.6 MB short of it when a
 * request does not fit) — the only way we have seen it happen.
 */
export function hostThrowFailure(
  mod: QuickJSWASMModule,
  e: unknown,
  memoryLimit: number,
  enteredWasm: boolean,
): { error: ErrorResponse; poison: boolean } {
  if (e instanceof SandboxHeapExhausted) return { error: memoryFailure(memoryLimit, e.message), poison: enteredWasm };
  if (isHostStackOverflow(e)) {
    return { error: fail('STACK_OVERFLOW', 'The call recursed deeper than the host stack allows.', { reason: 'HOST_STACK' }), poison: true };
  }
  const message = e instanceof Error ? e.message : String(e);
  if (e instanceof WebAssembly.RuntimeError) {
    const full = mod.getWasmMemory().buffer.byteLength >= 0.9 * LIMITS.sandbox.moduleMemoryBytes;
    return {
      error: full ? memoryFailure(memoryLimit, `sandbox heap full (${message})`) : fail('EXECUTION_ERROR', `The sandbox trapped: ${message}`, { reason: 'SANDBOX_FAULT' }),
      poison: true,
    };
  }
  return { error: fail('EXECUTION_ERROR', `The sandbox failed: ${message}`, { reason: 'SANDBOX_FAULT' }), poison: enteredWasm };
}
