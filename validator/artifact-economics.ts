/**
 * Economics of artifact proposals (artifacts.ts): the owner's disk quota, and the ordered funds
 * check a recorded run needs (carbon tax on their movements: policy.ts withTax). Pure, like the
 * rest of the law.
 */
import { reject, type Rejection } from './codes';
import { resourcePolicy } from './policy';
import type { Effect } from './types';
import type { WorldView } from './world';
import { LIMITS } from './limits';

export function checkQuota(world: WorldView, owner: string, added: number, bytes: number, kind: 'data' | 'code'): Rejection | null {
  const max = kind === 'code' ? LIMITS.sandbox.maxCodeBytes : LIMITS.artifacts.maxDataBytes;
  if (bytes > max) return reject('QUOTA_EXCEEDED', `a ${kind} artifact may be at most ${max} bytes; this one is ${bytes}`, { bytes, limit: max });
  const quota = LIMITS.sandbox.diskQuotaBytes;
  const after = world.diskUsed(owner) + added;
  if (added > 0 && after > quota) return reject('QUOTA_EXCEEDED', `${owner} would use ${after} bytes of artifact storage, above the quota of ${quota}`, { owner, bytes: after, quota });
  return null;
}

/**
 * Movements in order: each leg must be covered when it runs (the executor's journal is ordered
 * the same way, and replay checks every row), then minimum balances of paying agents and the
 * overflow bound on the final balances. The per-transfer maximum applies when a person or an
 * agent is behind the proposal, as in decide().
 */
export function checkMoves(world: WorldView, principal: string, legs: Effect[]): Rejection | null {
  const pk = world.actor(principal)?.kind;
  for (const e of legs) {
    if (e.kind === 'tax' || e.kind === 'compute_charge' || (pk !== 'agent' && pk !== 'human')) continue;
    const max = resourcePolicy(world.policy, e.resource!).max_transfer;
    if (max > 0n && e.amount! > max) return reject('EXCEEDS_MAX_TRANSFER', `${e.amount} ${e.resource} is above the per-transfer maximum of ${max}`, { resource: e.resource, amount: e.amount!.toString(), max_transfer: max.toString() });
  }
  const delta = new Map<string, { actor: string; resource: string; d: bigint; paid: boolean }>();
  const at = (actor: string, resource: string) => {
    const k = `${actor}\u0000${resource}`;
    let x = delta.get(k);
    if (!x) delta.set(k, (x = { actor, resource, d: 0n, paid: false }));
    return x;
  };
  for (const e of legs) {
    if (e.from !== null) {
      const x = at(e.from, e.resource!);
      const bal = world.balance(e.from, e.resource!) + x.d;
      if (bal < e.amount!) return reject('INSUFFICIENT_BALANCE', `${e.from} holds ${bal} ${e.resource} but must pay ${e.amount}`, { actor: e.from, resource: e.resource, balance: bal.toString(), required: e.amount!.toString() });
      x.d -= e.amount!;
      x.paid = true;
    }
    if (e.to !== null) at(e.to, e.resource!).d += e.amount!;
  }
  for (const x of delta.values()) {
    const after = world.balance(x.actor, x.resource) + x.d;
    const min = x.paid && world.actor(x.actor)?.kind === 'agent' ? resourcePolicy(world.policy, x.resource).min_balance : 0n;
    if (after < min) return reject('BELOW_MIN_BALANCE', `${x.actor} would keep ${after} ${x.resource}, below the minimum of ${min}`, { actor: x.actor, resource: x.resource, min_balance: min.toString() });
  }
  for (const x of delta.values()) {
    if (world.balance(x.actor, x.resource) + x.d > LIMITS.proposal.maxBalance) return reject('BALANCE_OVERFLOW', `${x.actor} would hold more ${x.resource} than the ledger's limit of ${LIMITS.proposal.maxBalance}`, { actor: x.actor, resource: x.resource });
  }
  return null;
}
