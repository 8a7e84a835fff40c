/**
 * The law: pure functions over (world, proposal) → accepted effects or a coded rejection.
 *
 * Each kind's checks run in the precedence order of codes.ts. Nothing here reads a clock, a
 * database or the network; the same inputs always give the same decision, which is what lets an
 * auditor re-run a decision years later against the law version recorded on the row.
 */
import { reject, type Rejection } from './codes';
import { resourcePolicy, applyPolicyPatch, withTax } from './policy';
import { ProposalSchema, type Proposal, PolicyPatchSchema } from './schemas';
import type { ActorKind, Effect } from './types';
import type { WorldView } from './world';
import { fastTransfer } from './fast-transfer';
import { LIMITS } from './limits';
// Artifact economy kinds: their rules live in artifacts.ts; decide() dispatches at each step.
import { ARTIFACT_MAY_PROPOSE, isArtifactProposal, artifactStatic, artifactActors, artifactRegistry, authorizeArtifact, decideArtifact } from './artifacts';

export interface Accepted {
  ok: true;
  effects: Effect[];
}
export type Decision = Accepted | Rejection;

/** Who may propose each kind. Agents act only for themselves (checked per kind below). */
const MAY_PROPOSE: Record<Proposal['kind'], readonly ActorKind[]> = {
  transfer: ['agent', 'human', 'system', 'governor'],
  harvest: ['agent'],
  offer: ['agent', 'human', 'governor'],
  accept: ['agent', 'human', 'governor'],
  offer_cancel: ['agent', 'human', 'governor'],
  mint: ['system', 'governor'],
  burn: ['system', 'governor'],
  accrue_interest: ['system'],
  policy_set: ['human'],
  breaker_set: ['human', 'governor', 'system'],
  ...ARTIFACT_MAY_PROPOSE,
};

/**
 * Parse untrusted input. Anything that is not a well-formed proposal is MALFORMED.
 * `shortcut: false` skips the plain-transfer shortcut (validator/fast-transfer.ts): the schema
 * path alone, which the shortcut must agree with (tests/law.fast-transfer.test.ts).
 */
export function parseProposal(input: unknown, opts: { shortcut?: boolean } = {}): { ok: true; proposal: Proposal } | Rejection {
  let value = input;
  if (typeof input === 'string') {
    if (new TextEncoder().encode(input).length > LIMITS.proposal.maxBytes) {
      return reject('MALFORMED', `proposal is larger than ${LIMITS.proposal.maxBytes} bytes`);
    }
    try {
      value = JSON.parse(input);
    } catch {
      return reject('MALFORMED', 'proposal is not valid JSON');
    }
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return reject('MALFORMED', 'proposal must be a JSON object');
  }
  const fast = opts.shortcut === false ? null : fastTransfer(value);
  if (fast) return { ok: true, proposal: fast };
  const shape = shapeProblem(value, 0);
  if (shape) return reject('MALFORMED', shape);
  // The seed's TradeJSON has no `kind`: a proposal without one is a transfer.
  const obj = value as Record<string, unknown>;
  const withKind = obj.kind === undefined ? { ...obj, kind: 'transfer' } : obj;
  const r = ProposalSchema.safeParse(withKind);
  if (!r.success) {
    const issue = r.error.issues[0];
    const path = issue.path.length ? issue.path.join('.') : 'proposal';
    return reject('MALFORMED', `${path}: ${issue.message}`, {
      issues: r.error.issues.slice(0, 5).map((i) => ({ path: i.path.map(String), message: i.message })),
    });
  }
  return { ok: true, proposal: r.data };
}

/**
 * Structural problems zod would not report: nesting beyond LIMITS.proposal.maxDepth, and own
 * keys named __proto__ (JSON.parse creates them; zod's record parser silently drops them, which
 * would turn a hostile patch into an accepted no-op).
 */
function shapeProblem(v: unknown, depth: number): string | null {
  if (v === null || typeof v !== 'object') return null;
  if (depth >= LIMITS.proposal.maxDepth) return `proposal nests deeper than ${LIMITS.proposal.maxDepth} levels`;
  if (Array.isArray(v)) {
    for (const x of v) {
      const p = shapeProblem(x, depth + 1);
      if (p) return p;
    }
    return null;
  }
  for (const k of Object.keys(v)) {
    if (k === '__proto__') return 'the key __proto__ is not allowed';
    const p = shapeProblem((v as Record<string, unknown>)[k], depth + 1);
    if (p) return p;
  }
  return null;
}

/** Parse then decide. The one entry point for untrusted input. */
export function validate(world: WorldView, input: unknown): Decision & { proposal?: Proposal } {
  const parsed = parseProposal(input);
  if (!parsed.ok) return parsed;
  return { ...decide(world, parsed.proposal), proposal: parsed.proposal };
}

/** Decide a parsed proposal. */
export function decide(world: WorldView, p: Proposal): Decision {
  // 1. The proposal itself.
  const s = staticChecks(p) ?? artifactStatic(p);
  if (s) return s;
  // 2. The registry.
  const agent = world.actor(p.agent);
  if (!agent) return reject('UNKNOWN_ACTOR', `agent ${p.agent} is not registered`, { actor: p.agent });
  for (const id of namedActors(p)) {
    if (!world.actor(id)) return reject('UNKNOWN_ACTOR', `actor ${id} is not registered`, { actor: id });
  }
  for (const id of namedResources(p)) {
    if (!world.resource(id)) return reject('UNKNOWN_RESOURCE', `resource ${id} is not registered`, { resource: id });
  }
  if (p.kind === 'accept' || p.kind === 'offer_cancel') {
    const o = world.offer(p.offer_id);
    if (!o) return reject('OFFER_NOT_FOUND', `offer ${p.offer_id} does not exist`);
    if (o.status !== 'open') return reject('OFFER_NOT_OPEN', `offer ${p.offer_id} is ${o.status}`);
    if (p.kind === 'accept' && o.expires_at !== null && world.now > o.expires_at) {
      return reject('OFFER_EXPIRED', `offer ${p.offer_id} expired at ${new Date(o.expires_at).toISOString()}`);
    }
  }
  const ar = artifactRegistry(world, p);
  if (ar) return ar;
  // 3. Authority.
  const auth = authorize(world, p, agent.kind);
  if (auth) return auth;
  // 4. Governance state. Humans, the system and the governor are never halted or throttled:
  // they are who repairs the system while agents are stopped.
  if (agent.kind === 'agent') {
    if (world.breaker.open) {
      return reject('CIRCUIT_OPEN', `agent trading is halted: ${world.breaker.reason}`, { reason: world.breaker.reason });
    }
    const rl = world.policy.rate_limit;
    const used = world.actionsSince(p.agent, world.now - rl.window_ms);
    if (used >= rl.max_actions) {
      return reject('RATE_LIMITED', `${p.agent} used ${used} of ${rl.max_actions} actions in the last ${rl.window_ms} ms`, {
        used,
        max_actions: rl.max_actions,
        window_ms: rl.window_ms,
      });
    }
  }
  if (p.kind === 'policy_set') return decidePolicy(world, p);
  if (isArtifactProposal(p)) return decideArtifact(world, p, agent.kind);
  // 5. Economics.
  const effects = effectsOf(world, p);
  if (agent.kind === 'agent' || agent.kind === 'human') {
    for (const e of effects) {
      if (e.kind === 'tax' || e.amount === null || e.resource === null) continue;
      const max = resourcePolicy(world.policy, e.resource).max_transfer;
      if (max > 0n && e.amount > max) {
        return reject('EXCEEDS_MAX_TRANSFER', `${e.amount} ${e.resource} is above the per-transfer maximum of ${max}`, {
          resource: e.resource,
          amount: e.amount.toString(),
          max_transfer: max.toString(),
        });
      }
    }
  }
  return checkFunds(world, effects) ?? { ok: true, effects };
}

function staticChecks(p: Proposal): Rejection | null {
  if ((p.kind === 'transfer' && p.from === p.to) || (p.kind === 'harvest' && p.from === p.agent)) {
    return reject('SELF_TRANSFER', 'source and destination are the same actor');
  }
  if (p.kind === 'offer' && p.counterparty === p.agent) return reject('SELF_TRANSFER', 'an offer cannot name its maker as counterparty');
  for (const a of amountsOf(p)) {
    if (a <= 0n) return reject('AMOUNT_NOT_POSITIVE', `amount ${a} is not greater than zero`, { amount: a.toString() });
  }
  return null;
}

function amountsOf(p: Proposal): bigint[] {
  switch (p.kind) {
    case 'transfer':
    case 'harvest':
    case 'mint':
    case 'burn':
      return [p.amount];
    case 'offer':
      return [p.give.amount, p.want.amount];
    default:
      return [];
  }
}

function namedActors(p: Proposal): string[] {
  switch (p.kind) {
    case 'transfer':
      return [p.from, p.to];
    case 'harvest':
    case 'burn':
      return [p.from];
    case 'mint':
      return [p.to];
    case 'offer':
      return p.counterparty ? [p.counterparty] : [];
    default:
      return artifactActors(p);
  }
}

function namedResources(p: Proposal): string[] {
  switch (p.kind) {
    case 'transfer':
    case 'harvest':
    case 'mint':
    case 'burn':
      return [p.resource];
    case 'offer':
      return [p.give.resource, p.want.resource];
    case 'policy_set':
      return Object.keys(p.patch.resources ?? {});
    default:
      return [];
  }
}

function authorize(world: WorldView, p: Proposal, kind: ActorKind): Rejection | null {
  if (!MAY_PROPOSE[p.kind].includes(kind)) {
    return reject('NOT_AUTHORIZED', `a ${kind} may not propose ${p.kind}`, { agent: p.agent, kind: p.kind });
  }
  switch (p.kind) {
    case 'transfer':
      // Agents and the governor move only their own holdings; humans and the system may settle.
      if ((kind === 'agent' || kind === 'governor') && p.from !== p.agent) {
        return reject('NOT_AUTHORIZED', `${p.agent} may not move ${p.from}'s holdings`);
      }
      return null;
    case 'harvest':
      if (world.actor(p.from)!.kind !== 'reserve') return reject('NOT_AUTHORIZED', `${p.from} is not a shared reserve`);
      return null;
    case 'accept': {
      const o = world.offer(p.offer_id)!;
      if (o.maker === p.agent) return reject('NOT_AUTHORIZED', 'the maker cannot accept their own offer');
      if (o.counterparty !== null && o.counterparty !== p.agent) {
        return reject('NOT_AUTHORIZED', `offer ${p.offer_id} is reserved for ${o.counterparty}`);
      }
      return null;
    }
    case 'offer_cancel': {
      const o = world.offer(p.offer_id)!;
      if (o.maker !== p.agent && kind !== 'human') return reject('NOT_AUTHORIZED', 'only the maker or a human may cancel an offer');
      return null;
    }
    case 'breaker_set':
      // Anyone trusted may halt trading; only a human may resume it.
      if (!p.open && kind !== 'human') return reject('NOT_AUTHORIZED', 'only a human may reset the circuit breaker');
      return null;
    default:
      return authorizeArtifact(world, p, kind);
  }
}

function decidePolicy(world: WorldView, p: Extract<Proposal, { kind: 'policy_set' }>): Decision {
  const next = applyPolicyPatch(world.policy, p.patch);
  if (next.carbon_tax.mode === 'treasury' && world.actor(next.carbon_tax.treasury)?.kind !== 'treasury') {
    return reject('POLICY_INVALID', `carbon tax treasury ${next.carbon_tax.treasury} is not a registered treasury actor`);
  }
  // Only what is in force must exist: the default policy names energy and credits with a zero
  // rate, which must not stop a grid without those resources from ever changing its policy.
  const named = [...Object.keys(next.breaker.reserve_min)];
  if (next.carbon_tax.bps > 0 || p.patch.carbon_tax?.resource) named.push(next.carbon_tax.resource);
  if (next.interest.bps_per_period > 0 || p.patch.interest?.resource) named.push(next.interest.resource);
  for (const id of named) {
    if (!world.resource(id)) return reject('POLICY_INVALID', `policy names unknown resource ${id}`);
  }
  return {
    ok: true,
    effects: [
      {
        kind: 'policy_set',
        from: null,
        to: null,
        resource: null,
        amount: null,
        // Stored as JSON; re-parsed by PolicyPatchSchema on replay.
        metadata: { patch: jsonSafe(p.patch), version: next.version },
      },
    ],
  };
}

/** A balance movement. */
function move(kind: Effect['kind'], from: string | null, to: string | null, resource: string, amount: bigint, metadata: Record<string, unknown> = {}): Effect {
  return { kind, from, to, resource, amount, metadata };
}

/** The entries an authorized proposal would write. */
function effectsOf(world: WorldView, p: Proposal): Effect[] {
  switch (p.kind) {
    case 'transfer':
      return withTax(world.policy, [move('transfer', p.from, p.to, p.resource, p.amount)]);
    case 'harvest':
      return [move('harvest', p.from, p.agent, p.resource, p.amount)];
    case 'mint':
      return [move('mint', null, p.to, p.resource, p.amount)];
    case 'burn':
      return [move('burn', p.from, null, p.resource, p.amount)];
    case 'offer':
      return [
        {
          kind: 'offer',
          from: null,
          to: null,
          resource: null,
          amount: null,
          metadata: jsonSafe({ give: p.give, want: p.want, counterparty: p.counterparty ?? null, expires_at: p.expires_at ?? null }),
        },
      ];
    case 'accept': {
      const o = world.offer(p.offer_id)!;
      return withTax(world.policy, [
        move('swap', o.maker, p.agent, o.give.resource, o.give.amount, { offer_id: o.offer_id }),
        move('swap', p.agent, o.maker, o.want.resource, o.want.amount, { offer_id: o.offer_id }),
      ]);
    }
    case 'offer_cancel':
      return [{ kind: 'offer_cancel', from: null, to: null, resource: null, amount: null, metadata: { offer_id: p.offer_id } }];
    case 'accrue_interest': {
      const { resource, bps_per_period } = world.policy.interest;
      const legs: Effect[] = [];
      for (const [holder, bal] of world.holders(resource)) {
        if (world.actor(holder)?.kind !== 'agent') continue;
        const amt = (bal * BigInt(bps_per_period)) / 10_000n; // rounded down: interest is never overpaid
        if (amt > 0n) legs.push(move('interest', null, holder, resource, amt, { period: p.period }));
        if (legs.length >= LIMITS.proposal.maxLegs) break;
      }
      // Record the accrual even when nothing was owed, so the period is visibly settled.
      return legs.length ? legs : [{ kind: 'interest', from: null, to: null, resource: null, amount: null, metadata: { period: p.period, holders: 0 } }];
    }
    case 'breaker_set':
      return [{ kind: 'breaker_set', from: null, to: null, resource: null, amount: null, metadata: { open: p.open, reason: p.reason } }];
    case 'policy_set':
      throw new Error('unreachable: policy_set is decided by decidePolicy');
    default:
      throw new Error(`unreachable: ${p.kind} is decided by decideArtifact (artifacts.ts)`);
  }
}

/** Every payer must cover all its debits in this proposal (tax included) and keep its minimum. */
function checkFunds(world: WorldView, effects: Effect[]): Rejection | null {
  const debits = new Map<string, { actor: string; resource: string; total: bigint }>();
  for (const e of effects) {
    if (e.from === null || e.amount === null || e.resource === null) continue;
    const k = `${e.from}\u0000${e.resource}`;
    const d = debits.get(k) ?? { actor: e.from, resource: e.resource, total: 0n };
    d.total += e.amount;
    debits.set(k, d);
  }
  for (const d of debits.values()) {
    const bal = world.balance(d.actor, d.resource);
    if (bal < d.total) {
      return reject('INSUFFICIENT_BALANCE', `${d.actor} holds ${bal} ${d.resource} but must pay ${d.total}`, {
        actor: d.actor,
        resource: d.resource,
        balance: bal.toString(),
        required: d.total.toString(),
      });
    }
    const min = world.actor(d.actor)?.kind === 'agent' ? resourcePolicy(world.policy, d.resource).min_balance : 0n;
    if (bal - d.total < min) {
      return reject('BELOW_MIN_BALANCE', `${d.actor} would keep ${bal - d.total} ${d.resource}, below the minimum of ${min}`, {
        actor: d.actor,
        resource: d.resource,
        min_balance: min.toString(),
      });
    }
  }
  // Credits may not push a balance past what the ledger can hold (int8). Balances the batch did
  // not load (a treasury receiving tax) read as 0 here; LIMITS.proposal.maxBalance leaves them
  // ample headroom.
  const credits = new Map<string, { actor: string; resource: string; total: bigint }>();
  for (const e of effects) {
    if (e.to === null || e.amount === null || e.resource === null) continue;
    const k = `${e.to}\u0000${e.resource}`;
    const c = credits.get(k) ?? { actor: e.to, resource: e.resource, total: 0n };
    c.total += e.amount;
    credits.set(k, c);
  }
  for (const c of credits.values()) {
    const after = world.balance(c.actor, c.resource) + c.total - (debits.get(`${c.actor}\u0000${c.resource}`)?.total ?? 0n);
    if (after > LIMITS.proposal.maxBalance) {
      return reject('BALANCE_OVERFLOW', `${c.actor} would hold ${after} ${c.resource}, above the ledger's limit of ${LIMITS.proposal.maxBalance}`, {
        actor: c.actor,
        resource: c.resource,
      });
    }
  }
  return null;
}

/** Deep copy with bigints as decimal strings: ledger metadata is JSON. */
export function jsonSafe<T>(v: T): any {
  return JSON.parse(JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x)));
}

export { PolicyPatchSchema };
