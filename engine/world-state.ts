/**
 * The world state as agents, nodes and dashboards see it: one JSON document read from the
 * caches (balances, breaker, policy) and the chain head. Amounts are decimal strings, so the
 * document survives JSON and n8n items without losing precision.
 *
 * `worldFromSnapshot` turns such a document back into a MemoryWorld, so a stateless pre-check
 * (the n8n Validator node, a scripted agent) runs the real law against it.
 */
import { MemoryWorld, policyFromJson, policyToJson, type Actor, type ActorKind } from '../validator';
import type { Queryable } from '../db/adapter';

export interface WorldSnapshot {
  as_of: { ledger_id: string; head_hash: string; at: string };
  actors: Array<{ id: string; kind: ActorKind }>;
  resources: Array<{ id: string; unit: string }>;
  /** balances[actor][resource] = amount (decimal string) */
  balances: Record<string, Record<string, string>>;
  policy: Record<string, unknown>;
  breaker: { open: boolean; reason: string; by: string | null };
  open_offers: Array<{ offer_id: string; maker: string; give: { resource: string; amount: string }; want: { resource: string; amount: string }; counterparty: string | null; expires_at: number | null }>;
}

export async function readWorldState(db: Queryable): Promise<WorldSnapshot> {
  const [head, actors, resources, balances, policy, breaker, offers] = await Promise.all([
    db.query<any>(`SELECT last_id::text AS last_id, encode(last_hash, 'hex') AS h, last_at_ms FROM ledger_head`),
    db.query<any>('SELECT id, kind FROM actors ORDER BY id'),
    db.query<any>('SELECT id, unit FROM resources ORDER BY id'),
    db.query<any>('SELECT actor, resource, amount::text AS amount FROM balances WHERE amount <> 0 ORDER BY actor, resource'),
    db.query<any>('SELECT policy FROM policies ORDER BY version DESC LIMIT 1'),
    db.query<any>('SELECT open, reason, set_by FROM breaker'),
    db.query<any>(`SELECT offer_id::text AS offer_id, maker, give_resource, give_amount::text AS give_amount, want_resource, want_amount::text AS want_amount, counterparty, expires_at_ms FROM offers WHERE status = 'open' ORDER BY offer_id LIMIT 1000`),
  ]);
  const bal: WorldSnapshot['balances'] = {};
  for (const b of balances.rows) (bal[b.actor] ??= {})[b.resource] = b.amount;
  const h = head.rows[0];
  const br = breaker.rows[0] ?? { open: false, reason: 'genesis', set_by: null };
  return {
    as_of: { ledger_id: h.last_id, head_hash: h.h, at: new Date(Number(h.last_at_ms)).toISOString() },
    actors: actors.rows,
    resources: resources.rows,
    balances: bal,
    policy: policy.rows[0]?.policy ?? policyToJson(new MemoryWorld().policy),
    breaker: { open: br.open, reason: br.reason, by: br.set_by },
    open_offers: offers.rows.map((o) => ({
      offer_id: o.offer_id,
      maker: o.maker,
      give: { resource: o.give_resource, amount: o.give_amount },
      want: { resource: o.want_resource, amount: o.want_amount },
      counterparty: o.counterparty,
      expires_at: o.expires_at_ms === null ? null : Number(o.expires_at_ms),
    })),
  };
}

export function worldFromSnapshot(s: WorldSnapshot, now = Date.now()): MemoryWorld {
  const w = new MemoryWorld();
  w.now = now;
  for (const a of s.actors) w.actors.set(a.id, { id: a.id, kind: a.kind } as Actor);
  for (const r of s.resources) w.resources.set(r.id, r);
  for (const [a, m] of Object.entries(s.balances)) for (const [r, v] of Object.entries(m)) w.setBalance(a, r, BigInt(v));
  w.policy = policyFromJson(s.policy);
  w.breaker = { ...s.breaker };
  for (const o of s.open_offers) {
    w.offers.set(o.offer_id, {
      offer_id: o.offer_id,
      maker: o.maker,
      give: { resource: o.give.resource, amount: BigInt(o.give.amount) },
      want: { resource: o.want.resource, amount: BigInt(o.want.amount) },
      counterparty: o.counterparty,
      expires_at: o.expires_at,
      status: 'open',
    });
  }
  return w;
}
