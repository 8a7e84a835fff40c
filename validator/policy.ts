/**
 * Policy: the parameters humans set and agents live within. Versioned — every change is a
 * `policy_set` proposal whose ledger entry carries the patch and the new version, so replay
 * reproduces every policy the law was ever applied under.
 *
 * Percentages are basis points (1 bps = 0.01 %) so that every computation stays in integers.
 */
import type { PolicyPatch } from './schemas';
import type { Effect } from './types';

export interface ResourcePolicy {
  /** A payer may not go below this balance (0 = may spend everything). */
  min_balance: bigint;
  /** Largest single movement an agent may propose; 0 = no limit. */
  max_transfer: bigint;
}

export interface Policy {
  version: number;
  resources: Record<string, ResourcePolicy>;
  carbon_tax: { resource: string; bps: number; mode: 'burn' | 'treasury'; treasury: string };
  interest: { resource: string; bps_per_period: number };
  /** Rolling window per agent: strict allocation, no burst, no debt (seed gaps #1 and #4). */
  rate_limit: { max_actions: number; window_ms: number };
  breaker: {
    /** The breaker trips when a reserve actor's balance of a resource falls below this. */
    reserve_min: Record<string, bigint>;
    /** ...or when rejections exceed this share of the last `rejection_window` decisions. */
    rejection_rate_bps: number;
    rejection_window: number;
  };
}

export const DEFAULT_POLICY: Policy = {
  version: 1,
  resources: {},
  carbon_tax: { resource: 'energy', bps: 0, mode: 'burn', treasury: 'treasury' },
  interest: { resource: 'credits', bps_per_period: 0 },
  rate_limit: { max_actions: 1_000_000, window_ms: 60_000 },
  breaker: { reserve_min: {}, rejection_rate_bps: 10_000, rejection_window: 100 },
};

export function resourcePolicy(policy: Policy, resource: string): ResourcePolicy {
  return policy.resources[resource] ?? { min_balance: 0n, max_transfer: 0n };
}

/** Merge a patch onto a policy, producing the next version. Pure; the input is not modified. */
export function applyPolicyPatch(policy: Policy, patch: PolicyPatch): Policy {
  const resources: Record<string, ResourcePolicy> = { ...policy.resources };
  for (const [id, rp] of Object.entries(patch.resources ?? {})) {
    const cur = resourcePolicy(policy, id);
    resources[id] = {
      min_balance: rp.min_balance ?? cur.min_balance,
      max_transfer: rp.max_transfer ?? cur.max_transfer,
    };
  }
  return {
    version: policy.version + 1,
    resources,
    carbon_tax: { ...policy.carbon_tax, ...stripUndefined(patch.carbon_tax) },
    interest: { ...policy.interest, ...stripUndefined(patch.interest) },
    rate_limit: { ...policy.rate_limit, ...stripUndefined(patch.rate_limit) },
    breaker: {
      reserve_min: { ...policy.breaker.reserve_min, ...(patch.breaker?.reserve_min ?? {}) },
      rejection_rate_bps: patch.breaker?.rejection_rate_bps ?? policy.breaker.rejection_rate_bps,
      rejection_window: patch.breaker?.rejection_window ?? policy.breaker.rejection_window,
    },
  };
}

function stripUndefined<T extends object>(o: T | undefined): Partial<T> {
  const out: Partial<T> = {};
  if (!o) return out;
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

/** JSON form (bigints as decimal strings) for storage and display. */
export function policyToJson(policy: Policy): Record<string, unknown> {
  return JSON.parse(JSON.stringify(policy, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)));
}

/** Inverse of policyToJson. Trusts its input: it only reads what policyToJson wrote. */
export function policyFromJson(json: unknown): Policy {
  const j = json as Record<string, any>;
  const resources: Record<string, ResourcePolicy> = {};
  for (const [id, rp] of Object.entries<any>(j.resources ?? {})) {
    resources[id] = { min_balance: BigInt(rp.min_balance), max_transfer: BigInt(rp.max_transfer) };
  }
  const reserve_min: Record<string, bigint> = {};
  for (const [id, v] of Object.entries<any>(j.breaker?.reserve_min ?? {})) reserve_min[id] = BigInt(v);
  return {
    version: Number(j.version),
    resources,
    carbon_tax: { ...DEFAULT_POLICY.carbon_tax, ...j.carbon_tax },
    interest: { ...DEFAULT_POLICY.interest, ...j.interest },
    rate_limit: { ...DEFAULT_POLICY.rate_limit, ...j.rate_limit },
    breaker: { ...DEFAULT_POLICY.breaker, ...j.breaker, reserve_min },
  };
}

/** Tax owed on moving `amount` of `resource`: rounded UP so splitting a payment cannot dodge it. */
export function carbonTax(policy: Policy, resource: string, amount: bigint): bigint {
  const t = policy.carbon_tax;
  if (t.bps === 0 || resource !== t.resource || amount <= 0n) return 0n;
  return (amount * BigInt(t.bps) + 9_999n) / 10_000n;
}

/** Each movement followed by its carbon-tax leg, if any (burned, or paid to the treasury), paid by the same payer. */
export function withTax(policy: Policy, legs: Effect[]): Effect[] {
  // Most legs owe no tax (it applies to some resources only): then the legs are the answer.
  if (legs.every((l) => carbonTax(policy, l.resource!, l.amount!) === 0n)) return legs;
  const out: Effect[] = [];
  for (const l of legs) {
    out.push(l);
    const tax = carbonTax(policy, l.resource!, l.amount!);
    if (tax > 0n) {
      const t = policy.carbon_tax;
      out.push({ kind: 'tax', from: l.from, to: t.mode === 'treasury' ? t.treasury : null, resource: l.resource, amount: tax, metadata: { bps: t.bps, on_leg: out.length - 1 } });
    }
  }
  return out;
}
