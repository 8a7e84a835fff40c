/**
 * canonicalJson (validator/canonical.ts) is written out directly for speed, but its definition
 * is the original one: JSON.stringify over a copy with bigints as decimal strings, arrays mapped,
 * and plain objects' keys sorted with undefined values dropped. Every stored proposal_hash and
 * every ledger hash (metadata is hashed as canonical JSON) depends on it, so the two must agree
 * on every value. Checked with fast-check (fixed seeds) on arbitrary values and on JSON, plus
 * fixed examples. Known and accepted difference: an own key literally named "__proto__" (the
 * original lost it on the copy), so values holding one are left out.
 */
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { canonicalJson } from '../validator';

const SEED = 20_261_123;

/** The original definition (git show HEAD~1:validator/canonical.ts). */
function original(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}
function sortKeys(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v as object).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined) out[k] = sortKeys(x);
    }
    return out;
  }
  return v;
}

/** Whether `v` holds, at any depth, an own enumerable key matching `bad`. */
function hasKey(v: unknown, bad: (k: string) => boolean, seen = new Set<unknown>()): boolean {
  if (v === null || typeof v !== 'object' || seen.has(v)) return false;
  seen.add(v);
  for (const k of Object.keys(v)) {
    if (bad(k)) return true;
    if (hasKey((v as Record<string, unknown>)[k], bad, seen)) return true;
  }
  return false;
}
const isProto = (k: string) => k === '__proto__';

function same(v: unknown): void {
  const want = original(v);
  const got = canonicalJson(v);
  assert.equal(got, want, `canonicalJson differs from the definition for ${safeShow(v)}`);
}

function safeShow(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x === undefined ? '<undefined>' : x)) ?? String(v);
  } catch {
    return String(v);
  }
}

/** Keys: mostly short ASCII, with escapes, unicode, lone surrogates and look-alikes of indices. */
const keyArb = fc.oneof(
  { arbitrary: fc.string({ maxLength: 6 }), weight: 6 },
  { arbitrary: fc.constantFrom('a', 'b', 'A', 'B', 'aa', 'a b', '"', '\\', '\n', '\u0000', '\u001f', '\u007f', 'é', 'e\u0301', '😀', '\ud800', '\udfff', 'ÿ', '-1', '01', '1.5', '1e3', ' 1', '4294967295', 'toJSON', 'constructor', 'length'), weight: 3 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 4 }), weight: 1 },
);

const anythingArb = (key: fc.Arbitrary<string>) =>
  fc.anything({
    key,
    maxDepth: 4,
    withBigInt: true,
    withBoxedValues: true,
    withDate: true,
    withMap: true,
    withSet: true,
    withNullPrototype: true,
    withObjectString: true,
    withSparseArray: true,
    withTypedArray: true,
  });

/** JSON-like values with undefined, bigints and holes mixed in, nested in arrays and objects. */
const extraLeaf = fc.oneof(
  fc.constant(undefined),
  fc.bigInt(),
  fc.constantFrom(-0, Number.NaN, Infinity, -Infinity, 1e21, 5e-324, 2 ** 53 + 2),
  fc.string({ unit: 'binary', maxLength: 8 }),
  fc.constantFrom('\u2028', '\u2029', '\ud83d', '\ude00x', '</script>'),
);
const { tree } = fc.letrec((tie) => ({
  tree: fc.oneof({ depthSize: 'small', withCrossShrink: true }, fc.jsonValue({ maxDepth: 2 }), extraLeaf, tie('arr'), tie('obj')),
  arr: fc.array(tie('tree'), { maxLength: 5 }),
  obj: fc.dictionary(keyArb.filter((k) => !isProto(k)), tie('tree'), { maxKeys: 5 }),
}));

describe('law: canonical JSON', () => {
  it('GIVEN arbitrary JavaScript values (bigints, boxed values, dates, maps, sets, typed and sparse arrays, null prototypes) WHEN canonicalised THEN the output equals the key-sorted definition', () => {
    fc.assert(
      fc.property(anythingArb(keyArb.filter((k) => !isProto(k))), (v) => {
        if (hasKey(v, isProto)) return;
        same(v);
      }),
      { seed: SEED, numRuns: 5_000 },
    );
  });

  it('GIVEN JSON values WHEN canonicalised THEN the output equals the definition, and parsing it back gives the same value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        if (hasKey(v, isProto)) return;
        same(v);
        const back = JSON.parse(canonicalJson(v));
        assert.equal(canonicalJson(back), canonicalJson(v), 'canonical form is a fixed point');
      }),
      { seed: SEED + 1, numRuns: 3_000 },
    );
  });

  it('GIVEN nested arrays and objects holding undefined, bigints, non-finite numbers and odd strings WHEN canonicalised THEN the output equals the definition', () => {
    fc.assert(
      fc.property(tree, (v) => {
        if (!hasKey(v, isProto)) same(v);
      }),
      { seed: SEED + 2, numRuns: 5_000 },
    );
  });

  it('GIVEN the same content with keys in another order WHEN canonicalised THEN the outputs are equal', () => {
    fc.assert(
      fc.property(fc.dictionary(keyArb.filter((k) => !isProto(k)), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 8 }), (o) => {
        const reversed = Object.fromEntries(Object.entries(o).reverse());
        assert.equal(canonicalJson(reversed), canonicalJson(o));
      }),
      { seed: SEED + 3, numRuns: 2_000 },
    );
  });

  it('GIVEN fixed examples WHEN canonicalised THEN each gives the expected text, which is also the definition', () => {
    const cases: Array<[unknown, string | undefined]> = [
      [null, 'null'],
      [true, 'true'],
      [0, '0'],
      [-0, '0'],
      [1.5, '1.5'],
      [Number.NaN, 'null'],
      [Infinity, 'null'],
      [12345678901234567890n, '"12345678901234567890"'],
      [-5n, '"-5"'],
      ['', '""'],
      ['a"b\\c\n\u0000', '"a\\"b\\\\c\\n\\u0000"'],
      ['\ud800', '"\\ud800"'],
      ['😀', '"😀"'],
      ['\u2028', '"\u2028"'],
      [[], '[]'],
      [{}, '{}'],
      [[undefined, () => 1, Symbol('s'), 1n, [undefined]], '[null,null,null,"1",[null]]'],
      // eslint-disable-next-line no-sparse-arrays
      [[1, , 3], '[1,null,3]'],
      [{ b: 1, a: 2, c: undefined }, '{"a":2,"b":1}'],
      [{ b: { d: [1n, { z: 0, y: undefined, x: null }], c: 'é' }, a: [] }, '{"a":[],"b":{"c":"é","d":["1",{"x":null,"z":0}]}}'],
      [{ B: 1, a: 2, _: 3, Z: 4 }, '{"B":1,"Z":4,"_":3,"a":2}'],
      // UTF-16 code unit order: U+D83D (the high half of 😀) sorts before U+FB00 (ﬀ).
      [{ é: 1, z: 2, '😀': 3, 'ﬀ': 4 }, '{"z":2,"é":1,"😀":3,"ﬀ":4}'],
      [Object.assign(Object.create(null), { b: 1, a: 2 }), '{"a":2,"b":1}'],
      [new Date(0), '{}'],
      [new Map([['a', 1]]), '{}'],
      [{ agent: 'A', amount: 30n, from: 'A', kind: 'transfer', proposal_id: 'x', resource: 'credits', to: 'B' }, '{"agent":"A","amount":"30","from":"A","kind":"transfer","proposal_id":"x","resource":"credits","to":"B"}'],
      [undefined, undefined],
    ];
    for (const [v, want] of cases) {
      assert.equal(canonicalJson(v), want, `canonicalJson(${safeShow(v)})`);
      assert.equal(original(v), want, `definition(${safeShow(v)})`);
    }
  });

  // Regression (found by this suite): an object lists array-index keys ("0", "9", "10") first and
  // in numeric order whatever order they are assigned in, so the original definition (a key-sorted
  // COPY, then JSON.stringify) put them first, numerically: {"10":1,"9":2} → {"9":2,"10":1}. A
  // direct writer that sorted every key as a string changed the hashes of such values (e.g. a
  // policy_set naming resources "9" and "10") from what earlier ledgers store.
  it('GIVEN objects with array-index keys WHEN canonicalised THEN the output equals the definition', () => {
    for (const v of [{ '10': 1, '9': 2 }, { '': 1, '0': 2 }, { a: 1, '0': 2 }, { resources: { '9': { max_transfer: '5' }, '10': { max_transfer: '6' } } }]) same(v);
    const indexKey = fc.oneof(fc.nat({ max: 20 }).map(String), fc.constantFrom('4294967294', '4294967295', '01', '-1'));
    fc.assert(
      fc.property(fc.dictionary(fc.oneof(indexKey, keyArb.filter((k) => !isProto(k))), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 8 }), (o) => same(o)),
      { seed: SEED + 4, numRuns: 2_000 },
    );
  });
});
