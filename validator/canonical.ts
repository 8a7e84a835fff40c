/**
 * Canonical JSON: keys sorted, no whitespace, bigints as decimal strings. Two proposals with
 * the same content have the same canonical form whatever key order or number spelling the
 * proposer used — which is what idempotency ("same id + same content") compares.
 *
 * Written out directly rather than as JSON.stringify over a key-sorted copy (same output, which
 * tests/law.canonical.test.ts checks against that definition on arbitrary values): the copy
 * cost more than the hashing it feeds, on every proposal the writer decides.
 */
export function canonicalJson(value: unknown): string {
  const s = canon(value, false);
  return s === undefined ? (undefined as unknown as string) : s;
}

/** `inArray`: JSON writes a value it cannot represent as null inside arrays, and omits it in objects. */
function canon(v: unknown, inArray: boolean): string | undefined {
  switch (typeof v) {
    case 'string':
      return quote(v);
    case 'bigint':
      return '"' + v.toString() + '"';
    case 'object': {
      if (v === null) return 'null';
      if (Array.isArray(v)) {
        let out = '[';
        for (let i = 0; i < v.length; i++) {
          if (i) out += ',';
          out += canon(v[i], true) ?? 'null';
        }
        return out + ']';
      }
      const keys = Object.keys(v);
      // Objects built by this codebase usually list their keys in order already; sorting is the
      // largest cost here, so check first (a linear pass) and sort only when needed.
      for (let i = 1; i < keys.length; i++) {
        if (keys[i - 1] > keys[i]) {
          keys.sort();
          break;
        }
      }
      let out = '{';
      let first = true;
      for (const k of keys) {
        const x = canon((v as Record<string, unknown>)[k], false);
        if (x === undefined) continue;
        if (!first) out += ',';
        first = false;
        out += quote(k) + ':' + x;
      }
      return out + '}';
    }
    default: {
      // numbers (NaN/Infinity → null), booleans, and undefined/functions/symbols (no JSON form).
      const s = JSON.stringify(v);
      return s === undefined && inArray ? 'null' : s;
    }
  }
}

/** Characters JSON.stringify escapes: `"`, `\\`, controls, and (ES2019) lone surrogates. */
const SPECIAL = /["\\\u0000-\u001f\ud800-\udfff]/;

function quote(s: string): string {
  return SPECIAL.test(s) ? JSON.stringify(s) : '"' + s + '"';
}
