/**
 * The law of the artifact economy: artifact_write / artifact_delete, invoke (a recorded sandbox
 * run), escrow_deposit / escrow_purchase / escrow_cancel. Called from rules.ts `decide` at each
 * precedence step (static → registry → authority → governance → economics), so codes.ts order
 * holds across all kinds.
 *
 * TRUST. The law is pure: it cannot run QuickJS. Two facts come from the sandbox — an invoke's
 * journal (who paid whom, how much CPU) and a judiciary test result. The law accepts them only
 * from a `system` proposer (the engine: agents' proposals are bound to their own principal before
 * they reach the writer, engine/principal.ts), and it re-derives everything it can: each call's
 * artifact revision, price, payee and access are checked against the state under the writer's
 * locks (STALE_RUN / NOT_AUTHORIZED if they moved), every payment must come from the party the
 * call tree allows, and all legs must be covered by the locked balances in order — so a run made
 * against balances that changed meanwhile is rejected as a whole. The judiciary record carries
 * the revisions it tested plus the run's clock and seed, so an auditor can re-run it
 * (engine/artifacts/judiciary.ts `auditJudiciary`) and compare the digest.
 */
import { reject, type Rejection } from './codes';
import type { Proposal } from './schemas';
import type { ActorKind, Effect } from './types';
import type { WorldView } from './world';
import { accessAllows, payeeOf, type ArtifactState } from './artifact-state';
import { checkMoves, checkQuota } from './artifact-economics';
import { withTax } from './policy';

/** Resource invoke prices and escrow prices are paid in (sandbox/executor.ts SCRIP). */
export const SCRIP = 'credits';
/** Resource a run's measured CPU is charged in (1 unit per LIMITS.artifacts.computeUnitMicros). */
export const COMPUTE = 'compute';
const GENESIS = 'genesis:';

type Kind = 'artifact_write' | 'artifact_delete' | 'invoke' | 'escrow_deposit' | 'escrow_purchase' | 'escrow_cancel';
export type ArtifactProposal = Extract<Proposal, { kind: Kind }>;
type Of<K extends Kind> = Extract<Proposal, { kind: K }>;

export const ARTIFACT_MAY_PROPOSE: Record<Kind, readonly ActorKind[]> = {
  artifact_write: ['agent', 'human', 'governor', 'system'],
  artifact_delete: ['agent', 'human', 'governor', 'system'],
  invoke: ['system'],
  escrow_deposit: ['agent', 'human', 'governor'],
  escrow_purchase: ['agent', 'human', 'governor', 'system'],
  escrow_cancel: ['agent', 'human', 'governor'],
};
const INVOKERS: readonly ActorKind[] = ['agent', 'human', 'governor', 'system'];
const BUYERS: readonly ActorKind[] = ['agent', 'human', 'governor'];

export function isArtifactProposal(p: Proposal): p is ArtifactProposal {
  return Object.prototype.hasOwnProperty.call(ARTIFACT_MAY_PROPOSE, p.kind);
}

const json = (v: unknown): any => JSON.parse(JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x)));
const record = (kind: Effect['kind'], metadata: Record<string, unknown>): Effect => ({ kind, from: null, to: null, resource: null, amount: null, metadata: json(metadata) });

/** 1. The proposal itself. */
export function artifactStatic(p: Proposal): Rejection | null {
  if (p.kind === 'invoke') {
    if (p.payments.some((x) => x[2] === x[3])) return reject('SELF_TRANSFER', 'a payment in the run goes from an actor to itself');
    const bad = p.payments.find((x) => x[5] <= 0n);
    if (bad) return reject('AMOUNT_NOT_POSITIVE', `payment amount ${bad[5]} is not greater than zero`, { amount: bad[5].toString() });
  }
  if (p.kind === 'escrow_deposit' && p.price <= 0n) return reject('AMOUNT_NOT_POSITIVE', `price ${p.price} is not greater than zero`, { amount: p.price.toString() });
  return null;
}

/** Actors the proposal names, checked by decide() for UNKNOWN_ACTOR. */
export function artifactActors(p: Proposal): string[] {
  if (p.kind === 'invoke') return [p.invoker];
  if (p.kind === 'escrow_deposit') return [p.escrow];
  if (p.kind === 'escrow_purchase' && p.buyer !== undefined) return [p.buyer];
  return [];
}

function live(world: WorldView, id: string, role = 'artifact'): Rejection | ArtifactState {
  const a = world.artifact(id);
  if (!a) return reject('ARTIFACT_NOT_FOUND', `${role} ${id} does not exist`, { artifact_id: id });
  if (a.deleted) return reject('ARTIFACT_DELETED', `${role} ${id} was deleted`, { artifact_id: id });
  return a;
}
const isRejection = (x: unknown): x is Rejection => (x as Rejection).ok === false;

/** 2. The registry: artifacts, content, listings, and whether a recorded run is still current. */
export function artifactRegistry(world: WorldView, p: Proposal): Rejection | null {
  switch (p.kind) {
    case 'artifact_write': {
      if (world.artifact(p.artifact_id)?.deleted) return reject('ARTIFACT_DELETED', `artifact ${p.artifact_id} was deleted; its id is never reused`, { artifact_id: p.artifact_id });
      if (world.actor(p.artifact_id)) return reject('ARTIFACT_ID_TAKEN', `${p.artifact_id} is the id of a registered actor`, { artifact_id: p.artifact_id });
      if (world.blob(p.content_hash) === undefined) return reject('CONTENT_NOT_FOUND', `no stored content has sha256 ${p.content_hash}`, { content_hash: p.content_hash });
      return null;
    }
    case 'artifact_delete': {
      const a = live(world, p.artifact_id);
      return isRejection(a) ? a : null;
    }
    case 'escrow_deposit': {
      const a = live(world, p.artifact_id);
      if (isRejection(a)) return a;
      if (p.test_artifact === undefined) return null;
      const t = live(world, p.test_artifact, 'test artifact');
      if (isRejection(t)) return t;
      return t.kind === 'code' ? null : reject('ARTIFACT_NOT_FOUND', `test artifact ${p.test_artifact} is data, not code`, { artifact_id: p.test_artifact });
    }
    case 'escrow_purchase':
    case 'escrow_cancel': {
      const l = world.listing(p.listing_id);
      if (!l) return reject('LISTING_NOT_FOUND', `escrow listing ${p.listing_id} does not exist`);
      if (l.status !== 'open') return reject('LISTING_NOT_OPEN', `escrow listing ${p.listing_id} is ${l.status}`);
      const j = p.kind === 'escrow_purchase' ? p.judiciary : undefined;
      if (j && j.test_artifact === l.test_artifact && (j.test_rev !== world.artifact(j.test_artifact)?.rev || j.subject_rev !== l.rev)) {
        return reject('STALE_RUN', `the recorded test run used revisions ${j.test_rev}/${j.subject_rev}, which are no longer current`);
      }
      return null;
    }
    case 'invoke':
      return invokeRegistry(world, p);
    default:
      return null;
  }
}

/** Caller of a call: the invoker at the top, else the artifact of the parent call. */
function callers(p: Of<'invoke'>): Map<number, string> {
  const target = new Map(p.calls.map((c) => [c[0], c[2]]));
  return new Map(p.calls.map((c) => [c[0], c[1] === null ? p.invoker : target.get(c[1])!]));
}

function invokeRegistry(world: WorldView, p: Of<'invoke'>): Rejection | null {
  for (const [, , from, to] of p.payments) {
    for (const id of [from, to]) if (!world.actor(id) && !world.artifact(id)) return reject('UNKNOWN_ACTOR', `payment party ${id} is neither an actor nor an artifact`, { actor: id });
  }
  const resources = p.payments.map((x) => x[4]).concat(p.compute > 0n ? [COMPUTE] : []);
  for (const r of resources) if (!world.resource(r)) return reject('UNKNOWN_RESOURCE', `resource ${r} is not registered`, { resource: r });
  if (p.outcome === 'failure') return null; // a record of a failed run: nothing to apply, nothing can be stale
  const caller = callers(p);
  const expected = new Map<number, { from: string; to: string; amount: bigint }>();
  for (const [id, , target, , rev] of p.calls) {
    if (target.startsWith(GENESIS)) continue;
    const a = live(world, target);
    if (isRejection(a)) return a;
    if (rev !== a.rev) return reject('STALE_RUN', `the run executed revision ${rev} of ${target}, which is now at revision ${a.rev}`, { artifact_id: target });
    const payee = payeeOf(a, (l) => world.listing(l));
    if (a.invoke_price > 0n && caller.get(id) !== payee) expected.set(id, { from: caller.get(id)!, to: payee, amount: a.invoke_price });
  }
  const prices = p.payments.filter((x) => x[1] === 'price');
  const matches = prices.length === expected.size && prices.every(([id, , from, to, , amount]) => {
    const e = expected.get(id);
    return e !== undefined && e.from === from && e.to === to && e.amount === amount;
  });
  return matches ? null : reject('STALE_RUN', "an artifact's invoke price or owner changed since the run; run it again");
}

/** 3. Authority. */
export function authorizeArtifact(world: WorldView, p: Proposal, kind: ActorKind): Rejection | null {
  const no = (message: string) => reject('NOT_AUTHORIZED', message, { agent: p.agent, kind: p.kind });
  switch (p.kind) {
    case 'artifact_write': {
      const a = world.artifact(p.artifact_id);
      if (a && a.owner !== p.agent) return no(a.listing ? `${p.artifact_id} is held in escrow` : `${p.artifact_id} belongs to ${a.owner}`);
      return null;
    }
    case 'artifact_delete': {
      const a = world.artifact(p.artifact_id)!;
      return a.owner === p.agent || kind === 'human' ? null : no(a.listing ? `${p.artifact_id} is held in escrow` : `only the owner or a human may delete ${p.artifact_id}`);
    }
    case 'escrow_deposit': {
      const a = world.artifact(p.artifact_id)!;
      if (a.owner !== p.agent) return no(a.listing ? `${p.artifact_id} is already held in escrow` : `only the owner may list ${p.artifact_id}`);
      return world.actor(p.escrow)!.kind === 'escrow' ? null : no(`${p.escrow} is not an escrow actor`);
    }
    case 'escrow_cancel': {
      const l = world.listing(p.listing_id)!;
      return l.seller === p.agent || kind === 'human' ? null : no('only the seller or a human may cancel a listing');
    }
    case 'escrow_purchase': {
      const l = world.listing(p.listing_id)!;
      if (kind === 'system' ? p.buyer === undefined : p.buyer !== undefined && p.buyer !== p.agent) return no('a buyer buys for itself; only the engine names a buyer');
      if (kind !== 'system' && (l.test_artifact !== null || p.judiciary !== undefined)) {
        return no('this listing is released by the judiciary: purchase through the engine, which runs the tests');
      }
      const buyer = p.buyer ?? p.agent;
      if (!BUYERS.includes(world.actor(buyer)!.kind)) return no(`${buyer} may not buy artifacts`);
      return buyer === l.seller ? no('the seller cannot buy its own listing') : null;
    }
    case 'invoke': {
      if (!INVOKERS.includes(world.actor(p.invoker)!.kind)) return no(`${p.invoker} may not invoke artifacts`);
      if (p.outcome === 'failure') return null;
      const caller = callers(p);
      const target = new Map(p.calls.map((c) => [c[0], c[2]]));
      for (const [id, , t, method] of p.calls) {
        const a = world.artifact(t);
        if (a && !accessAllows(a, caller.get(id)!, payeeOf(a, (l) => world.listing(l)))) return no(`${caller.get(id)} may not call ${t}.${method}`);
      }
      for (const [id, k, from] of p.payments) {
        const t = target.get(id)!;
        const allowed = k === 'pay' ? !t.startsWith(GENESIS) && from === t : k === 'genesis' ? t.startsWith(GENESIS) && from === caller.get(id) : true;
        if (!allowed) return no(`the run may not move value from ${from} (${k} in call ${id})`);
      }
      return null;
    }
    default:
      return null;
  }
}

/** 4–5. Governance for the principal of a trusted proposer, then economics and effects. */
export function decideArtifact(world: WorldView, p: ArtifactProposal, kind: ActorKind): { ok: true; effects: Effect[] } | Rejection {
  const principal = p.kind === 'invoke' ? p.invoker : p.kind === 'escrow_purchase' ? (p.buyer ?? p.agent) : p.agent;
  if (kind === 'system' && principal !== p.agent && world.actor(principal)?.kind === 'agent') {
    // decide() throttles the proposer; a run recorded by the engine is the invoker's action.
    if (world.breaker.open) return reject('CIRCUIT_OPEN', `agent trading is halted: ${world.breaker.reason}`, { reason: world.breaker.reason });
    const rl = world.policy.rate_limit;
    const used = world.actionsSince(principal, world.now - rl.window_ms);
    if (used >= rl.max_actions) return reject('RATE_LIMITED', `${principal} used ${used} of ${rl.max_actions} actions in the last ${rl.window_ms} ms`, { used, max_actions: rl.max_actions, window_ms: rl.window_ms });
  }
  const onBehalf = principal !== p.agent ? { principal } : {};
  switch (p.kind) {
    case 'artifact_write': {
      const prev = world.artifact(p.artifact_id);
      const bytes = world.blob(p.content_hash)!;
      const quota = checkQuota(world, prev?.owner ?? p.agent, bytes - (prev?.bytes ?? 0), bytes, p.artifact_kind);
      if (quota) return quota;
      const m = { artifact_id: p.artifact_id, artifact_kind: p.artifact_kind, content_hash: p.content_hash, bytes, interface: p.interface ?? null, invoke_price: p.invoke_price ?? 0n, access: p.access ?? { mode: 'public' }, description: p.description ?? null, rev: (prev?.rev ?? 0) + 1, created: !prev };
      return { ok: true, effects: [record('artifact_write', m)] };
    }
    case 'artifact_delete': {
      const a = world.artifact(p.artifact_id)!;
      return { ok: true, effects: [record('artifact_delete', { artifact_id: a.id, bytes: a.bytes, rev: a.rev, owner: a.owner })] };
    }
    case 'escrow_deposit': {
      const a = world.artifact(p.artifact_id)!;
      const test_rev = p.test_artifact === undefined ? null : world.artifact(p.test_artifact)!.rev;
      const m = { action: 'deposit', artifact_id: a.id, seller: p.agent, escrow: p.escrow, price: p.price, test_artifact: p.test_artifact ?? null, test_method: p.test_method ?? 'test', test_rev, rev: a.rev };
      return { ok: true, effects: [record('escrow', m)] };
    }
    case 'escrow_cancel': {
      const l = world.listing(p.listing_id)!;
      return { ok: true, effects: [record('escrow', { action: 'cancel', listing_id: l.listing_id, artifact_id: l.artifact_id, seller: l.seller })] };
    }
    case 'escrow_purchase': {
      const l = world.listing(p.listing_id)!;
      const meta = json({ action: 'purchase', listing_id: l.listing_id, artifact_id: l.artifact_id, buyer: principal, seller: l.seller, ...(p.judiciary ? { judiciary: p.judiciary } : {}), ...onBehalf });
      const effects = withTax(world.policy, [{ kind: 'escrow', from: principal, to: l.seller, resource: SCRIP, amount: l.price, metadata: meta }]);
      const a = world.artifact(l.artifact_id)!;
      const r = checkMoves(world, principal, effects) ?? checkQuota(world, principal, a.bytes, a.bytes, a.kind);
      if (r) return r;
      const j = p.judiciary;
      if (l.test_artifact !== null && !(j && j.test_artifact === l.test_artifact && j.test_rev === l.test_rev && j.passed)) {
        const why = !j || j.test_artifact !== l.test_artifact ? `listing ${l.listing_id} needs a passing run of ${l.test_artifact}` : j.test_rev !== l.test_rev ? `test ${l.test_artifact} changed (revision ${l.test_rev} → ${j.test_rev}) since the artifact was listed` : `test ${l.test_artifact}.${l.test_method} did not pass${j.error_code ? ` (${j.error_code})` : ''}`;
        return reject('JUDICIARY_FAILED', why, { test_artifact: l.test_artifact, error_code: j?.error_code ?? null });
      }
      return { ok: true, effects };
    }
    case 'invoke': {
      const owners: Record<string, string> = {};
      for (const c of p.calls) {
        const a = world.artifact(c[2]);
        if (a) owners[a.id] = payeeOf(a, (l) => world.listing(l));
      }
      const head = record('invoke', { artifact_id: p.artifact_id, method: p.method, outcome: p.outcome, ...(p.error_code ? { error_code: p.error_code } : {}), invoker: p.invoker, calls: p.calls, owners, metrics: p.metrics, compute: p.compute, ...onBehalf });
      if (p.outcome === 'failure') return { ok: true, effects: [head] };
      const moves = withTax(world.policy, p.payments.map(([call, k, from, to, resource, amount]): Effect => ({ kind: 'invoke', from, to, resource, amount, metadata: { call, pay: k } })));
      if (p.compute > 0n) moves.push({ kind: 'compute_charge', from: p.invoker, to: null, resource: COMPUTE, amount: p.compute, metadata: { cpu_micros: p.metrics.cpu_micros } });
      const r = checkMoves(world, p.invoker, moves);
      return r ?? { ok: true, effects: [head, ...moves] };
    }
  }
}
