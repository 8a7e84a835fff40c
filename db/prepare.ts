/**
 * Untrusted input on its way to the writer: size limit, parse (the plain-transfer shortcut, else
 * the law's schemas), the canonical proposal hash idempotency compares, the id a malformed input
 * may still carry — and how a rejected input is recorded (storable text and JSON).
 */
import { parseProposal, fastTransfer, fastTransferCanonical, canonicalJson, reject, LIMITS, type Proposal, type Rejection } from '../validator';
import { sha256Hex } from './hash';

const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export interface Prepared {
  raw: unknown;
  proposal: Proposal | null;
  malformed: Rejection | null;
  proposalId: string | null;
  hash: string;
}

/**
 * Untrusted text on its way into a rejection record: Postgres text/jsonb cannot hold U+0000, and
 * unpaired surrogates are not Unicode. A record of a rejected input may be altered this way (the
 * law refused it, and the proposal_hash is computed over the original); an accepted one never is.
 */
export function storableText(text: string): string {
  return text.replace(/\u0000/g, '\uFFFD').toWellFormed();
}

/** Deep copy of untrusted JSON with every string (and key) made storable. */
export function storableValue(v: unknown, depth = 0): unknown {
  if (typeof v === 'string') return storableText(v);
  if (typeof v === 'bigint') return v.toString();
  if (v === null || typeof v !== 'object') return v;
  if (depth > LIMITS.proposal.maxDepth) return '[too deep]';
  if (Array.isArray(v)) return v.map((x) => storableValue(x, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[storableText(k)] = storableValue(x, depth + 1);
  return out;
}

export function prepare(raw: unknown): Prepared {
  // The common case first: a plain transfer object. Its size is bounded by construction (ids,
  // uuid and reasoning are all length-checked, far under LIMITS.proposal.maxBytes), so neither
  // the size check nor the loose-id scan below can change its answer.
  const fast = fastTransfer(raw);
  if (fast) {
    return prepared(raw, fast, (p) => fastTransferCanonical(p as Proposal & { kind: 'transfer' }));
  }
  let size = 0;
  try {
    size = typeof raw === 'string' ? Buffer.byteLength(raw) : Buffer.byteLength(JSON.stringify(raw, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)) ?? '');
  } catch {
    size = Infinity; // cyclic or otherwise unserializable input
  }
  const looseId = extractId(raw);
  if (size > LIMITS.proposal.maxBytes) {
    return { raw: { truncated: true, bytes: Number.isFinite(size) ? size : null }, proposal: null, proposalId: looseId, hash: sha256Hex(`oversize:${size}`), malformed: reject('MALFORMED', `proposal is larger than ${LIMITS.proposal.maxBytes} bytes`) };
  }
  const parsed = parseProposal(raw);
  if (!parsed.ok) {
    return { raw, proposal: null, proposalId: looseId, hash: sha256Hex(canonicalJson(typeof raw === 'string' ? raw : raw ?? null)), malformed: parsed };
  }
  return prepared(raw, parsed.proposal);
}

/** A parsed proposal with its id lower-cased and its hash over `canonical` (canonicalJson, or the transfer shortcut's equal form). */
function prepared(raw: unknown, parsed: Proposal, canonical: (p: Proposal) => string = canonicalJson): Prepared {
  const id = parsed.proposal_id.toLowerCase();
  const proposal = id === parsed.proposal_id ? parsed : ({ ...parsed, proposal_id: id } as Proposal);
  return { raw, proposal, proposalId: id, hash: sha256Hex(canonical(proposal)), malformed: null };
}

/** The id of a proposal that failed to parse, if it carries a usable one (for idempotency). */
function extractId(raw: unknown): string | null {
  let v = raw;
  if (typeof raw === 'string') {
    try {
      v = JSON.parse(raw);
    } catch {
      return null;
    }
  }
  const id = v && typeof v === 'object' ? (v as any).proposal_id : undefined;
  return typeof id === 'string' && UUID_RE.test(id) ? id.toLowerCase() : null;
}

/** Raw input as stored in rejected_proposals.proposal (always valid, storable JSON). */
export function recordableJson(raw: unknown): string {
  if (typeof raw === 'string') {
    try {
      return JSON.stringify(storableValue(JSON.parse(raw)));
    } catch {
      return JSON.stringify({ unparsed: storableText(raw.slice(0, 2048)) });
    }
  }
  try {
    return JSON.stringify(storableValue(raw === undefined ? null : raw)) ?? 'null';
  } catch {
    return JSON.stringify({ unserializable: true });
  }
}
