/**
 * Postgres array literals, built by hand for the writer's hot path.
 *
 * Why: the writer sends each batch as ~20 arrays of up to LIMITS.ledger.maxBatch elements, and
 * the driver's generic encoder (pg's prepareValue/escapeElement) cost ≈3 µs per proposal —
 * a third of a bare INSERT's whole server cost. Strings passed as text parameters go through
 * untouched; the SQL casts them ($n::text[], ::uuid[], ::bigint[]), so the server parses them
 * exactly as it would the driver's output. Every element is quoted, so no value can be read as
 * NULL or split on a comma; only `"` and `\` need escaping inside quotes.
 */
const ESCAPE = /["\\]/g;

export function textArray(values: ReadonlyArray<string | null>): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (i) out += ',';
    if (v === null) out += 'NULL';
    else if (v.indexOf('"') !== -1 || v.indexOf('\\') !== -1) out += '"' + v.replace(ESCAPE, '\\$&') + '"';
    else out += '"' + v + '"';
  }
  return out + '}';
}

/** Integers (number or bigint) and nulls. */
export function intArray(values: ReadonlyArray<number | bigint | null>): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (i) out += ',';
    out += v === null ? 'NULL' : String(v);
  }
  return out + '}';
}
