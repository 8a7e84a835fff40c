/**
 * Gini coefficient of a wealth distribution, computed exactly.
 *
 * Definition (sorted form, x ascending, i = 1..n):
 *     G = (2 · Σ i·x_i) / (n · Σx) − (n + 1) / n
 * which over a common denominator is
 *     G = (2 · Σ i·x_i − (n + 1) · Σx) / (n · Σx)
 * Numerator and denominator are computed as bigints (balances can exceed 2^53) and divided once,
 * at the very end: the result is a ratio in [0, (n−1)/n], not money.
 *
 * Conventions for degenerate inputs (all return 0, never NaN, so a snapshot stays JSON-safe):
 *  - empty population: nobody holds anything, so there is no concentration to report;
 *  - all balances zero: Σx = 0 and the formula is 0/0; "everyone equally holds nothing" is 0;
 *  - a single holder: the formula gives exactly 0 (a population of one is equal to itself). A
 *    monopoly is visible only if the non-holders are in the population — that is why the
 *    MetricsWindow lets the caller pass the full agent list, zero balances included.
 * Negative balances have no meaning in a wealth share and make the formula leave [0, 1], so they
 * are rejected with NEGATIVE_BALANCE rather than silently clamped.
 */
import { TelemetryError, ratio } from './common';

export interface GiniParts {
  /** 2·Σ i·x_i − (n+1)·Σx (≥ 0 for non-negative input). */
  numerator: bigint;
  /** n·Σx; 0 when the distribution is empty or all zero. */
  denominator: bigint;
}

/** The exact fraction behind `gini`, for callers that compare or aggregate without rounding. */
export function giniParts(balances: readonly bigint[]): GiniParts {
  const xs = [...balances];
  for (const x of xs) {
    if (typeof x !== 'bigint') {
      throw new TelemetryError('INVALID_ENTRY', `Gini expects bigint balances, got ${typeof x}`);
    }
    if (x < 0n) {
      throw new TelemetryError(
        'NEGATIVE_BALANCE',
        `a balance of ${x} is negative; a wealth distribution must be non-negative`,
      );
    }
  }
  xs.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const n = BigInt(xs.length);
  let sum = 0n;
  let weighted = 0n;
  for (let i = 0; i < xs.length; i++) {
    sum += xs[i];
    weighted += BigInt(i + 1) * xs[i];
  }
  if (sum === 0n) return { numerator: 0n, denominator: 0n };
  return { numerator: 2n * weighted - (n + 1n) * sum, denominator: n * sum };
}

/** Gini coefficient in [0, 1): 0 = perfectly equal, → 1 = one holder owns everything. */
export function gini(balances: readonly bigint[]): number {
  const { numerator, denominator } = giniParts(balances);
  return denominator === 0n ? 0 : ratio(numerator, denominator);
}
