/**
 * What an alert is once it leaves the outbox, and the contract every delivery channel keeps.
 *
 * The writer stores two payload shapes in `outbox.payload` (db/writer.ts): a `rejected_proposals`
 * row for topic 'rejection' and a breaker summary for topic 'breaker'. They are normalized here
 * once, so channels format one typed value instead of poking at jsonb.
 */
import { CODE_DESCRIPTIONS, type RejectCode } from '../../validator';

export type Severity = 'critical' | 'warning' | 'info' | 'resolved';

export interface RejectionAlert {
  topic: 'rejection';
  outboxId: string;
  /** Dedupe key: the proposal_id, or `rejection:<row id>` when the input had no usable id. */
  key: string;
  createdAt: string;
  severity: Severity;
  proposalId: string | null;
  agent: string | null;
  kind: string | null;
  code: string;
  /** The code's meaning for people (CODE_DESCRIPTIONS), '' for an unknown code. */
  codeDescription: string;
  message: string;
  details: Record<string, unknown>;
  validatorVersion: string;
  rejectedAt: string;
  /** The proposal as received (raw JSON, possibly not a valid proposal). */
  proposal: unknown;
}

export interface BreakerAlert {
  topic: 'breaker';
  outboxId: string;
  /** The breaker_set proposal_id. */
  key: string;
  createdAt: string;
  severity: Severity;
  open: boolean;
  reason: string;
  by: string;
  entryId: string;
  executedAt: string;
  validatorVersion: string;
}

export type Alert = RejectionAlert | BreakerAlert;

/** A delivery that went through: what the remote side calls it (for idempotency and the HITL map). */
export interface Delivered {
  remoteId?: string;
  remoteUrl?: string;
  /** True when an earlier attempt had already delivered it (found, not created). */
  adopted?: boolean;
}

/**
 * A channel delivers one alert at a time. It throws DeliveryError (or anything: treated as a
 * retryable failure). It must be idempotent per alert where the remote side allows it (Linear:
 * look the ticket up before creating one); where it does not (Discord webhooks have no idempotency
 * key), delivery is at-least-once and a crash between send and mark may repeat a message.
 */
export interface AlertChannel {
  readonly name: string;
  /** Alerts this channel does not handle are marked `skipped` without a call. */
  accepts(alert: Alert): boolean;
  deliver(alert: Alert): Promise<Delivered>;
  /** Claim size per round (remote channels keep it small so a lease is never outlived). */
  readonly batchSize?: number;
  /**
   * Mark a whole round's deliveries in one statement instead of one by one: for cheap local
   * channels, where repeating up to one round after a crash costs nothing but a repeated line.
   */
  readonly batchMarks?: boolean;
  close?(): Promise<void> | void;
}

export type DeliveryErrorCode =
  | 'RATE_LIMITED'
  | 'REMOTE_UNAVAILABLE'
  | 'REMOTE_REJECTED'
  | 'AUTH_FAILED'
  | 'NETWORK'
  | 'TIMEOUT'
  | 'MISCONFIGURED';

/** A failed delivery. `retryable: false` marks it failed at once (retrying cannot help). */
export class DeliveryError extends Error {
  constructor(
    readonly code: DeliveryErrorCode,
    message: string,
    readonly retryable: boolean,
    /** The remote side asked us to wait at least this long (429 Retry-After). */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'DeliveryError';
  }
}

export interface OutboxRow {
  id: bigint | string;
  topic: string;
  key: string;
  payload: any;
  created_at: Date | string;
}

const iso = (v: unknown): string => (v instanceof Date ? v.toISOString() : typeof v === 'string' ? new Date(v).toISOString() : new Date(0).toISOString());

/** Codes that suggest an adversary or a broken proposer rather than ordinary economics. */
const SUSPICIOUS = new Set(['MALFORMED', 'ID_CONFLICT', 'NOT_AUTHORIZED']);

export function rejectionSeverity(code: string): Severity {
  return SUSPICIOUS.has(code) ? 'warning' : 'info';
}

/** Outbox row → Alert; null for a topic this build does not know (left pending for a newer one). */
export function toAlert(row: OutboxRow): Alert | null {
  const p = row.payload ?? {};
  const base = { outboxId: String(row.id), key: row.key, createdAt: iso(row.created_at) };
  if (row.topic === 'rejection') {
    const code = String(p.code ?? 'UNKNOWN');
    return {
      ...base,
      topic: 'rejection',
      severity: rejectionSeverity(code),
      proposalId: p.proposal_id ?? null,
      agent: p.agent ?? null,
      kind: p.kind ?? null,
      code,
      codeDescription: CODE_DESCRIPTIONS[code as RejectCode] ?? '',
      message: String(p.message ?? ''),
      details: p.details && typeof p.details === 'object' ? p.details : {},
      validatorVersion: String(p.validator_version ?? 'unknown'),
      rejectedAt: iso(p.rejected_at ?? row.created_at),
      proposal: p.proposal ?? null,
    };
  }
  if (row.topic === 'breaker') {
    const open = p.open === true;
    return {
      ...base,
      topic: 'breaker',
      severity: open ? 'critical' : 'resolved',
      open,
      reason: String(p.reason ?? ''),
      by: String(p.by ?? 'unknown'),
      entryId: String(p.entry_id ?? ''),
      executedAt: iso(p.executed_at ?? row.created_at),
      validatorVersion: String(p.validator_version ?? 'unknown'),
    };
  }
  return null;
}
