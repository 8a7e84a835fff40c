/** Row shapes read back from the caches, turned into the law's types in one place. */
import type { OfferState } from '../validator';

/** An `offers` row (amounts as text or bigint) as the law's OfferState. */
export function offerFromRow(o: any): OfferState {
  return {
    offer_id: o.offer_id,
    maker: o.maker,
    give: { resource: o.give_resource, amount: BigInt(o.give_amount) },
    want: { resource: o.want_resource, amount: BigInt(o.want_amount) },
    counterparty: o.counterparty,
    expires_at: o.expires_at_ms === null ? null : Number(o.expires_at_ms),
    status: o.status,
  };
}
