/**
 * fastTransfer (validator/fast-transfer.ts) is a shortcut in front of zod for the commonest
 * proposal, a plain transfer. Its contract: for any input it returns null, or exactly what
 * ProposalSchema returns for `{ ...v, kind: v.kind ?? 'transfer' }`. Checked differentially
 * (fast-check, fixed seeds) on transfer-shaped objects mixing valid values with near misses:
 * extra / missing / undefined-valued keys, wrong types, ids at the 64-character limit and one
 * past it, bad characters and reserved names, amounts at ±10^15 and beyond, non-integers, unsafe
 * integers, decimal strings, bigints, reasoning at 2000/2001 characters or with U+0000 / lone
 * surrogates, upper-case uuids, kind absent / transfer / another kind, and objects whose
 * prototype is null, a class, or another object. Also: parseProposal (which calls fastTransfer
 * first) answers exactly as a zod-only parse, fastTransferCanonical (the writer's hash input for
 * what fastTransfer returned) equals canonicalJson, and the shortcut does take plain valid transfers.
 */
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { fastTransfer, fastTransferCanonical, canonicalJson, parseProposal, ProposalSchema, LIMITS, type Proposal } from '../validator';

const SEED = 20_261_122;
const P = LIMITS.proposal;

/** parseProposal without the shortcut: string → JSON, object check, shape check, zod. */
function zodOnly(input: unknown): { ok: true; proposal: unknown } | { ok: false; code: string; message: string } {
  const r = parseProposal(input, { shortcut: false });
  return r.ok ? { ok: true, proposal: r.proposal } : { ok: false, code: r.code, message: r.message };
}

/** The differential property itself, for one input. Returns whether the shortcut answered. */
function check(v: unknown): boolean {
  const fast = fastTransfer(v);
  if (fast !== null) {
    const o = v as Record<string, unknown>;
    const z = ProposalSchema.safeParse({ ...o, kind: o.kind ?? 'transfer' });
    assert.ok(z.success, `fastTransfer accepted what zod refuses (${z.success ? '' : z.error.issues[0].message}): ${show(v)}`);
    assert.deepStrictEqual(fast, z.data, `fastTransfer and zod disagree on ${show(v)}`);
    // The writer hashes what fastTransfer returned (proposal_id lower-cased) with
    // fastTransferCanonical: it must be canonicalJson, i.e. the original key-sorted definition.
    const t = fast as Proposal & { kind: 'transfer' };
    for (const q of [t, { ...t, proposal_id: t.proposal_id.toLowerCase() }]) {
      assert.equal(fastTransferCanonical(q), canonicalJson(q), `fastTransferCanonical differs from canonicalJson for ${show(v)}`);
      assert.equal(fastTransferCanonical(q), JSON.stringify(sortKeys(q)), `fastTransferCanonical differs from the key-sorted definition for ${show(v)}`);
    }
  }
  const a = parseProposal(v);
  const b = zodOnly(v);
  assert.equal(a.ok, b.ok, `parseProposal ok=${a.ok}, zod-only ok=${b.ok} for ${show(v)}`);
  if (a.ok && b.ok) assert.deepStrictEqual(a.proposal, b.proposal, show(v));
  if (!a.ok && !b.ok) assert.deepStrictEqual([a.code, a.message], [b.code, b.message], show(v));
  return fast !== null;
}

/** canonicalJson's definition (validator/canonical.ts before it was written out directly). */
function sortKeys(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined) out[k] = sortKeys(x);
    }
    return out;
  }
  return v;
}

function show(v: unknown): string {
  try {
    const proto = v !== null && typeof v === 'object' ? Object.getPrototypeOf(v) : undefined;
    const tag = proto === null ? '[null prototype] ' : proto && proto !== Object.prototype ? `[prototype ${proto.constructor?.name ?? 'object'}] ` : '';
    return tag + JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x === undefined ? '<undefined>' : x));
  } catch {
    return String(v);
  }
}

// ---- Arbitraries -----------------------------------------------------------------------------

/** A key may be absent, present with the value undefined, or present with a value. */
const ABSENT = Symbol('absent');
const slot = <T>(present: fc.Arbitrary<T>, weights = { absent: 1, undef: 1, value: 40 }) =>
  fc.oneof(
    { arbitrary: fc.constant(ABSENT as typeof ABSENT), weight: weights.absent },
    { arbitrary: fc.constant(undefined), weight: weights.undef },
    { arbitrary: present, weight: weights.value },
  );

const uuid = fc.oneof(
  { arbitrary: fc.uuid(), weight: 24 },
  { arbitrary: fc.uuid().map((u) => u.toUpperCase()), weight: 4 },
  { arbitrary: fc.uuid().map((u) => u.slice(0, 8) + u.slice(9)), weight: 1 }, // a dash missing
  { arbitrary: fc.uuid().map((u) => u + 'a'), weight: 1 },
  { arbitrary: fc.uuid().map((u) => ' ' + u), weight: 1 },
  { arbitrary: fc.constantFrom<unknown>('', 'not-a-uuid', 'gggggggg-0000-4000-8000-000000000000', 42, null, true, {}, []), weight: 1 },
);

const ID_CHARS = [...'abcXYZ019_.:@-'];
const goodId = fc.oneof(
  { arbitrary: fc.constantFrom('A', 'B', 'C', 'credits', 'energy', 'system', 'a.b:c@d-e_f'), weight: 4 },
  { arbitrary: fc.array(fc.constantFrom(...ID_CHARS), { minLength: 1, maxLength: 64 }).map((c) => c.join('')), weight: 3 },
  { arbitrary: fc.constantFrom('x'.repeat(64), 'Z'.repeat(63) + '9', '_'.repeat(64)), weight: 1 },
);
const badId = fc.constantFrom<unknown>(
  '', 'x'.repeat(65), '_'.repeat(65), 'a b', 'a|b', 'a/b', 'é', 'ä', 'a\u0000', '\ud800', 'tab\t', 'new\nline', 'ümlaut',
  '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '__defineGetter__',
  7, 0, null, true, [], ['A'], {}, { id: 'A' }, 1n,
);
const anyId = fc.oneof({ arbitrary: goodId, weight: 16 }, { arbitrary: badId, weight: 1 });

const MAX = Number(P.maxAmount);
const amount = fc.oneof(
  { arbitrary: fc.integer({ min: -1000, max: 1000 }), weight: 20 },
  { arbitrary: fc.integer({ min: -MAX - 10, max: MAX + 10 }), weight: 4 },
  { arbitrary: fc.constantFrom(MAX, -MAX, MAX + 1, -MAX - 1, MAX - 1, 0, -0, 1, -1, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 2 ** 53, 2 ** 53 + 2, 1e21, 1e300), weight: 3 },
  { arbitrary: fc.constantFrom(0.5, -0.5, 1.0000001, 30.25, Number.NaN, Infinity, -Infinity, Number.EPSILON, 5e-324), weight: 2 },
  { arbitrary: fc.double(), weight: 1 },
  { arbitrary: fc.constantFrom<unknown>('30', '-5', '0', '1000000000000000', '1000000000000001', '-1000000000000000', '30.0', '1e3', ' 30', '+30', '0x1e', '', '99999999999999999999', '٣'), weight: 2 },
  { arbitrary: fc.bigInt({ min: -(10n ** 16n), max: 10n ** 16n }), weight: 1 },
  { arbitrary: fc.constantFrom(10n ** 15n, -(10n ** 15n), 10n ** 15n + 1n, 0n, 30n), weight: 1 },
  { arbitrary: fc.constantFrom<unknown>(null, true, [], {}, [30], { value: 30 }), weight: 1 },
);

const reasoning = fc.oneof(
  { arbitrary: fc.string({ maxLength: 40 }), weight: 4 },
  { arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }), weight: 1 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 20 }), weight: 1 },
  { arbitrary: fc.constantFrom('line\nbreak', 'tab\t', 'say "hi"', 'back\\slash', '\u001f', '\u007f', '\u2028\u2029', '</script>', 'é😀'), weight: 2 },
  { arbitrary: fc.constantFrom('x'.repeat(P.maxReasoningLength), 'x'.repeat(P.maxReasoningLength + 1), '😀'.repeat(1000), '😀'.repeat(1000) + 'x'), weight: 2 },
  { arbitrary: fc.constantFrom('a\u0000b', '\u0000', '\ud800', 'a\udc00b', '\udfff\ud800', '😀'.slice(0, 1), 'ok \ud83d\ude00'), weight: 2 },
  { arbitrary: fc.constantFrom<unknown>(5, null, true, [], {}, ['why'], 1n), weight: 1 },
);

const kind = fc.oneof(
  { arbitrary: fc.constant(ABSENT as typeof ABSENT), weight: 5 },
  { arbitrary: fc.constant(undefined), weight: 1 },
  { arbitrary: fc.constant('transfer'), weight: 5 },
  { arbitrary: fc.constantFrom<unknown>('mint', 'burn', 'harvest', 'offer', 'Transfer', 'transfer ', '', null, 1), weight: 2 },
);

const extraKey = fc.oneof(
  { arbitrary: fc.constant(null), weight: 24 },
  { arbitrary: fc.constantFrom('extra', 'kind2', 'toString', 'constructor', 'offer_id', 'period', 'Agent', 'amount ', ''), weight: 2 },
  { arbitrary: fc.constant('__proto__'), weight: 1 },
);

type Proto = 'plain' | 'null' | 'class' | 'inherit' | 'hidden' | 'symbol';
const proto = fc.oneof(
  { arbitrary: fc.constant<Proto>('plain'), weight: 40 },
  { arbitrary: fc.constantFrom<Proto>('null', 'class', 'inherit', 'hidden', 'symbol'), weight: 3 },
);

class TransferLike {}

const FIELDS = ['proposal_id', 'agent', 'from', 'to', 'resource', 'amount'] as const;

/** Transfer-shaped inputs: mostly plain objects with mostly good values, with every near miss in reach. */
const candidate = fc
  .record({
    proposal_id: slot(uuid),
    agent: slot(anyId),
    from: slot(anyId),
    to: slot(anyId),
    resource: slot(anyId),
    amount: slot(amount),
    reasoning: slot(reasoning, { absent: 6, undef: 1, value: 6 }),
    kind,
    extra: extraKey,
    extraValue: fc.constantFrom<unknown>(1, 'x', undefined, null, { a: 1 }),
    shuffle: fc.boolean(),
    proto,
  })
  .map((r) => {
    const entries: Array<[string, unknown]> = [];
    for (const k of [...FIELDS, 'reasoning', 'kind'] as const) {
      const v = (r as Record<string, unknown>)[k];
      if (v !== ABSENT) entries.push([k, v]);
    }
    if (r.shuffle) entries.reverse();
    let o: Record<string, unknown>;
    switch (r.proto) {
      case 'null':
        o = Object.create(null);
        break;
      case 'class':
        o = new TransferLike() as Record<string, unknown>;
        break;
      case 'inherit':
        o = Object.create({ reasoning: 'inherited' });
        break;
      default:
        o = {};
    }
    for (const [k, v] of entries) o[k] = v;
    if (r.extra !== null) Object.defineProperty(o, r.extra, { value: r.extraValue, enumerable: true, writable: true, configurable: true });
    if (r.proto === 'hidden') Object.defineProperty(o, 'note', { value: 'not enumerable', enumerable: false });
    if (r.proto === 'symbol') (o as any)[Symbol('tag')] = 1;
    return o;
  });

/** Certainly valid plain transfers, as agents send them. */
const validTransfer = fc
  .record(
    {
      proposal_id: fc.oneof(fc.uuid(), fc.uuid().map((u) => u.toUpperCase())),
      agent: goodId,
      from: goodId,
      to: goodId,
      resource: goodId,
      amount: fc.integer({ min: -MAX, max: MAX }),
      reasoning: fc.string({ maxLength: 200 }).filter((s) => !s.includes('\u0000')),
      kind: fc.constant('transfer' as const),
    },
    { requiredKeys: ['proposal_id', 'agent', 'from', 'to', 'resource', 'amount'], noNullPrototype: true },
  )
  .filter((t) => ![t.agent, t.from, t.to, t.resource].some((x) => x === 'constructor' || x === 'prototype' || x === '__proto__'));

// ---- Tests -------------------------------------------------------------------------------------

describe('law: the fast transfer parse', () => {
  it('GIVEN transfer-shaped objects full of near misses WHEN fastTransfer answers THEN zod accepts the same input and returns a deep-equal proposal, and parseProposal answers as zod alone', () => {
    let taken = 0;
    let runs = 0;
    fc.assert(
      fc.property(candidate, (v) => {
        runs++;
        if (check(v)) taken++;
      }),
      { seed: SEED, numRuns: 10_000 },
    );
    // The mix must exercise both sides: the shortcut taken, and inputs it must leave to zod.
    assert.ok(taken > runs * 0.05 && taken < runs * 0.95, `shortcut taken ${taken} of ${runs} times`);
  });

  it('GIVEN the same near misses as JSON text WHEN parsed by parseProposal THEN it answers as zod alone', () => {
    fc.assert(
      fc.property(candidate, (v) => {
        let text: string;
        try {
          text = JSON.stringify(v);
        } catch {
          return; // bigints have no JSON form
        }
        if (text === undefined) return;
        check(text);
      }),
      { seed: SEED + 1, numRuns: 5_000 },
    );
  });

  it('GIVEN plain valid transfers WHEN parsed THEN fastTransfer takes every one (the shortcut is not dead) and agrees with zod', () => {
    fc.assert(
      fc.property(validTransfer, (t) => {
        assert.ok(fastTransfer(t) !== null, `fastTransfer refused a valid transfer: ${show(t)}`);
        check(t);
        const { kind: _k, ...noKind } = t;
        assert.ok(fastTransfer(noKind) !== null, `fastTransfer refused a valid transfer without kind: ${show(noKind)}`);
        check(noKind);
      }),
      { seed: SEED + 2, numRuns: 3_000 },
    );
  });

  const base = () => ({ proposal_id: '0b9a4a3e-6d0c-4c1a-9a55-2f7c3b1d0e11', agent: 'A', from: 'A', to: 'B', resource: 'credits', amount: 30 });

  it('GIVEN the boundary values one by one WHEN parsed THEN the shortcut and zod agree on each, and the shortcut takes exactly the valid ones', () => {
    const cases: Array<[string, Record<string, unknown>, boolean]> = [
      ['plain', base(), true],
      ['with kind', { ...base(), kind: 'transfer' }, true],
      ['kind mint', { ...base(), kind: 'mint' }, false],
      ['reasoning 2000', { ...base(), reasoning: 'r'.repeat(2000) }, true],
      ['reasoning 2001', { ...base(), reasoning: 'r'.repeat(2001) }, false],
      ['reasoning with NUL', { ...base(), reasoning: 'a\u0000' }, false],
      ['reasoning with a lone surrogate', { ...base(), reasoning: '\ud800' }, false],
      ['reasoning undefined', { ...base(), reasoning: undefined }, false],
      ['amount 10^15', { ...base(), amount: MAX }, true],
      ['amount -10^15', { ...base(), amount: -MAX }, true],
      ['amount 10^15+1', { ...base(), amount: MAX + 1 }, false],
      ['amount 0.5', { ...base(), amount: 0.5 }, false],
      ['amount as string', { ...base(), amount: '30' }, false],
      ['amount as bigint', { ...base(), amount: 30n }, false],
      ['amount unsafe', { ...base(), amount: 2 ** 53 }, false],
      ['id of 64', { ...base(), to: 'x'.repeat(64) }, true],
      ['id of 65', { ...base(), to: 'x'.repeat(65) }, false],
      ['id constructor', { ...base(), to: 'constructor' }, false],
      ['id prototype', { ...base(), resource: 'prototype' }, false],
      ['id __proto__ (agent)', { ...base(), agent: '__proto__', from: '__proto__' }, false],
      ['id __proto__ (to)', { ...base(), to: '__proto__' }, false],
      ['id with a space', { ...base(), to: 'B B' }, false],
      ['upper-case uuid', { ...base(), proposal_id: base().proposal_id.toUpperCase() }, true],
      ['extra key', { ...base(), memo: 'x' }, false],
      ['missing amount', (({ amount: _a, ...r }) => r)(base()), false],
      ['null prototype', Object.assign(Object.create(null), base()), false],
      ['class prototype', Object.assign(new TransferLike(), base()), false],
    ];
    for (const [name, v, fastTakes] of cases) {
      assert.equal(fastTransfer(v) !== null, fastTakes, `${name}: fastTransfer ${fastTransfer(v) ? 'took' : 'refused'} it`);
      check(v);
    }
  });
});
