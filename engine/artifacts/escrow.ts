/**
 * Escrow of artifacts without the original's front-running hole:
 *   - deposit is ONE proposal: the artifact moves to the escrow actor and the listing opens in the
 *     same ledger entry, the seller recorded from the proposer — there is no moment where the
 *     artifact is in escrow without its listing (or listed while still writable by the seller);
 *   - a listed artifact cannot be written, deleted or listed again (its owner is the escrow
 *     actor), so what the buyer looked at is what the buyer gets; a listing's price never changes
 *     (cancel + list again makes a new listing id, and a purchase names the listing id);
 *   - purchase moves the price and the ownership in one entry, or nothing;
 *   - a listing with a test artifact is released only by the judiciary (judiciary.ts).
 */
import { randomUUID } from 'node:crypto';
import type { Db, Queryable } from '../../db/adapter';
import type { LedgerWriter } from '../../db/writer';
import { artifactError, type ArtifactResponse } from './errors';
import { runJudiciary, type JudiciaryRecord } from './judiciary';
import { systemActor } from './invoke';
import { applied } from './write';

/** The first registered escrow actor (the default holder of listed artifacts). */
export async function defaultEscrow(db: Queryable): Promise<string | null> {
  const r = await db.query<{ id: string }>(`SELECT id FROM actors WHERE kind = 'escrow' ORDER BY id LIMIT 1`);
  return r.rows[0]?.id ?? null;
}

export interface DepositOptions {
  db: Db;
  writer: LedgerWriter;
  seller: string;
  artifactId: string;
  price: bigint | number | string;
  /** Default: the first escrow actor in the registry. */
  escrow?: string;
  testArtifact?: string;
  testMethod?: string;
}

export async function depositArtifact(o: DepositOptions) {
  const escrow = o.escrow ?? (await defaultEscrow(o.db));
  if (!escrow) return artifactError('NOT_FOUND', 'No escrow actor is registered.');
  const proposal = {
    kind: 'escrow_deposit',
    proposal_id: randomUUID(),
    agent: o.seller,
    artifact_id: o.artifactId,
    escrow,
    price: o.price.toString(),
    ...(o.testArtifact ? { test_artifact: o.testArtifact } : {}),
    ...(o.testMethod ? { test_method: o.testMethod } : {}),
  };
  return applied(await o.writer.apply(proposal));
}

export interface PurchaseOptions {
  db: Db;
  writer: LedgerWriter;
  buyer: string;
  listingId: string;
  /** Clock of the judiciary run (default: now). */
  now?: number;
}

export type PurchaseResult = ArtifactResponse<{ proposal_id: string; entries: unknown[]; judiciary: JudiciaryRecord | null }>;

/**
 * Buy a listing. Without a test the buyer proposes the purchase itself; with one, the engine
 * runs the judiciary and the system actor proposes on the buyer's behalf with the recorded run —
 * a failed test comes back JUDICIARY_FAILED from the law (a recorded rejection; nothing moves).
 */
export async function purchaseArtifact(o: PurchaseOptions): Promise<PurchaseResult> {
  const l = (
    await o.db.query<any>(
      `SELECT listing_id::text AS listing_id, artifact_id, escrow, test_artifact, test_method, rev, status FROM artifact_listings WHERE listing_id = $1`,
      [o.listingId],
    )
  ).rows[0];
  const base = { kind: 'escrow_purchase', proposal_id: randomUUID(), listing_id: o.listingId };
  let judiciary: JudiciaryRecord | null = null;
  let proposal: Record<string, unknown> = { ...base, agent: o.buyer };
  if (l && l.status === 'open' && l.test_artifact) {
    const attestor = await systemActor(o.db);
    if (!attestor) return artifactError('EXECUTION_ERROR', 'No system actor is registered to record judiciary runs.', { reason: 'NO_SYSTEM_ACTOR' });
    const j = await runJudiciary(o.db, { ...l, rev: Number(l.rev) }, o.now ?? Date.now());
    if ('success' in j) return j;
    judiciary = j;
    proposal = { ...base, agent: attestor, buyer: o.buyer, judiciary: j };
  }
  const r = applied(await o.writer.apply(proposal));
  if (!r.success) return { ...r, details: { ...r.details, judiciary } };
  return { success: true, result: { ...r.result, judiciary } };
}

export async function cancelListing(o: { writer: LedgerWriter; seller: string; listingId: string }) {
  return applied(await o.writer.apply({ kind: 'escrow_cancel', proposal_id: randomUUID(), agent: o.seller, listing_id: o.listingId }));
}
