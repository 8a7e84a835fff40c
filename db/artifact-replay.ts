/**
 * Replay for the artifact economy's caches (migration 0006): `artifacts`, `artifact_listings` and
 * `invocations` are rebuilt from the ledger's artifact_write / artifact_delete / escrow / invoke
 * entries by feeding them, in chain order, through the same `writeArtifactCache` the writer
 * uses — so there is one definition of what an entry does to the caches.
 *
 * The rebuild runs in one transaction holding the chain head (no writer appends meanwhile) and is
 * compared with the cache as it was (EXCEPT, both ways); a dry run rolls it back and only
 * reports. Live artifacts whose content is missing from artifact_blobs are reported too (content
 * is not derived from the ledger; the ledger pins its hash, and the blob table checks it).
 * Chain verification itself (hashes, links) is db/replay.ts; run it first.
 */
import type { Db, Queryable } from './adapter';
import { writeArtifactCache } from './artifacts';
import { LIMITS } from '../validator/limits';
import type { Effect } from '../validator';

export interface ArtifactReplayReport {
  rowsReplayed: number;
  artifacts: number;
  listings: number;
  invocations: number;
  /** Keys whose cached row differs from the rebuilt one (either side), per table; at most 100 each. */
  diffs: { artifacts: string[]; listings: string[]; invocations: string[] };
  cacheMatches: boolean;
  /** Live artifacts whose content_hash has no stored content. */
  missingContent: string[];
  wroteCache: boolean;
}

const KINDS = ['artifact_write', 'artifact_delete', 'escrow', 'invoke'];
const TABLES = [
  ['artifacts', 'id'],
  ['artifact_listings', 'listing_id::text'],
  ['invocations', `entry_id::text || '/' || call_id`],
] as const;

class DryRun extends Error {
  constructor(readonly report: ArtifactReplayReport) {
    super('dry run');
  }
}

export async function replayArtifacts(db: Db, opts: { dryRun?: boolean } = {}): Promise<ArtifactReplayReport> {
  try {
    return await db.transaction(async (tx) => {
      await tx.query('SELECT 1 FROM ledger_head FOR UPDATE');
      for (const [t] of TABLES) await tx.query(`CREATE TEMP TABLE grid_before_${t} ON COMMIT DROP AS SELECT * FROM ${t}`);
      await tx.query('DELETE FROM invocations');
      await tx.query('DELETE FROM artifact_listings');
      await tx.query('DELETE FROM artifacts');
      const rowsReplayed = await refill(tx);
      const diffs = { artifacts: [] as string[], listings: [] as string[], invocations: [] as string[] };
      const keys = [diffs.artifacts, diffs.listings, diffs.invocations];
      for (let i = 0; i < TABLES.length; i++) {
        const [t, k] = TABLES[i];
        const r = await tx.query<{ k: string }>(
          `SELECT DISTINCT k FROM ((SELECT ${k} AS k FROM (SELECT * FROM grid_before_${t} EXCEPT SELECT * FROM ${t}) a)
                                   UNION ALL (SELECT ${k} AS k FROM (SELECT * FROM ${t} EXCEPT SELECT * FROM grid_before_${t}) b)) d ORDER BY k LIMIT 100`,
        );
        keys[i].push(...r.rows.map((x) => x.k));
      }
      const counts = (await tx.query<any>(`SELECT (SELECT count(*) FROM artifacts)::int AS a, (SELECT count(*) FROM artifact_listings)::int AS l, (SELECT count(*) FROM invocations)::int AS i`)).rows[0];
      const missing = await tx.query<{ id: string }>(`SELECT a.id FROM artifacts a WHERE NOT a.deleted AND NOT EXISTS (SELECT 1 FROM artifact_blobs b WHERE b.hash = a.content_hash) ORDER BY a.id LIMIT 100`);
      const cacheMatches = keys.every((k) => k.length === 0);
      const report: ArtifactReplayReport = {
        rowsReplayed,
        artifacts: Number(counts.a),
        listings: Number(counts.l),
        invocations: Number(counts.i),
        diffs,
        cacheMatches,
        missingContent: missing.rows.map((r) => r.id),
        wroteCache: !opts.dryRun && !cacheMatches,
      };
      if (opts.dryRun || cacheMatches) throw new DryRun(report);
      await tx.query(`INSERT INTO admin_audit (actor, action, details) VALUES ('replay', 'artifact_cache_rebuilt', $1::jsonb)`, [JSON.stringify({ rows: rowsReplayed, diffs })]);
      return report;
    });
  } catch (e) {
    if (e instanceof DryRun) return e.report;
    throw e;
  }
}

/** Feed every artifact-economy entry, in chain order, through the writer's cache step. */
async function refill(tx: Queryable): Promise<number> {
  let last = 0n;
  let n = 0;
  for (;;) {
    const page = await tx.query<any>(
      `SELECT id, proposal_id::text AS proposal_id, kind, agent, from_actor, to_actor, resource, amount,
              (extract(epoch from executed_at) * 1000)::bigint AS at_ms, metadata
       FROM ledger WHERE kind = ANY($1::text[]) AND id > $2 ORDER BY id LIMIT $3`,
      [KINDS, last, LIMITS.ledger.replayPageRows],
    );
    if (page.rows.length === 0) return n;
    for (const r of page.rows) {
      const e: Effect = { kind: r.kind, from: r.from_actor, to: r.to_actor, resource: r.resource, amount: r.amount === null ? null : BigInt(r.amount), metadata: r.metadata };
      await writeArtifactCache(tx, { proposal_id: r.proposal_id, agent: r.agent, e, id: BigInt(r.id), at: Number(r.at_ms) });
      last = BigInt(r.id);
      n++;
    }
  }
}
