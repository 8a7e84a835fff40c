/**
 * A small in-memory world for the pure law tests (no database): the blueprint's registry and
 * balances in a MemoryWorld, deterministic proposal ids, and `commit`, which applies an accepted
 * decision exactly as the writer does (effects in order, then one action recorded for the rate
 * limit) so a sequence of proposals can be played without Postgres.
 */
import { strict as assert } from 'node:assert';
import {
  MemoryWorld,
  validate,
  applyPolicyPatch,
  DEFAULT_POLICY,
  PolicyPatchSchema,
  REJECT_CODES,
  type ActorKind,
  type Decision,
  type Proposal,
  type RejectCode,
} from '../../validator';

/** Decision time of a fresh world (ms). Any fixed value: the law never reads a clock. */
export const T0 = 1_700_000_000_000;

/** A UUID-shaped id from a number, so the tests are deterministic. */
export function pid(n: number): string {
  return `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}
let seq = 0;
export const nextId = (): string => pid(++seq);

export const ACTORS: Array<[string, ActorKind]> = [
  ['system', 'system'],
  ['council', 'human'],
  ['governor', 'governor'],
  ['treasury', 'treasury'],
  ['reserve', 'reserve'],
  ['escrow', 'escrow'],
  ['A', 'agent'],
  ['B', 'agent'],
  ['C', 'agent'],
];

/**
 * A holds 100 credits and 1000 energy, B holds 50 credits and 1000 energy, C holds nothing,
 * the reserve holds 5000 energy. `patch` (a policy_set patch, JSON form) is applied on top of
 * the default policy.
 */
export function lawWorld(patch?: Record<string, unknown>): MemoryWorld {
  const w = new MemoryWorld();
  w.now = T0;
  for (const [id, kind] of ACTORS) w.actors.set(id, { id, kind });
  for (const id of ['credits', 'energy', 'water']) w.resources.set(id, { id, unit: '' });
  w.setBalance('A', 'credits', 100n);
  w.setBalance('B', 'credits', 50n);
  w.setBalance('A', 'energy', 1000n);
  w.setBalance('B', 'energy', 1000n);
  w.setBalance('reserve', 'energy', 5000n);
  if (patch) w.policy = applyPolicyPatch(DEFAULT_POLICY, PolicyPatchSchema.parse(patch));
  return w;
}

export type Verdict = Decision & { proposal?: Proposal };

/** Validate, and when accepted apply the effects and count the action, as the writer does. */
export function commit(w: MemoryWorld, input: unknown): Verdict {
  const d = validate(w, input);
  if (d.ok) {
    const p = d.proposal!;
    for (const e of d.effects) w.applyEffect(e, { proposal_id: p.proposal_id, agent: p.agent });
    w.recordAction(p.agent, w.now);
  }
  return d;
}

/** Assert a rejection with `code` and a message a person can read. */
export function assertRejected(d: Verdict, code: RejectCode): void {
  assert.equal(d.ok, false, `expected ${code}, got an acceptance: ${JSON.stringify(d, big)}`);
  if (d.ok) return;
  assert.equal(d.code, code, `expected ${code}, got ${d.code}: ${d.message}`);
  assert.ok(REJECT_CODES.includes(d.code));
  assert.equal(typeof d.message, 'string');
  assert.ok(d.message.length > 0);
}

export function assertAccepted(d: Verdict): asserts d is Verdict & { ok: true } {
  assert.equal(d.ok, true, d.ok ? '' : `expected acceptance, got ${d.code}: ${d.message}`);
}

/** JSON.stringify replacer for messages that may contain bigints. */
export const big = (_k: string, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v);

// Proposal builders (JSON form, as an agent would send them).
export const tx = (from: string, to: string, amount: unknown, extra: Record<string, unknown> = {}) => ({
  proposal_id: nextId(),
  agent: from,
  from,
  to,
  resource: 'credits',
  amount,
  ...extra,
});
export const offer = (maker: string, give: [string, unknown], want: [string, unknown], extra: Record<string, unknown> = {}) => ({
  kind: 'offer',
  proposal_id: nextId(),
  agent: maker,
  give: { resource: give[0], amount: give[1] },
  want: { resource: want[0], amount: want[1] },
  ...extra,
});
export const accept = (agent: string, offer_id: string) => ({ kind: 'accept', proposal_id: nextId(), agent, offer_id });
export const cancel = (agent: string, offer_id: string) => ({ kind: 'offer_cancel', proposal_id: nextId(), agent, offer_id });
export const policySet = (agent: string, patch: Record<string, unknown>) => ({ kind: 'policy_set', proposal_id: nextId(), agent, patch });
export const breakerSet = (agent: string, open: boolean) => ({ kind: 'breaker_set', proposal_id: nextId(), agent, open, reason: open ? 'test halt' : 'test resume' });
export const mint = (agent: string, to: string, amount: unknown, resource = 'credits') => ({ kind: 'mint', proposal_id: nextId(), agent, to, resource, amount });
export const burn = (agent: string, from: string, amount: unknown, resource = 'credits') => ({ kind: 'burn', proposal_id: nextId(), agent, from, resource, amount });
export const harvest = (agent: string, from: string, amount: unknown, resource = 'energy') => ({ kind: 'harvest', proposal_id: nextId(), agent, from, resource, amount });
export const accrue = (agent: string, period = 1) => ({ kind: 'accrue_interest', proposal_id: nextId(), agent, period });
