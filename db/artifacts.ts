/**
 * The writer's artifact-economy storage steps (migration 0006), kept out of writer.ts / load.ts,
 * which call them with one guarded line each:
 *   - `artifactNeeds`: actors whose balances an artifact proposal moves (payment parties, which
 *     may be artifacts), added to grid_load's actor set so their balances are loaded;
 *   - `loadArtifacts`: grid_load_artifacts — artifacts, listings, content sizes, disk use and the
 *     principals' recorded runs — into the batch's MemoryWorld;
 *   - `writeArtifactCache`: the caches (artifacts, artifact_listings, invocations) for one applied
 *     entry, in the batch's transaction;
 *   - `putContent`: store content by sha256 before proposing the write that names it.
 */
import { createHash } from 'node:crypto';
import { isArtifactProposal, type ArtifactState, type ListingState, type MemoryWorld, type Proposal, type Effect } from '../validator';
import type { Queryable } from './adapter';

/** Actor ids (and artifact ids holding balances) an artifact proposal debits or credits. */
export function artifactNeeds(p: Proposal, actors: Set<string>): void {
  if (p.kind === 'invoke') {
    actors.add(p.invoker);
    for (const x of p.payments) actors.add(x[2]).add(x[3]);
  } else if (p.kind === 'escrow_purchase' && p.buyer !== undefined) {
    actors.add(p.buyer);
  } else if (p.kind === 'escrow_deposit') {
    actors.add(p.escrow);
  } else if (p.kind === 'artifact_write') {
    actors.add(p.artifact_id); // an artifact may not take a registered actor's id (ARTIFACT_ID_TAKEN)
  }
}

/** Load the artifact state the batch's artifact proposals name into `w` (call after grid_load). */
export async function loadArtifacts(tx: Queryable, proposals: Proposal[], w: MemoryWorld, sinceMs: number, rateCap: number): Promise<void> {
  const ids = new Set<string>();
  const listings = new Set<string>();
  const blobs = new Set<string>();
  const owners = new Set<string>();
  const principals = new Set<string>();
  for (const p of proposals) {
    if (!isArtifactProposal(p)) continue;
    owners.add(p.agent);
    switch (p.kind) {
      case 'artifact_write':
        ids.add(p.artifact_id);
        blobs.add(p.content_hash);
        break;
      case 'artifact_delete':
        ids.add(p.artifact_id);
        break;
      case 'escrow_deposit':
        ids.add(p.artifact_id);
        if (p.test_artifact) ids.add(p.test_artifact);
        break;
      case 'escrow_purchase':
        listings.add(p.listing_id);
        owners.add(p.buyer ?? p.agent);
        principals.add(p.buyer ?? p.agent);
        break;
      case 'escrow_cancel':
        listings.add(p.listing_id);
        break;
      case 'invoke':
        principals.add(p.invoker);
        for (const c of p.calls) if (!c[2].startsWith('genesis:')) ids.add(c[2]);
        for (const x of p.payments) ids.add(x[2]).add(x[3]);
        break;
    }
  }
  const r = await tx.query<{ s: any }>('SELECT grid_load_artifacts($1::text[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::bigint, $7::integer) AS s', [
    [...ids],
    [...listings],
    [...blobs],
    [...owners],
    [...principals],
    sinceMs,
    rateCap,
  ]);
  const s = typeof r.rows[0].s === 'string' ? JSON.parse(r.rows[0].s) : r.rows[0].s;
  for (const a of s.artifacts) w.book.artifacts.set(a.id, artifactFromRow(a));
  for (const l of s.listings) w.book.listings.set(l.listing_id, listingFromRow(l));
  for (const [hash, bytes] of s.blobs) w.book.blobs.set(hash, Number(bytes));
  for (const [o, bytes] of Object.entries(s.disk)) w.book.disk.set(o, Number(bytes));
  // A run recorded by the engine for a principal counts toward that principal's rate limit.
  // The query counts them after `sinceMs` without their times; this world is decided at one
  // window start and then discarded (artifact batches never warm the writer's cache), so
  // placing them just inside the window is exact for it.
  for (const [a, n] of Object.entries(s.actions)) if (Number(n) > 0) w.recordAction(a, sinceMs + 1, Number(n));
}

export function artifactFromRow(a: any): ArtifactState {
  return {
    id: a.id,
    owner: a.owner,
    created_by: a.created_by,
    kind: a.kind,
    content_hash: a.content_hash,
    bytes: Number(a.bytes),
    interface: a.interface ?? null,
    invoke_price: BigInt(a.invoke_price),
    access: a.access,
    description: a.description ?? null,
    rev: Number(a.rev),
    deleted: Boolean(a.deleted),
    listing: a.listing ?? a.listing_id ?? null,
  };
}

export function listingFromRow(l: any): ListingState {
  return {
    listing_id: l.listing_id,
    artifact_id: l.artifact_id,
    seller: l.seller,
    escrow: l.escrow,
    price: BigInt(l.price),
    test_artifact: l.test_artifact ?? null,
    test_method: l.test_method,
    test_rev: l.test_rev === null || l.test_rev === undefined ? null : Number(l.test_rev),
    rev: Number(l.rev),
    status: l.status,
    buyer: l.buyer ?? null,
  };
}

/** An applied entry as the writer holds it once numbered and hashed (db/writer.ts seal). */
export interface AppliedRow {
  proposal_id: string;
  agent: string;
  e: Effect;
  id?: bigint;
  at?: number;
}

/** Cache writes for one applied artifact-economy entry (same transaction as the append). */
export async function writeArtifactCache(tx: Queryable, r: AppliedRow): Promise<void> {
  const m = r.e.metadata as Record<string, any>;
  const id = r.id!.toString();
  switch (r.e.kind) {
    case 'artifact_write':
      await tx.query(
        `INSERT INTO artifacts (id, owner, created_by, kind, content_hash, bytes, interface, invoke_price, access, description, rev, created_entry, updated_entry)
         VALUES ($1, $2, $2, $3, $4, $5, $6::jsonb, $7, $8::jsonb, $9, $10, $11, $11)
         ON CONFLICT (id) DO UPDATE SET kind = EXCLUDED.kind, content_hash = EXCLUDED.content_hash, bytes = EXCLUDED.bytes,
           interface = EXCLUDED.interface, invoke_price = EXCLUDED.invoke_price, access = EXCLUDED.access,
           description = EXCLUDED.description, rev = EXCLUDED.rev, updated_entry = EXCLUDED.updated_entry`,
        [m.artifact_id, r.agent, m.artifact_kind, m.content_hash, m.bytes, m.interface === null ? null : JSON.stringify(m.interface), m.invoke_price, JSON.stringify(m.access), m.description, m.rev, id],
      );
      return;
    case 'artifact_delete':
      await tx.query('UPDATE artifacts SET deleted = true, updated_entry = $2 WHERE id = $1', [m.artifact_id, id]);
      return;
    case 'escrow':
      if (m.action === 'deposit') {
        await tx.query(
          `INSERT INTO artifact_listings (listing_id, artifact_id, seller, escrow, price, test_artifact, test_method, test_rev, rev, status, opened_entry)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'open', $10)`,
          [r.proposal_id, m.artifact_id, m.seller, m.escrow, m.price, m.test_artifact, m.test_method, m.test_rev, m.rev, id],
        );
        await tx.query('UPDATE artifacts SET owner = $2, listing_id = $3 WHERE id = $1', [m.artifact_id, m.escrow, r.proposal_id]);
      } else if (m.action === 'purchase' || m.action === 'cancel') {
        const sold = m.action === 'purchase';
        await tx.query(`UPDATE artifact_listings SET status = $2, buyer = $3, closed_entry = $4 WHERE listing_id = $1`, [m.listing_id, sold ? 'sold' : 'cancelled', sold ? m.buyer : null, id]);
        await tx.query('UPDATE artifacts SET owner = $2, listing_id = NULL WHERE id = $1', [m.artifact_id, sold ? m.buyer : m.seller]);
      }
      return;
    case 'invoke':
      if (r.e.amount === null) await writeInvocations(tx, r, m, id);
      return;
    default:
      return;
  }
}

/** One invocations row per call of the run (the payment legs of the same proposal add nothing here). */
async function writeInvocations(tx: Queryable, r: AppliedRow, m: Record<string, any>, entryId: string): Promise<void> {
  const calls = m.calls as Array<[number, number | null, string, string, number | null, string | null]>;
  const target = new Map(calls.map((c) => [c[0], c[2]]));
  const depth = new Map<number, number>();
  for (const c of calls) depth.set(c[0], c[1] === null ? 0 : (depth.get(c[1]) ?? 0) + 1);
  const failed = m.outcome === 'failure';
  await tx.query(
    `INSERT INTO invocations (entry_id, call_id, parent_call_id, proposal_id, artifact_id, method, caller, invoker, owner, type, error_code, depth, at_ms)
     SELECT $1, c, p, $2, t, me, ca, $3, o, ty, er, d, $4
     FROM unnest($5::int[], $6::int[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::int[]) AS x(c, p, t, me, ca, o, ty, er, d)`,
    [
      entryId,
      r.proposal_id,
      m.invoker,
      r.at,
      calls.map((c) => c[0]),
      calls.map((c) => c[1]),
      calls.map((c) => c[2]),
      calls.map((c) => c[3]),
      calls.map((c) => (c[1] === null ? m.invoker : target.get(c[1]))),
      calls.map((c) => m.owners?.[c[2]] ?? null),
      // Each call's own outcome as the executor observed it; the top of a failed run always failed.
      calls.map((c) => (c[5] !== null || (failed && c[1] === null) ? 'INVOKE_FAILURE' : 'INVOKE_SUCCESS')),
      calls.map((c) => c[5] ?? (failed && c[1] === null ? m.error_code : null)),
      calls.map((c) => depth.get(c[0])),
    ],
  );
}

export function contentHash(content: string): string {
  return createHash('sha256').update(content, 'utf8').digest('hex');
}

/** Store content by its sha256 (idempotent). The size limit is enforced by the table (0006). */
export async function putContent(db: Queryable, content: string): Promise<{ hash: string; bytes: number }> {
  const hash = contentHash(content);
  const bytes = Buffer.byteLength(content, 'utf8');
  await db.query('INSERT INTO artifact_blobs (hash, content, bytes) VALUES ($1, $2, $3) ON CONFLICT (hash) DO NOTHING', [hash, content, bytes]);
  return { hash, bytes };
}

/** Delete content no live artifact uses, older than `olderThanMs` (a rejected or superseded write). */
export async function pruneOrphanContent(db: Queryable, olderThanMs: number): Promise<number> {
  const r = await db.query<{ n: bigint }>(
    `WITH d AS (DELETE FROM artifact_blobs b WHERE b.created_at < now() - $1::bigint * interval '1 millisecond'
       AND NOT EXISTS (SELECT 1 FROM artifacts a WHERE a.content_hash = b.hash AND NOT a.deleted) RETURNING 1)
     SELECT count(*)::bigint AS n FROM d`,
    [olderThanMs],
  );
  return Number(r.rows[0].n);
}
