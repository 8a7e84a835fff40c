import assert from 'node:assert/strict';
import { ERROR_CODES, errorResponseSchema, type ErrorCode } from '../sandbox/errors';
import { Executor } from '../sandbox/executor';
import { loadQuickJS, quickjsStats } from '../sandbox/module';
import type { CallRequest, ExecutionOutcome } from '../sandbox/types';
import { LIMITS } from '../validator/limits';
import { MemoryHost, tool } from './support/sandbox-host';

const SUM = `var methods = { sum(args) { return args.xs.reduce((a, b) => a + b, 0); } };`;
const sumTool = tool('sum', { type: 'object', required: ['xs'], properties: { xs: { type: 'array' } }, additionalProperties: false });

/**
 * Executors in tests whose subject is not the clock get a long deadline, so a cold JIT on a busy
 * 2-core machine cannot turn them into TIMEOUTs; deadline tests use the real LIMITS value.
 */
const RELAXED = { cpuDeadlineMs: 10_000 };

function newHost(): MemoryHost {
  return new MemoryHost().add('sum', SUM, [sumTool], { owner: 'bob', price: 2n }).setBalance('alice', 1000n);
}

function run(ex: Executor, artifactId: string, method: string, args?: unknown, extra: Partial<CallRequest> = {}): Promise<ExecutionOutcome> {
  return ex.run({ artifactId, method, args, invoker: 'alice', now: 1_700_000_000_000, ...extra });
}

/** A failure with `code`, the ONE error shape, and nothing left behind. */
function assertFailed(out: ExecutionOutcome, code: ErrorCode): void {
  assert.equal(out.success, false, `expected ${code}, got success: ${JSON.stringify((out as { result?: unknown }).result)}`);
  if (out.success) return;
  assert.equal(out.error_code, code, `expected ${code}, got ${out.error_code}: ${out.message}`);
  const { success, error_code, message, details, retry_after } = out;
  assert.ok(errorResponseSchema.safeParse({ success, error_code, message, details, retry_after }).success, 'error shape');
  assert.deepEqual(out.effects, { payments: [], edges: [] }, 'a failed call leaves no effects');
}

function assertOk(out: ExecutionOutcome): unknown {
  assert.ok(out.success, `expected success, got ${out.success ? '' : `${out.error_code}: ${out.message}`}`);
  return out.result;
}

/** The host process and the shared QuickJS module still work, and nothing poisoned it since `poisonedBefore`. */
async function assertHealthy(ex: Executor, poisonedBefore: number, mayReload = false): Promise<void> {
  // A guest that fills the whole module memory (64 MB) makes the executor discard and reload
  // the module — contained, but not free; only such attacks may do it.
  if (!mayReload) assert.equal(quickjsStats.poisonings, poisonedBefore, 'the QuickJS module was not poisoned');
  assert.equal(assertOk(await run(ex, 'sum', 'sum', { xs: [1, 2, 3] })), 6);
  assert.equal(({} as Record<string, unknown>).polluted, undefined, 'host Object.prototype untouched');
}

describe('sandbox: normal calls', () => {
  before(() => loadQuickJS());

  it('GIVEN a sum artifact WHEN called with an array THEN it answers with the sum, the invoke price, the edge and metrics', async () => {
    const ex = new Executor(newHost(), RELAXED);
    const out = await run(ex, 'sum', 'sum', { xs: [1, 2, 3, 4] });
    assert.equal(assertOk(out), 10);
    assert.deepEqual(out.effects.payments, [{ from: 'alice', to: 'bob', resource: 'credits', amount: 2n, kind: 'invoke_price', callId: 1, depth: 0 }]);
    assert.deepEqual(out.effects.edges, [{ callId: 1, parentCallId: null, from: 'alice', to: 'sum', method: 'sum', depth: 0 }]);
    assert.equal(out.events.length, 1);
    assert.equal(out.events[0]!.type, 'INVOKE_SUCCESS');
    assert.equal(out.events[0]!.owner, 'bob');
    assert.ok(out.metrics.cpuMicros > 0 && out.metrics.wallMicros > 0, 'cpu and wall time measured');
    assert.ok(out.metrics.peakMemoryBytes > 10_000, `peak memory measured (${out.metrics.peakMemoryBytes})`);
    assert.equal(out.metrics.calls, 1);
  });

  it('GIVEN the guest clock and random WHEN called twice with the same request THEN both answers are identical and Date is the logical now', async () => {
    const host = newHost().add('clock', `var methods = { t() { return [Date.now(), new Date().getTime(), Math.random(), new Date(0).toISOString()]; } };`, ['t']);
    const ex = new Executor(host, RELAXED);
    const a = assertOk(await run(ex, 'clock', 't', {}, { now: 1234, seed: 7 }));
    const b = assertOk(await run(ex, 'clock', 't', {}, { now: 1234, seed: 7 }));
    assert.deepEqual(a, b);
    assert.deepEqual((a as unknown[]).slice(0, 2), [1234, 1234]);
    assert.equal((a as unknown[])[3], '1970-01-01T00:00:00.000Z');
  });

  it('GIVEN an async method that never awaits and a const methods binding WHEN called THEN the settled value is returned', async () => {
    const host = newHost().add('async', `const methods = { async go(args) { return { doubled: args.n * 2 }; } };`, ['go']);
    assert.deepEqual(assertOk(await run(new Executor(host, RELAXED), 'async', 'go', { n: 21 })), { doubled: 42 });
  });

  it('GIVEN a method that awaits WHEN called THEN EXECUTION_ERROR because promise jobs never run', async () => {
    const host = newHost().add('waits', `var methods = { async go() { await null; return 1; } };`, ['go']);
    const out = await run(new Executor(host, RELAXED), 'waits', 'go');
    assertFailed(out, 'EXECUTION_ERROR');
    assert.match(!out.success ? out.message : '', /synchronously/);
  });

  it('GIVEN world() and balance() WHEN read by the guest THEN a private copy of the snapshot and the artifact own balance come back', async () => {
    const host = newHost()
      .setBalance('reader', 55n)
      .add('reader', `var methods = { r() { const w = world(); w.tick = -1; return { tick: world().tick, bal: balance(), energy: balance('energy') }; } };`, ['r']);
    assert.deepEqual(assertOk(await run(new Executor(host, RELAXED), 'reader', 'r')), { tick: 42, bal: '55', energy: '0' });
    assert.deepEqual(host.worldState, { tick: 42, resources: ['credits', 'energy'] }, 'the host snapshot is untouched');
  });
});

describe('sandbox: refusals before any code runs', () => {
  const host = newHost()
    .add('gone', SUM, ['sum'])
    .add('hidden', `var methods = { sum() { return 1; }, secret() { return 'leak'; } };`, ['sum'])
    .add('badiface', SUM, [])
    .add('private', SUM, ['sum'])
    .add('huge', `var methods = { go() { return 1; } }; /*${'x'.repeat(LIMITS.sandbox.maxCodeBytes)}*/`, ['go']);
  host.artifacts.set('gone', { id: 'gone', deleted: true });
  host.denyAccess.add('private');
  const ex = new Executor(host, RELAXED);
  before(() => loadQuickJS());

  it('GIVEN a missing artifact WHEN called THEN NOT_FOUND', async () => assertFailed(await run(ex, 'nope', 'sum'), 'NOT_FOUND'));
  it('GIVEN a tombstone WHEN called THEN DELETED', async () => assertFailed(await run(ex, 'gone', 'sum'), 'DELETED'));
  it('GIVEN a method outside the interface WHEN called THEN INVALID_ARGS naming the available tools', async () => {
    const out = await run(ex, 'hidden', 'secret');
    assertFailed(out, 'INVALID_ARGS');
    assert.deepEqual(!out.success && out.details?.available, ['sum']);
  });
  it('GIVEN missing, mistyped, extra or non-JSON arguments WHEN called THEN INVALID_ARGS each time', async () => {
    for (const args of [{}, { xs: 'no' }, { xs: [], extra: 1 }, { xs: [1n] }, { xs: [() => 1] }, [1, 2], 'text', { xs: [NaN] }]) {
      assertFailed(await run(ex, 'sum', 'sum', args), 'INVALID_ARGS');
    }
  });
  it('GIVEN an artifact with an empty interface WHEN called THEN EXECUTION_ERROR (malformed artifact)', async () => {
    const out = await run(ex, 'badiface', 'sum');
    assertFailed(out, 'EXECUTION_ERROR');
    assert.equal(!out.success && out.details?.reason, 'INVALID_INTERFACE');
  });
  it('GIVEN an access contract that refuses WHEN called THEN ACCESS_DENIED', async () => assertFailed(await run(ex, 'private', 'sum', { xs: [] }), 'ACCESS_DENIED'));
  it('GIVEN code over maxCodeBytes WHEN called THEN EXECUTION_ERROR CODE_TOO_LARGE', async () => {
    const out = await run(ex, 'huge', 'go');
    assertFailed(out, 'EXECUTION_ERROR');
    assert.equal(!out.success && out.details?.reason, 'CODE_TOO_LARGE');
  });
  it('GIVEN an invoker that cannot pay the invoke price WHEN called THEN INSUFFICIENT_FUNDS', async () => {
    assertFailed(await ex.run({ artifactId: 'sum', method: 'sum', args: { xs: [] }, invoker: 'pauper' }), 'INSUFFICIENT_FUNDS');
  });
  it('GIVEN no compute budget WHEN called THEN INSUFFICIENT_COMPUTE', async () => assertFailed(await run(ex, 'sum', 'sum', { xs: [] }, { cpuBudgetMs: 0 }), 'INSUFFICIENT_COMPUTE'));
  it('GIVEN every code in the list WHEN the schema is checked THEN the twelve codes of gap 23 are there', () => {
    assert.deepEqual([...ERROR_CODES].sort(), [
      'ACCESS_DENIED', 'DELETED', 'DEPTH_EXCEEDED', 'EXECUTION_ERROR', 'INSUFFICIENT_COMPUTE', 'INSUFFICIENT_FUNDS',
      'INVALID_ARGS', 'MEMORY_LIMIT', 'NOT_FOUND', 'OUTPUT_TOO_LARGE', 'STACK_OVERFLOW', 'TIMEOUT',
    ]);
  });
});

describe('sandbox: attack suite (each contained, no payment, host healthy afterwards)', function () {
  this.timeout(60_000);
  // Every attacker also pays first, so a leaked journal would show up as a payment.
  const PAY_FIRST = `pay('thief', 1);`;
  const host = newHost().setBalance('evil', 100n);
  const attack = (id: string, body: string) => host.add(id, `var methods = { go(args) { ${PAY_FIRST} ${body} } };`, ['go'], { owner: 'mallory', price: 1n });
  attack('loop', 'for (;;) {}');
  attack('loop_catch', 'for (;;) { try { for (;;) {} } catch (e) {} finally { continue; } }');
  attack('promise_chain', 'let p = Promise.resolve(); for (;;) p = p.then(() => 1);');
  attack('pending_jobs', 'const spin = () => Promise.resolve().then(spin); spin(); return new Promise(() => {});');
  attack('strings', 'const a = []; for (;;) a.push("x".repeat(1 << 20) + a.length);');
  attack('typed', 'const a = []; for (;;) a.push(new Uint8Array(1 << 20));');
  attack('hoard', 'const a = []; try { for (let i = 0; i < 20; i++) a.push(new Uint8Array(1 << 20)); } catch (e) {} globalThis.keep = a; return "kept " + a.length;');
  attack('recurse', 'function r(n) { return r(n + 1) + 1; } return r(0);');
  attack('recurse_tostr', 'const o = { toString() { return "" + o; } }; return "" + o;');
  attack('recurse_json', 'const deep = "[".repeat(1e5) + "]".repeat(1e5); return JSON.parse(deep);');
  attack('output', 'return "x".repeat(LIMIT + 1);'.replace('LIMIT', String(LIMITS.sandbox.maxOutputBytes)));
  attack('output_utf8', 'return "é".repeat(LIMIT / 2 + 10);'.replace('LIMIT', String(LIMITS.sandbox.maxOutputBytes)));
  attack('forge', 'const e = new Error("fake"); e.name = "SandboxError"; e.error_code = "TIMEOUT"; throw e;');
  attack('throws', 'throw new TypeError("boom");');
  attack('import', 'return import("fs");');
  attack('overspend', 'pay("thief", 1000);');
  attack('bad_amount', 'pay("thief", 1.5);');
  attack('neg_amount', 'pay("thief", "-5");');
  attack('bad_resource', 'pay("bob", 1, "no such\\tresource");');

  before(async () => {
    await loadQuickJS();
    for (const id of host.artifacts.keys()) if (id !== 'sum') host.setBalance(id, 10n);
  });

  /** Only the clock attacks run under the real deadline; memory bombs must hit the cap, not the clock. */
  const CLOCK_CASES = new Set(['loop', 'loop_catch', 'promise_chain']);
  const cases: Array<[string, ErrorCode]> = [
    ['loop', 'TIMEOUT'],
    ['loop_catch', 'TIMEOUT'],
    ['promise_chain', 'TIMEOUT'],
    ['pending_jobs', 'EXECUTION_ERROR'],
    ['strings', 'MEMORY_LIMIT'],
    ['typed', 'MEMORY_LIMIT'],
    ['hoard', 'MEMORY_LIMIT'],
    ['recurse', 'STACK_OVERFLOW'],
    ['recurse_tostr', 'STACK_OVERFLOW'],
    ['recurse_json', 'STACK_OVERFLOW'],
    ['output', 'OUTPUT_TOO_LARGE'],
    ['output_utf8', 'OUTPUT_TOO_LARGE'],
    ['forge', 'EXECUTION_ERROR'],
    ['throws', 'EXECUTION_ERROR'],
    ['import', 'EXECUTION_ERROR'],
    ['overspend', 'INSUFFICIENT_FUNDS'],
    ['bad_amount', 'INVALID_ARGS'],
    ['neg_amount', 'INVALID_ARGS'],
    ['bad_resource', 'INVALID_ARGS'],
  ];
  for (const [id, code] of cases) {
    it(`GIVEN the "${id}" attack WHEN run THEN ${code}, no payment, and a normal call still works`, async () => {
      const poisoned = quickjsStats.poisonings;
      const ex = new Executor(host, CLOCK_CASES.has(id) ? {} : RELAXED);
      const out = await ex.run({ artifactId: id, method: 'go', invoker: 'evil' });
      // An endless promise chain spends CPU and memory at once: on a fast machine the 16 MB cap
      // is reached before the 200 ms deadline, on a loaded one the deadline comes first. Either
      // way it is contained; which limit fires first depends only on speed.
      const expected = id === 'promise_chain' && !out.success && out.error_code === 'MEMORY_LIMIT' ? 'MEMORY_LIMIT' : code;
      assertFailed(out, expected);
      assert.equal(out.events.at(-1)!.type, 'INVOKE_FAILURE');
      assert.equal(out.events.at(-1)!.error_code, expected);
      await assertHealthy(ex, poisoned, expected === 'MEMORY_LIMIT' && id === 'promise_chain');
    });
  }

  it('GIVEN a caller compute budget below the deadline WHEN the guest loops THEN INSUFFICIENT_COMPUTE at the budget, not TIMEOUT', async () => {
    const ex = new Executor(host, RELAXED);
    const t0 = performance.now();
    assertFailed(await ex.run({ artifactId: 'loop', method: 'go', invoker: 'evil', cpuBudgetMs: 30 }), 'INSUFFICIENT_COMPUTE');
    assert.ok(performance.now() - t0 < LIMITS.sandbox.cpuDeadlineMs, 'stopped at the budget');
  });

  it('GIVEN escape attempts WHEN the guest looks for host objects THEN it finds only its own realm', async () => {
    host.add('escape', `var methods = { go() {
      const probes = {};
      probes.process = typeof process; probes.require = typeof require; probes.module = typeof module;
      probes.console = typeof console; probes.setTimeout = typeof setTimeout; probes.Buffer = typeof Buffer;
      probes.fnThis = Function('return this')() === globalThis;
      probes.ctorEscape = (function () { return this.constructor.constructor('return typeof process')(); }).call({});
      probes.apiCtor = invoke.constructor('return typeof process')();
      probes.evalProcess = eval('typeof process');
      probes.genCtor = typeof (function* () {}).constructor('return typeof process')().next().value;
      probes.stackTrace = typeof Error.prepareStackTrace;
      probes.globals = Object.getOwnPropertyNames(globalThis).filter((k) => !/^[A-Z]/.test(k)).sort().join(',');
      return probes; } };`, ['go']);
    const poisoned = quickjsStats.poisonings;
    const ex = new Executor(host, RELAXED);
    const probes = assertOk(await ex.run({ artifactId: 'escape', method: 'go', invoker: 'evil' })) as Record<string, unknown>;
    assert.deepEqual(probes, {
      process: 'undefined', require: 'undefined', module: 'undefined', console: 'undefined', setTimeout: 'undefined', Buffer: 'undefined',
      fnThis: true, ctorEscape: 'undefined', apiCtor: 'undefined', evalProcess: 'undefined', genCtor: 'string', stackTrace: 'undefined',
      globals: 'balance,decodeURI,decodeURIComponent,encodeURI,encodeURIComponent,escape,eval,globalThis,invoke,isFinite,isNaN,methods,parseFloat,parseInt,pay,undefined,unescape,world',
    });
    await assertHealthy(ex, poisoned);
  });

  it('GIVEN a guest that pollutes prototypes and the injected API WHEN the next call runs THEN it sees pristine built-ins and API', async () => {
    host.add('polluter', `var methods = { go() {
      Object.prototype.polluted = 'yes'; Array.prototype.push = null; JSON.parse = () => 'evil';
      for (const name of ['invoke', 'pay', 'balance', 'world']) {
        try { globalThis[name] = () => 'hijacked'; } catch (e) {}
        try { delete globalThis[name]; } catch (e) {}
        try { globalThis[name].extra = 1; } catch (e) {}
      }
      return { sawPollution: ({}).polluted, invokeStillNative: typeof invoke === 'function' && invoke.name === 'invoke', proto: { ['__proto__']: { polluted: 1 } } };
    } };`, ['go']);
    host.add('checker', `var methods = { go() { return { polluted: ({}).polluted === undefined, push: typeof [].push, parse: JSON.parse('1'), api: [typeof invoke, typeof pay, typeof balance, typeof world] }; } };`, ['go']);
    const poisoned = quickjsStats.poisonings;
    const ex = new Executor(host, RELAXED);
    const first = assertOk(await ex.run({ artifactId: 'polluter', method: 'go', invoker: 'evil' })) as Record<string, unknown>;
    assert.equal(first.sawPollution, 'yes');
    assert.equal(first.invokeStillNative, true, 'API bindings are non-writable');
    assert.equal(({} as Record<string, unknown>).polluted, undefined, 'a __proto__ key in a result does not reach the host prototype');
    const second = assertOk(await ex.run({ artifactId: 'checker', method: 'go', invoker: 'evil' }));
    assert.deepEqual(second, { polluted: true, push: 'function', parse: 1, api: ['function', 'function', 'function', 'function'] });
    await assertHealthy(ex, poisoned);
  });

  it('GIVEN a guest that catches its INSUFFICIENT_FUNDS WHEN it goes on THEN the call succeeds without that payment', async () => {
    host.add('careful', `var methods = { go() { let code = null; try { pay('thief', 999); } catch (e) { code = e.error_code; } pay('friend', 3); return { code, left: balance() }; } };`, ['go']);
    host.setBalance('careful', 10n);
    const out = await new Executor(host, RELAXED).run({ artifactId: 'careful', method: 'go', invoker: 'evil' });
    assert.deepEqual(assertOk(out), { code: 'INSUFFICIENT_FUNDS', left: '7' });
    assert.deepEqual(out.effects.payments.map((p) => [p.from, p.to, p.amount, p.kind]), [['careful', 'friend', 3n, 'pay']]);
  });

  it('GIVEN two payments that together exceed the balance WHEN made in one call THEN the second sees the journaled first and fails', async () => {
    host.add('double', `var methods = { go() { pay('x1', 6); pay('x2', 6); } };`, ['go']);
    host.setBalance('double', 10n);
    assertFailed(await new Executor(host, RELAXED).run({ artifactId: 'double', method: 'go', invoker: 'evil' }), 'INSUFFICIENT_FUNDS');
  });
});

describe('sandbox: the module memory cap', function () {
  this.timeout(60_000);
  before(() => loadQuickJS());

  it('GIVEN a guest that fills the whole sandbox heap WHEN the host must copy a result into it THEN MEMORY_LIMIT, no effects, and the next call works', async () => {
    // Fill with ever smaller chunks until even 1 KB fails, keep all of it, then ask a genesis
    // artifact for a 60 KB answer that the host has to allocate inside the full module.
    const host = newHost()
      .setBalance('filler', 10n)
      .add('filler', `var methods = { go() {
        pay('thief', 1);
        const keep = [];
        for (const size of [1 << 20, 1 << 16, 1 << 12, 1 << 10]) { try { for (;;) keep.push(new Uint8Array(size)); } catch (e) {} }
        globalThis.keep = keep;
        return invoke('genesis:broken', 'big', { bytes: 60000 }).length;
      } };`, ['go']);
    const ex = new Executor(host, { cpuDeadlineMs: 10_000, memoryBytes: LIMITS.sandbox.moduleMemoryBytes });
    const out = await ex.run({ artifactId: 'filler', method: 'go', invoker: 'alice' });
    assertFailed(out, 'MEMORY_LIMIT');
    assert.equal(assertOk(await run(ex, 'sum', 'sum', { xs: [20, 22] })), 42);
  });

  it('GIVEN the module loader WHEN inspected THEN the heap guard wraps _malloc and the memory has the configured maximum', async () => {
    const mod = await loadQuickJS();
    const em = (mod as unknown as { module: { _malloc(n: number): number } }).module;
    assert.throws(() => em._malloc(LIMITS.sandbox.moduleMemoryBytes * 2), /sandbox heap is full/);
    assert.ok(mod.getWasmMemory().buffer.byteLength <= LIMITS.sandbox.moduleMemoryBytes);
  });
});
