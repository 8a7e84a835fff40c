/**
 * Nested invoke(): the effects journal across a call tree, depth limits, genesis artifacts as
 * targets, and stack safety of a full-depth chain (companion of sandbox.test.ts).
 */
import assert from 'node:assert/strict';
import type { ErrorCode } from '../sandbox/errors';
import { Executor } from '../sandbox/executor';
import { loadQuickJS, quickjsStats } from '../sandbox/module';
import type { ExecutionOutcome } from '../sandbox/types';
import { LIMITS } from '../validator/limits';
import { MemoryHost } from './support/sandbox-host';

function assertFailed(out: ExecutionOutcome, code: ErrorCode): void {
  assert.equal(out.success, false, `expected ${code}, got success`);
  if (out.success) return;
  assert.equal(out.error_code, code, `expected ${code}, got ${out.error_code}: ${out.message}`);
  assert.deepEqual(out.effects, { payments: [], edges: [] }, 'a failed tree leaves no effects');
}

function assertOk(out: ExecutionOutcome): unknown {
  assert.ok(out.success, `expected success, got ${out.success ? '' : `${out.error_code}: ${out.message}`}`);
  return out.result;
}

const SUM = `var methods = { sum(args) { return args.xs.reduce((a, b) => a + b, 0); } };`;

/** L0 → L1 → … → L<last>: every level pays 1 credit to `sink`, then invokes the next. */
function chain(host: MemoryHost, prefix: string, last: number, bottom: string): void {
  for (let d = 0; d <= last; d++) {
    const next = d === last ? bottom : `return invoke('${prefix}${d + 1}', 'go', { from: ${d} });`;
    host.add(`${prefix}${d}`, `var methods = { go(args) { pay('sink', 1); ${next} } };`, ['go'], { owner: `owner${d}`, price: 1n });
    host.setBalance(`${prefix}${d}`, 10n);
  }
}

describe('sandbox: nested invoke and the effects journal', () => {
  const host = new MemoryHost().setBalance('alice', 100n).add('sum', SUM, ['sum']);
  chain(host, 'ok', 3, `return 'bottom';`);
  chain(host, 'bad', 3, `throw new Error('depth three fails');`);
  chain(host, 'swallow', 3, `throw new Error('depth three fails');`);
  // Level 2 of this chain catches the failure of level 3 and carries on.
  host.add('swallow2', `var methods = { go() { pay('sink', 1); try { return invoke('swallow3', 'go', {}); } catch (e) { return 'swallowed'; } } };`, ['go'], { price: 1n });
  host.add('cycA', `var methods = { go() { pay('sink', 1); return invoke('cycB', 'go', {}); } };`, ['go'], { price: 1n });
  host.add('cycB', `var methods = { go() { pay('sink', 1); return invoke('cycA', 'go', {}); } };`, ['go'], { price: 1n });
  host.add('fan', `var methods = { go() { let t = 0; for (let i = 0; i < 1000; i++) t += invoke('sum', 'sum', { xs: [i] }); return t; } };`, ['go']);
  host.add('spin', `var methods = { go() { for (;;) {} } };`, ['go']);
  host.add('callsSpin', `var methods = { go() { pay('sink', 1); return invoke('spin', 'go', {}); } };`, ['go']);
  // drainer can afford pricey's price when it calls it, but pricey calls back into drainer,
  // which spends that credit; the price is re-checked against the journal when pricey succeeds.
  host.add('drainer', `var methods = { go() { return invoke('pricey', 'go', {}); }, spend() { pay('sink', 1); return 'spent'; } };`, ['go', 'spend']);
  host.add('pricey', `var methods = { go() { return invoke('drainer', 'spend', {}); } };`, ['go'], { owner: 'greedy-owner', price: 1n });
  host.setBalance('drainer', 1n);
  for (const id of ['cycA', 'cycB', 'callsSpin']) host.setBalance(id, 50n);
  // A long deadline where the clock is not the subject (a cold JIT on a busy machine is slow).
  const ex = new Executor(host, { cpuDeadlineMs: 10_000 });
  before(() => loadQuickJS());

  it('GIVEN a 4-level chain that pays at every level WHEN it succeeds THEN every payment and price is returned in order with the edges', async () => {
    const out = await ex.run({ artifactId: 'ok0', method: 'go', invoker: 'alice' });
    assert.equal(assertOk(out), 'bottom');
    const moves = out.effects.payments.map((p) => `${p.kind}:${p.from}->${p.to}:${p.amount}@${p.depth}`);
    assert.deepEqual(moves, [
      'pay:ok0->sink:1@0',
      'pay:ok1->sink:1@1',
      'pay:ok2->sink:1@2',
      'pay:ok3->sink:1@3',
      'invoke_price:ok2->owner3:1@3',
      'invoke_price:ok1->owner2:1@2',
      'invoke_price:ok0->owner1:1@1',
      'invoke_price:alice->owner0:1@0',
    ]);
    assert.deepEqual(
      out.effects.edges.map((e) => [e.from, e.to, e.depth, e.parentCallId]),
      [['alice', 'ok0', 0, null], ['ok0', 'ok1', 1, 1], ['ok1', 'ok2', 2, 2], ['ok2', 'ok3', 3, 3]],
    );
    assert.deepEqual(out.events.map((e) => `${e.type}:${e.artifactId}:${e.depth}:${e.parentArtifactId}`), [
      'INVOKE_SUCCESS:ok3:3:ok2', 'INVOKE_SUCCESS:ok2:2:ok1', 'INVOKE_SUCCESS:ok1:1:ok0', 'INVOKE_SUCCESS:ok0:0:null',
    ]);
    assert.equal(out.metrics.calls, 4);
    const single = out.events.find((e) => e.depth === 3)!.peakMemoryBytes;
    assert.ok(out.metrics.peakMemoryBytes > 3 * single, 'tree peak adds the runtimes alive at the same time');
  });

  it('GIVEN the same chain failing at depth 3 WHEN run THEN the whole call fails with no payment at all and every level records INVOKE_FAILURE', async () => {
    const out = await ex.run({ artifactId: 'bad0', method: 'go', invoker: 'alice' });
    assertFailed(out, 'EXECUTION_ERROR');
    assert.equal(!out.success && out.details?.depth, 3);
    assert.equal(!out.success && out.details?.artifact_id, 'bad3');
    assert.match(!out.success ? out.message : '', /depth three fails/);
    assert.deepEqual(out.events.map((e) => `${e.type}:${e.depth}`), ['INVOKE_FAILURE:3', 'INVOKE_FAILURE:2', 'INVOKE_FAILURE:1', 'INVOKE_FAILURE:0']);
  });

  it('GIVEN a level that catches the failure below it WHEN run THEN the tree still fails and nothing is paid', async () => {
    const out = await ex.run({ artifactId: 'swallow0', method: 'go', invoker: 'alice' });
    assertFailed(out, 'EXECUTION_ERROR');
    assert.equal(!out.success && out.details?.artifact_id, 'swallow3');
  });

  it('GIVEN a callee that makes its invoker spend the credit reserved for the price WHEN it succeeds THEN INSUFFICIENT_FUNDS for the whole tree', async () => {
    const out = await ex.run({ artifactId: 'drainer', method: 'go', invoker: 'alice' });
    assertFailed(out, 'INSUFFICIENT_FUNDS');
    assert.equal(!out.success && out.details?.payer, 'drainer');
  });

  it(`GIVEN a cycle A→B→A WHEN it recurses past depth ${LIMITS.sandbox.maxInvokeDepth} THEN DEPTH_EXCEEDED and no payment of any level`, async () => {
    const out = await ex.run({ artifactId: 'cycA', method: 'go', invoker: 'alice' });
    assertFailed(out, 'DEPTH_EXCEEDED');
    assert.equal(out.metrics.calls, LIMITS.sandbox.maxInvokeDepth + 2);
    assert.equal(out.events[0]!.depth, LIMITS.sandbox.maxInvokeDepth + 1);
    assert.equal(quickjsStats.poisonings, 0);
  });

  it(`GIVEN a loop of invokes WHEN it passes maxCallsPerTree THEN EXECUTION_ERROR CALL_LIMIT`, async () => {
    const out = await ex.run({ artifactId: 'fan', method: 'go', invoker: 'alice' });
    assertFailed(out, 'EXECUTION_ERROR');
    assert.equal(!out.success && out.details?.reason, 'CALL_LIMIT');
  });

  it('GIVEN a nested call that loops WHEN the tree deadline passes THEN TIMEOUT for the whole tree and no payment', async () => {
    const t0 = performance.now();
    assertFailed(await new Executor(host).run({ artifactId: 'callsSpin', method: 'go', invoker: 'alice' }), 'TIMEOUT');
    assert.ok(performance.now() - t0 < LIMITS.sandbox.cpuDeadlineMs * 5, 'one deadline for the whole tree, not one per level');
    assert.equal(assertOk(await ex.run({ artifactId: 'sum', method: 'sum', args: { xs: [2, 3] }, invoker: 'alice' })), 5);
  });
});

describe('sandbox: genesis artifacts are first-class invoke targets', () => {
  const host = new MemoryHost().setBalance('alice', 100n);
  host.add('user', `var methods = { go() {
      const before = invoke('genesis:ledger', 'balance', {});
      invoke('genesis:ledger', 'transfer', { to: 'carol', amount: '4' });
      return { before, after: invoke('genesis:ledger', 'balance', {}), me: invoke('genesis:store', 'get', { id: 'user' }).owner,
        log: invoke('genesis:event_log', 'read', { limit: 1 }) };
    } };`, ['go'], { owner: 'dana' });
  host.add('greedy', `var methods = { go() { return invoke('genesis:escrow', 'deposit', { amount: '1000' }); } };`, ['go']);
  host.add('rude', `var methods = { go() { return invoke('genesis:broken', 'malformed', {}); } };`, ['go']);
  host.add('lost', `var methods = { go() { return invoke('genesis:ledger', 'nope', {}); } };`, ['go']);
  host.add('hungry', `var methods = { go() { return invoke('genesis:broken', 'big', { bytes: ${LIMITS.sandbox.maxOutputBytes + 1} }); } };`, ['go']);
  host.setBalance('user', 10n).setBalance('greedy', 10n);
  host.eventLog.push({ type: 'BOOT', data: 1 });
  const ex = new Executor(host, { cpuDeadlineMs: 10_000 });
  before(() => loadQuickJS());

  it('GIVEN an artifact using ledger, store and event_log WHEN run THEN results flow back and the transfer is journaled from the artifact', async () => {
    const out = await ex.run({ artifactId: 'user', method: 'go', invoker: 'alice' });
    assert.deepEqual(assertOk(out), { before: '10', after: '6', me: 'dana', log: [{ type: 'BOOT', data: 1 }] });
    assert.deepEqual(out.effects.payments.map((p) => [p.kind, p.from, p.to, p.amount, p.depth]), [['genesis', 'user', 'carol', 4n, 1]]);
    assert.ok(out.effects.edges.some((e) => e.from === 'user' && e.to === 'genesis:ledger' && e.depth === 1));
    assert.ok(host.genesisCalls.every((c) => c.invoker === 'user' && c.depth === 1));
    assert.equal(host.balance('user', 'credits'), 10n, 'the host applied nothing');
  });

  it('GIVEN an escrow deposit beyond the balance WHEN invoked THEN INSUFFICIENT_FUNDS and no payment', async () => {
    assertFailed(await ex.run({ artifactId: 'greedy', method: 'go', invoker: 'alice' }), 'INSUFFICIENT_FUNDS');
  });

  it('GIVEN a genesis call at top level WHEN run THEN it answers like any artifact', async () => {
    const list = assertOk(await ex.run({ artifactId: 'genesis:store', method: 'list', invoker: 'alice' })) as string[];
    assert.ok(list.includes('user'));
  });

  it('GIVEN a malformed, unknown-method or oversized genesis answer WHEN invoked THEN EXECUTION_ERROR, INVALID_ARGS, OUTPUT_TOO_LARGE', async () => {
    const rude = await ex.run({ artifactId: 'rude', method: 'go', invoker: 'alice' });
    assertFailed(rude, 'EXECUTION_ERROR');
    assert.equal(!rude.success && rude.details?.reason, 'GENESIS_MALFORMED');
    assertFailed(await ex.run({ artifactId: 'lost', method: 'go', invoker: 'alice' }), 'INVALID_ARGS');
    assertFailed(await ex.run({ artifactId: 'hungry', method: 'go', invoker: 'alice' }), 'OUTPUT_TOO_LARGE');
  });
});

describe('sandbox: stack safety of a full-depth chain', function () {
  this.timeout(60_000);
  // Recursion kinds with different native-stack / QuickJS-stack ratios (1.6×–3.6× measured).
  const patterns: Record<string, string> = {
    plain: 'function rec(n, limit, atBottom) { return n >= limit ? atBottom() : rec(n + 1, limit, atBottom); }',
    coercion: 'function rec(n, limit, atBottom) { const o = { toString() { return n >= limit ? atBottom() : rec(n + 1, limit, atBottom); } }; return "" + o; }',
    callback: 'function rec(n, limit, atBottom) { return [1].map(() => (n >= limit ? atBottom() : rec(n + 1, limit, atBottom)))[0]; }',
    getter: 'function rec(n, limit, atBottom) { return ({ get x() { return n >= limit ? atBottom() : rec(n + 1, limit, atBottom); } }).x; }',
  };
  /** Each level finds the deepest recursion its stack allows, recurses almost that deep, then invokes the next. */
  function build(pattern: string, overflowAtBottom: boolean): MemoryHost {
    const host = new MemoryHost().add('sum', SUM, ['sum']).setBalance('alice', 100n);
    const last = LIMITS.sandbox.maxInvokeDepth;
    for (let d = 0; d <= last; d++) {
      const bottom = d < last ? `rec(0, lo - 12, () => invoke('S${d + 1}', 'go', {}))` : overflowAtBottom ? `rec(0, Infinity, null)` : `rec(0, lo, () => 'bottom')`;
      host.add(`S${d}`, `${patterns[pattern]}
        var methods = { go() {
          let lo = 0, hi = 20000;
          while (lo < hi) { const mid = (lo + hi + 1) >> 1; let reached = false; try { rec(0, mid, () => (reached = true)); } catch (e) {} if (reached) lo = mid; else hi = mid - 1; }
          return ${bottom};
        } };`, ['go']);
    }
    return host;
  }
  /** Run with `frames` host frames already on the native stack (the engine calls from some depth). */
  function runAtHostDepth(ex: Executor, frames: number): ExecutionOutcome {
    let out: ExecutionOutcome | undefined;
    const burn = (n: number): void => {
      if (n > 0) return burn(n - 1);
      out = ex.runSync({ artifactId: 'S0', method: 'go', invoker: 'alice' });
    };
    burn(frames);
    return out!;
  }
  before(() => loadQuickJS());

  for (const pattern of Object.keys(patterns)) {
    it(`GIVEN six levels each recursing (${pattern}) to its stack limit WHEN run from a deep host stack THEN it succeeds and the module is never poisoned`, () => {
      const ex = new Executor(build(pattern, false), { cpuDeadlineMs: 20_000 });
      for (const frames of [0, 3000]) assert.equal(assertOk(runAtHostDepth(ex, frames)), 'bottom');
      assert.equal(quickjsStats.poisonings, 0);
    });
  }

  it('GIVEN the same chain overflowing at depth 5 WHEN run THEN STACK_OVERFLOW from QuickJS (not from V8) and the host stays healthy', () => {
    const ex = new Executor(build('coercion', true), { cpuDeadlineMs: 20_000 });
    const out = runAtHostDepth(ex, 3000);
    assertFailed(out, 'STACK_OVERFLOW');
    assert.equal(!out.success && out.details?.depth, LIMITS.sandbox.maxInvokeDepth);
    assert.equal(quickjsStats.poisonings, 0);
    assert.equal(assertOk(ex.runSync({ artifactId: 'sum', method: 'sum', args: { xs: [1, 1] }, invoker: 'alice' })), 2);
  });
});
