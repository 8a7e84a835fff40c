/**
 * Shared pieces of the Governor telemetry: the coded error and the one place where an exact
 * bigint ratio becomes a floating-point number.
 *
 * WHY one conversion point: amounts stay bigint end to end; a metric such as velocity or Gini is a
 * dimensionless ratio shown on a dashboard, so only the final quotient may be a number.
 */

export type TelemetryErrorCode =
  | 'NEGATIVE_BALANCE'
  | 'INVALID_ENTRY'
  | 'INVALID_REJECTION'
  | 'INVALID_EVENT'
  | 'INVALID_OPTION'
  | 'ENTRY_GAP'
  | 'TOO_MANY_ACTORS'
  | 'TOO_MANY_RESOURCES'
  | 'TOO_MANY_EVENTS'
  | 'TOO_MANY_ARTIFACTS';

export class TelemetryError extends Error {
  readonly code: TelemetryErrorCode;
  constructor(code: TelemetryErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.name = 'TelemetryError';
    this.code = code;
  }
}

function bitLength(x: bigint): number {
  return (x < 0n ? -x : x).toString(16).length * 4;
}

/**
 * num / den as a number, rounded from an exact quotient. The numerator is shifted left until the
 * integer quotient carries at least 64 significant bits, then converted once and scaled back by a
 * power of two (exact in binary), so e.g. 3·10^30 / 4·10^30 gives exactly 0.75 instead of the
 * 0.7499999999999999 that Number(num) / Number(den) yields. `den` must not be 0.
 */
export function ratio(num: bigint, den: bigint): number {
  if (den === 0n) throw new RangeError('ratio: zero denominator');
  if (num === 0n) return 0;
  const negative = (num < 0n) !== (den < 0n);
  const n = num < 0n ? -num : num;
  const d = den < 0n ? -den : den;
  const shift = Math.max(0, bitLength(d) - bitLength(n) + 64);
  const q = Number((n << BigInt(shift)) / d);
  // 2^shift may exceed the double range for tiny ratios; scale in two exact steps.
  const r = q / 2 ** Math.min(shift, 1000) / 2 ** Math.max(0, shift - 1000);
  return negative ? -r : r;
}

/** Plain-object map with keys in sorted order, so two equal states serialize to equal JSON. */
export function sortedRecord<V, W>(m: ReadonlyMap<string, V>, f: (v: V, k: string) => W): Record<string, W> {
  const out: Record<string, W> = {};
  for (const k of [...m.keys()].sort()) out[k] = f(m.get(k) as V, k);
  return out;
}
