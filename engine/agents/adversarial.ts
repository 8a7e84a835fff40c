/**
 * The adversarial agent: a catalogue of attacks on the law and the writer, each with the code the
 * law must answer (`expect`). Every attack must be rejected and nothing written for it; the tests
 * run the whole catalogue through the real writer on both backends.
 *
 * `expect` assumes a closed breaker (an open one answers CIRCUIT_OPEN for the economic attacks)
 * and that the engine binds each attempt to the agent it was asked for (see engine/principal.ts).
 */
import type { RejectCode } from '../../validator';
import type { Prng } from './prng';
import type { AgentView } from './view';
import type { ProposalAttempt, ProposeContext } from './types';

type Attack = (c: AttackCtx) => ProposalAttempt[];

interface AttackCtx {
  me: string;
  v: AgentView;
  rng: Prng;
  ctx: ProposeContext;
  other: string | null;
  system: string;
  /** A resource the agent holds (its largest holding) or the first registered one. */
  res: string;
  bal: bigint;
}

const A = (label: string, expect: RejectCode, raw: unknown): ProposalAttempt => ({ label, expect, raw });

/** The economic verdict on moving `amount` of `res` out of a holder with `bal`. */
function econ(v: AgentView, res: string, amount: bigint, bal: bigint): RejectCode {
  const max = v.maxTransfer(res);
  if (max > 0n && amount > max) return 'EXCEEDS_MAX_TRANSFER';
  return bal < amount ? 'INSUFFICIENT_BALANCE' : 'BELOW_MIN_BALANCE';
}

const CATALOGUE: Record<string, Attack> = {
  /** Spend more than it holds, then reuse that proposal_id for a small, otherwise valid transfer. */
  overdraw_then_replay: ({ me, v, rng, other, system, res, bal }) => {
    const id = rng.uuid();
    const to = other ?? system;
    const amount = bal + 1n;
    return [
      A('overdraw', econ(v, res, amount, bal), { proposal_id: id, kind: 'transfer', agent: me, from: me, to, resource: res, amount: amount.toString() }),
      A('replay_id', 'ID_CONFLICT', { proposal_id: id, kind: 'transfer', agent: me, from: me, to, resource: res, amount: '1', reasoning: 'same id, new content' }),
    ];
  },
  /** Reuse another agent's applied proposal id (an open offer's id) for its own transfer. */
  replay_foreign_id: ({ me, v, other, system, res }) => {
    const foreign = v.openOffers.find((o) => o.maker !== me);
    if (!foreign) return [];
    return [A('replay_foreign_id', 'ID_CONFLICT', { proposal_id: foreign.offer_id, kind: 'transfer', agent: me, from: me, to: other ?? system, resource: res, amount: '1' })];
  },
  drain_reserve: ({ me, v, rng }) => {
    const r = v.reserves.find((x) => x.stock.size > 0);
    if (!r) return [];
    const [res, stock] = [...r.stock][0];
    const amount = stock + 1n;
    return [A('drain_reserve', econ(v, res, amount, stock), { proposal_id: rng.uuid(), kind: 'harvest', agent: me, from: r.id, resource: res, amount: amount.toString() })];
  },
  forge_from_system: ({ me, rng, system, res }) => [
    A('forge_from_system', 'NOT_AUTHORIZED', { proposal_id: rng.uuid(), kind: 'transfer', agent: me, from: system, to: me, resource: res, amount: '100' }),
  ],
  forge_from_agent: ({ me, rng, other, res }) =>
    other ? [A('forge_from_agent', 'NOT_AUTHORIZED', { proposal_id: rng.uuid(), kind: 'transfer', agent: me, from: other, to: me, resource: res, amount: '1' })] : [],
  impersonate_system: ({ me, rng, system, res }) => [
    A('impersonate_system', 'NOT_AUTHORIZED', { proposal_id: rng.uuid(), kind: 'mint', agent: system, to: me, resource: res, amount: '1000000' }),
  ],
  mint_as_agent: ({ me, rng, res }) => [A('mint_as_agent', 'NOT_AUTHORIZED', { proposal_id: rng.uuid(), kind: 'mint', agent: me, to: me, resource: res, amount: '1000' })],
  burn_other: ({ me, rng, other, system, res }) => [
    A('burn_other', 'NOT_AUTHORIZED', { proposal_id: rng.uuid(), kind: 'burn', agent: me, from: other ?? system, resource: res, amount: '1' }),
  ],
  reset_breaker: ({ me, rng }) => [A('reset_breaker', 'NOT_AUTHORIZED', { proposal_id: rng.uuid(), kind: 'breaker_set', agent: me, open: false, reason: 'resume my trading' })],
  trip_breaker: ({ me, rng }) => [A('trip_breaker', 'NOT_AUTHORIZED', { proposal_id: rng.uuid(), kind: 'breaker_set', agent: me, open: true, reason: 'halt my rivals' })],
  policy_grab: ({ me, rng, res }) => [
    A('policy_grab', 'NOT_AUTHORIZED', { proposal_id: rng.uuid(), kind: 'policy_set', agent: me, patch: { resources: { [res]: { max_transfer: '0' } }, rate_limit: { max_actions: 1_000_000 } } }),
  ],
  interest_as_agent: ({ me, rng }) => [A('interest_as_agent', 'NOT_AUTHORIZED', { proposal_id: rng.uuid(), kind: 'accrue_interest', agent: me, period: 0 })],
  harvest_from_agent: ({ me, rng, other, res }) =>
    other ? [A('harvest_from_agent', 'NOT_AUTHORIZED', { proposal_id: rng.uuid(), kind: 'harvest', agent: me, from: other, resource: res, amount: '1' })] : [],
  malformed_json: ({ me, rng }) => [A('malformed_json', 'MALFORMED', `{"proposal_id":"${rng.uuid()}","kind":"transfer","agent":"${me}","amount":`)],
  json_array: () => [A('json_array', 'MALFORMED', '[{"kind":"mint"}]')],
  float_amount: ({ me, rng, other, system, res }) => [
    A('float_amount', 'MALFORMED', { proposal_id: rng.uuid(), kind: 'transfer', agent: me, from: me, to: other ?? system, resource: res, amount: 10.5 }),
  ],
  negative_amount: ({ me, rng, other, system, res }) => [
    A('negative_amount', 'AMOUNT_NOT_POSITIVE', { proposal_id: rng.uuid(), kind: 'transfer', agent: me, from: other ?? system, to: me, resource: res, amount: -500 }),
  ],
  zero_amount: ({ me, rng, other, system, res }) => [
    A('zero_amount', 'AMOUNT_NOT_POSITIVE', { proposal_id: rng.uuid(), kind: 'transfer', agent: me, from: me, to: other ?? system, resource: res, amount: '0' }),
  ],
  huge_amount: ({ me, rng, other, system, res }) => [
    A('huge_amount', 'MALFORMED', { proposal_id: rng.uuid(), kind: 'transfer', agent: me, from: me, to: other ?? system, resource: res, amount: '99999999999999999999' }),
  ],
  huge_payload: ({ me, rng, other, system, res }) => [
    A('huge_payload', 'MALFORMED', { proposal_id: rng.uuid(), kind: 'transfer', agent: me, from: me, to: other ?? system, resource: res, amount: '1', reasoning: 'A'.repeat(20_000) }),
  ],
  extra_field: ({ me, rng, other, system, res }) => [
    A('extra_field', 'MALFORMED', { proposal_id: rng.uuid(), kind: 'transfer', agent: me, from: me, to: other ?? system, resource: res, amount: '1', approved: true }),
  ],
  proto_pollution: ({ me, rng, other, system, res }) => [
    A('proto_pollution', 'MALFORMED', `{"proposal_id":"${rng.uuid()}","kind":"transfer","agent":"${me}","from":"${me}","to":"${other ?? system}","resource":"${res}","amount":"1","__proto__":{"admin":true}}`),
  ],
  bad_proposal_id: ({ me, other, system, res }) => [
    A('bad_proposal_id', 'MALFORMED', { proposal_id: 'not-a-uuid', kind: 'transfer', agent: me, from: me, to: other ?? system, resource: res, amount: '1' }),
  ],
  unknown_actor: ({ me, rng, res }) => [A('unknown_actor', 'UNKNOWN_ACTOR', { proposal_id: rng.uuid(), kind: 'transfer', agent: me, from: me, to: 'ghost_actor', resource: res, amount: '1' })],
  unknown_resource: ({ me, rng, other, system }) => [
    A('unknown_resource', 'UNKNOWN_RESOURCE', { proposal_id: rng.uuid(), kind: 'transfer', agent: me, from: me, to: other ?? system, resource: 'unobtainium', amount: '1' }),
  ],
  self_transfer: ({ me, rng, res }) => [A('self_transfer', 'SELF_TRANSFER', { proposal_id: rng.uuid(), kind: 'transfer', agent: me, from: me, to: me, resource: res, amount: '1' })],
  accept_missing_offer: ({ me, rng }) => [A('accept_missing_offer', 'OFFER_NOT_FOUND', { proposal_id: rng.uuid(), kind: 'accept', agent: me, offer_id: rng.uuid() })],
};

export const ATTACKS = Object.keys(CATALOGUE);

/**
 * `perTick` attacks drawn from the catalogue (0 = all of them, in catalogue order). Multi-attempt
 * attacks (overdraw then replay) stay adjacent and in order, so the replay always follows the
 * proposal whose id it reuses.
 */
export function adversarialAttempts(ctx: ProposeContext, v: AgentView, rng: Prng, perTick: number): ProposalAttempt[] {
  const holdings = v.holdings().sort((a, b) => (a[1] < b[1] ? 1 : a[1] > b[1] ? -1 : 0));
  const [res, bal] = holdings[0] ?? [v.resources[0] ?? 'credits', 0n];
  const c: AttackCtx = {
    me: ctx.agent,
    v,
    rng,
    ctx,
    other: v.others[0] ?? null,
    system: ctx.world.actors.find((a) => a.kind === 'system')?.id ?? 'system',
    res,
    bal,
  };
  const names = perTick <= 0 ? ATTACKS : rng.shuffle(ATTACKS).slice(0, perTick);
  return names.flatMap((n) => CATALOGUE[n](c));
}
