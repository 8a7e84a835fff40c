/**
 * The judiciary (000 seed, "Conflict Resolution"): a listing may name a test artifact; escrow
 * releases the artifact only if `test_artifact.test_method({ artifact_id })` passes against it —
 * it returns `true` or `{ passed: true, … }`.
 *
 * How the law stays pure and still trustworthy: the engine runs the test in the sandbox BEFORE
 * proposing, in evaluation mode (no prices, nothing it journals is applied, the delivered
 * artifact is reachable whatever its access policy), and the `escrow_purchase` proposal — made
 * by the system actor on the buyer's behalf — records the outcome: the revisions of the test and
 * of the delivered artifact, pass/fail, the error code, a sha256 digest of the answer, and the
 * clock and seed of the run. The law accepts such a record only from the system actor, only for
 * the test revision pinned when the artifact was listed, and only while both revisions are
 * current (STALE_RUN otherwise). Because a run is a pure function of (code revisions, args,
 * clock, seed), `auditJudiciary` re-runs a recorded judgement and compares digests: anyone can
 * check the engine's word after the fact.
 */
import { createHash } from 'node:crypto';
import type { Queryable } from '../../db/adapter';
import { canonicalJson } from '../../validator';
import { artifactError, type ArtifactError } from './errors';
import { artifactRuntime, runWithSnapshot } from './invoke';

export interface JudiciaryRecord {
  test_artifact: string;
  test_rev: number;
  subject_rev: number;
  passed: boolean;
  error_code?: string;
  result_digest: string;
  now: number;
  seed: number;
  cpu_micros: number;
}

export interface ListingForTest {
  listing_id: string;
  artifact_id: string;
  escrow: string;
  test_artifact: string;
  test_method: string;
  rev: number;
}

/** Seed of a listing's judgement at `now` (recorded, so a re-run uses the same one). */
export function judiciarySeed(listingId: string, now: number): number {
  return createHash('sha256').update(`${listingId}|${now}`).digest().readUInt32BE(0);
}

export async function runJudiciary(db: Queryable, l: ListingForTest, now: number, seed = judiciarySeed(l.listing_id, now)): Promise<JudiciaryRecord | ArtifactError> {
  const run = await runWithSnapshot(
    db,
    { artifactId: l.test_artifact, method: l.test_method, args: { artifact_id: l.artifact_id }, invoker: l.escrow, now, seed },
    { evaluation: true, charge: false },
  );
  if (!run.complete) return artifactError('EXECUTION_ERROR', 'The judiciary run needed more host data than one run may load; try again.', { reason: 'HOST_FETCH_LIMIT' }, 1);
  const test = run.snap.artifact(l.test_artifact);
  if (!test) return artifactError('NOT_FOUND', `Test artifact ${l.test_artifact} does not exist.`);
  const o = run.outcome;
  const result = o.success ? o.result : undefined;
  const passed = o.success && (result === true || (typeof result === 'object' && result !== null && (result as Record<string, unknown>).passed === true));
  const answer = o.success ? { success: true, result } : { success: false, error_code: o.error_code };
  return {
    test_artifact: l.test_artifact,
    test_rev: test.rev,
    subject_rev: l.rev,
    passed,
    ...(o.success ? {} : { error_code: o.error_code }),
    result_digest: createHash('sha256').update(canonicalJson(answer)).digest('hex'),
    now,
    seed,
    cpu_micros: o.metrics.cpuMicros,
  };
}

export interface AuditResult {
  listing_id: string;
  recorded: JudiciaryRecord | null;
  /** False when the test or the artifact changed since (the run cannot be repeated as it was). */
  reproducible: boolean;
  matches: boolean | null;
}

/**
 * Re-run the judgement recorded for a sold listing and compare its digest. (A CPU-bound test
 * near the sandbox deadline may time out differently on another machine; such a test is
 * reported as not matching, which is the honest answer.)
 */
export async function auditJudiciary(db: Queryable, listingId: string): Promise<AuditResult> {
  const r = await db.query<{ metadata: any }>(
    `SELECT metadata FROM ledger WHERE kind = 'escrow' AND metadata->>'action' = 'purchase' AND metadata->>'listing_id' = $1 LIMIT 1`,
    [listingId],
  );
  const j = (r.rows[0]?.metadata?.judiciary ?? null) as JudiciaryRecord | null;
  if (!j) return { listing_id: listingId, recorded: null, reproducible: false, matches: null };
  const l = (await db.query<any>('SELECT listing_id::text AS listing_id, artifact_id, escrow, test_artifact, test_method, rev FROM artifact_listings WHERE listing_id = $1', [listingId])).rows[0];
  const revs = (await db.query<{ id: string; rev: number }>('SELECT id, rev FROM artifacts WHERE id = ANY($1::text[])', [[l.artifact_id, j.test_artifact]])).rows;
  const rev = (id: string) => revs.find((x) => x.id === id)?.rev;
  if (rev(j.test_artifact) !== j.test_rev || rev(l.artifact_id) !== j.subject_rev) return { listing_id: listingId, recorded: j, reproducible: false, matches: null };
  artifactRuntime(db); // same process-wide caches as the original run
  const again = await runJudiciary(db, { ...l, rev: Number(l.rev) }, j.now, j.seed);
  if ('success' in again) return { listing_id: listingId, recorded: j, reproducible: false, matches: null };
  return { listing_id: listingId, recorded: j, reproducible: true, matches: again.result_digest === j.result_digest && again.passed === j.passed };
}
