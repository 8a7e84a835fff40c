/**
 * Artifact-economy proposal builders (JSON form, as the engine or an agent sends them) and small
 * setups for the pure law tests (MemoryWorld from law-world.ts) — shared by law.codes,
 * ledger.law and the artifact suites.
 */
import { type MemoryWorld } from '../../validator';
import { assertAccepted, commit, nextId, T0 } from './law-world';

/** A well-formed sha256-looking hash from a number. */
export const HASH = (n: number) => n.toString(16).padStart(64, '0');

export const IFACE = (...names: string[]) => ({
  tools: (names.length ? names : ['run']).map((name) => ({ name, description: `${name} (test tool)`, inputSchema: { type: 'object' } })),
});

export const write = (agent: string, id: string, hash: string, extra: Record<string, unknown> = {}) => ({
  kind: 'artifact_write',
  proposal_id: nextId(),
  agent,
  artifact_id: id,
  artifact_kind: 'code',
  content_hash: hash,
  interface: IFACE(),
  ...extra,
});
export const writeData = (agent: string, id: string, hash: string, extra: Record<string, unknown> = {}) => ({
  kind: 'artifact_write',
  proposal_id: nextId(),
  agent,
  artifact_id: id,
  artifact_kind: 'data',
  content_hash: hash,
  ...extra,
});
export const del = (agent: string, id: string) => ({ kind: 'artifact_delete', proposal_id: nextId(), agent, artifact_id: id });
export const deposit = (agent: string, id: string, price: unknown, extra: Record<string, unknown> = {}) => ({
  kind: 'escrow_deposit',
  proposal_id: nextId(),
  agent,
  artifact_id: id,
  escrow: 'escrow',
  price,
  ...extra,
});
export const purchase = (agent: string, listing: string, extra: Record<string, unknown> = {}) => ({ kind: 'escrow_purchase', proposal_id: nextId(), agent, listing_id: listing, ...extra });
export const cancelListing = (agent: string, listing: string) => ({ kind: 'escrow_cancel', proposal_id: nextId(), agent, listing_id: listing });

/** A recorded successful run of `id.run` (revision `rev`) by the system for `invoker`. */
export const invokeRecord = (invoker: string, id: string, extra: Record<string, unknown> = {}, rev = 1) => ({
  kind: 'invoke',
  proposal_id: nextId(),
  agent: 'system',
  invoker,
  artifact_id: id,
  method: 'run',
  outcome: 'success',
  calls: [[1, null, id, 'run', rev, null]],
  payments: [],
  compute: '0',
  metrics: { cpu_micros: 100, wall_micros: 120, peak_memory_bytes: 0 },
  ...extra,
});

/** A recorded judiciary run. */
export const judgement = (test: string, testRev: number, subjectRev: number, passed: boolean) => ({
  test_artifact: test,
  test_rev: testRev,
  subject_rev: subjectRev,
  passed,
  ...(passed ? {} : { error_code: 'EXECUTION_ERROR' }),
  result_digest: HASH(7),
  now: T0,
  seed: 1,
  cpu_micros: 10,
});

// Setups for the pure law tests.

/** Content of `bytes` bytes stored under HASH(n). */
export const blob = (w: MemoryWorld, n = 1, bytes = 100) => w.book.blobs.set(HASH(n), bytes);

/** A code artifact `id` owned by `owner` (revision 1), content HASH(1). */
export const artifactBy = (owner: string, id = 'art1', extra: Record<string, unknown> = {}) => (w: MemoryWorld) => {
  blob(w);
  assertAccepted(commit(w, write(owner, id, HASH(1), extra)));
};

/** A's art1 listed at `price` under listing id `listing`, optionally with test artifact `test` (by C). */
export const listedByA = (listing: string, price = 10, test?: string) => (w: MemoryWorld) => {
  artifactBy('A')(w);
  if (test) artifactBy('C', test)(w);
  assertAccepted(commit(w, { ...deposit('A', 'art1', price, test ? { test_artifact: test } : {}), proposal_id: listing }));
};

/** Fill `owner`'s disk quota. */
export const diskFull = (owner: string, bytes: number) => (w: MemoryWorld) => w.book.disk.set(owner, bytes);
