/**
 * Writing and deleting artifacts: content is stored by sha256 first (artifact_blobs), then ONE
 * `artifact_write` proposal naming that hash goes through the writer, where the law checks
 * ownership, the interface, the size and the owner's disk quota. A rejected write leaves only an
 * unreferenced blob behind, which `pruneOrphanContent` removes later.
 */
import { randomUUID } from 'node:crypto';
import type { Db } from '../../db/adapter';
import type { ApplyResult, LedgerWriter } from '../../db/writer';
import { putContent } from '../../db/artifacts';
import { LIMITS, type AccessPolicy } from '../../validator';
import { artifactError, fromLaw, type ArtifactResponse } from './errors';

export interface WriteOptions {
  db: Db;
  writer: LedgerWriter;
  /** The proposer; a new artifact is owned by it, an existing one must be. */
  agent: string;
  artifactId: string;
  kind: 'data' | 'code';
  content: string;
  /** MCP-style `{ tools: [{ name, description, inputSchema }] }`, required for code. */
  interface?: unknown;
  invokePrice?: bigint | number | string;
  access?: AccessPolicy;
  description?: string;
  reasoning?: string;
  proposalId?: string;
}

export interface WriteResult {
  artifact_id: string;
  rev: number;
  content_hash: string;
  bytes: number;
  proposal_id: string;
}

/** Largest content any artifact may have (the blob table refuses more). */
const MAX_BYTES = Math.max(LIMITS.sandbox.maxCodeBytes, LIMITS.artifacts.maxDataBytes);

export async function writeArtifact(o: WriteOptions): Promise<ArtifactResponse<WriteResult>> {
  if (typeof o.content !== 'string') return artifactError('INVALID_ARGS', 'content must be text.');
  // Postgres text cannot hold U+0000 and unpaired surrogates are not Unicode: refused, not altered.
  if (o.content.includes('\u0000') || !o.content.isWellFormed()) return artifactError('INVALID_ARGS', 'content must not contain U+0000 or unpaired surrogates.');
  const bytes = Buffer.byteLength(o.content, 'utf8');
  if (bytes > MAX_BYTES) return artifactError('QUOTA_EXCEEDED', `content is ${bytes} bytes; an artifact may be at most ${MAX_BYTES}.`, { bytes, limit: MAX_BYTES });
  const { hash } = await putContent(o.db, o.content);
  const proposal: Record<string, unknown> = {
    kind: 'artifact_write',
    proposal_id: o.proposalId ?? randomUUID(),
    agent: o.agent,
    artifact_id: o.artifactId,
    artifact_kind: o.kind,
    content_hash: hash,
  };
  if (o.interface !== undefined) proposal.interface = o.interface;
  if (o.invokePrice !== undefined) proposal.invoke_price = o.invokePrice.toString();
  if (o.access !== undefined) proposal.access = o.access;
  if (o.description !== undefined) proposal.description = o.description;
  if (o.reasoning !== undefined) proposal.reasoning = o.reasoning;
  const r = await o.writer.apply(proposal);
  if (r.status === 'rejected') return fromLaw(r);
  const rev = await o.db.query<{ rev: number }>('SELECT rev FROM artifacts WHERE id = $1', [o.artifactId]);
  return { success: true, result: { artifact_id: o.artifactId, rev: Number(rev.rows[0]?.rev ?? 0), content_hash: hash, bytes, proposal_id: r.proposal_id } };
}

/** Tombstone an artifact: later calls answer DELETED, its id is never reused. */
export async function deleteArtifact(o: { writer: LedgerWriter; agent: string; artifactId: string; reasoning?: string }): Promise<ArtifactResponse<{ artifact_id: string; proposal_id: string }>> {
  const r = await o.writer.apply({ kind: 'artifact_delete', proposal_id: randomUUID(), agent: o.agent, artifact_id: o.artifactId, ...(o.reasoning ? { reasoning: o.reasoning } : {}) });
  return r.status === 'rejected' ? fromLaw(r) : { success: true, result: { artifact_id: o.artifactId, proposal_id: r.proposal_id } };
}

/** An applied proposal's result, or its rejection in the one error shape. */
export function applied(r: ApplyResult): ArtifactResponse<{ proposal_id: string; entries: Extract<ApplyResult, { status: 'applied' }>['entries'] }> {
  return r.status === 'rejected' ? fromLaw(r) : { success: true, result: { proposal_id: r.proposal_id, entries: r.entries } };
}
