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
      const keys = sortedKeys(v as object);
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

/**
 * The key order of the original definition, JSON.stringify over a copy built by inserting the
 * keys in string order: a JS object lists array-index keys ("0", "9", "10", …) first in numeric
 * order whatever the insertion order, then the other keys as inserted. Object.keys already lists
 * an object's own keys that way, so only the tail of non-index keys needs sorting — and objects
 * built by this codebase usually list it in order already, so check (a linear pass) before sorting.
 */
function sortedKeys(v: object): string[] {
  const keys = Object.keys(v);
  let i = 0;
  while (i < keys.length && isArrayIndex(keys[i])) i++;
  for (let j = i + 1; j < keys.length; j++) {
    if (keys[j - 1] > keys[j]) {
      return i === 0 ? keys.sort() : keys.slice(0, i).concat(keys.slice(i).sort());
    }
  }
  return keys;
}

const INDEX = /^(?:0|[1-9][0-9]*)$/;

/** A canonical decimal below 2^32 - 1: what JS treats as an array index, ordered numerically. */
function isArrayIndex(k: string): boolean {
  return k.length <= 10 && INDEX.test(k) && Number(k) < 4294967295;
}
